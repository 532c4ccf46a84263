//! JSON handlers of the administrators' routes (`/api/v1/admin/…`). Each calls one service
//! function, which refuses anyone but an administrator.

use actix_web::{get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    AdminGroupPage, AdminGroupView, AdminJobPage, AdminJobQuery, AdminJobView, AdminProviderPage,
    AdminProviderQuery, AdminSearchQuery, AdminUserPage, AdminUserView, MergeRequest, MergeResult,
    SuspendRequest,
};
use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::notify::api::OutboxRow;
use crate::providers::dto::ProviderView;
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_providers)
        .service(review_provider)
        .service(merge_provider)
        .service(list_users)
        .service(suspend_user)
        .service(unsuspend_user)
        .service(list_groups)
        .service(suspend_group)
        .service(unsuspend_group)
        .service(retry_mail)
        .service(list_jobs)
        .service(retry_job);
}

/// The provider directory for review: newest first, who proposed each, how many groups use it
/// (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(AdminProviderQuery), responses(
    (status = 200, body = AdminProviderPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/admin/providers")]
async fn list_providers(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: ApiQuery<AdminProviderQuery>,
) -> AppResult<web::Json<AdminProviderPage>> {
    let (items, total) = service::providers(&state.db, &user, &q.0).await?;
    Ok(web::Json(AdminProviderPage { items, total }))
}

/// Mark a proposed provider as reviewed (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 200, body = ProviderView), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/admin/providers/{slug}/review")]
async fn review_provider(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<ProviderView>> {
    let model = state
        .write(async |txn| service::review_provider(txn, &user, &slug, state.now()).await)
        .await?;
    Ok(web::Json(ProviderView::from(model)))
}

/// Merge a duplicate provider into another (administrators): its groups move over, its names
/// become aliases, its slug redirects to the one that stays.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("slug" = String, Path)), request_body = MergeRequest, responses(
    (status = 200, body = MergeResult), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/admin/providers/{slug}/merge")]
async fn merge_provider(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<MergeRequest>,
) -> AppResult<web::Json<MergeResult>> {
    Ok(web::Json(
        state
            .write(async |txn| {
                service::merge_provider(txn, &user, &slug, body.0, state.now()).await
            })
            .await?,
    ))
}

/// Users whose email address contains the words of `q`, newest first (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(AdminSearchQuery), responses(
    (status = 200, body = AdminUserPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/admin/users")]
async fn list_users(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: ApiQuery<AdminSearchQuery>,
) -> AppResult<web::Json<AdminUserPage>> {
    let (items, total) = service::users(&state.db, &user, &q.0).await?;
    Ok(web::Json(AdminUserPage { items, total }))
}

/// Suspend an account (administrators): it can no longer sign in, and its tokens stop working.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = SuspendRequest, responses(
    (status = 200, body = AdminUserView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/admin/users/{id}/suspend")]
async fn suspend_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<SuspendRequest>,
) -> AppResult<web::Json<AdminUserView>> {
    Ok(web::Json(
        state
            .write(async |txn| {
                service::set_user_suspension(txn, &user, *id, Some(&body.0), state.now()).await
            })
            .await?,
    ))
}

/// Lift an account's suspension (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = AdminUserView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/admin/users/{id}/unsuspend")]
async fn unsuspend_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AdminUserView>> {
    Ok(web::Json(
        state
            .write(async |txn| {
                service::set_user_suspension(txn, &user, *id, None, state.now()).await
            })
            .await?,
    ))
}

/// Groups whose title or slug contains the words of `q`, newest first, suspended ones included
/// (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(AdminSearchQuery), responses(
    (status = 200, body = AdminGroupPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/admin/groups")]
async fn list_groups(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: ApiQuery<AdminSearchQuery>,
) -> AppResult<web::Json<AdminGroupPage>> {
    let (items, total) = service::groups(&state.db, &user, &q.0).await?;
    Ok(web::Json(AdminGroupPage { items, total }))
}

/// Suspend a group (administrators): hidden from search and suggestions, no new joins.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("slug" = String, Path)), request_body = SuspendRequest, responses(
    (status = 200, body = AdminGroupView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/admin/groups/{slug}/suspend")]
async fn suspend_group(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<SuspendRequest>,
) -> AppResult<web::Json<AdminGroupView>> {
    Ok(web::Json(
        state
            .write(async |txn| {
                service::set_group_suspension(txn, &user, &slug, Some(&body.0), state.now()).await
            })
            .await?,
    ))
}

/// Lift a group's suspension (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 200, body = AdminGroupView), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/admin/groups/{slug}/unsuspend")]
async fn unsuspend_group(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<AdminGroupView>> {
    Ok(web::Json(
        state
            .write(async |txn| {
                service::set_group_suspension(txn, &user, &slug, None, state.now()).await
            })
            .await?,
    ))
}

/// Put a failed email back in the queue, to be sent at once (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = OutboxRow), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/admin/outbox/{id}/retry")]
async fn retry_mail(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<OutboxRow>> {
    let row = state
        .write(async |txn| service::retry_mail(txn, &user, *id, state.now()).await)
        .await?;
    Ok(web::Json(OutboxRow::from(row)))
}

/// Background jobs, newest first: what runs, what waits for a retry and what failed with which
/// error (administrators).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(AdminJobQuery), responses(
    (status = 200, body = AdminJobPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/admin/jobs")]
async fn list_jobs(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: ApiQuery<AdminJobQuery>,
) -> AppResult<web::Json<AdminJobPage>> {
    let rows = service::jobs(&state.db, &user, q.0.status).await?;
    Ok(web::Json(AdminJobPage {
        items: rows.into_iter().map(AdminJobView::from).collect(),
    }))
}

/// Run a failed job again with fresh attempts (administrators, after fixing its cause).
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = AdminJobView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/admin/jobs/{id}/retry")]
async fn retry_job(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AdminJobView>> {
    let row = service::retry_job(&state.db, &user, *id, state.now()).await?;
    state.jobs.wake.notify_one();
    Ok(web::Json(AdminJobView::from(row)))
}
