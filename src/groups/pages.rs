//! Pages of finding groups: the search results (`GET /groups`, the same search as
//! `GET /api/v1/groups`) with filters that work without JavaScript and paging.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::dto::{GroupQuery, GroupSummary};
use super::service;
use crate::entities::enums::{Category, GroupStatus};
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::providers::dto::ProviderQuery;
use crate::state::AppState;

/// Results per page of the search page.
pub const PAGE_SIZE: u64 = 10;

/// Registers the group pages (before `/groups/{slug}`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups", web::get().to(results));
}

/// What the search form asks, read leniently: unknown filter values are ignored, long text is
/// cut, control characters are dropped (a page answers, it does not refuse a search).
#[derive(Debug, Default, Clone)]
struct SearchForm {
    q: String,
    provider: String,
    category: Option<Category>,
    status: Option<GroupStatus>,
    page: u64,
}

impl SearchForm {
    fn parse(query: &str) -> Self {
        let mut f = Self {
            page: 1,
            ..Self::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let clean = |max: usize| -> String {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(max)
                    .collect::<String>()
                    .trim()
                    .to_owned()
            };
            match &*k {
                "q" => f.q = clean(100),
                "provider" => f.provider = clean(80),
                "category" => f.category = Category::all().into_iter().find(|c| c.as_str() == v),
                "status" => f.status = GroupStatus::all().into_iter().find(|s| s.as_str() == v),
                "page" => f.page = v.trim().parse::<u64>().unwrap_or(1).clamp(1, 10_000),
                _ => {}
            }
        }
        f
    }

    /// `/groups?…` for this search on `page`.
    fn href(&self, page: u64) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        if !self.provider.is_empty() {
            s.append_pair("provider", &self.provider);
        }
        if let Some(c) = self.category {
            s.append_pair("category", c.as_str());
        }
        if let Some(st) = self.status {
            s.append_pair("status", st.as_str());
        }
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        let query = s.finish();
        if query.is_empty() {
            "/groups".to_owned()
        } else {
            format!("/groups?{query}")
        }
    }
}

/// One option of a filter: (value, label, selected).
type Choice = (String, String, bool);

#[derive(Template)]
#[template(path = "pages/search.html")]
struct SearchPage {
    l: Locale,
    head: Head,
    q: String,
    providers: Vec<Choice>,
    categories: Vec<Choice>,
    statuses: Vec<Choice>,
    groups: Vec<GroupSummary>,
    found: String,
    pages: u64,
    page_of: String,
    prev: Option<String>,
    next: Option<String>,
}

/// The provider choices of the filter: (slug, name in the page's language).
async fn provider_options(
    state: &AppState,
    l: Locale,
    selected: &str,
) -> crate::error::AppResult<Vec<Choice>> {
    let q = ProviderQuery {
        q: None,
        page: None,
        per_page: Some(100),
    };
    let (items, _) = crate::providers::service::search(&state.db, &q).await?;
    let mut out: Vec<Choice> = items
        .into_iter()
        .map(|p| {
            let name = match (l, p.name_en) {
                (Locale::En, Some(en)) => en,
                _ => p.name_zh,
            };
            let on = p.slug == selected;
            (p.slug, name, on)
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    if !selected.is_empty() && !out.iter().any(|(_, _, on)| *on) {
        out.push((selected.to_owned(), selected.to_owned(), true));
    }
    Ok(out)
}

async fn results(state: web::Data<AppState>, c: PageCtx, req: HttpRequest) -> HttpResponse {
    let form = SearchForm::parse(req.query_string());
    let query = GroupQuery {
        q: Some(form.q.clone()).filter(|q| !q.is_empty()),
        provider: Some(form.provider.clone()).filter(|p| !p.is_empty()),
        category: form.category,
        status: form.status,
        sort: None,
        page: Some(form.page),
        per_page: Some(PAGE_SIZE),
    };
    let found = match service::list(&state.db, &query).await {
        Ok(found) => found,
        Err(e) => return c.error(&e),
    };
    let providers = match provider_options(&state, c.l, &form.provider).await {
        Ok(p) => p,
        Err(e) => return c.error(&e),
    };
    let pages = found.total.div_ceil(PAGE_SIZE).max(1);
    let total = found.total.to_string();
    let searched = query.q.is_some()
        || query.provider.is_some()
        || query.category.is_some()
        || query.status.is_some();
    let found_key = if searched {
        "page.search.found"
    } else {
        "page.search.found_all"
    };
    let page = SearchPage {
        l: c.l,
        head: c.head(),
        found: c.l.tf(found_key, &[("total", &total)]),
        page_of: c.l.tf(
            "page.search.page_of",
            &[
                ("page", &form.page.to_string()),
                ("pages", &pages.to_string()),
            ],
        ),
        prev: (form.page > 1).then(|| form.href((form.page - 1).min(pages))),
        next: (form.page < pages).then(|| form.href(form.page + 1)),
        pages,
        categories: Category::all()
            .into_iter()
            .map(|v| {
                let label = c.l.tk("page.category", v).to_owned();
                (v.as_str().to_owned(), label, form.category == Some(v))
            })
            .collect(),
        statuses: GroupStatus::all()
            .into_iter()
            .map(|v| {
                let label = c.l.tk("page.group_status", v).to_owned();
                (v.as_str().to_owned(), label, form.status == Some(v))
            })
            .collect(),
        q: form.q,
        providers,
        groups: found.items,
    };
    c.render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_read_leniently_and_links_keep_the_filters() {
        let f = SearchForm::parse(
            "q=%E9%80%80%E6%AC%BE%00&category=refund_delay&status=nope&page=0&lang=en",
        );
        assert_eq!(f.q, "退款");
        assert_eq!(f.category, Some(Category::RefundDelay));
        assert_eq!(f.status, None);
        assert_eq!(f.page, 1);
        assert_eq!(
            f.href(2),
            "/groups?q=%E9%80%80%E6%AC%BE&category=refund_delay&page=2"
        );
        assert_eq!(SearchForm::parse("").href(1), "/groups");
    }
}
