//! The organiser's submissions and timeline pages (`/groups/{slug}/manage/submissions`,
//! `/groups/{slug}/manage/updates`): record where the complaint was sent, watch each clock
//! (day N of M, overdue, the holidays skipped), extend it with a reason, record the recipient's
//! answer (a timeline entry linked to the submission, which stops its clock), escalate with the
//! suggested next channel, and post timeline entries. The same services as the API decide who
//! may do what (`submissions::create`, `extend`, `updates::create`: organisers only); the pages
//! are refused to anyone else by [`organiser_group`].

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, NaiveTime};
use validator::Validate;

use super::deadlines::{Channel, DueKind, local_date, start_of_local_day};
use super::dto::{
    ExtendRequest, ResponseClass, SubmissionCreate, SubmissionView, UpdateCreate, UpdateKind,
    UpdateVisibility,
};
use super::{holidays, submissions, updates};
use crate::error::{AppError, AppResult};
use crate::groups::access::{Role, require_role};
use crate::groups::dashboard::public_figures;
use crate::groups::pages::SubmissionLine;
use crate::groups::service::by_slug;
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::state::AppState;

/// Registers both pages and their forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/groups/{slug}/manage/submissions",
        web::get().to(submissions_page),
    )
    .route(
        "/groups/{slug}/manage/submissions",
        web::post().to(record_submit),
    )
    .route(
        "/groups/{slug}/manage/submissions/{id}/extend",
        web::post().to(extend_submit),
    )
    .route("/groups/{slug}/manage/updates", web::get().to(updates_page))
    .route("/groups/{slug}/manage/updates", web::post().to(post_submit));
}

fn submissions_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/submissions")
}

fn updates_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/updates")
}

/// The group, for an organiser of it; anyone else is refused here (403, or 404 for a group
/// they cannot see), before anything of the group is read.
async fn organiser_group(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
) -> AppResult<crate::entities::groups::Model> {
    let user = c.user.as_ref().ok_or(AppError::NotFound)?;
    let group = by_slug(&state.db, slug).await?;
    Ok(require_role(&state.db, group, user.id, Role::Organiser)
        .await?
        .into_group())
}

/// A select's option: value, label, selected.
struct Choice {
    value: &'static str,
    label: &'static str,
    on: bool,
}

fn choices(
    l: Locale,
    prefix: &str,
    values: impl IntoIterator<Item = &'static str>,
    chosen: &str,
) -> Vec<Choice> {
    values
        .into_iter()
        .map(|value| Choice {
            value,
            label: l.tk(prefix, value),
            on: value == chosen,
        })
        .collect()
}

/// The messages of a refused form by field name, and what was typed.
#[derive(Default)]
struct Typed {
    values: Vec<(String, String)>,
    errors: Vec<(String, &'static str)>,
    /// Which form was refused: `record`, `extend-{id}` or `update-{id or new}`.
    form: String,
}

impl Typed {
    fn value(&self, form: &str, name: &str) -> String {
        if self.form != form {
            return String::new();
        }
        field(&self.values, name)
    }

    fn error(&self, form: &str, name: &str) -> Option<&'static str> {
        (self.form == form)
            .then(|| self.errors.iter().find(|(k, _)| k == name).map(|(_, e)| *e))
            .flatten()
    }
}

/// The value of `name` in a posted form.
fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// The answer form under each submission and on the timeline page.
struct UpdateForm {
    /// The form's id suffix: the submission's id, or `new`.
    key: String,
    submission_id: Option<i64>,
    kinds: Vec<Choice>,
    classes: Vec<Choice>,
    visibilities: Vec<Choice>,
    title: String,
    body: String,
    title_error: Option<&'static str>,
    kind_error: Option<&'static str>,
    class_error: Option<&'static str>,
    body_error: Option<&'static str>,
}

impl UpdateForm {
    fn new(l: Locale, typed: &Typed, submission_id: Option<i64>) -> Self {
        let key = submission_id.map_or_else(|| "new".to_owned(), |id| id.to_string());
        let form = format!("update-{key}");
        let kinds: Vec<UpdateKind> = UpdateKind::all()
            .into_iter()
            // An answer to a submission comes from the recipient.
            .filter(|k| submission_id.is_none() || k.from_recipient())
            .collect();
        let kind = typed.value(&form, "kind");
        let default_kind = if submission_id.is_some() {
            "response"
        } else {
            "organiser_note"
        };
        let visibility = typed.value(&form, "visibility");
        Self {
            submission_id,
            kinds: choices(
                l,
                "notify.kind",
                kinds.into_iter().map(UpdateKind::as_str),
                if kind.is_empty() { default_kind } else { &kind },
            ),
            classes: choices(
                l,
                "notify.class",
                ResponseClass::all().into_iter().map(ResponseClass::as_str),
                &typed.value(&form, "response_class"),
            ),
            visibilities: choices(
                l,
                "page.responses.visibility",
                UpdateVisibility::all()
                    .into_iter()
                    .map(UpdateVisibility::as_str),
                if visibility.is_empty() {
                    "public"
                } else {
                    &visibility
                },
            ),
            title: typed.value(&form, "title"),
            body: typed.value(&form, "body"),
            title_error: typed.error(&form, "title"),
            kind_error: typed.error(&form, "kind"),
            class_error: typed.error(&form, "response_class"),
            body_error: typed.error(&form, "body"),
            key,
        }
    }
}

/// One submission, as the organisers' page shows it.
struct SubmissionRow {
    id: i64,
    line: SubmissionLine,
    state_key: &'static str,
    /// The holidays the working-day clock skipped, "2026-10-01 国庆节".
    skipped: Vec<String>,
    /// The record form prefilled with the next channel, when it stalled.
    escalate: Option<String>,
    answered: bool,
    extend_days: String,
    extend_reason: String,
    extend_days_error: Option<&'static str>,
    extend_reason_error: Option<&'static str>,
    answer: UpdateForm,
}

#[derive(Template)]
#[template(path = "pages/manage_submissions.html")]
struct SubmissionsPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    rows: Vec<SubmissionRow>,
    channels: Vec<Choice>,
    recipient: String,
    reference: String,
    submitted_on: String,
    due_days: String,
    due_kinds: Vec<Choice>,
    /// No day kind chosen: the channel's usual one.
    due_kind_default: bool,
    channel_error: Option<&'static str>,
    recipient_error: Option<&'static str>,
    reference_error: Option<&'static str>,
    submitted_error: Option<&'static str>,
    due_days_error: Option<&'static str>,
    errors: Vec<(String, &'static str)>,
}

fn skipped_holidays(all: &[super::dto::Holiday], s: &SubmissionView) -> Vec<String> {
    if s.due_kind != DueKind::Working {
        return Vec::new();
    }
    let (from, to) = (local_date(s.submitted_at), local_date(s.due_at));
    all.iter()
        .filter(|h| !h.is_workday && h.day > from && h.day <= to)
        .map(|h| format!("{} {}", h.day, h.name))
        .collect()
}

async fn submissions_view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    typed: &Typed,
    channel: Option<Channel>,
) -> AppResult<SubmissionsPage> {
    let l = c.l;
    let group = organiser_group(state, c, slug).await?;
    let views = submissions::views_for_group(&state.db, group.id, state.now()).await?;
    let days = holidays::list(&state.db, None).await?;
    let rows =
        views
            .iter()
            .map(|s| {
                let form = format!("extend-{}", s.id);
                let line = SubmissionLine::for_organisers(l, s);
                SubmissionRow {
                    id: s.id,
                    state_key: line.badge.0,
                    escalate: line.next.as_ref().and(s.next_step).map(|n| {
                        format!("{}?channel={}#record", submissions_path(slug), n.as_str())
                    }),
                    line,
                    skipped: skipped_holidays(&days, s),
                    answered: s.first_response_at.is_some(),
                    extend_days: typed.value(&form, "days"),
                    extend_reason: typed.value(&form, "reason"),
                    extend_days_error: typed.error(&form, "days"),
                    extend_reason_error: typed.error(&form, "reason"),
                    answer: UpdateForm::new(l, typed, Some(s.id)),
                }
            })
            .collect();
    let chosen = channel.map_or_else(
        || typed.value("record", "channel"),
        |ch| ch.as_str().to_owned(),
    );
    let due_kind = typed.value("record", "due_kind");
    let submitted_on = typed.value("record", "submitted_on");
    Ok(SubmissionsPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: group.slug,
        title: group.title,
        rows,
        channels: choices(
            l,
            "notify.channel",
            Channel::all().into_iter().map(Channel::as_str),
            &chosen,
        ),
        recipient: typed.value("record", "recipient"),
        reference: typed.value("record", "reference"),
        submitted_on: if submitted_on.is_empty() {
            local_date(state.now()).to_string()
        } else {
            submitted_on
        },
        due_days: typed.value("record", "due_days"),
        due_kinds: choices(
            l,
            "page.responses.due_kind",
            DueKind::all().into_iter().map(DueKind::as_str),
            &due_kind,
        ),
        due_kind_default: due_kind.is_empty(),
        channel_error: typed.error("record", "channel"),
        recipient_error: typed.error("record", "recipient"),
        reference_error: typed.error("record", "reference"),
        submitted_error: typed.error("record", "submitted_at"),
        due_days_error: typed.error("record", "due_days"),
        errors: prefixed(typed),
    })
}

#[derive(Template)]
#[template(path = "pages/manage_updates.html")]
struct UpdatesPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    /// The provider's latest public claim, beside what participants confirm.
    claim: Option<String>,
    confirmed: String,
    items: Vec<UpdateRow>,
    /// The submissions an entry may be linked to: (id, label, selected).
    links: Vec<(i64, String, bool)>,
    form: UpdateForm,
    link_error: Option<&'static str>,
    errors: Vec<(String, &'static str)>,
}

struct UpdateRow {
    kind: &'static str,
    class: Option<&'static str>,
    title: String,
    body: String,
    when: String,
    participants_only: bool,
    linked: Option<String>,
}

async fn updates_view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    typed: &Typed,
) -> AppResult<UpdatesPage> {
    let l = c.l;
    let group = organiser_group(state, c, slug).await?;
    let subs = submissions::views_for_group(&state.db, group.id, state.now()).await?;
    let label = |s: &SubmissionView| {
        format!(
            "{} · {} · {}",
            l.tk("notify.channel", s.channel),
            s.recipient,
            local_date(s.submitted_at)
        )
    };
    let entries = updates::list(&state.db, c.user.as_ref(), slug, None).await?;
    let figures = public_figures(&state.db, group.id).await?;
    let items = entries
        .into_iter()
        .map(|u| UpdateRow {
            kind: l.tk("notify.kind", u.kind),
            class: u.response_class.map(|r| l.tk("notify.class", r)),
            title: u.title,
            body: u.body,
            when: local_date(u.occurred_at).to_string(),
            participants_only: u.visibility == UpdateVisibility::Participants,
            linked: u
                .submission_id
                .and_then(|id| subs.iter().find(|s| s.id == id))
                .map(label),
        })
        .collect();
    let chosen = typed.value("update-new", "submission_id");
    Ok(UpdatesPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: group.slug,
        title: group.title,
        claim: figures.provider_claim.map(|p| {
            format!(
                "{} · {} · {}",
                l.tk("notify.class", p.response_class),
                p.title,
                local_date(p.occurred_at)
            )
        }),
        confirmed: l.tf(
            "page.responses.confirmed",
            &[(
                "n",
                &figures
                    .confirmed_resolved
                    .map_or_else(|| l.t("page.responses.few").to_owned(), |n| n.to_string()),
            )],
        ),
        items,
        links: subs
            .iter()
            .map(|s| (s.id, label(s), chosen == s.id.to_string()))
            .collect(),
        form: UpdateForm::new(l, typed, None),
        link_error: typed.error("update-new", "submission_id"),
        errors: prefixed(typed),
    })
}

#[derive(serde::Deserialize)]
struct ChannelQuery {
    #[serde(default)]
    channel: String,
}

async fn submissions_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    q: web::Query<ChannelQuery>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    let channel = Channel::all()
        .into_iter()
        .find(|ch| ch.as_str() == q.channel);
    match submissions_view(&state, &c, &slug, &Typed::default(), channel).await {
        Ok(p) => c.render(StatusCode::OK, &p),
        Err(e) => c.error(&e),
    }
}

async fn updates_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    match updates_view(&state, &c, &slug, &Typed::default()).await {
        Ok(p) => c.render(StatusCode::OK, &p),
        Err(e) => c.error(&e),
    }
}

/// The page again with each refused field's message beside it (422), or the error page for
/// anything but a validation error.
async fn refused(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    e: AppError,
    mut typed: Typed,
    on_updates: bool,
) -> HttpResponse {
    let AppError::Validation(fields) = &e else {
        return c.error(&e);
    };
    let prefix = if typed.form.starts_with("update") {
        "page.responses.error_update"
    } else {
        "page.responses.error"
    };
    typed.errors = fields
        .keys()
        .map(|k| {
            let msg =
                c.l.try_t(&format!("{prefix}.{k}"))
                    .unwrap_or(c.l.t("page.form.problem"));
            (k.clone(), msg)
        })
        .collect();
    let page = if on_updates {
        updates_view(state, c, slug, &typed)
            .await
            .map(|p| c.render(StatusCode::UNPROCESSABLE_ENTITY, &p))
    } else {
        submissions_view(state, c, slug, &typed, None)
            .await
            .map(|p| c.render(StatusCode::UNPROCESSABLE_ENTITY, &p))
    };
    page.unwrap_or_else(|e| c.error(&e))
}

/// The error summary's links: `{form}-{field}` ids.
fn prefixed(t: &Typed) -> Vec<(String, &'static str)> {
    t.errors
        .iter()
        .map(|(k, m)| (format!("{}-{k}", t.form), *m))
        .collect()
}

/// A date typed as `YYYY-MM-DD` (China time), as the instant: today means now, another day its
/// noon, so a record made today is never "in the future".
fn sent_at(
    typed: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = NaiveDate::parse_from_str(typed, "%Y-%m-%d").ok()?;
    if d == local_date(now) {
        return Some(now);
    }
    Some(start_of_local_day(d) + (NaiveTime::from_hms_opt(12, 0, 0)? - NaiveTime::MIN))
}

async fn record_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Vec<(String, String)> = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let typed = Typed {
        values: form.clone(),
        form: "record".to_owned(),
        ..Typed::default()
    };
    let parsed = (|| {
        let channel = Channel::all()
            .into_iter()
            .find(|ch| ch.as_str() == field(&form, "channel"))
            .ok_or_else(|| AppError::field("channel", "choose a channel"))?;
        let submitted_at = sent_at(&field(&form, "submitted_on"), state.now())
            .ok_or_else(|| AppError::field("submitted_at", "a date like 2026-03-06"))?;
        let days = field(&form, "due_days");
        let due_days = if days.is_empty() {
            None
        } else {
            Some(
                days.parse::<i32>()
                    .map_err(|_| AppError::field("due_days", "a number of days"))?,
            )
        };
        let kind = field(&form, "due_kind");
        let req = SubmissionCreate {
            channel,
            recipient: field(&form, "recipient"),
            reference: Some(field(&form, "reference")).filter(|r| !r.trim().is_empty()),
            submitted_at,
            dossier_version: None,
            due_days,
            due_kind: DueKind::all().into_iter().find(|k| k.as_str() == kind),
        };
        req.validate()?;
        Ok::<_, AppError>(req)
    })();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return refused(&state, &c, &slug, e, typed, false).await,
    };
    let done = state
        .write(async |txn| submissions::create(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match done {
        Ok(_) => c.redirect(
            &submissions_path(&slug),
            Some("page.flash.responses.recorded"),
        ),
        Err(e) => refused(&state, &c, &slug, e, typed, false).await,
    }
}

async fn extend_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Vec<(String, String)> = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, id) = path.into_inner();
    let typed = Typed {
        values: form.clone(),
        form: format!("extend-{id}"),
        ..Typed::default()
    };
    let parsed = field(&form, "days")
        .parse::<i32>()
        .map_err(|_| AppError::field("days", "a number of days"))
        .and_then(|days| {
            let req = ExtendRequest {
                days,
                reason: field(&form, "reason"),
            };
            req.validate()?;
            Ok(req)
        });
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return refused(&state, &c, &slug, e, typed, false).await,
    };
    let done = state
        .write(async |txn| submissions::extend(txn, &state.ctx, &user, &slug, id, req).await)
        .await;
    match done {
        Ok(_) => c.redirect(
            &format!("{}#submission-{id}", submissions_path(&slug)),
            Some("page.flash.responses.extended"),
        ),
        Err(e) => refused(&state, &c, &slug, e, typed, false).await,
    }
}

/// Posts a timeline entry: from the timeline page, or as the answer to one submission from the
/// submissions page (the form's `back` field says which page to return to).
async fn post_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Vec<(String, String)> = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let from_submissions = field(&form, "back") == "submissions";
    let link = field(&form, "submission_id");
    let key = if from_submissions {
        link.clone()
    } else {
        "new".to_owned()
    };
    let typed = Typed {
        values: form.clone(),
        form: format!("update-{key}"),
        ..Typed::default()
    };
    let parsed = (|| {
        let kind = UpdateKind::all()
            .into_iter()
            .find(|k| k.as_str() == field(&form, "kind"))
            .ok_or_else(|| AppError::field("kind", "choose a kind"))?;
        let class = field(&form, "response_class");
        let response_class = if class.is_empty() {
            None
        } else {
            Some(
                ResponseClass::all()
                    .into_iter()
                    .find(|r| r.as_str() == class)
                    .ok_or_else(|| AppError::field("response_class", "choose a class"))?,
            )
        };
        let submission_id = if link.is_empty() {
            None
        } else {
            Some(
                link.parse::<i64>()
                    .map_err(|_| AppError::field("submission_id", "choose a submission"))?,
            )
        };
        let visibility = if field(&form, "visibility") == "participants" {
            UpdateVisibility::Participants
        } else {
            UpdateVisibility::Public
        };
        let req = UpdateCreate {
            kind,
            response_class,
            submission_id,
            title: field(&form, "title"),
            body: field(&form, "body"),
            visibility,
            occurred_at: None,
        };
        req.validate()?;
        Ok::<_, AppError>(req)
    })();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return refused(&state, &c, &slug, e, typed, !from_submissions).await,
    };
    let done = state
        .write(async |txn| updates::create(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match done {
        Ok(_) if from_submissions => c.redirect(
            &format!("{}#submission-{link}", submissions_path(&slug)),
            Some("page.flash.responses.answered"),
        ),
        Ok(_) => c.redirect(&updates_path(&slug), Some("page.flash.responses.posted")),
        Err(e) => refused(&state, &c, &slug, e, typed, !from_submissions).await,
    }
}
