//! Operations endpoints: liveness, readiness and metrics (Prometheus text format), and the
//! middleware that measures every request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, get, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{ConnectionTrait, DbBackend};
use secrecy::ExposeSecret;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::AppError;
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics_endpoint);
}

/// Set once the server was asked to stop: from then on `/readyz` answers 503 `draining`, so a
/// load balancer stops sending new requests while those in flight finish.
#[derive(Debug, Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    /// Marks the server as draining.
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the server is draining.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
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

/// The process can serve: the database answers (within 1.5 s) and it is not draining.
#[utoipa::path(tag = "operations", responses((status = 200, body = String), (status = 503, body = String)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>, drain: Option<web::Data<Drain>>) -> HttpResponse {
    if drain.is_some_and(|d| d.is_draining()) {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("draining");
    }
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

/// The process's metrics recorder: installed once, whatever the number of servers a process
/// starts (the tests start many), and rendered by every `/metrics`.
static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Request latency, by route pattern, method and status class.
const REQUEST_DURATION: &str = "lianming_http_request_duration_seconds";

/// The recorder's handle, installing the recorder the first time.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_DURATION.into()),
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            // Another recorder came first (an embedding program's): ours then renders nothing
            // of what the macros record, but `/metrics` still answers its scrape-time gauges.
            tracing::warn!(error = %e, "a metrics recorder was already installed");
        }
        metrics::describe_histogram!(
            REQUEST_DURATION,
            metrics::Unit::Seconds,
            "Time to answer a request, by route pattern, method and status class"
        );
        metrics::describe_counter!(
            crate::mail::worker::DELIVERIES,
            "Outbox delivery attempts, by result (delivered, retry, gave_up, suppressed)"
        );
        metrics::describe_counter!(
            crate::auth::password::REFUSED,
            "Requests refused because the password-hashing threads were too busy"
        );
        handle
    })
}

/// The methods labelled by name; any other is `other`, so a client cannot grow the label set.
fn method_label(m: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k == m)
        .map_or("other", |(_, name)| name)
}

/// Middleware: records each request's latency under its route pattern (`/api/v1/groups/{slug}`,
/// never the raw path, whose values are unbounded; `unmatched` when no route took it), its
/// method and its status class. The time is until the response head, not the end of a body
/// streamed after it.
///
/// # Errors
/// The inner service's.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let class = match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(REQUEST_DURATION, "route" => route, "method" => method, "status" => class)
        .record(started.elapsed().as_secs_f64());
    result
}

/// Middleware: answers every request with `X-Request-Id`, the id of its root span
/// (tracing-actix-web's `request_id`), which every log line of the request carries: a user's
/// report of a failure leads to its log lines. Runs inside `TracingLogger`, which makes the id.
///
/// # Errors
/// The inner service's.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| actix_web::http::header::HeaderValue::from_str(&id).ok())
    {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(res)
}

/// How long a scrape waits for each database reading: a scrape must answer, even when the
/// database does not (the readings are then left out, and `lianming_db_up` is 0).
const SCRAPE_DB_TIMEOUT: Duration = Duration::from_millis(1000);

/// Metrics in the Prometheus text format: request latencies, outbox and job queues, the
/// database pool and the password-hashing queue. With `LIANMING_METRICS_TOKEN` set, only for
/// `Authorization: Bearer <token>`.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "LIANMING_METRICS_TOKEN is set and the request did not present it", body = crate::error::Problem),
    ),
    security((), ("bearer" = []))
)]
#[get("/metrics")]
async fn metrics_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = &state.ctx.settings.metrics_token
        && !presents(&req, token.expose_secret())
    {
        return Err(AppError::Unauthorized(
            "metrics_token_required",
            "this server's metrics need its metrics token as a bearer token".into(),
        ));
    }
    let mut body = recorder().render();
    body.push_str(&scrape_gauges(&state).await);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// Whether the request carries `Authorization: Bearer <token>`. The digests are compared, so
/// the time taken says nothing about how much of the token was right.
fn presents(req: &HttpRequest, token: &str) -> bool {
    use sha2::{Digest as _, Sha256};
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes()) && !given.is_empty()
}

/// The gauges read at scrape time, rendered by a recorder of this scrape alone: they describe
/// this server (a process may run several), and a reading that failed is absent rather than
/// left at its last value.
async fn scrape_gauges(state: &AppState) -> String {
    let now = state.now();
    let outbox = tokio::time::timeout(
        SCRAPE_DB_TIMEOUT,
        crate::mail::outbox::depth(&state.db, now),
    );
    let jobs = tokio::time::timeout(SCRAPE_DB_TIMEOUT, crate::jobs::depth(&state.db, now));
    let (outbox, jobs) = tokio::join!(outbox, jobs);
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let mut db_up = true;
        match outbox {
            Ok(Ok((due, oldest))) => {
                metrics::describe_gauge!("lianming_outbox_due", "Emails due and not yet sent");
                metrics::gauge!("lianming_outbox_due").set(count(due));
                metrics::describe_gauge!(
                    "lianming_outbox_oldest_due_seconds",
                    metrics::Unit::Seconds,
                    "How long the oldest unsent email has been due (0 when none is)"
                );
                metrics::gauge!("lianming_outbox_oldest_due_seconds").set(seconds(oldest));
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "metrics: outbox depth not read");
                db_up = false;
            }
            Err(_) => db_up = false,
        }
        match jobs {
            Ok(Ok((due, oldest))) => {
                metrics::describe_gauge!("lianming_jobs_due", "Background jobs due and waiting");
                metrics::gauge!("lianming_jobs_due").set(count(due));
                metrics::describe_gauge!(
                    "lianming_jobs_oldest_due_seconds",
                    metrics::Unit::Seconds,
                    "How long the oldest waiting job has been due (0 when none is)"
                );
                metrics::gauge!("lianming_jobs_oldest_due_seconds").set(seconds(oldest));
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "metrics: job queue depth not read");
                db_up = false;
            }
            Err(_) => db_up = false,
        }
        metrics::describe_gauge!(
            "lianming_db_up",
            "Whether this scrape's database readings answered in time (1) or not (0)"
        );
        metrics::gauge!("lianming_db_up").set(if db_up { 1.0 } else { 0.0 });

        let (size, idle, max) = pool_use(&state.db);
        metrics::describe_gauge!(
            "lianming_db_pool_connections",
            "Connections of the database pool, by state (idle, in_use)"
        );
        metrics::gauge!("lianming_db_pool_connections", "state" => "idle").set(f64::from(idle));
        metrics::gauge!("lianming_db_pool_connections", "state" => "in_use")
            .set(f64::from(size.saturating_sub(idle)));
        metrics::describe_gauge!(
            "lianming_db_pool_max_connections",
            "Connections the database pool opens at most"
        );
        metrics::gauge!("lianming_db_pool_max_connections").set(f64::from(max));

        let hashing = crate::auth::password::queue_stats();
        metrics::describe_gauge!(
            "lianming_password_hash_in_flight",
            "Password hashes being computed now"
        );
        metrics::gauge!("lianming_password_hash_in_flight").set(hashing.in_flight as f64);
        metrics::describe_gauge!(
            "lianming_password_hash_waiting",
            "Password hashes waiting for a hashing thread"
        );
        metrics::gauge!("lianming_password_hash_waiting").set(hashing.waiting as f64);
        metrics::describe_gauge!(
            "lianming_password_hash_threads",
            "Password-hashing threads (one per core)"
        );
        metrics::gauge!("lianming_password_hash_threads").set(hashing.threads as f64);
        metrics::describe_gauge!(
            "lianming_password_hash_queue_capacity",
            "Password hashes that may wait at once before requests are refused"
        );
        metrics::gauge!("lianming_password_hash_queue_capacity").set(hashing.capacity as f64);
    });
    recorder.handle().render()
}

/// The pool's open connections, idle ones among them, and its most.
fn pool_use(db: &sea_orm::DatabaseConnection) -> (u32, u32, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                idle(pool.num_idle()),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                idle(pool.num_idle()),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
}

fn idle(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "queue depths are far below 2^52"
)]
fn count(n: u64) -> f64 {
    n as f64
}

fn seconds(age: Option<chrono::Duration>) -> f64 {
    age.and_then(|a| a.to_std().ok())
        .map_or(0.0, |a| a.as_secs_f64())
}
