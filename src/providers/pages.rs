//! The provider page (`/providers/{slug}`): its names, whether an administrator reviewed it,
//! its scorecard in answering complaints and its public groups, from the services behind
//! `GET /api/v1/providers/{slug}` and `GET /api/v1/groups?provider=`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::dto::ProviderDetail;
use super::service;
use crate::error::AppResult;
use crate::groups::dto::{GroupQuery, GroupSummary};
use crate::groups::service as groups;
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::state::AppState;

/// Registers the provider page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/providers/{slug}", web::get().to(provider));
}

/// Groups listed on the page at most.
const GROUPS_SHOWN: u64 = 50;

/// One figure of the scorecard, as shown.
struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "pages/provider.html")]
struct ProviderPage {
    l: Locale,
    head: Head,
    p: ProviderDetail,
    figures: Vec<Figure>,
    groups: Vec<GroupSummary>,
    more_groups: bool,
}

/// A share as a whole percentage.
#[must_use]
pub fn percent(share: Option<f64>) -> Option<String> {
    share.map(|s| format!("{:.0}%", s * 100.0))
}

fn figures(l: Locale, p: &ProviderDetail) -> Vec<Figure> {
    let none = || l.t("page.provider_page.none").to_owned();
    let s = &p.scorecard;
    vec![
        Figure {
            label: l.t("page.provider_page.groups"),
            value: p.groups.to_string(),
        },
        Figure {
            label: l.t("page.provider_page.participants"),
            value: p.participants.to_string(),
        },
        Figure {
            label: l.t("page.provider_page.submissions"),
            value: s.submissions.to_string(),
        },
        Figure {
            label: l.t("page.provider_page.response_rate"),
            value: percent(s.share_answered).map_or_else(none, |v| {
                l.tf(
                    "page.provider_page.of",
                    &[
                        ("share", &v),
                        ("part", &s.answered.to_string()),
                        ("whole", &s.submissions.to_string()),
                    ],
                )
            }),
        },
        Figure {
            label: l.t("page.provider_page.median_days"),
            value: s.median_days_to_first_answer.map_or_else(none, |d| {
                l.tf("page.provider_page.days", &[("n", &format!("{d:.1}"))])
            }),
        },
        Figure {
            label: l.t("page.provider_page.on_time"),
            value: percent(s.share_answered_on_time).map_or_else(none, |v| {
                l.tf(
                    "page.provider_page.of",
                    &[
                        ("share", &v),
                        ("part", &s.answered_on_time.to_string()),
                        ("whole", &s.decided.to_string()),
                    ],
                )
            }),
        },
    ]
}

async fn load(state: &AppState, c: &PageCtx, slug: &str) -> AppResult<ProviderPage> {
    let p = service::detail(&state.db, slug, state.now()).await?;
    let query = GroupQuery {
        q: None,
        provider: Some(p.provider.slug.clone()),
        category: None,
        status: None,
        sort: None,
        page: None,
        per_page: Some(GROUPS_SHOWN),
    };
    let listed = groups::list(&state.db, &query).await?;
    Ok(ProviderPage {
        l: c.l,
        head: c.head(),
        figures: figures(c.l, &p),
        more_groups: listed.total > GROUPS_SHOWN,
        groups: listed.items,
        p,
    })
}

async fn provider(state: web::Data<AppState>, c: PageCtx, slug: web::Path<String>) -> HttpResponse {
    match load(&state, &c, &slug).await {
        // A provider merged into another: its old address leads to the one that stays.
        Ok(page) if page.p.provider.slug != *slug => HttpResponse::MovedPermanently()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!("/providers/{}", page.p.provider.slug),
            ))
            .finish(),
        Ok(page) => c.render(StatusCode::OK, &page),
        Err(e) => c.error(&e),
    }
}
