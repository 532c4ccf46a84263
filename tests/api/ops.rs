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
    let list = [
        ("route", "/api/v1/groups"),
        ("method", "GET"),
        ("status", "2xx"),
    ];
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
    assert_eq!(
        app.get("/groups/no-such-group-x7", None).await.status(),
        404
    );
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
            &[
                ("route", "/api/v1/groups"),
                ("method", "GET"),
                ("status", "2xx"),
                ("le", "+Inf")
            ]
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
    let sent = [("result", "delivered")];
    let (before, _) = scrape(&app).await;

    // Act: a registration queues a verification email, which the worker sends.
    app.register(
        "metrics@example.com",
        "Metrics",
        "correct horse battery staple",
    )
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

/// A TCP proxy between the server and PostgreSQL that can be cut (every connection dropped,
/// new ones refused) and restored on the same port.
struct Proxy {
    port: u16,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut = std::sync::Arc::new(cut);
        tokio::spawn(Self::serve(listener, target, cut.clone()));
        Proxy { port, cut }
    }

    /// Accepts until cut, then closes the listener (refusing connections) until restored.
    async fn serve(
        mut listener: tokio::net::TcpListener,
        target: std::net::SocketAddr,
        cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    ) {
        let port = listener.local_addr().expect("addr").port();
        let mut state = cut.subscribe();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((client, _)) = accepted else { continue };
                    let mut conn_cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                            _ = conn_cut.wait_for(|c| *c) => {}
                        }
                    });
                }
                _ = state.wait_for(|c| *c) => {}
            }
            if !*state.borrow() {
                continue;
            }
            drop(listener);
            if state.wait_for(|c| !*c).await.is_err() {
                return;
            }
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("reuseaddr");
            socket
                .bind(([127, 0, 0, 1], port).into())
                .expect("rebind proxy port");
            listener = socket.listen(128).expect("listen");
        }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// Polls `url` until it answers `status`, for at most `within`; returns how long it took.
async fn until_status(
    client: &reqwest::Client,
    url: &str,
    status: u16,
    within: std::time::Duration,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let answered =
            tokio::time::timeout(std::time::Duration::from_secs(3), client.get(url).send())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|r| r.status().as_u16());
        if answered == Some(status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{url} did not answer {status} within {within:?} (last: {answered:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_going_away_and_coming_back() {
    use std::time::{Duration, Instant};
    let Some(Backend::Postgres(admin)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: not run");
        return;
    };
    // Arrange: the server reaches PostgreSQL only through the proxy.
    let parsed = url::Url::parse(&admin).expect("TEST_DATABASE_URL");
    let target = (
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432),
    );
    let target = tokio::net::lookup_host(target)
        .await
        .expect("resolve")
        .find(std::net::SocketAddr::is_ipv4)
        .expect("an IPv4 address");
    let proxy = Proxy::start(target).await;
    let proxy_port = proxy.port;
    let app = TestApp::spawn_with(Backend::Postgres(admin), |s| {
        let mut url = url::Url::parse(s.database_url.as_deref().expect("url")).expect("url");
        url.set_port(Some(proxy_port)).expect("port");
        s.database_url = Some(url.to_string());
        s.db_acquire_timeout_secs = 2;
    })
    .await;
    assert!(!app.database_url.contains(&proxy_port.to_string()));
    let ready = format!("{}/readyz", app.address);
    until_status(&app.client, &ready, 200, Duration::from_secs(5)).await;
    assert_eq!(app.get("/groups", None).await.status(), 200);

    // Act: the database goes away.
    proxy.cut();

    // Assert: not ready within 5 s; API requests are refused quickly as a problem.
    until_status(&app.client, &ready, 503, Duration::from_secs(5)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let res = tokio::time::timeout(Duration::from_secs(10), app.get("/groups", None))
            .await
            .expect("an answer, not a hang");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(res.status(), 503);
        assert_eq!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert_eq!(json_body(res).await["code"], "database_unavailable");
    }
    // A scrape still answers, saying the database does not.
    let started = Instant::now();
    let (samples, _) = scrape(&app).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(value(&samples, "lianming_db_up", &[]), 0.0);

    // Act: it comes back.
    proxy.restore();

    // Assert: ready again and serving, without a restart.
    until_status(&app.client, &ready, 200, Duration::from_secs(15)).await;
    let res = app.get("/groups", None).await;
    assert_eq!(res.status(), 200);
    let user = app.verified_user("back@example.com", "Back").await;
    app.create_group(&user, serde_json::json!({})).await;
}
