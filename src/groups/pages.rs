//! The public group page (`/groups/{slug}`) and its QR code (`/groups/{slug}/qr.svg`). Everyone
//! sees the public view, whoever is signed in: counts and aggregates under the small-cell rule,
//! the public timeline, the submissions' clocks, the public-tier dossier, similar groups and
//! what a chat app needs for a link card. The figures come from the services the public API
//! calls, with the public's access (no viewer), so nothing participants-only shows here.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::charts::{BarChart, LineChart, Row};
use super::dashboard::public_joins;
use super::dto::{GroupSummary, GroupView};
use super::service as groups;
use crate::dossier::Part;
use crate::dossier::service as dossiers;
use crate::entities::enums::{DueKind, GroupStatus, ResponseClass, UpdateKind, Visibility};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::responses::deadlines::{ClockState, local_date};
use crate::responses::dto::{SubmissionView, UpdateView};
use crate::responses::submissions;
use crate::state::AppState;

/// Registers the group page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups/{slug}", web::get().to(group))
        .route("/groups/{slug}/qr.svg", web::get().to(qr_svg));
}

/// How many characters of the statement hash show before it is unfolded.
const HASH_SHOWN: usize = 12;

/// Longest summary put in a link card's description.
const CARD_SUMMARY_CHARS: usize = 140;

fn day(t: DateTime<Utc>) -> String {
    local_date(t).to_string()
}

/// One entry of the public timeline, as shown.
struct TimelineItem {
    date: String,
    kind: &'static str,
    class: Option<&'static str>,
    title: String,
    body: String,
}

impl TimelineItem {
    fn new(l: Locale, u: &UpdateView) -> Self {
        Self {
            date: day(u.occurred_at),
            kind: l.tk("notify.kind", u.kind),
            class: u.response_class.map(|c| l.tk("notify.class", c)),
            title: u.title.clone(),
            body: u.body.clone(),
        }
    }
}

/// One submission with its clock, as shown (`pages/submission_line.html`): on the group page
/// and on the organisers' dashboard.
pub(crate) struct SubmissionLine {
    pub(crate) recipient: String,
    /// The recipient's case or acceptance number, for anyone quoting the complaint.
    pub(crate) reference: Option<String>,
    pub(crate) clock: String,
    /// The badge's CSS modifier and text.
    pub(crate) badge: (&'static str, &'static str),
    pub(crate) sent: String,
    pub(crate) due: String,
    /// Where to turn next, once it stalls.
    pub(crate) next: Option<String>,
    /// Why that channel (shown to organisers only).
    pub(crate) why: Option<&'static str>,
    pub(crate) extension: Option<String>,
}

impl SubmissionLine {
    pub(crate) fn new(l: Locale, s: &SubmissionView) -> Self {
        let channel = l.tk("notify.channel", s.channel);
        let key = match s.due_kind {
            DueKind::Calendar => "page.group.clock_calendar",
            DueKind::Working => "page.group.clock_working",
        };
        let clock = l.tf(
            key,
            &[
                ("day", &s.day.to_string()),
                ("of", &s.of.to_string()),
                ("channel", channel),
            ],
        );
        let badge = match s.state {
            ClockState::Awaiting => "awaiting",
            ClockState::Answered => "answered",
            ClockState::Overdue => "overdue",
            ClockState::VeryOverdue => "very_overdue",
        };
        let stalled = !matches!(s.state, ClockState::Answered | ClockState::Awaiting);
        let next = s.next_step.filter(|_| stalled);
        Self {
            recipient: s.recipient.clone(),
            reference: s.reference.clone(),
            clock,
            badge: (badge, l.tk("page.group.state", badge)),
            sent: l.tf("page.group.sent", &[("date", &day(s.submitted_at))]),
            due: l.tf("page.group.due", &[("date", &day(s.due_at))]),
            next: next.map(|n| {
                l.tf(
                    "page.group.next_step",
                    &[("channel", l.tk("notify.channel", n))],
                )
            }),
            why: None,
            extension: s.extension_reason.as_ref().map(|r| {
                l.tf(
                    "page.group.extended",
                    &[("days", &s.extension_days.to_string()), ("reason", r)],
                )
            }),
        }
    }

    /// The line as organisers see it: with why the suggested channel is next.
    pub(crate) fn for_organisers(l: Locale, s: &SubmissionView) -> Self {
        let mut line = Self::new(l, s);
        if line.next.is_some() {
            line.why = s.next_step.map(|n| l.tk("page.manage.next_why", n));
        }
        line
    }
}

/// The public-tier dossier to download.
struct PublicDossier {
    label: String,
    href: String,
}

#[derive(Template)]
#[template(path = "pages/group.html")]
struct GroupPage {
    l: Locale,
    head: Head,
    g: Arc<GroupView>,
    /// The page's public address.
    url: String,
    og_description: String,
    hash_start: String,
    joinable: bool,
    /// Reachable by link only: kept out of search engines.
    unlisted: bool,
    disputed: Vec<String>,
    outcomes: Option<BarChart>,
    joins: Option<LineChart>,
    /// "provider says resolved; N of M confirm", when it says so.
    confirmation: Option<String>,
    timeline: Vec<TimelineItem>,
    submissions: Vec<SubmissionLine>,
    dossier: Option<PublicDossier>,
    similar: Vec<GroupSummary>,
    /// The signed-in user is on the group's team: a link to the organiser's desk.
    manage: bool,
}

/// Whether the provider's answer says the matter is resolved.
fn claims_resolved(class: ResponseClass, kind: UpdateKind) -> bool {
    matches!(
        class,
        ResponseClass::ClosedMonetaryRelief | ResponseClass::ClosedNonMonetaryRelief
    ) || kind == UpdateKind::Resolution
}

/// A money figure in minor units as major units with two decimals.
fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

fn outcome_label(l: Locale, key: &str) -> &'static str {
    l.tk("page.group.outcome", key)
}

fn outcomes_chart(l: Locale, g: &GroupView) -> Option<BarChart> {
    if g.outcomes.is_empty() {
        return None;
    }
    let rows = g
        .outcomes
        .iter()
        .map(|c| Row {
            label: outcome_label(l, &c.key).to_owned(),
            value: c.participants,
        })
        .collect();
    Some(BarChart::new(
        "chart-outcomes",
        l.t("page.group.outcomes_title").to_owned(),
        (
            l.t("page.group.outcome_heading").to_owned(),
            l.t("page.group.people").to_owned(),
        ),
        rows,
    ))
}

fn confirmation(l: Locale, g: &GroupView) -> Option<String> {
    let claim = g.provider_claim.as_ref()?;
    if !claims_resolved(claim.response_class, claim.kind) {
        return None;
    }
    let total = g.participant_count.to_string();
    Some(match g.confirmed_resolved {
        Some(n) => l.tf(
            "page.group.provider_resolved",
            &[("confirmed", &n.to_string()), ("total", &total)],
        ),
        None => l.tf("page.group.provider_resolved_hidden", &[("total", &total)]),
    })
}

/// The public parts of a group page besides its view, the same for every viewer, cached with
/// the view (fresh for at most a second, dropped at each write).
struct PublicParts {
    group_id: i64,
    steps: Vec<super::dashboard::JoinStep>,
    similar: Vec<GroupSummary>,
    sent: Vec<SubmissionView>,
    /// The newest ready public-tier dossier version.
    dossier: Option<i32>,
}

async fn load(state: &AppState, c: &PageCtx, slug: &str) -> AppResult<GroupPage> {
    let l = c.l;
    let g = state.views.public_view(&state.db, slug).await?;
    // The submissions' clocks count days: a new day makes a new entry.
    let key = format!("{slug}@{}", state.ctx.settings.local_date(state.now()));
    let parts = state
        .views
        .cached(&key, async {
            let group = groups::by_slug(&state.db, slug).await?;
            Ok(PublicParts {
                steps: public_joins(&state.db, group.id).await?,
                similar: groups::similar(&state.db, &group).await?,
                sent: submissions::list(state, slug).await?,
                // The public's list (no viewer): only ready public-tier versions, even for the
                // team.
                dossier: dossiers::list(state, None, slug)
                    .await?
                    .into_iter()
                    .next()
                    .map(|d| d.version),
                group_id: group.id,
            })
        })
        .await?;
    let manage = match &c.user {
        Some(u) => super::access::role_of(&state.db, parts.group_id, u.id)
            .await?
            .is_some(),
        None => false,
    };
    let (steps, similar, sent) = (&parts.steps, parts.similar.clone(), &parts.sent);
    let dossier = parts.dossier.map(|version| PublicDossier {
        label: l.tf(
            "page.group.dossier_download",
            &[("version", &version.to_string())],
        ),
        href: format!(
            "{}/{}/{}",
            dossiers::base_path(&g.slug),
            version,
            Part::Bundle.route()
        ),
    });
    let url = format!("{}/groups/{}", state.ctx.public_url, g.slug);
    let mut summary: String = g.summary.chars().take(CARD_SUMMARY_CHARS).collect();
    if summary.len() < g.summary.len() {
        summary.push('…');
    }
    let og_description = l.tf(
        "page.group.og_description",
        &[
            ("count", &g.participant_count.to_string()),
            ("summary", summary.trim()),
        ],
    );
    let disputed = g
        .disputed_totals
        .iter()
        .map(|d| match d.amount_minor {
            Some(amount) => l.tf(
                "page.group.disputed_row",
                &[
                    ("currency", &d.currency),
                    ("amount", &money(amount)),
                    ("n", &d.participants.to_string()),
                ],
            ),
            None => l.tf(
                "page.group.disputed_other",
                &[("n", &d.participants.to_string())],
            ),
        })
        .collect();
    let joins = LineChart::joins(
        "chart-joins",
        l.t("page.group.joins_title").to_owned(),
        (
            l.t("page.group.day").to_owned(),
            l.t("page.group.people").to_owned(),
        ),
        local_date(g.created_at),
        steps,
    );
    Ok(GroupPage {
        l,
        head: c.head(),
        url,
        og_description,
        hash_start: g.statement_sha256.chars().take(HASH_SHOWN).collect(),
        joinable: g.status != GroupStatus::Closed,
        unlisted: g.visibility == Visibility::Unlisted,
        disputed,
        outcomes: outcomes_chart(l, &g),
        joins,
        confirmation: confirmation(l, &g),
        timeline: g.timeline.iter().map(|u| TimelineItem::new(l, u)).collect(),
        submissions: sent.iter().map(|s| SubmissionLine::new(l, s)).collect(),
        dossier,
        similar,
        manage,
        g,
    })
}

async fn group(state: web::Data<AppState>, c: PageCtx, slug: web::Path<String>) -> HttpResponse {
    if !c.is_shared() {
        return match load(&state, &c, &slug).await {
            Ok(page) => c.render(StatusCode::OK, &page),
            Err(e) => c.error(&e),
        };
    }
    // Signed out, the page holds only public parts: rendered once per language and day, and
    // kept as the cached view is (fresh ≤ 1 s, dropped at each write).
    let key = format!(
        "{slug}#{}@{}",
        c.l.as_str(),
        state.ctx.settings.local_date(state.now())
    );
    let html = state
        .views
        .cached(&key, async {
            let page = load(&state, &c, &slug).await?;
            page.render()
                .map(web::Bytes::from)
                .map_err(|e| AppError::Internal(e.into()))
        })
        .await;
    match html {
        Ok(html) => c.respond(
            StatusCode::OK,
            Ok::<_, askama::Error>(web::Bytes::clone(&html)),
        ),
        Err(e) => c.error(&e),
    }
}

/// The QR code of a page address, as SVG.
///
/// # Errors
/// 500 when the address is too long for a QR code (it never is: a slug is short).
pub fn qr_code_svg(url: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code of {url}: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The QR code of the group page's public address (an image the page shows, `image/svg+xml`).
async fn qr_svg(state: web::Data<AppState>, c: PageCtx, slug: web::Path<String>) -> HttpResponse {
    let svg = state
        .views
        .public_view(&state.db, &slug)
        .await
        .and_then(|g| qr_code_svg(&format!("{}/groups/{}", state.ctx.public_url, g.slug)));
    match svg {
        Ok(svg) => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(svg),
        Err(e) => c.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::{claims_resolved, money};
    use crate::entities::enums::{ResponseClass, UpdateKind};

    #[test]
    fn money_shows_two_decimals() {
        assert_eq!(money(12800), "128.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-150), "-1.50");
    }

    #[test]
    fn only_a_resolving_answer_claims_resolved() {
        assert!(claims_resolved(
            ResponseClass::ClosedMonetaryRelief,
            UpdateKind::Response
        ));
        assert!(!claims_resolved(ResponseClass::Denied, UpdateKind::Denial));
        assert!(!claims_resolved(
            ResponseClass::ClosedExplanation,
            UpdateKind::Response
        ));
    }
}
