//! JSON handlers of the participation routes.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{JoinRequest, ParticipationUpdate, ParticipationView, SignatureInput};
use super::service;
use crate::auth::CurrentUser;
use crate::domain::JoinNetwork;
use crate::error::{AppResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(join)
        .service(get_mine)
        .service(update_mine)
        .service(withdraw)
        .service(sign);
}

/// Join a group with a signature of its current joint statement (verified users).
#[utoipa::path(tag = "participation", security(("bearer" = [])), params(("slug" = String, Path)), request_body = JoinRequest, responses(
    (status = 201, body = ParticipationView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
#[post("/groups/{slug}/participation")]
async fn join(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    slug: web::Path<String>,
    body: ApiJson<JoinRequest>,
) -> AppResult<HttpResponse> {
    let network = JoinNetwork::of_client(&state.limits.client_key(&req));
    let j = service::join(&state, &user, &slug, body.0, network).await?;
    Ok(HttpResponse::Created().json(service::view_with(
        &j.group,
        j.participation,
        Some(j.signature),
    )))
}

/// Your own participation in the group.
#[utoipa::path(tag = "participation", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 200, body = ParticipationView), (status = 404, body = Problem)))]
#[get("/groups/{slug}/participation")]
async fn get_mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<ParticipationView>> {
    Ok(web::Json(service::get_mine(&state, &user, &slug).await?))
}

/// Change your statement, amount, references, consents or own outcome.
#[utoipa::path(tag = "participation", security(("bearer" = [])), params(("slug" = String, Path)), request_body = ParticipationUpdate, responses(
    (status = 200, body = ParticipationView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/groups/{slug}/participation")]
async fn update_mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<ParticipationUpdate>,
) -> AppResult<web::Json<ParticipationView>> {
    Ok(web::Json(
        state
            .write(async |txn| service::update_mine(txn, &state.ctx, &user, &slug, body.0).await)
            .await?,
    ))
}

/// Withdraw from the group.
#[utoipa::path(tag = "participation", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 204), (status = 404, body = Problem)))]
#[delete("/groups/{slug}/participation")]
async fn withdraw(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    state
        .write(async |txn| service::withdraw(txn, &state.ctx, &user, &slug).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign the group's current joint statement again, after it changed (pending or active
/// participants); the earlier signatures are kept.
#[utoipa::path(tag = "participation", security(("bearer" = [])), params(("slug" = String, Path)), request_body = SignatureInput, responses(
    (status = 201, body = ParticipationView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/participation/sign")]
async fn sign(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<SignatureInput>,
) -> AppResult<HttpResponse> {
    let view = state
        .write(async |txn| super::sign::sign(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(HttpResponse::Created().json(view))
}
