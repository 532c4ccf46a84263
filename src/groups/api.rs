//! JSON handlers of the group routes.

use actix_web::{HttpResponse, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    GroupCreate, GroupPage, GroupQuery, GroupSummary, GroupUpdate, GroupView, SuggestQuery,
};
use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Registers the routes of this module (`suggest` before `{slug}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(suggest)
        .service(show)
        .service(update)
        .service(similar);
}

/// Search and list public groups.
#[utoipa::path(tag = "groups", params(GroupQuery), responses(
    (status = 200, body = GroupPage), (status = 422, body = Problem)))]
#[get("/groups")]
async fn list(state: web::Data<AppState>, q: ApiQuery<GroupQuery>) -> AppResult<HttpResponse> {
    let body = state
        .views
        .cached_json(
            &format!("json:{:?}", q.0),
            service::list_cached(&state, &q.0),
        )
        .await?;
    Ok(json_answer(body))
}

fn json_answer(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}

/// Start a group (verified users); the creator becomes its owner.
#[utoipa::path(tag = "groups", security(("bearer" = [])), request_body = GroupCreate, responses(
    (status = 201, body = GroupView), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[post("/groups")]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<GroupCreate>,
) -> AppResult<HttpResponse> {
    let group = state
        .write(async |txn| service::create(txn, &state.ctx, &user, body.0).await)
        .await?;
    let view = service::view(&state.db, group).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/groups/{}", view.slug)))
        .json(view))
}

/// Existing open groups matching a problem someone is about to start a group about.
#[utoipa::path(tag = "groups", params(SuggestQuery), responses(
    (status = 200, body = Vec<GroupSummary>), (status = 422, body = Problem)))]
#[get("/groups/suggest")]
async fn suggest(
    state: web::Data<AppState>,
    q: ApiQuery<SuggestQuery>,
) -> AppResult<web::Json<Vec<GroupSummary>>> {
    Ok(web::Json(service::suggest(&state.db, &q.0, None).await?))
}

/// The public view of a group: counts and aggregates, never personal data.
#[utoipa::path(tag = "groups", params(("slug" = String, Path)), responses(
    (status = 200, body = GroupView), (status = 404, body = Problem)))]
#[get("/groups/{slug}")]
async fn show(state: web::Data<AppState>, slug: web::Path<String>) -> AppResult<HttpResponse> {
    let body = state
        .views
        .cached_json(
            &format!("json:{slug}"),
            state.views.public_view(&state.db, &slug),
        )
        .await?;
    Ok(json_answer(body))
}

/// Edit a group (organisers).
#[utoipa::path(tag = "groups", security(("bearer" = [])), params(("slug" = String, Path)), request_body = GroupUpdate, responses(
    (status = 200, body = GroupView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/groups/{slug}")]
async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<GroupUpdate>,
) -> AppResult<web::Json<GroupView>> {
    let group = state
        .write(async |txn| service::update(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(web::Json(service::view(&state.db, group).await?))
}

/// Open groups similar to this one.
#[utoipa::path(tag = "groups", params(("slug" = String, Path)), responses(
    (status = 200, body = Vec<GroupSummary>), (status = 404, body = Problem)))]
#[get("/groups/{slug}/similar")]
async fn similar(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> AppResult<web::Json<Vec<GroupSummary>>> {
    let group = service::by_slug(&state.db, &slug).await?;
    Ok(web::Json(service::similar(&state.db, &group).await?))
}
