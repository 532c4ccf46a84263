//! Operations: `/metrics` read by an independent Prometheus parser, and its token.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::app::{Backend, TestApp, json_body};

/// One sample of a scrape: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

/// Parses a scrape with Python's `prometheus_client` (installed by .ci/run): the body must be
/// valid exposition format, or the parser fails the test. Returns every sample and each
/// family's type.
fn parse_exposition(text: &str) -> (Vec<Sample>, serde_json::Map<String, Value>) {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples, types = [], {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps({"samples": samples, "types": types}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (prometheus-client installed by .ci/run)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write scrape");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "not Prometheus exposition format: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    let samples = parsed["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| Sample {
            name: s["name"].as_str().expect("name").to_owned(),
            labels: s["labels"].as_object().expect("labels").clone(),
            // NaN and infinities come out of json.dumps as bare words serde cannot read; none
            // of ours is one.
            value: s["value"].as_f64().expect("value"),
        })
        .collect();
    (samples, parsed["types"].as_object().expect("types").clone())
}

async fn scrape(app: &TestApp) -> (Vec<Sample>, serde_json::Map<String, Value>) {
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse_exposition(&res.text().await.expect("body"))
}

/// The value of the sample `name` whose labels include all of `labels` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map_or(0.0, |s| s.value)
}

const REQUESTS: &str = "lianming_http_request_duration_seconds_count";

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_requests_by_route_pattern() {
    // Arrange
    let app = TestApp::spawn().await;
    let list = [("route", "/api/v1/groups"), ("method", "GET"), ("status", "2xx")];
    let one = [
        ("route", "/api/v1/groups/{slug}"),
        ("method", "GET"),
        ("status", "4xx"),
    ];
    let (before, _) = scrape(&app).await;

    // Act
    for _ in 0..3 {
        assert_eq!(app.get("/groups", None).await.status(), 200);
    }
    assert_eq!(app.get("/groups/no-such-group-x7", None).await.status(), 404);
    assert_eq!(app.get("/no/such/place-x7", None).await.status(), 404);
    let (after, types) = scrape(&app).await;

    // Assert: the histogram's count moved for the pattern, never for the raw path.
    assert!(
        value(&after, REQUESTS, &list) >= value(&before, REQUESTS, &list) + 3.0,
        "list requests not counted"
    );
    assert!(value(&after, REQUESTS, &one) >= value(&before, REQUESTS, &one) + 1.0);
    assert!(value(&after, REQUESTS, &[("route", "unmatched")]) >= 1.0);
    assert_eq!(
        types
            .get("lianming_http_request_duration_seconds")
            .and_then(Value::as_str),
        Some("histogram")
    );
    assert!(
        after.iter().all(|s| s
            .labels
            .get("route")
            .and_then(Value::as_str)
            .is_none_or(|r| !r.contains("x7"))),
        "a raw path became a label value"
    );
    assert!(
        value(
            &after,
            "lianming_http_request_duration_seconds_bucket",
            &[("route", "/api/v1/groups"), ("le", "+Inf")]
        ) >= 3.0
    );
    // The scrape-time gauges of this server.
    assert_eq!(value(&after, "lianming_db_up", &[]), 1.0);
    for gauge in [
        "lianming_outbox_due",
        "lianming_outbox_oldest_due_seconds",
        "lianming_jobs_due",
        "lianming_jobs_oldest_due_seconds",
        "lianming_password_hash_in_flight",
        "lianming_password_hash_waiting",
    ] {
        assert_eq!(
            types.get(gauge).and_then(Value::as_str),
            Some("gauge"),
            "{gauge}"
        );
    }
    assert!(value(&after, "lianming_db_pool_max_connections", &[]) >= 1.0);
    assert!(value(&after, "lianming_password_hash_threads", &[]) >= 1.0);
    assert!(
        after
            .iter()
            .any(|s| s.name == "lianming_db_pool_connections"
                && s.labels.get("state").and_then(Value::as_str) == Some("in_use"))
    );
}

#[tokio::test]
async fn delivered_mail_is_counted_and_leaves_the_outbox() {
    // Arrange
    let app = TestApp::spawn().await;
    let sent = [("result", "sent")];
    let (before, _) = scrape(&app).await;

    // Act: a registration queues a verification email, which the worker sends.
    app.register("metrics@example.com", "Metrics", "correct horse battery staple")
        .await;
    app.outbox_sent().await;
    let (after, _) = scrape(&app).await;

    // Assert
    let name = "lianming_outbox_deliveries_total";
    assert!(value(&after, name, &sent) >= value(&before, name, &sent) + 1.0);
    assert_eq!(value(&after, "lianming_outbox_due", &[]), 0.0);
}

#[tokio::test]
async fn with_a_metrics_token_a_scrape_without_it_is_refused() {
    // Arrange
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_token = Some("scrape-secret-0123".into());
    })
    .await;
    let url = format!("{}/metrics", app.address);

    // Act
    let bare = app.client.get(&url).send().await.expect("scrape");
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret-0124")
        .send()
        .await
        .expect("scrape");
    let right = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret-0123")
        .send()
        .await
        .expect("scrape");

    // Assert
    assert_eq!(wrong.status(), 401);
    assert_eq!(bare.status(), 401);
    assert_eq!(
        bare.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(json_body(bare).await["code"], "metrics_token_required");
    assert_eq!(right.status(), 200);
    let (samples, _) = parse_exposition(&right.text().await.expect("body"));
    assert_eq!(value(&samples, "lianming_db_up", &[]), 1.0);
}
