//! The contact-log pages of "my account": add an entry (also from the join flow's last
//! screen, through the `pages/contact_form.html` partial), change one. They call the same
//! service as `/api/v1/groups/{slug}/participation/interactions`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use validator::Validate;

use super::dto::{Channel, ContactOutcome, InteractionCreate, InteractionUpdate};
use super::service;
use crate::domain::LocalPath;
use crate::entities::interactions;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::notify::prefs;
use crate::pages::{Head, PageCtx};
use crate::participation::pages::{CaseExtras, case_page, case_path};
use crate::state::AppState;

/// Registers the contact-log pages.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/groups/{slug}/contacts",
        web::post().to(create_submit),
    )
    .route(
        "/account/groups/{slug}/contacts/{id}",
        web::get().to(edit_form),
    )
    .route(
        "/account/groups/{slug}/contacts/{id}",
        web::post().to(edit_submit),
    );
}

/// The channels a contact can have been made through, as stored.
#[must_use]
pub fn channels() -> Vec<&'static str> {
    Channel::all().into_iter().map(Channel::as_str).collect()
}

/// The outcomes a contact can have had, as stored.
#[must_use]
pub fn outcomes() -> Vec<&'static str> {
    ContactOutcome::all()
        .into_iter()
        .map(ContactOutcome::as_str)
        .collect()
}

/// The time zone a user reads and enters times in: their notification settings' zone.
///
/// # Errors
/// Database failures.
pub async fn user_tz(state: &AppState, user_id: i64) -> Result<Tz, AppError> {
    let p = prefs::load(&state.db, user_id, state.now()).await?;
    Ok(p.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai))
}

/// `t` as the user reads it: `2026-03-02 14:30`, or only the date for an entry logged
/// without a time (stored at local midnight).
#[must_use]
pub fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    if local.time() == NaiveTime::MIN {
        local.format("%Y-%m-%d").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The messages of a contact form's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactErrors {
    /// The date.
    pub date: Option<&'static str>,
    /// The time.
    pub time: Option<&'static str>,
    /// The channel.
    pub channel: Option<&'static str>,
    /// The outcome.
    pub outcome: Option<&'static str>,
    /// The agent.
    pub agent: Option<&'static str>,
    /// The ticket number.
    pub ticket_ref: Option<&'static str>,
    /// What was said.
    pub summary: Option<&'static str>,
}

/// What the contact form shows: the values (kept after an error) and the messages. The
/// `Default` is an empty form for a new entry.
#[derive(Debug, Clone, Default)]
pub struct ContactForm {
    /// The entry being changed; `None` for a new one.
    pub id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`, or empty.
    pub time: String,
    /// A stored channel value.
    pub channel: String,
    /// A stored outcome value.
    pub outcome: String,
    /// The agent.
    pub agent: String,
    /// The ticket number.
    pub ticket_ref: String,
    /// What was said.
    pub summary: String,
    /// The messages.
    pub errors: ContactErrors,
}

impl ContactForm {
    /// The form of an existing entry, its time in `tz`.
    #[must_use]
    pub fn of_entry(m: &interactions::Model, tz: Tz) -> Self {
        let local = m.occurred_at.with_timezone(&tz);
        Self {
            id: Some(m.id),
            date: local.format("%Y-%m-%d").to_string(),
            time: if local.time() == NaiveTime::MIN {
                String::new()
            } else {
                local.format("%H:%M").to_string()
            },
            channel: m.channel.as_str().to_owned(),
            outcome: m.outcome.as_str().to_owned(),
            agent: m.agent.clone(),
            ticket_ref: m.ticket_ref.clone(),
            summary: m.summary.clone(),
            errors: ContactErrors::default(),
        }
    }

    /// ` selected` when `value` is the chosen channel.
    #[must_use]
    pub fn channel_sel(&self, value: &str) -> &'static str {
        if self.channel == value {
            " selected"
        } else {
            ""
        }
    }

    /// ` selected` when `value` is the chosen outcome.
    #[must_use]
    pub fn outcome_sel(&self, value: &str) -> &'static str {
        if self.outcome == value {
            " selected"
        } else {
            ""
        }
    }

    /// The fields with a message, for the error summary: (element id, message).
    #[must_use]
    pub fn error_list(&self) -> Vec<(&'static str, &'static str)> {
        let e = self.errors;
        [
            ("contact-date", e.date),
            ("contact-time", e.time),
            ("contact-channel", e.channel),
            ("contact-outcome", e.outcome),
            ("contact-agent", e.agent),
            ("contact-ticket", e.ticket_ref),
            ("contact-summary", e.summary),
        ]
        .into_iter()
        .filter_map(|(id, m)| m.map(|m| (id, m)))
        .collect()
    }
}

/// The posted contact form.
#[derive(Debug, Deserialize, Default)]
struct ContactPost {
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    ticket_ref: String,
    #[serde(default)]
    summary: String,
    next: Option<String>,
}

/// What a valid posted form says.
struct ContactInput {
    occurred_at: DateTime<Utc>,
    channel: Channel,
    outcome: ContactOutcome,
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).ok()
}

/// Reads the posted form: the values kept for showing it again, and what it says when every
/// field can be read.
fn read(l: Locale, post: &ContactPost, tz: Tz) -> (ContactForm, Option<ContactInput>) {
    let mut form = ContactForm {
        id: None,
        date: post.date.trim().to_owned(),
        time: post.time.trim().to_owned(),
        channel: post.channel.trim().to_owned(),
        outcome: post.outcome.trim().to_owned(),
        agent: post.agent.clone(),
        ticket_ref: post.ticket_ref.clone(),
        summary: post.summary.clone(),
        errors: ContactErrors::default(),
    };
    let date = NaiveDate::parse_from_str(&form.date, "%Y-%m-%d").ok();
    let time = if form.time.is_empty() {
        Some(NaiveTime::MIN)
    } else {
        NaiveTime::parse_from_str(&form.time, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&form.time, "%H:%M:%S"))
            .ok()
    };
    let channel = parse_enum::<Channel>(&form.channel);
    let outcome = parse_enum::<ContactOutcome>(&form.outcome);
    let e = &mut form.errors;
    e.date = date.is_none().then(|| l.t("page.contact_form.error_date"));
    e.time = time.is_none().then(|| l.t("page.contact_form.error_time"));
    e.channel = channel
        .is_none()
        .then(|| l.t("page.contact_form.error_channel"));
    e.outcome = outcome
        .is_none()
        .then(|| l.t("page.contact_form.error_outcome"));
    let occurred_at = date.zip(time).and_then(|(d, t)| {
        tz.from_local_datetime(&d.and_time(t))
            .earliest()
            .map(|x| x.with_timezone(&Utc))
    });
    let input = match (occurred_at, channel, outcome) {
        (Some(occurred_at), Some(channel), Some(outcome)) => Some(ContactInput {
            occurred_at,
            channel,
            outcome,
        }),
        _ => None,
    };
    (form, input)
}

/// Puts the service's or the validator's field messages next to the fields.
fn place_errors(l: Locale, form: &mut ContactForm, errors: &crate::error::FieldErrors) {
    for (field, messages) in errors {
        let e = &mut form.errors;
        match field.as_str() {
            "occurred_at" => {
                let old = messages.iter().any(|m| m.contains("2000"));
                let key = if old {
                    "page.contact_form.error_old"
                } else {
                    "page.contact_form.error_future"
                };
                e.date = Some(l.t(key));
            }
            "agent" => e.agent = Some(l.t("page.contact_form.error_agent")),
            "ticket_ref" => e.ticket_ref = Some(l.t("page.contact_form.error_ticket_ref")),
            "summary" => e.summary = Some(l.t("page.contact_form.error_summary")),
            _ => e.date = e.date.or(Some(l.t("page.contact_form.error_date"))),
        }
    }
}

fn back_to(next: Option<&str>, slug: &str) -> String {
    next.and_then(LocalPath::parse)
        .map_or_else(|| case_path(slug), |n| n.as_str().to_owned())
}

async fn create_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let post: ContactPost = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let tz = match user_tz(&state, user.id).await {
        Ok(tz) => tz,
        Err(e) => return c.error(&e),
    };
    let (mut form, input) = read(c.l, &post, tz);
    let again = |form: ContactForm| {
        case_page(
            &state,
            &c,
            &slug,
            CaseExtras {
                contact: Some(form),
                ..CaseExtras::default()
            },
        )
    };
    let Some(input) = input else {
        return again(form).await;
    };
    let req = InteractionCreate {
        occurred_at: input.occurred_at,
        channel: input.channel,
        agent: Some(form.agent.clone()),
        ticket_ref: Some(form.ticket_ref.clone()),
        summary: Some(form.summary.clone()),
        outcome: input.outcome,
    };
    if let Err(e) = req.validate() {
        if let AppError::Validation(errors) = AppError::from(e) {
            place_errors(c.l, &mut form, &errors);
        }
        return again(form).await;
    }
    let created = state
        .write(async |txn| service::create(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match created {
        Ok(_) => c.redirect(
            &back_to(post.next.as_deref(), &slug),
            Some("page.flash.my.contact_added"),
        ),
        Err(AppError::Validation(errors)) => {
            place_errors(c.l, &mut form, &errors);
            again(form).await
        }
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/contact_edit.html")]
struct EditPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    next: String,
    group_title: String,
    contact: ContactForm,
}

async fn edit_page(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    contact: ContactForm,
    status: StatusCode,
) -> HttpResponse {
    let group = match crate::groups::service::by_slug(&state.db, slug).await {
        Ok(g) => g,
        Err(e) => return c.error(&e),
    };
    c.render(
        status,
        &EditPage {
            l: c.l,
            head: c.head(),
            csrf: c.csrf.clone(),
            slug: slug.to_owned(),
            next: case_path(slug),
            group_title: group.title,
            contact,
        },
    )
}

/// The caller's entry `id` in `slug` (404 for anyone else's), read through the service's list.
async fn my_entry(
    state: &AppState,
    user: &crate::auth::CurrentUser,
    slug: &str,
    id: i64,
) -> Result<interactions::Model, AppError> {
    service::list_mine(state, user, slug)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(AppError::NotFound)
}

async fn edit_form(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let found = async {
        let entry = my_entry(&state, &user, &slug, id).await?;
        let tz = user_tz(&state, user.id).await?;
        Ok::<_, AppError>(ContactForm::of_entry(&entry, tz))
    };
    match found.await {
        Ok(form) => edit_page(&state, &c, &slug, form, StatusCode::OK).await,
        Err(e) => c.error(&e),
    }
}

async fn edit_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let post: ContactPost = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let tz = match user_tz(&state, user.id).await {
        Ok(tz) => tz,
        Err(e) => return c.error(&e),
    };
    // A stranger learns nothing from the form's messages: the entry is checked first.
    if let Err(e) = my_entry(&state, &user, &slug, id).await {
        return c.error(&e);
    }
    let (mut form, input) = read(c.l, &post, tz);
    form.id = Some(id);
    let Some(input) = input else {
        return edit_page(&state, &c, &slug, form, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let upd = InteractionUpdate {
        occurred_at: Some(input.occurred_at),
        channel: Some(input.channel),
        agent: Some(form.agent.clone()),
        ticket_ref: Some(form.ticket_ref.clone()),
        summary: Some(form.summary.clone()),
        outcome: Some(input.outcome),
    };
    if let Err(e) = upd.validate() {
        if let AppError::Validation(errors) = AppError::from(e) {
            place_errors(c.l, &mut form, &errors);
        }
        return edit_page(&state, &c, &slug, form, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let saved = state
        .write(async |txn| service::update(txn, &state.ctx, &user, &slug, id, upd).await)
        .await;
    match saved {
        Ok(_) => c.redirect(
            &back_to(post.next.as_deref(), &slug),
            Some("page.flash.my.contact_saved"),
        ),
        Err(AppError::Validation(errors)) => {
            place_errors(c.l, &mut form, &errors);
            edit_page(&state, &c, &slug, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => c.error(&e),
    }
}
