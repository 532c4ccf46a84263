//! Operations endpoints: liveness and readiness.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use sea_orm::ConnectionTrait;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = String)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// How long readiness waits for the database: a load balancer's probe must get an answer
/// well before its own timeout, even while the pool would wait longer for a connection.
const READY_TIMEOUT: Duration = Duration::from_millis(1500);

/// The process can serve: the database answers (within 1.5 s).
#[utoipa::path(tag = "operations", responses((status = 200, body = String), (status = 503, body = String)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let check = tokio::time::timeout(READY_TIMEOUT, state.db.execute_unprepared("SELECT 1")).await;
    let failure = match check {
        Ok(Ok(_)) => return HttpResponse::Ok().content_type("text/plain").body("ok"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer in time".to_owned(),
    };
    tracing::warn!(error = %failure, "readiness check failed");
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain")
        .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
        .body("database unavailable")
}
