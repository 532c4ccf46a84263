//! Logging set-up: human-readable or JSON lines, filtered by `LIANMING_LOG` / `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Keeps each request's root span (tracing-actix-web's, at INFO, holding `request_id`) whatever
/// the level: a warning logged inside a request still names the request under `warn`.
const REQUEST_SPANS: &str = "tracing_actix_web::root_span_builder=info";

/// Installs the global subscriber once; later calls are ignored.
pub fn init(filter: &str, json: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| filter.to_owned());
    let filter = if filter.contains("tracing_actix_web") {
        filter
    } else {
        format!("{filter},{REQUEST_SPANS}")
    };
    let filter = EnvFilter::new(filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
