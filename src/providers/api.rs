//! JSON handlers of the provider routes.

use actix_web::{HttpResponse, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    ProviderCreate, ProviderDetail, ProviderPage, ProviderQuery, ProviderUpdate, ProviderView,
};
use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update);
}

/// Search the provider directory.
#[utoipa::path(tag = "providers", params(ProviderQuery), responses(
    (status = 200, body = ProviderPage), (status = 422, body = Problem)))]
#[get("/providers")]
async fn list(
    state: web::Data<AppState>,
    q: ApiQuery<ProviderQuery>,
) -> AppResult<web::Json<ProviderPage>> {
    let (items, total) = service::search(&state.db, &q.0).await?;
    Ok(web::Json(ProviderPage {
        items: items.into_iter().map(ProviderView::from).collect(),
        total,
    }))
}

/// One provider with its public figures and its scorecard in answering complaints.
#[utoipa::path(tag = "providers", params(("slug" = String, Path)), responses(
    (status = 200, body = ProviderDetail), (status = 404, body = Problem)))]
#[get("/providers/{slug}")]
async fn show(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> AppResult<web::Json<ProviderDetail>> {
    Ok(web::Json(
        service::detail(&state.db, &slug, state.now()).await?,
    ))
}

/// Add a curated provider (administrators).
#[utoipa::path(tag = "providers", security(("bearer" = [])), request_body = ProviderCreate, responses(
    (status = 201, body = ProviderView), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[post("/providers")]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<ProviderCreate>,
) -> AppResult<HttpResponse> {
    let model = service::create(&state.db, &user, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(ProviderView::from(model)))
}

/// Change a provider's names or aliases (administrators); its groups are found by them at once.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("slug" = String, Path)), request_body = ProviderUpdate, responses(
    (status = 200, body = ProviderView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/providers/{slug}")]
async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<ProviderUpdate>,
) -> AppResult<web::Json<ProviderView>> {
    let model = state
        .write(async |txn| service::update(txn, &user, &slug, body.0).await)
        .await?;
    Ok(web::Json(ProviderView::from(model)))
}
