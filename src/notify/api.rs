//! Handlers: notification settings (JSON), the admin's view of failed mail (JSON), and the
//! pages behind email links — one-click unsubscribe and outcome answers — which need no login.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::prefs::{self, NotificationSettings};
use crate::auth::CurrentUser;
use crate::entities::enums::{OutboxStatus, ParticipantOutcome};
use crate::entities::outbox;
use crate::error::{AppError, AppResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::pages::{FormPage, MessagePage, PageCtx};
use crate::state::AppState;

/// Registers the JSON routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(failed_mail);
}

/// Registers the pages behind email links.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/unsubscribe/{token}", web::get().to(unsubscribe_form))
        .route("/unsubscribe/{token}", web::post().to(unsubscribe_submit))
        .route("/outcome/{token}", web::get().to(outcome_form))
        .route("/outcome/{token}", web::post().to(outcome_submit));
}

/// Your notification settings.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), responses((status = 200, body = NotificationSettings)))]
#[get("/me/notifications")]
async fn get_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<NotificationSettings>> {
    Ok(web::Json(prefs::get(&state.db, &state.ctx, &user).await?))
}

/// Replace your notification settings.
#[utoipa::path(tag = "notifications", security(("bearer" = [])), request_body = NotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 422, body = Problem)))]
#[put("/me/notifications")]
async fn put_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<NotificationSettings>,
) -> AppResult<web::Json<NotificationSettings>> {
    Ok(web::Json(
        state
            .write(async |txn| prefs::put(txn, &state.ctx, &user, body.0).await)
            .await?,
    ))
}

/// `GET /admin/outbox` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// pending, sent or failed (default failed).
    pub status: Option<OutboxStatus>,
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
}

/// An outbox row as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Email kind.
    pub kind: String,
    /// Recipient.
    pub recipient: String,
    /// pending, sent or failed.
    pub status: OutboxStatus,
    /// Attempts made.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
    /// Message-ID.
    pub message_id: String,
    /// Queued at.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A page of outbox rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    /// Rows, newest first.
    pub items: Vec<OutboxRow>,
    /// All matching rows.
    pub total: u64,
}

/// Mail that could not be delivered (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, body = OutboxPage), (status = 403, body = Problem)))]
#[get("/admin/outbox")]
async fn failed_mail(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: ApiQuery<OutboxQuery>,
) -> AppResult<web::Json<OutboxPage>> {
    let (rows, total) =
        crate::admin::service::outbox(&state.db, &user, q.0.status, q.0.page, 50).await?;
    Ok(web::Json(OutboxPage {
        total,
        items: rows.into_iter().map(OutboxRow::from).collect(),
    }))
}

impl From<outbox::Model> for OutboxRow {
    fn from(r: outbox::Model) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            recipient: r.recipient,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            message_id: r.message_id,
            created_at: r.created_at,
        }
    }
}

fn message(c: &PageCtx, title: &str, text: &str, ok: bool) -> HttpResponse {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    c.render(
        status,
        &MessagePage {
            l: c.l,
            head: c.head(),
            title: c.l.t(title),
            message: c.l.t(text).into(),
            ok,
            next: None,
        },
    )
}

async fn unsubscribe_form(
    state: web::Data<AppState>,
    c: PageCtx,
    token: web::Path<String>,
) -> HttpResponse {
    let l = c.l;
    if state.ctx.links.check_unsubscribe(&token).is_none() {
        return message(
            &c,
            "page.unsubscribe.title",
            "page.unsubscribe.invalid",
            false,
        );
    }
    let mut page = FormPage::new(
        &c,
        l.t("page.unsubscribe.title"),
        format!("/unsubscribe/{token}"),
        l.t("page.unsubscribe.button"),
    );
    // No CSRF token: see `unsubscribe_submit`.
    page.csrf = None;
    page.intro = Some(l.t("page.unsubscribe.intro").into());
    page.hidden.push(("List-Unsubscribe", "One-Click".into()));
    c.render(StatusCode::OK, &page)
}

/// RFC 8058 one-click: a POST with no cookie and no login unsubscribes. It deliberately takes
/// no CSRF token: mail clients post it without cookies, and the signed link token in the path
/// is the proof (a forged page cannot know it).
async fn unsubscribe_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    token: web::Path<String>,
) -> HttpResponse {
    let Some(user_id) = state.ctx.links.check_unsubscribe(&token) else {
        return message(
            &c,
            "page.unsubscribe.title",
            "page.unsubscribe.invalid",
            false,
        );
    };
    match state
        .write(async |txn| prefs::unsubscribe(txn, &state.ctx, user_id).await)
        .await
    {
        Ok(()) => message(&c, "page.unsubscribe.title", "page.unsubscribe.done", true),
        Err(AppError::NotFound) => message(
            &c,
            "page.unsubscribe.title",
            "page.unsubscribe.invalid",
            false,
        ),
        Err(e) => c.error(&e),
    }
}

#[derive(Deserialize)]
struct Answer {
    answer: Option<String>,
}

fn parse_answer(a: Option<&str>) -> Option<ParticipantOutcome> {
    let a = a?;
    ParticipantOutcome::all()
        .into_iter()
        .find(|o| o.as_str() == a)
}

/// Shows the answer to confirm; answering on GET would let mail scanners answer for people.
async fn outcome_form(
    state: web::Data<AppState>,
    c: PageCtx,
    token: web::Path<String>,
    q: web::Query<Answer>,
) -> HttpResponse {
    let l = c.l;
    let (Some(_), Some(answer)) = (
        state.ctx.links.check_outcome(&token),
        parse_answer(q.answer.as_deref()),
    ) else {
        return message(&c, "page.outcome.title", "page.outcome.invalid", false);
    };
    let mut page = FormPage::new(
        &c,
        l.t("page.outcome.title"),
        format!("/outcome/{token}"),
        l.t("page.outcome.button"),
    );
    page.intro = Some(format!(
        "{} {}",
        l.t("page.outcome.intro"),
        l.t(&format!("notify.outcome_{answer}"))
    ));
    page.hidden.push(("answer", answer.as_str().into()));
    c.render(StatusCode::OK, &page)
}

async fn outcome_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Answer = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let (Some((participation_id, update_id)), Some(answer)) = (
        state.ctx.links.check_outcome(&token),
        parse_answer(form.answer.as_deref()),
    ) else {
        return message(&c, "page.outcome.title", "page.outcome.invalid", false);
    };
    match state
        .write(async |txn| {
            super::prefs::record_outcome(txn, &state.ctx, participation_id, update_id, answer).await
        })
        .await
    {
        Ok(()) => message(&c, "page.outcome.title", "page.outcome.done", true),
        Err(AppError::NotFound) => message(&c, "page.outcome.title", "page.outcome.invalid", false),
        Err(e) => c.error(&e),
    }
}
