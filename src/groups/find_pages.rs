//! Pages of finding and starting groups: the search results (`GET /groups`, the same search as
//! `GET /api/v1/groups`) with filters that work without JavaScript and paging; starting a group
//! (`/groups/new`, the same creation as `POST /api/v1/groups`), which first shows the open
//! groups about the same problem so people join rather than split.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use chrono::NaiveDate;

use super::dto::{DemandInput, DemandKind, GroupCreate, GroupQuery, GroupSummary, SuggestQuery};
use super::service;
use crate::entities::enums::{Category, GroupStatus};
use crate::error::{AppError, FieldErrors};
use crate::i18n::Locale;
use crate::pages::{Field, Head, PageCtx};
use crate::providers::dto::ProviderQuery;
use crate::state::AppState;

/// Results per page of the search page.
pub const PAGE_SIZE: u64 = 10;

/// Registers the group pages (before `/groups/{slug}`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups", web::get().to(results))
        .route("/groups/new", web::get().to(new_form))
        .route("/groups/new", web::post().to(new_submit));
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
    // The directory is public and the same for everyone: cached like the group views.
    let items = state
        .views
        .cached(
            "provider_options",
            crate::providers::service::search(&state.db, &q),
        )
        .await?;
    let mut out: Vec<Choice> = items
        .0
        .iter()
        .map(|p| {
            let name = match (l, &p.name_en) {
                (Locale::En, Some(en)) => en.clone(),
                _ => p.name_zh.clone(),
            };
            let on = p.slug == selected;
            (p.slug.clone(), name, on)
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
    let found = match service::list_cached(&state, &query).await {
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
        groups: found.items.clone(),
    };
    c.render(StatusCode::OK, &page)
}

/// What can be asked for, in the order shown.
const DEMANDS: [DemandKind; 6] = [
    DemandKind::Refund,
    DemandKind::Compensation,
    DemandKind::Apology,
    DemandKind::ServiceFix,
    DemandKind::DataDeletion,
    DemandKind::Other,
];

/// The start-a-group form as typed (kept to show again after a mistake).
#[derive(Debug, Default)]
struct NewGroupForm {
    provider: String,
    provider_name: String,
    title: String,
    category: String,
    incident_from: String,
    incident_to: String,
    summary: String,
    demands: Vec<String>,
    joint_statement: String,
    requires_moderation: bool,
    confirm: bool,
}

impl NewGroupForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = Self::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "provider" => f.provider = v.trim().to_owned(),
                "provider_name" => f.provider_name = v,
                "title" => f.title = v,
                "category" => f.category = v,
                "incident_from" => f.incident_from = v.trim().to_owned(),
                "incident_to" => f.incident_to = v.trim().to_owned(),
                "summary" => f.summary = v,
                "demands" => f.demands.push(v),
                "joint_statement" => f.joint_statement = v,
                "requires_moderation" => f.requires_moderation = v == "1",
                "confirm" => f.confirm = v == "1",
                _ => {}
            }
        }
        f
    }

    /// The API's request for this form, or the fields the form itself gets wrong.
    fn request(&self) -> Result<GroupCreate, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut bad = |field: &str| {
            errors.insert(field.to_owned(), vec!["invalid".to_owned()]);
        };
        let category = Category::all()
            .into_iter()
            .find(|c| c.as_str() == self.category);
        if category.is_none() {
            bad("category");
        }
        let mut date = |field: &str, text: &str| -> Option<NaiveDate> {
            if text.is_empty() {
                return None;
            }
            let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            if parsed.is_none() {
                bad(field);
            }
            parsed
        };
        let incident_from = date("incident_from", &self.incident_from);
        let incident_to = date("incident_to", &self.incident_to);
        let demands: Vec<DemandInput> = DEMANDS
            .into_iter()
            .filter(|d| self.demands.iter().any(|v| v == d.as_str()))
            .map(DemandInput::Kind)
            .collect();
        let req = GroupCreate {
            provider: Some(self.provider.clone()).filter(|p| !p.is_empty()),
            provider_name: Some(self.provider_name.trim().to_owned()).filter(|n| !n.is_empty()),
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: category.unwrap_or(Category::Other),
            demands,
            joint_statement: self.joint_statement.clone(),
            incident_from,
            incident_to,
            requires_moderation: self.requires_moderation,
        };
        if let Err(e) = validator::Validate::validate(&req)
            && let AppError::Validation(more) = AppError::from(e)
        {
            for (k, v) in more {
                errors.entry(k).or_insert(v);
            }
        }
        if req.provider.is_none() && req.provider_name.is_none() {
            errors.entry("provider".to_owned()).or_default();
        }
        if errors.is_empty() {
            Ok(req)
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "pages/new_group.html")]
struct NewGroupPage {
    l: Locale,
    head: Head,
    csrf: String,
    providers: Vec<Choice>,
    categories: Vec<Choice>,
    demand_choices: Vec<Choice>,
    similar: Vec<GroupSummary>,
    provider: Field,
    provider_name: Field,
    title: Field,
    category: Field,
    incident_from: Field,
    incident_to: Field,
    summary: Field,
    demands: Field,
    joint_statement: Field,
    /// Whether "review each join" is ticked.
    requires_moderation: bool,
}

impl NewGroupPage {
    fn errors(&self) -> Vec<&Field> {
        [
            &self.provider,
            &self.provider_name,
            &self.category,
            &self.title,
            &self.incident_from,
            &self.incident_to,
            &self.summary,
            &self.demands,
            &self.joint_statement,
        ]
        .into_iter()
        .filter(|f| f.error.is_some())
        .collect()
    }
}

/// The form's page: `form` as typed, the message of each field in `errors` next to it, the
/// `similar` groups above it.
async fn new_page(
    state: &AppState,
    c: &PageCtx,
    form: &NewGroupForm,
    errors: &FieldErrors,
    similar: Vec<GroupSummary>,
) -> HttpResponse {
    let l = c.l;
    let providers = match provider_options(state, l, &form.provider).await {
        Ok(p) => p,
        Err(e) => return c.error(&e),
    };
    // A field's message: the field's own (`demands[0].text` counts as `demands`).
    let error = |name: &str| -> Option<&'static str> {
        errors
            .keys()
            .any(|k| {
                k == name
                    || k.starts_with(&format!("{name}["))
                    || k.starts_with(&format!("{name}."))
            })
            .then(|| l.tk("page.new_group.error", name))
    };
    let field = |name: &'static str, value: &str| {
        Field::new(name, l.tk("page.new_group.label", name), "text", 0)
            .value(value)
            .error(error(name))
    };
    let page = NewGroupPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        providers,
        categories: Category::all()
            .into_iter()
            .map(|v| {
                let label = l.tk("page.category", v).to_owned();
                (v.as_str().to_owned(), label, form.category == v.as_str())
            })
            .collect(),
        demand_choices: DEMANDS
            .into_iter()
            .map(|d| {
                let label = l.tk("page.demand", d.as_str()).to_owned();
                let on = form.demands.iter().any(|v| v == d.as_str());
                (d.as_str().to_owned(), label, on)
            })
            .collect(),
        provider: field("provider", "").hint(l.t("page.new_group.hint.provider")),
        provider_name: field("provider_name", &form.provider_name)
            .hint(l.t("page.new_group.hint.provider_name")),
        title: field("title", &form.title).hint(l.t("page.new_group.hint.title")),
        category: field("category", ""),
        incident_from: field("incident_from", &form.incident_from),
        incident_to: field("incident_to", &form.incident_to),
        summary: field("summary", &form.summary).hint(l.t("page.new_group.hint.summary")),
        demands: field("demands", ""),
        joint_statement: field("joint_statement", &form.joint_statement)
            .hint(l.t("page.new_group.hint.joint_statement")),
        requires_moderation: form.requires_moderation,
        similar,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.render(status, &page)
}

async fn new_form(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    let form = NewGroupForm {
        demands: vec![DemandKind::Refund.as_str().to_owned()],
        ..NewGroupForm::default()
    };
    new_page(&state, &c, &form, &FieldErrors::new(), Vec::new()).await
}

/// Checks the form, shows the open groups about the same problem once, then creates the group
/// exactly as `POST /api/v1/groups` does and goes to its page.
async fn new_submit(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    if let Err(res) = c.accept::<std::collections::HashMap<String, String>>(&body) {
        return *res;
    }
    let form = NewGroupForm::parse(&body);
    let req = match form.request() {
        Ok(req) => req,
        Err(errors) => return new_page(&state, &c, &form, &errors, Vec::new()).await,
    };
    if let Err(e) = service::check_create(&state.ctx, &req) {
        return match e {
            AppError::Validation(errors) => new_page(&state, &c, &form, &errors, Vec::new()).await,
            e => c.error(&e),
        };
    }
    if !form.confirm {
        let q = SuggestQuery {
            provider: req.provider.clone(),
            category: Some(req.category),
            q: Some(format!(
                "{} {}",
                req.provider_name.as_deref().unwrap_or_default(),
                req.title
            )),
            incident_date: req.incident_from,
        };
        match service::suggest(&state.db, &q, None).await {
            Ok(similar) if !similar.is_empty() => {
                return new_page(&state, &c, &form, &FieldErrors::new(), similar).await;
            }
            Ok(_) => {}
            Err(e) => return c.error(&e),
        }
    }
    match state
        .write(async |txn| service::create(txn, &state.ctx, &user, req).await)
        .await
    {
        Ok(group) => c.redirect(
            &format!("/groups/{}", group.slug),
            Some("page.flash.search.created"),
        ),
        Err(AppError::Validation(errors)) => new_page(&state, &c, &form, &errors, Vec::new()).await,
        Err(e) => c.error(&e),
    }
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
