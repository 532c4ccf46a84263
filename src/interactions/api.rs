//! JSON handlers of the contact-log routes.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{InteractionCreate, InteractionUpdate, InteractionView};
use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(update)
        .service(remove);
}

/// Log a contact with the provider's customer service.
#[utoipa::path(tag = "interactions", security(("bearer" = [])), params(("slug" = String, Path)), request_body = InteractionCreate,
    responses((status = 201, body = InteractionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/participation/interactions")]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<InteractionCreate>,
) -> AppResult<HttpResponse> {
    let row = state
        .write(async |txn| service::create(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(HttpResponse::Created().json(InteractionView::from(row)))
}

/// Your contact log in this group, oldest first.
#[utoipa::path(tag = "interactions", security(("bearer" = [])), params(("slug" = String, Path)),
    responses((status = 200, body = Vec<InteractionView>), (status = 404, body = Problem)))]
#[get("/groups/{slug}/participation/interactions")]
async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<Vec<InteractionView>>> {
    let rows = service::list_mine(&state, &user, &slug).await?;
    Ok(web::Json(
        rows.into_iter().map(InteractionView::from).collect(),
    ))
}

/// Change a logged contact.
#[utoipa::path(tag = "interactions", security(("bearer" = [])), params(("slug" = String, Path), ("id" = i64, Path)), request_body = InteractionUpdate,
    responses((status = 200, body = InteractionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/groups/{slug}/participation/interactions/{id}")]
async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    body: ApiJson<InteractionUpdate>,
) -> AppResult<web::Json<InteractionView>> {
    let (slug, id) = path.into_inner();
    Ok(web::Json(
        state
            .write(async |txn| service::update(txn, &state.ctx, &user, &slug, id, body.0).await)
            .await?
            .into(),
    ))
}

/// Delete a logged contact.
#[utoipa::path(tag = "interactions", security(("bearer" = [])), params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/groups/{slug}/participation/interactions/{id}")]
async fn remove(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> AppResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    state
        .write(async |txn| service::delete(txn, &user, &slug, id).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
