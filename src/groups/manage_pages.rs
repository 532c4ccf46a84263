//! The organiser's desk: the dashboard (`/groups/{slug}/manage`), the roster with moderation
//! (`/groups/{slug}/manage/roster`, its CSV) and the joint statement's editor
//! (`/groups/{slug}/manage/statement`). Same services, and so the same access rules, as the
//! team API (`/api/v1/groups/{slug}/dashboard`, `/roster`, `/statement`): a stranger or a
//! participant is refused by the service, never by a rule of this page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use super::access::{Role, require_role};
use super::charts::{BarChart, LineChart, Row};
use super::dashboard::{self, JoinStep};
use super::dto::DemandKind;
use super::dto::{Demand, DemandInput};
use super::roster;
use super::service::{by_slug, current_statement};
use super::statement;
use super::team_dto::{
    Dashboard, FlagFilter, FlagView, IncidentWindow, ModerationAction, ParticipationStatus,
    RosterAction, RosterEntry, RosterQuery, SignalCode, StatementUpdate,
};
use crate::domain::Money;
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::responses::deadlines::{ClockState, local_date};
use crate::state::AppState;

/// Registers the organiser pages (before the public group page's routes).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups/{slug}/manage", web::get().to(dashboard_page))
        .route("/groups/{slug}/manage/roster", web::get().to(roster_page))
        .route(
            "/groups/{slug}/manage/roster.csv",
            web::get().to(roster_csv),
        )
        // `bulk` before `{id}`.
        .route(
            "/groups/{slug}/manage/roster/bulk",
            web::post().to(bulk_submit),
        )
        .route(
            "/groups/{slug}/manage/roster/{id}",
            web::post().to(moderate_submit),
        )
        .route(
            "/groups/{slug}/manage/statement",
            web::get().to(statement_page),
        )
        .route(
            "/groups/{slug}/manage/statement",
            web::post().to(statement_submit),
        );
}

/// Roster entries per page (each row carries its own forms: 25 keep the page well under
/// 100 KB).
const PER_PAGE: u64 = 25;

/// Every demand kind, in the order the form lists them.
const DEMANDS: [DemandKind; 6] = [
    DemandKind::Refund,
    DemandKind::Compensation,
    DemandKind::Apology,
    DemandKind::ServiceFix,
    DemandKind::DataDeletion,
    DemandKind::Other,
];

fn manage_path(slug: &str) -> String {
    format!("/groups/{slug}/manage")
}

fn money(minor: i64, currency: &str) -> String {
    format!(
        "{} {currency}",
        Money::from_stored(minor, currency).decimal()
    )
}

fn bars(id: &'static str, l: Locale, title: &str, rows: Vec<Row>) -> Option<BarChart> {
    (!rows.is_empty()).then(|| {
        BarChart::new(
            id,
            l.t(title).to_owned(),
            (
                l.t("page.manage.chart_label").to_owned(),
                l.t("page.manage.chart_value").to_owned(),
            ),
            rows,
        )
    })
}

/// The claimed amounts of the currency most participants claim in, as a bar chart by band.
fn amounts_chart(l: Locale, disputed: &[super::team_dto::CurrencyFigures]) -> Option<BarChart> {
    let main = disputed.iter().max_by_key(|c| c.participants)?;
    let unit = 10_i64.pow(crate::domain::Currency::from_stored(&main.currency).exponent());
    let rows = main
        .bands
        .iter()
        .map(|b| Row {
            label: match b.to_minor {
                Some(to) => format!("{}–{}", b.from_minor / unit, to / unit),
                None => format!("≥ {}", b.from_minor / unit),
            },
            value: b.participants,
        })
        .collect();
    Some(BarChart::new(
        "chart-amounts",
        l.tf("page.manage.amounts_title", &[("currency", &main.currency)]),
        (
            l.tf("page.manage.amounts_band", &[("currency", &main.currency)]),
            l.t("page.manage.chart_value").to_owned(),
        ),
        rows,
    ))
}

/// One currency's disputed money, as shown.
struct MoneyLine {
    currency: String,
    participants: i64,
    total: String,
    median: String,
}

/// One evidence kind's coverage, as shown.
struct KindLine {
    kind: &'static str,
    participants: i64,
    share: String,
    items: i64,
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |s| format!("{:.0}%", s * 100.0))
}

#[derive(Template)]
#[template(path = "pages/manage_dashboard.html")]
struct DashboardPage {
    l: Locale,
    head: Head,
    slug: String,
    title: String,
    active: i64,
    group_status: &'static str,
    signed_line: String,
    evidence_line: String,
    contacts_line: String,
    statuses: Option<BarChart>,
    joins: Option<LineChart>,
    outcomes: Option<BarChart>,
    channels: Option<BarChart>,
    money: Vec<MoneyLine>,
    amounts: Option<BarChart>,
    kinds: Vec<KindLine>,
    incidents_line: String,
    /// The submissions with their clocks, badges and the suggested next step.
    clocks: Vec<super::pages::SubmissionLine>,
    /// How many of them are overdue.
    overdue: usize,
    /// Per integrity signal: code, label, participants.
    flags: Vec<(&'static str, &'static str, i64)>,
    /// Participants carrying any signal.
    flagged: i64,
}

fn dashboard_view(l: Locale, head: Head, slug: &str, title: String, d: Dashboard) -> DashboardPage {
    let active = d
        .participants_by_status
        .get(ParticipationStatus::Active.as_str())
        .copied()
        .unwrap_or(0);
    let statuses = bars(
        "chart-status",
        l,
        "page.manage.status_title",
        d.participants_by_status
            .iter()
            .map(|(k, n)| Row {
                label: l.tk("page.my.status", k).to_owned(),
                value: *n,
            })
            .collect(),
    );
    let mut total = 0;
    let steps: Vec<JoinStep> = d
        .joins_per_day
        .iter()
        .map(|c| {
            total += c.joins;
            JoinStep {
                day: c.day,
                participants: total,
            }
        })
        .collect();
    // From the first day anyone joined; no chart before anyone did.
    let joins = d.joins_per_day.first().and_then(|first| {
        LineChart::joins(
            "chart-joins",
            l.t("page.manage.joins_title").to_owned(),
            (
                l.t("page.manage.day").to_owned(),
                l.t("page.manage.chart_value").to_owned(),
            ),
            first.day,
            &steps,
        )
    });
    let outcomes = bars(
        "chart-outcomes",
        l,
        "page.manage.outcomes_title",
        d.outcomes
            .iter()
            .map(|(k, n)| Row {
                label: l.tk("page.my.outcome", k).to_owned(),
                value: *n,
            })
            .collect(),
    );
    let channels = bars(
        "chart-channels",
        l,
        "page.manage.channels_title",
        d.contacts
            .by_channel
            .iter()
            .map(|(k, n)| Row {
                label: l.tk("page.contact_form.channel", k).to_owned(),
                value: *n,
            })
            .collect(),
    );
    let amounts = amounts_chart(l, &d.disputed);
    let money = d
        .disputed
        .iter()
        .map(|m| MoneyLine {
            currency: m.currency.clone(),
            participants: m.participants,
            total: money(m.total_minor, &m.currency),
            #[allow(clippy::cast_possible_truncation)]
            median: money(m.median_minor.round() as i64, &m.currency),
        })
        .collect();
    let kinds = d
        .evidence
        .by_kind
        .iter()
        .map(|(k, c)| KindLine {
            kind: l.tk("page.evidence_form.kind", k),
            participants: c.participants,
            share: percent(c.share),
            items: c.items,
        })
        .collect();
    let signed_line = signed_line(l, d.signed_current, active, d.statement_version);
    let evidence_line = l.tf(
        "page.manage.evidence_line",
        &[
            ("n", &d.evidence.participants_with_evidence.to_string()),
            ("of", &active.to_string()),
            ("share", &percent(d.evidence.share)),
        ],
    );
    let contacts_line = l.tf(
        "page.manage.contacts_line",
        &[
            ("people", &d.contacts.participants_contacted.to_string()),
            ("of", &active.to_string()),
            ("total", &d.contacts.total.to_string()),
            (
                "median",
                &d.contacts
                    .median_per_participant
                    .map_or_else(|| "–".to_owned(), |m| format!("{m:.1}")),
            ),
        ],
    );
    let incidents_line = incidents_line(l, &d.incidents);
    let clocks = d
        .submissions
        .iter()
        .map(|s| super::pages::SubmissionLine::for_organisers(l, s))
        .collect();
    let overdue = d
        .submissions
        .iter()
        .filter(|s| matches!(s.state, ClockState::Overdue | ClockState::VeryOverdue))
        .count();
    let flags = d
        .flags
        .iter()
        .map(|f| {
            let code = f.code.as_str();
            (code, l.tk("page.signals.code", code), f.participants)
        })
        .collect();
    DashboardPage {
        l,
        head,
        flags,
        flagged: d.flagged_participants,
        incidents_line,
        clocks,
        overdue,
        slug: slug.to_owned(),
        title,
        active,
        group_status: l.tk("page.group_status", d.status),
        signed_line,
        evidence_line,
        contacts_line,
        statuses,
        joins,
        outcomes,
        channels,
        money,
        amounts,
        kinds,
    }
}

/// The declared incident window and the span participants' own dates cover.
fn incidents_line(l: Locale, w: &IncidentWindow) -> String {
    let open = l.t("page.manage.incidents_open");
    let date = |d: Option<chrono::NaiveDate>| d.map_or_else(|| open.to_owned(), |d| d.to_string());
    let declared = l.tf(
        "page.manage.incidents_declared",
        &[
            ("from", &date(w.declared_from)),
            ("to", &date(w.declared_to)),
        ],
    );
    let reported = match (w.earliest, w.latest) {
        (Some(first), Some(last)) => l.tf(
            "page.manage.incidents_reported",
            &[
                ("from", &first.to_string()),
                ("to", &last.to_string()),
                ("outside", &w.outside_declared.to_string()),
            ],
        ),
        _ => l.t("page.manage.incidents_none").to_owned(),
    };
    l.tf(
        "page.manage.incidents_line",
        &[("declared", &declared), ("reported", &reported)],
    )
}

/// "412 of 540 active participants signed version 3".
fn signed_line(l: Locale, signed: i64, active: i64, version: i32) -> String {
    l.tf(
        "page.manage.signed_line",
        &[
            ("n", &signed.to_string()),
            ("of", &active.to_string()),
            ("version", &version.to_string()),
        ],
    )
}

async fn dashboard_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let loaded = async {
        let d = dashboard::dashboard(&state, &user, &slug).await?;
        let group = by_slug(&state.db, &slug).await?;
        Ok::<_, AppError>((d, group.title))
    };
    match loaded.await {
        Ok((d, title)) => c.render(
            StatusCode::OK,
            &dashboard_view(c.l, c.head(), &slug, title, d),
        ),
        Err(e) => c.error(&e),
    }
}

/// The roster page's query as typed; unknown or empty values mean "any".
#[derive(Debug, Default, Deserialize)]
struct RosterFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    evidence: String,
    #[serde(default)]
    signed: String,
    /// Agreed to be named: `yes`, `no`, or any.
    #[serde(default)]
    identity: String,
    /// Agreed to be contacted: `yes`, `no`, or any.
    #[serde(default)]
    contact: String,
    /// Search words.
    #[serde(default)]
    q: String,
    /// An integrity signal's code, `any`, or all.
    #[serde(default)]
    flag: String,
    #[serde(default)]
    page: String,
}

/// `yes` → true, `no` → false, anything else → any.
fn yes_no(v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// The most characters of a roster search the page keeps.
const SEARCH_MAX: usize = 100;

impl RosterFilter {
    fn status(&self) -> Option<ParticipationStatus> {
        ParticipationStatus::all()
            .into_iter()
            .find(|s| s.as_str() == self.status)
    }

    fn flag(&self) -> Option<FlagFilter> {
        FlagFilter::parse(&self.flag)
    }

    fn query(&self, current_version: i32, everything: bool) -> RosterQuery {
        RosterQuery {
            status: self.status(),
            signed_version: (self.signed == "current").then_some(current_version),
            has_evidence: yes_no(&self.evidence),
            consent_share_identity: yes_no(&self.identity),
            consent_contact: yes_no(&self.contact),
            q: Some(self.search()).filter(|q| !q.is_empty()),
            joined_from: None,
            joined_to: None,
            flag: self.flag(),
            page: (!everything).then(|| self.page_number()),
            per_page: (!everything).then_some(PER_PAGE),
        }
    }

    /// The search words as kept: visible characters only, at most [`SEARCH_MAX`].
    fn search(&self) -> String {
        self.q
            .chars()
            .filter(|c| !c.is_control())
            .take(SEARCH_MAX)
            .collect::<String>()
            .trim()
            .to_owned()
    }

    fn page_number(&self) -> u64 {
        self.page
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .unwrap_or(1)
    }

    /// The filters and page as hidden fields of the moderation forms.
    fn keep(&self) -> Vec<(&'static str, String)> {
        url::form_urlencoded::parse(self.encoded().as_bytes())
            .filter_map(|(k, v)| {
                [
                    "status", "evidence", "signed", "identity", "contact", "q", "flag",
                ]
                .into_iter()
                .find(|n| *n == k)
                .map(|n| (n, v.into_owned()))
            })
            .chain(std::iter::once(("page", self.page_number().to_string())))
            .collect()
    }

    /// The filters as a query string (without the page), for links and redirects.
    fn encoded(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(st) = self.status() {
            s.append_pair("status", st.as_str());
        }
        if matches!(self.evidence.as_str(), "yes" | "no") {
            s.append_pair("evidence", &self.evidence);
        }
        if self.signed == "current" {
            s.append_pair("signed", "current");
        }
        for (name, v) in [("identity", &self.identity), ("contact", &self.contact)] {
            if yes_no(v).is_some() {
                s.append_pair(name, v);
            }
        }
        let q = self.search();
        if !q.is_empty() {
            s.append_pair("q", &q);
        }
        if let Some(f) = self.flag() {
            s.append_pair("flag", f.as_str());
        }
        s.finish()
    }
}

/// A claimed amount as the team reads it: `128.00 CNY`.
pub(crate) fn amount_label(m: &crate::participation::dto::Money) -> String {
    format!("{} {}", m.decimal(), m.currency)
}

/// The statement version a participant last signed, or that they have not signed.
pub(crate) fn signed_label(l: Locale, version: Option<i32>) -> String {
    version.map_or_else(
        || l.t("page.manage.not_signed").to_owned(),
        |v| l.tf("page.manage.version_n", &[("version", &v.to_string())]),
    )
}

/// One roster entry, as shown.
struct RosterRow {
    id: i64,
    number: i64,
    name: String,
    email: String,
    status_key: &'static str,
    status: &'static str,
    amount: String,
    incident_date: String,
    evidence: i64,
    signed: String,
    signature_current: bool,
    joined: String,
    reason: Option<String>,
    may_approve: bool,
    may_reject: bool,
    /// The message of a refused rejection on this row, and the reason as typed.
    reason_error: Option<&'static str>,
    reason_typed: String,
    /// The message of a refused duplicate mark on this row, and the number as typed.
    duplicate_error: Option<&'static str>,
    duplicate_typed: String,
    /// Integrity signals.
    flags: Vec<FlagLine>,
}

/// An integrity signal as the team's pages show it: a badge and its reason.
pub(crate) struct FlagLine {
    /// The code (a CSS class and the filter's value).
    pub code: &'static str,
    /// The badge's text.
    pub label: &'static str,
    /// Why.
    pub reason: String,
}

/// The lines of `flags`, in their order.
pub(crate) fn flag_lines(l: Locale, flags: Vec<FlagView>) -> Vec<FlagLine> {
    flags
        .into_iter()
        .map(|f| FlagLine {
            code: f.code.as_str(),
            label: l.tk("page.signals.code", f.code.as_str()),
            reason: f.reason,
        })
        .collect()
}

impl RosterRow {
    fn new(l: Locale, e: RosterEntry) -> Self {
        let may_approve = matches!(
            e.status,
            ParticipationStatus::Pending | ParticipationStatus::Rejected
        );
        let may_reject = matches!(
            e.status,
            ParticipationStatus::Pending | ParticipationStatus::Active
        );
        Self {
            id: e.participation_id,
            number: e.number,
            name: e.full_name.unwrap_or(e.display_name),
            email: e.email,
            status_key: e.status.as_str(),
            status: l.tk("page.my.status", e.status),
            amount: amount_label(&e.amount_disputed),
            incident_date: e.incident_date.to_string(),
            evidence: e.evidence_count,
            signed: signed_label(l, e.signed_statement_version),
            signature_current: e.signature_current,
            joined: local_date(e.joined_at).to_string(),
            reason: e.rejection_reason,
            may_approve,
            may_reject,
            reason_error: None,
            reason_typed: String::new(),
            duplicate_error: None,
            duplicate_typed: String::new(),
            flags: flag_lines(l, e.flags),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/manage_roster.html")]
struct RosterPageView {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    rows: Vec<RosterRow>,
    shown: String,
    statuses: Vec<(&'static str, &'static str, bool)>,
    evidence: Vec<(&'static str, &'static str, bool)>,
    identity: Vec<(&'static str, &'static str, bool)>,
    contact: Vec<(&'static str, &'static str, bool)>,
    /// The signal filter's options: value, label, chosen.
    flag_choices: Vec<(&'static str, &'static str, bool)>,
    q: String,
    signed_current: bool,
    version: i32,
    /// The filters (and page) the moderation forms keep, as hidden fields.
    keep: Vec<(&'static str, String)>,
    csv_href: String,
    prev: Option<String>,
    next: Option<String>,
    errors: Vec<(String, &'static str)>,
}

/// A yes / no / any select's options, labels from `{prefix}.yes` and `{prefix}.no`.
fn yes_no_choices(
    l: Locale,
    prefix: &str,
    current: &str,
) -> Vec<(&'static str, &'static str, bool)> {
    let current = yes_no(current);
    [("", None), ("yes", Some(true)), ("no", Some(false))]
        .into_iter()
        .map(|(v, b)| {
            let label = if v.is_empty() {
                l.t("page.manage.any")
            } else {
                l.tk(prefix, v)
            };
            (v, label, b == current)
        })
        .collect()
}

/// The signal filter's options: all, any signal, then each signal.
fn flag_choices(l: Locale, current: Option<FlagFilter>) -> Vec<(&'static str, &'static str, bool)> {
    let each = SignalCode::ALL.into_iter().map(|c| {
        let f = FlagFilter::parse(c.as_str());
        (c.as_str(), l.tk("page.signals.code", c.as_str()), f)
    });
    [
        ("", l.t("page.signals.filter_all"), None),
        ("any", l.t("page.signals.filter_any"), Some(FlagFilter::Any)),
    ]
    .into_iter()
    .chain(each)
    .map(|(v, label, f)| (v, label, f == current))
    .collect()
}

async fn roster_view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    f: &RosterFilter,
    error: Option<(i64, &'static str, &'static str, String)>,
) -> AppResult<RosterPageView> {
    let l = c.l;
    let user = c.user.as_ref().ok_or(AppError::NotFound)?;
    let group = by_slug(&state.db, slug).await?;
    let version = group.statement_version;
    let page = roster::roster(&state.db, user, slug, &f.query(version, false), false, l).await?;
    let mut rows: Vec<RosterRow> = page
        .items
        .into_iter()
        .map(|e| RosterRow::new(l, e))
        .collect();
    let mut errors = Vec::new();
    if let Some((id, field, msg, typed)) = error
        && let Some(row) = rows.iter_mut().find(|r| r.id == id)
    {
        errors.push((format!("{field}-{id}"), msg));
        if field == "duplicate_of" {
            row.duplicate_error = Some(msg);
            row.duplicate_typed = typed;
        } else {
            row.reason_error = Some(msg);
            row.reason_typed = typed;
        }
    }
    let back = f.encoded();
    let link = |p: u64| {
        let sep = if back.is_empty() { "" } else { "&" };
        format!("/groups/{slug}/manage/roster?{back}{sep}page={p}")
    };
    let first = (page.page - 1) * page.per_page;
    let shown = if page.total == 0 {
        l.t("page.manage.roster_empty").to_owned()
    } else {
        l.tf(
            "page.manage.roster_shown",
            &[
                ("from", &(first + 1).to_string()),
                (
                    "to",
                    &(first + rows.len() as u64).max(first + 1).to_string(),
                ),
                ("total", &page.total.to_string()),
            ],
        )
    };
    let status = f.status().map(ParticipationStatus::as_str).unwrap_or("");
    Ok(RosterPageView {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: slug.to_owned(),
        title: group.title,
        shown,
        statuses: std::iter::once("")
            .chain(ParticipationStatus::all().into_iter().map(|s| s.as_str()))
            .map(|s| {
                let label = if s.is_empty() {
                    l.t("page.manage.any")
                } else {
                    l.tk("page.my.status", s)
                };
                (s, label, s == status)
            })
            .collect(),
        evidence: yes_no_choices(l, "page.manage.evidence", &f.evidence),
        identity: yes_no_choices(l, "page.manage.identity", &f.identity),
        contact: yes_no_choices(l, "page.manage.contact", &f.contact),
        flag_choices: flag_choices(l, f.flag()),
        q: f.search(),
        signed_current: f.signed == "current",
        version,
        csv_href: if back.is_empty() {
            format!("/groups/{slug}/manage/roster.csv")
        } else {
            format!("/groups/{slug}/manage/roster.csv?{back}")
        },
        prev: (page.page > 1).then(|| link(page.page - 1)),
        next: (first + page.per_page < page.total).then(|| link(page.page + 1)),
        keep: f.keep(),
        rows,
        errors,
    })
}

async fn roster_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    q: web::Query<RosterFilter>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    match roster_view(&state, &c, &slug, &q, None).await {
        Ok(page) => c.render(StatusCode::OK, &page),
        Err(e) => c.error(&e),
    }
}

async fn roster_csv(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    q: web::Query<RosterFilter>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let csv = async {
        let group = by_slug(&state.db, &slug).await?;
        let query = q.query(group.statement_version, true);
        let page = roster::roster(&state.db, &user, &slug, &query, true, c.l).await?;
        Ok::<_, AppError>(roster::to_csv(&page))
    };
    match csv.await {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"roster-{slug}.csv\""),
            ))
            .body(body),
        Err(e) => c.error(&e),
    }
}

/// A moderation form (one row, or the bulk form).
#[derive(Debug, Default)]
struct ModerateForm {
    action: String,
    reason: String,
    duplicate_of: String,
    ids: Vec<i64>,
    filter: RosterFilter,
}

impl ModerateForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = Self::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "action" => f.action = v,
                "reason" => f.reason = v,
                "duplicate_of" => f.duplicate_of = v.trim().to_owned(),
                "ids" => f.ids.extend(v.trim().parse::<i64>().ok()),
                "status" => f.filter.status = v,
                "evidence" => f.filter.evidence = v,
                "signed" => f.filter.signed = v,
                "identity" => f.filter.identity = v,
                "contact" => f.filter.contact = v,
                "q" => f.filter.q = v,
                "flag" => f.filter.flag = v,
                "page" => f.filter.page = v,
                _ => {}
            }
        }
        f
    }

    fn back(&self, slug: &str) -> String {
        let mut q = self.filter.encoded();
        if self.filter.page_number() > 1 {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("page={}", self.filter.page_number()));
        }
        if q.is_empty() {
            format!("/groups/{slug}/manage/roster")
        } else {
            format!("/groups/{slug}/manage/roster?{q}")
        }
    }

    /// The service's request, or the field the form gets wrong with its message key.
    fn request(&self) -> Result<RosterAction, (&'static str, &'static str)> {
        let action = match self.action.as_str() {
            "approve" => ModerationAction::Approve,
            "reject" => ModerationAction::Reject,
            "duplicate" => ModerationAction::Duplicate,
            _ => return Err(("action", "page.manage.error_action")),
        };
        let reason = Some(self.reason.trim().to_owned()).filter(|r| !r.is_empty());
        if action == ModerationAction::Reject && reason.is_none() {
            return Err(("reason", "page.manage.error_reason"));
        }
        let duplicate_of = if action == ModerationAction::Duplicate {
            match self.duplicate_of.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => return Err(("duplicate_of", "page.manage.error_duplicate")),
            }
        } else {
            None
        };
        let req = RosterAction {
            action,
            reason: if action == ModerationAction::Approve {
                None
            } else {
                reason
            },
            duplicate_of,
        };
        if req.validate().is_err() {
            return Err(("reason", "page.manage.error_reason"));
        }
        Ok(req)
    }
}

/// Which form field a service's validation message belongs to.
fn field_of(e: &AppError) -> Option<(&'static str, &'static str)> {
    let AppError::Validation(errors) = e else {
        return None;
    };
    if errors.contains_key("duplicate_of") {
        Some(("duplicate_of", "page.manage.error_duplicate"))
    } else if errors.contains_key("reason") {
        Some(("reason", "page.manage.error_reason"))
    } else {
        None
    }
}

async fn moderate_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = c.accept::<Vec<(String, String)>>(&body) {
        return *res;
    }
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, id) = path.into_inner();
    let form = ModerateForm::parse(&body);
    let refused = |field: &'static str, key: &'static str| {
        let state = state.clone();
        let (slug, form) = (&slug, &form);
        let c = &c;
        async move {
            let typed = if field == "duplicate_of" {
                form.duplicate_of.clone()
            } else {
                form.reason.clone()
            };
            let error = Some((id, field, c.l.t(key), typed));
            match roster_view(&state, c, slug, &form.filter, error).await {
                Ok(page) => c.render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => c.error(&e),
            }
        }
    };
    let req = match form.request() {
        Ok(r) => r,
        Err((field, key)) => return refused(field, key).await,
    };
    let action = req.action;
    let done = state
        .write(async |txn| roster::apply_moderation(txn, &state.ctx, &user, &slug, id, req).await)
        .await;
    match done {
        Ok(_) => c.redirect(
            &form.back(&slug),
            Some(match action {
                ModerationAction::Approve => "page.flash.manage.approved",
                ModerationAction::Reject => "page.flash.manage.rejected",
                ModerationAction::Duplicate => "page.flash.manage.duplicate",
            }),
        ),
        Err(e) => match field_of(&e) {
            Some((field, key)) => refused(field, key).await,
            None => c.error(&e),
        },
    }
}

async fn bulk_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = c.accept::<Vec<(String, String)>>(&body) {
        return *res;
    }
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let form = ModerateForm::parse(&body);
    let bad = |key: &'static str| c.error(&AppError::field("bulk", c.l.t(key)));
    if form.ids.is_empty() {
        return bad("page.manage.error_none_chosen");
    }
    if !matches!(form.action.as_str(), "approve" | "reject") {
        return bad("page.manage.error_action");
    }
    let req = match form.request() {
        Ok(r) => r,
        Err((_, key)) => return bad(key),
    };
    let done = state
        .write(async |txn| {
            for id in &form.ids {
                let one = RosterAction {
                    action: req.action,
                    reason: req.reason.clone(),
                    duplicate_of: None,
                };
                roster::apply_moderation(txn, &state.ctx, &user, &slug, *id, one).await?;
            }
            Ok(())
        })
        .await;
    match done {
        Ok(()) => c.redirect(
            &form.back(&slug),
            Some(if req.action == ModerationAction::Approve {
                "page.flash.manage.bulk_approved"
            } else {
                "page.flash.manage.bulk_rejected"
            }),
        ),
        Err(e) => c.error(&e),
    }
}

/// One demand of the statement form: kind, label, chosen, details.
struct DemandChoice {
    kind: &'static str,
    label: &'static str,
    on: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "pages/manage_statement.html")]
struct StatementPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    version: i32,
    sha256: String,
    signed_line: String,
    closed: bool,
    joint_statement: String,
    demands: Vec<DemandChoice>,
    statement_error: Option<&'static str>,
    demands_error: Option<&'static str>,
}

impl StatementPage {
    fn errors(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if let Some(e) = self.statement_error {
            out.push(("joint_statement", e));
        }
        if let Some(e) = self.demands_error {
            out.push(("demands", e));
        }
        out
    }
}

/// The statement form as typed.
#[derive(Debug, Default)]
struct StatementForm {
    joint_statement: String,
    demands: Vec<String>,
    texts: Vec<(String, String)>,
}

impl StatementForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = Self::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            if let Some(kind) = k.strip_prefix("text_") {
                f.texts.push((kind.to_owned(), v));
                continue;
            }
            match &*k {
                "joint_statement" => f.joint_statement = v,
                "demands" => f.demands.push(v),
                _ => {}
            }
        }
        f
    }

    fn text_of(&self, kind: &str) -> String {
        self.texts
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    fn request(&self) -> StatementUpdate {
        StatementUpdate {
            joint_statement: self.joint_statement.clone(),
            demands: DEMANDS
                .into_iter()
                .filter(|d| self.demands.iter().any(|v| v == d.as_str()))
                .map(|kind| {
                    let text = self.text_of(kind.as_str());
                    DemandInput::Detailed(Demand {
                        kind,
                        text: Some(text).filter(|t| !t.is_empty()),
                    })
                })
                .collect(),
        }
    }
}

async fn statement_view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    typed: Option<(&StatementForm, Option<&'static str>, Option<&'static str>)>,
) -> AppResult<StatementPage> {
    let l = c.l;
    let user = c.user.as_ref().ok_or(AppError::NotFound)?;
    let group = by_slug(&state.db, slug).await?;
    let group = require_role(&state.db, group, user.id, Role::Organiser)
        .await?
        .into_group();
    let current = current_statement(&state.db, &group).await?;
    let figures = dashboard::dashboard(state, user, slug).await?;
    let active = figures
        .participants_by_status
        .get(ParticipationStatus::Active.as_str())
        .copied()
        .unwrap_or(0);
    let stored: Vec<Demand> = serde_json::from_str(&current.demands).unwrap_or_default();
    let demands = DEMANDS
        .into_iter()
        .map(|kind| {
            let (on, text) = match typed {
                Some((f, _, _)) => (
                    f.demands.iter().any(|v| v == kind.as_str()),
                    f.text_of(kind.as_str()),
                ),
                None => stored
                    .iter()
                    .find(|d| d.kind == kind)
                    .map_or((false, String::new()), |d| {
                        (true, d.text.clone().unwrap_or_default())
                    }),
            };
            DemandChoice {
                kind: kind.as_str(),
                label: l.tk("page.demand", kind.as_str()),
                on,
                text,
            }
        })
        .collect();
    Ok(StatementPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: slug.to_owned(),
        title: group.title.clone(),
        version: current.version,
        sha256: current.sha256.clone(),
        signed_line: signed_line(l, figures.signed_current, active, current.version),
        closed: group.status == crate::entities::enums::GroupStatus::Closed,
        joint_statement: typed.map_or(current.joint_statement, |(f, _, _)| {
            f.joint_statement.clone()
        }),
        demands,
        statement_error: typed.and_then(|t| t.1),
        demands_error: typed.and_then(|t| t.2),
    })
}

async fn statement_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    match statement_view(&state, &c, &slug, None).await {
        Ok(page) => c.render(StatusCode::OK, &page),
        Err(e) => c.error(&e),
    }
}

async fn statement_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = c.accept::<Vec<(String, String)>>(&body) {
        return *res;
    }
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let form = StatementForm::parse(&body);
    let req = form.request();
    if let Err(e) = req.validate() {
        let AppError::Validation(bad) = AppError::from(e) else {
            return c.error(&AppError::BadRequest {
                code: "unreadable_form",
                detail: String::new(),
            });
        };
        let statement_error = bad
            .contains_key("joint_statement")
            .then(|| c.l.t("page.manage.error_statement"));
        let demands_error = bad
            .keys()
            .any(|k| k.starts_with("demands"))
            .then(|| c.l.t("page.manage.error_demands"));
        return match statement_view(
            &state,
            &c,
            &slug,
            Some((&form, statement_error, demands_error)),
        )
        .await
        {
            Ok(page) => c.render(StatusCode::UNPROCESSABLE_ENTITY, &page),
            Err(e) => c.error(&e),
        };
    }
    let saved = state
        .write(async |txn| statement::edit(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match saved {
        Ok(v) => c.redirect(
            &format!("{}/statement", manage_path(&slug)),
            Some(if v.new_version {
                "page.flash.manage.statement_new_version"
            } else {
                "page.flash.manage.statement_saved"
            }),
        ),
        Err(e) => c.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::{FlagFilter, ModerateForm, RosterFilter};

    #[test]
    fn filters_keep_only_known_values() {
        let f = RosterFilter {
            status: crate::entities::enums::ParticipationStatus::Pending
                .as_str()
                .into(),
            evidence: "maybe".into(),
            signed: "current".into(),
            identity: "no".into(),
            contact: "perhaps".into(),
            q: " 王\u{0}芳  ".into(),
            flag: "network_burst".into(),
            page: "x".into(),
        };
        assert_eq!(
            f.encoded(),
            "status=pending&signed=current&identity=no&q=%E7%8E%8B%E8%8A%B3&flag=network_burst"
        );
        assert_eq!(
            RosterFilter {
                flag: "nonsense".into(),
                ..RosterFilter::default()
            }
            .query(1, false)
            .flag,
            None
        );
        assert_eq!(f.page_number(), 1);
        let q = f.query(3, false);
        assert_eq!(q.signed_version, Some(3));
        assert_eq!(q.has_evidence, None);
        assert_eq!(q.consent_share_identity, Some(false));
        assert_eq!(q.consent_contact, None);
        assert_eq!(q.q.as_deref(), Some("王芳"));
        assert_eq!(q.flag, Some(FlagFilter::NetworkBurst));
    }

    #[test]
    fn a_rejection_needs_a_reason_and_a_duplicate_a_number() {
        let f = ModerateForm::parse(b"action=reject&reason=+");
        assert_eq!(
            f.request().err(),
            Some(("reason", "page.manage.error_reason"))
        );
        let f = ModerateForm::parse(b"action=duplicate&duplicate_of=abc");
        assert_eq!(
            f.request().err(),
            Some(("duplicate_of", "page.manage.error_duplicate"))
        );
        let f = ModerateForm::parse(b"action=approve&reason=ignored&status=pending&page=2");
        assert_eq!(f.request().map(|r| r.reason).ok(), Some(None));
        assert_eq!(f.back("g"), "/groups/g/manage/roster?status=pending&page=2");
    }
}
