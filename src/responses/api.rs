//! JSON handlers of the timeline, submission, status and holiday routes.

use actix_web::{HttpResponse, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    ExtendRequest, Holiday, HolidayQuery, HolidayYear, StatusChange, SubmissionCreate,
    SubmissionView, UpdateCreate, UpdateQuery, UpdateView,
};
use super::{holidays, status, submissions, updates};
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::groups::dto::GroupView;
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_update)
        .service(list_updates)
        .service(create_submission)
        .service(list_submissions)
        .service(extend_submission)
        .service(change_status)
        .service(list_holidays)
        .service(replace_holidays);
}

/// Add an entry to the group's timeline (organisers).
#[utoipa::path(tag = "responses", security(("bearer" = [])), params(("slug" = String, Path)), request_body = UpdateCreate, responses(
    (status = 201, body = UpdateView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/updates")]
async fn create_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<UpdateCreate>,
) -> AppResult<HttpResponse> {
    let update = state
        .write(async |txn| updates::create(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(HttpResponse::Created().json(update))
}

/// The group's timeline, newest first: public entries for anyone, participants-only entries
/// also for active participants and organisers.
#[utoipa::path(tag = "responses", params(("slug" = String, Path), UpdateQuery), responses(
    (status = 200, body = Vec<UpdateView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/groups/{slug}/updates")]
async fn list_updates(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    slug: web::Path<String>,
    q: ApiQuery<UpdateQuery>,
) -> AppResult<web::Json<Vec<UpdateView>>> {
    Ok(web::Json(
        updates::list(&state.db, user.as_ref(), &slug, q.0.visibility).await?,
    ))
}

/// Record that the complaint was sent to a recipient (organisers).
#[utoipa::path(tag = "responses", security(("bearer" = [])), params(("slug" = String, Path)), request_body = SubmissionCreate, responses(
    (status = 201, body = SubmissionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/submissions")]
async fn create_submission(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<SubmissionCreate>,
) -> AppResult<HttpResponse> {
    let s = state
        .write(async |txn| submissions::create(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(HttpResponse::Created().json(s))
}

/// The group's submissions with their clocks ("day 9 of 15"), newest first.
#[utoipa::path(tag = "responses", params(("slug" = String, Path)), responses(
    (status = 200, body = Vec<SubmissionView>), (status = 404, body = Problem)))]
#[get("/groups/{slug}/submissions")]
async fn list_submissions(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> AppResult<web::Json<Vec<SubmissionView>>> {
    Ok(web::Json(submissions::list(&state, &slug).await?))
}

/// Extend a submission's answer period, with a reason (organisers).
#[utoipa::path(tag = "responses", security(("bearer" = [])), params(("slug" = String, Path), ("id" = i64, Path)), request_body = ExtendRequest, responses(
    (status = 200, body = SubmissionView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/submissions/{id}/extend")]
async fn extend_submission(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    body: ApiJson<ExtendRequest>,
) -> AppResult<web::Json<SubmissionView>> {
    let (slug, id) = path.into_inner();
    Ok(web::Json(
        state
            .write(async |txn| submissions::extend(txn, &state.ctx, &user, &slug, id, body.0).await)
            .await?,
    ))
}

/// Move the group to another status (organisers); illegal moves answer 409.
#[utoipa::path(tag = "responses", security(("bearer" = [])), params(("slug" = String, Path)), request_body = StatusChange, responses(
    (status = 200, body = GroupView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/status")]
async fn change_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<StatusChange>,
) -> AppResult<web::Json<GroupView>> {
    Ok(web::Json(
        state
            .write(async |txn| status::change(txn, &state.ctx, &user, &slug, body.0).await)
            .await?,
    ))
}

/// The holiday table working-day deadlines are counted on.
#[utoipa::path(tag = "responses", params(HolidayQuery), responses(
    (status = 200, body = Vec<Holiday>), (status = 422, body = Problem)))]
#[get("/holidays")]
async fn list_holidays(
    state: web::Data<AppState>,
    q: ApiQuery<HolidayQuery>,
) -> AppResult<web::Json<Vec<Holiday>>> {
    Ok(web::Json(holidays::list(&state.db, q.0.year).await?))
}

/// Replace one year of the holiday table (administrators).
#[utoipa::path(tag = "responses", security(("bearer" = [])), request_body = HolidayYear, responses(
    (status = 200, body = Vec<Holiday>), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[put("/holidays")]
async fn replace_holidays(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<HolidayYear>,
) -> AppResult<web::Json<Vec<Holiday>>> {
    Ok(web::Json(
        state
            .write(async |txn| holidays::replace_year(txn, &state.ctx, &user, body.0).await)
            .await?,
    ))
}
