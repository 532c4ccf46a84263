//! Bad input is refused with a 4xx `application/problem+json` answer that names the offending
//! field (or says the body is not JSON at all), and nothing is written: no user, group,
//! provider, participation, signature or queued email.

use chrono::Duration;
use lianming::clock::Clock as _;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::app::{Backend, TestApp, TestUser};
use crate::on_both_databases;

/// Tables whose row counts must not move when a request is refused.
const TABLES: [&str; 9] = [
    "users",
    "email_tokens",
    "groups",
    "group_roles",
    "statement_versions",
    "providers",
    "participations",
    "signatures",
    "outbox",
];

/// The row count of every table in [`TABLES`].
async fn row_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        out.push((table, app.count_rows(table).await));
    }
    out
}

/// Asserts that `res` is a problem document with `status`; returns the parsed problem.
async fn expect_problem(res: reqwest::Response, status: StatusCode, case: &str) -> Value {
    let got = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{case}: {text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "{case}: Content-Type is {content_type:?}, not application/problem+json"
    );
    let problem: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{case}: not JSON: {text}"));
    assert_eq!(problem["status"], status.as_u16(), "{case}: {problem}");
    assert!(problem["title"].is_string(), "{case}: {problem}");
    assert!(problem["detail"].is_string(), "{case}: {problem}");
    problem
}

/// Asserts a 422 whose `errors` name `field` with at least one message; returns the problem.
async fn expect_field_error(res: reqwest::Response, field: &str, case: &str) -> Value {
    let problem = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, case).await;
    assert_eq!(problem["code"], "validation_failed", "{case}: {problem}");
    let messages = problem["errors"][field].as_array();
    assert!(
        messages.is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)),
        "{case}: expected `errors` to name `{field}`: {problem}"
    );
    problem
}

/// Sends `body` as it is, with `content_type` when given, and a bearer token when given.
async fn send_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = app.client.request(Method::POST, app.api(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.body(body).send().await.expect("request failed")
}

/// `base` with the member at JSON `pointer` replaced by `value`, or removed when `None`.
fn with(base: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut out = base.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let object = out
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent:?}"));
    match value {
        Some(v) => {
            object.insert(key.to_owned(), v);
        }
        None => {
            object.remove(key);
        }
    }
    out
}

fn register_body() -> Value {
    json!({
        "email": "chen.jing@example.com",
        "password": "correct horse battery staple",
        "display_name": "陈静",
    })
}

/// The body `TestApp::create_group` sends by default.
fn group_body() -> Value {
    json!({
        "provider": null,
        "provider_name": "快付钱包",
        "title": "退款迟迟未到账",
        "summary": "申请退款后超过三十天仍未收到款项，客服一直说在处理中。",
        "category": "refund_delay",
        "demands": ["refund", {"kind": "compensation", "text": "按日支付利息"}],
        "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。",
    })
}

/// An organiser's group and a verified user about to join it.
struct Scene {
    organiser: TestUser,
    joiner: TestUser,
    slug: String,
}

impl Scene {
    async fn new(app: &TestApp) -> Scene {
        let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
        let joiner = app.verified_user("li.lei@example.com", "李雷").await;
        let group = app.create_group(&organiser, json!({})).await;
        let slug = group["slug"].as_str().expect("slug").to_owned();
        Scene {
            organiser,
            joiner,
            slug,
        }
    }

    fn join_path(&self) -> String {
        format!("/groups/{}/participation", self.slug)
    }
}

/// Every write route of the skeleton, with a valid body and the token it needs.
fn write_routes(scene: &Scene) -> Vec<(&'static str, String, Option<String>, Value)> {
    vec![
        (
            "register",
            "/auth/register".to_owned(),
            None,
            register_body(),
        ),
        (
            "join",
            scene.join_path(),
            Some(scene.joiner.access_token.clone()),
            TestApp::join_body("李雷", 1),
        ),
        (
            "create group",
            "/groups".to_owned(),
            Some(scene.organiser.access_token.clone()),
            group_body(),
        ),
    ]
}

async fn bodies_that_are_not_json_are_refused_with_400_malformed_json(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let scene = Scene::new(&app).await;
    let before = row_counts(&app).await;
    // Each breaks the syntax before any field could be judged.
    let broken = [
        "{",
        "{\"",
        "not json at all",
        "{,}",
        "{'single': 'quotes'}",
        "",
    ];

    for (route, path, token, _) in write_routes(&scene) {
        for text in broken {
            // Act
            let res = send_raw(
                &app,
                &path,
                token.as_deref(),
                Some("application/json"),
                text,
            )
            .await;

            // Assert
            let case = format!("{route} with body {text:?}");
            let problem = expect_problem(res, StatusCode::BAD_REQUEST, &case).await;
            assert_eq!(problem["code"], "malformed_json", "{case}: {problem}");
        }
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
}

async fn json_of_the_wrong_shape_is_a_422_naming_the_body(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let scene = Scene::new(&app).await;
    let before = row_counts(&app).await;

    for (route, path, token, _) in write_routes(&scene) {
        for text in ["[]", "\"a string\"", "42", "null"] {
            // Act
            let res = send_raw(
                &app,
                &path,
                token.as_deref(),
                Some("application/json"),
                text,
            )
            .await;

            // Assert
            expect_field_error(res, "body", &format!("{route} with body {text}")).await;
        }
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
}

async fn bodies_that_start_well_but_are_not_json_are_refused_with_400(backend: Backend) {
    // Arrange: valid JSON followed by more text, and JSON cut short after a field the route
    // does not know. Neither is JSON, whatever the first bytes look like.
    let app = TestApp::on(backend).await;
    let before = row_counts(&app).await;
    let valid = register_body().to_string();
    let bodies = [
        format!("{valid} }}"),
        format!("{valid} {{\"is_admin\": true}}"),
        format!("{valid} garbage"),
        "{\"nickname\": \"小陈\", ".to_owned(),
        "{\"password\": 1234, \"email\": ".to_owned(),
    ];

    for body in bodies {
        // Act
        let res = send_raw(
            &app,
            "/auth/register",
            None,
            Some("application/json"),
            body.clone(),
        )
        .await;

        // Assert
        let case = format!("register with body {body:?}");
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, &case).await;
        assert_eq!(problem["code"], "malformed_json", "{case}: {problem}");
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
}

async fn bad_registrations_name_the_field_and_create_no_account(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let base = register_body();
    let long_name = "名".repeat(81);
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/email", Some(json!("not-an-email")), "email"),
        ("/email", Some(json!("chen.jing@")), "email"),
        ("/email", Some(json!("")), "email"),
        ("/email", None, "email"),
        ("/password", Some(json!("short")), "password"),
        ("/password", Some(json!("1234567")), "password"),
        ("/password", Some(json!(12_345_678)), "password"),
        ("/password", None, "password"),
        ("/display_name", Some(json!("   ")), "display_name"),
        ("/display_name", Some(json!(long_name)), "display_name"),
        ("/display_name", None, "display_name"),
        ("/locale", Some(json!("fr")), "locale"),
        ("/nickname", Some(json!("小陈")), "nickname"),
        ("/is_admin", Some(json!(true)), "is_admin"),
    ];
    let before = row_counts(&app).await;

    for (pointer, value, field) in cases {
        // Act
        let body = with(&base, pointer, value);
        let res = app.post("/auth/register", None, body.clone()).await;

        // Assert
        expect_field_error(res, field, &format!("register {body}")).await;
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
    assert!(
        app.mail.messages().is_empty(),
        "no email may be sent for a refused registration"
    );

    // The unmodified body is accepted, so each refusal was for the field named.
    let res = app.post("/auth/register", None, base).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.count_rows("users").await, 1);
}

async fn bad_joins_name_the_field_and_write_nothing(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let scene = Scene::new(&app).await;
    let base = TestApp::join_body("李雷", 1);
    // "Tomorrow" where the users are (LIANMING_TIMEZONE, Asia/Shanghai by default).
    let tomorrow = (app.clock.now() + Duration::days(1))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        // Money
        (
            "/amount_disputed/amount_minor",
            Some(json!("12800")),
            "amount_disputed.amount_minor",
        ),
        (
            "/amount_disputed/amount_minor",
            Some(json!(-1)),
            "amount_disputed.amount_minor",
        ),
        (
            "/amount_disputed/amount_minor",
            Some(json!(128.5)),
            "amount_disputed.amount_minor",
        ),
        (
            "/amount_disputed/amount_minor",
            None,
            "amount_disputed.amount_minor",
        ),
        (
            "/amount_disputed/currency",
            Some(json!("XYZ")),
            "amount_disputed.currency",
        ),
        (
            "/amount_disputed/currency",
            Some(json!("RMB")),
            "amount_disputed.currency",
        ),
        (
            "/amount_disputed/currency",
            Some(json!("cny")),
            "amount_disputed.currency",
        ),
        (
            "/amount_disputed/currency",
            Some(json!("")),
            "amount_disputed.currency",
        ),
        ("/amount_disputed", None, "amount_disputed"),
        // Signature
        ("/signature/agree", Some(json!(false)), "signature.agree"),
        ("/signature/agree", Some(json!("yes")), "signature.agree"),
        ("/signature/agree", None, "signature.agree"),
        (
            "/signature/full_name",
            Some(json!("  ")),
            "signature.full_name",
        ),
        ("/signature/full_name", None, "signature.full_name"),
        (
            "/signature/statement_version",
            Some(json!(0)),
            "signature.statement_version",
        ),
        ("/signature/extra", Some(json!(1)), "signature.extra"),
        ("/signature", None, "signature"),
        // Dates
        ("/incident_date", Some(json!(tomorrow)), "incident_date"),
        ("/incident_date", Some(json!("1999-12-31")), "incident_date"),
        ("/incident_date", Some(json!("2026-02-30")), "incident_date"),
        ("/incident_date", Some(json!("02/03/2026")), "incident_date"),
        ("/incident_date", None, "incident_date"),
        // The rest
        ("/statement", Some(json!("太短了")), "statement"),
        ("/statement", None, "statement"),
        ("/transaction_refs", Some(json!("T1")), "transaction_refs"),
        ("/transaction_refs", Some(json!(["  "])), "transaction_refs"),
        (
            "/consent_share_identity",
            Some(json!("true")),
            "consent_share_identity",
        ),
        ("/consent_share_identity", None, "consent_share_identity"),
        ("/nickname", Some(json!("x")), "nickname"),
        ("/status", Some(json!("active")), "status"),
    ];
    let before = row_counts(&app).await;
    let mails_before = app.mail.messages().len();

    for (pointer, value, field) in cases {
        // Act
        let body = with(&base, pointer, value);
        let res = app
            .post(
                &scene.join_path(),
                Some(&scene.joiner.access_token),
                body.clone(),
            )
            .await;

        // Assert
        let problem = expect_field_error(res, field, &format!("join {body}")).await;
        if body["amount_disputed"]["currency"] == "RMB" {
            assert!(
                problem["errors"][field].to_string().contains("CNY"),
                "RMB should be answered with a hint to use CNY: {problem}"
            );
        }
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
    let view =
        crate::helpers::app::json_body(app.get(&format!("/groups/{}", scene.slug), None).await)
            .await;
    assert_eq!(view["participant_count"], 0, "{view}");
    assert_eq!(
        app.mail.messages().len(),
        mails_before,
        "no email for a refusal"
    );

    // The unmodified body is accepted, so each refusal was for the field named.
    let res = app
        .post(&scene.join_path(), Some(&scene.joiner.access_token), base)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn bad_groups_name_the_field_and_create_nothing(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let scene = Scene::new(&app).await;
    let base = group_body();
    // "Tomorrow" where the users are (LIANMING_TIMEZONE, Asia/Shanghai by default).
    let tomorrow = (app.clock.now() + Duration::days(1))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/category", Some(json!("nope")), "category"),
        ("/category", Some(json!("RefundDelay")), "category"),
        ("/category", None, "category"),
        ("/title", Some(json!("短")), "title"),
        ("/title", Some(json!("     ")), "title"),
        ("/title", None, "title"),
        ("/summary", Some(json!("太短")), "summary"),
        (
            "/joint_statement",
            Some(json!("我们要求退款。")),
            "joint_statement",
        ),
        ("/demands", Some(json!([])), "demands"),
        ("/demands", Some(json!("refund")), "demands"),
        ("/incident_from", Some(json!(tomorrow)), "incident_from"),
        ("/incident_from", Some(json!("yesterday")), "incident_from"),
        (
            "/requires_moderation",
            Some(json!("yes")),
            "requires_moderation",
        ),
        ("/provider_name", Some(json!("   ")), "provider_name"),
        ("/provider_name", Some(json!(null)), "provider"),
        ("/colour", Some(json!("red")), "colour"),
        ("/visibility", Some(json!("public")), "visibility"),
    ];
    let before = row_counts(&app).await;

    for (pointer, value, field) in cases {
        // Act
        let body = with(&base, pointer, value);
        let res = app
            .post("/groups", Some(&scene.organiser.access_token), body.clone())
            .await;

        // Assert
        expect_field_error(res, field, &format!("create group {body}")).await;
    }

    // An unknown provider slug names `provider` (and proposes no provider).
    let body = with(
        &with(&base, "/provider", Some(json!("no-such-provider"))),
        "/provider_name",
        None,
    );
    let res = app
        .post("/groups", Some(&scene.organiser.access_token), body)
        .await;
    expect_field_error(res, "provider", "unknown provider slug").await;

    // A window that ends before it starts names `incident_to`.
    let body = with(
        &with(&base, "/incident_from", Some(json!("2026-03-02"))),
        "/incident_to",
        Some(json!("2026-03-01")),
    );
    let res = app
        .post("/groups", Some(&scene.organiser.access_token), body)
        .await;
    expect_field_error(res, "incident_to", "window ending before it starts").await;

    // A bad demand is named by its index.
    let body = with(&base, "/demands", Some(json!(["refund", "bribe"])));
    let res = app
        .post("/groups", Some(&scene.organiser.access_token), body)
        .await;
    let problem = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "unknown demand").await;
    let named = problem["errors"]
        .as_object()
        .is_some_and(|e| e.keys().any(|k| k.starts_with("demands")));
    assert!(
        named,
        "an unknown demand should name `demands[1]`: {problem}"
    );

    assert_eq!(row_counts(&app).await, before, "nothing may be written");

    // The unmodified body is accepted, so each refusal was for the field named.
    let res = app
        .post("/groups", Some(&scene.organiser.access_token), base)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

on_both_databases!(
    bodies_that_are_not_json_are_refused_with_400_malformed_json,
    json_of_the_wrong_shape_is_a_422_naming_the_body,
    bodies_that_start_well_but_are_not_json_are_refused_with_400,
    bad_registrations_name_the_field_and_create_no_account,
    bad_joins_name_the_field_and_write_nothing,
    bad_groups_name_the_field_and_create_nothing,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_declared_as_json_are_refused_with_415() {
    // Arrange
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app).await;
    let before = row_counts(&app).await;

    for (route, path, token, body) in write_routes(&scene) {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            Some("not a media type"),
            None,
        ] {
            // Act
            let res = send_raw(
                &app,
                &path,
                token.as_deref(),
                content_type,
                body.to_string(),
            )
            .await;

            // Assert
            let case = format!("{route} sent as {content_type:?}");
            let problem = expect_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, &case).await;
            assert_eq!(
                problem["code"], "unsupported_media_type",
                "{case}: {problem}"
            );
        }
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");

    // JSON with a charset parameter is still JSON.
    let res = send_raw(
        &app,
        "/auth/register",
        None,
        Some("application/json; charset=utf-8"),
        register_body().to_string(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_are_refused_with_413() {
    // Arrange: valid JSON that only its size makes wrong.
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app).await;
    let padding = "x".repeat(70 * 1024);
    let before = row_counts(&app).await;

    for (route, path, token, body) in write_routes(&scene) {
        let field = match route {
            "register" => "display_name",
            "join" => "statement",
            _ => "summary",
        };
        let big = with(&body, &format!("/{field}"), Some(json!(padding)));

        // Act
        let res = app
            .send(Method::POST, &path, token.as_deref(), Some(big))
            .await;

        // Assert
        let problem = expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, route).await;
        assert_eq!(problem["code"], "payload_too_large", "{route}: {problem}");
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_64_kib_without_a_length_is_refused_with_413() {
    // Arrange: no Content-Length, so the limit must be enforced while reading.
    let app = TestApp::spawn().await;
    let before = row_counts(&app).await;
    let body = with(
        &register_body(),
        "/display_name",
        Some(json!("x".repeat(70 * 1024))),
    )
    .to_string();
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let mut request = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(8 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");

    // Act: the server may answer and close before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;

    // Assert
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    assert!(status_line.contains(" 413 "), "answer: {answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "answer: {answer}"
    );
    assert!(answer.contains("payload_too_large"), "answer: {answer}");
    assert_eq!(row_counts(&app).await, before, "nothing may be written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_name_the_parameter() {
    // Arrange
    let app = TestApp::spawn().await;
    let long_q = "退".repeat(101);
    let cases: Vec<(String, &str)> = vec![
        ("/groups?per_page=1000".into(), "per_page"),
        ("/groups?per_page=0".into(), "per_page"),
        ("/groups?per_page=ten".into(), "per_page"),
        ("/groups?per_page=-1".into(), "per_page"),
        ("/groups?page=0".into(), "page"),
        ("/groups?page=10001".into(), "page"),
        ("/groups?category=nope".into(), "category"),
        ("/groups?status=lost".into(), "status"),
        ("/groups?sort=random".into(), "sort"),
        ("/groups?colour=red".into(), "colour"),
        (format!("/groups?q={long_q}"), "q"),
        ("/groups/suggest?category=nope".into(), "category"),
        (
            "/groups/suggest?incident_date=yesterday".into(),
            "incident_date",
        ),
        ("/groups/suggest?colour=red".into(), "colour"),
        ("/providers?per_page=1000".into(), "per_page"),
        ("/providers?page=0".into(), "page"),
    ];
    let before = row_counts(&app).await;

    for (path, field) in cases {
        // Act
        let res = app.get(&path, None).await;

        // Assert
        expect_field_error(res, field, &format!("GET {path}")).await;
    }
    assert_eq!(row_counts(&app).await, before, "nothing may be written");

    // The limits themselves are accepted.
    for path in [
        "/groups?per_page=100&page=10000",
        "/groups?per_page=1&category=refund_delay&status=gathering&sort=newest",
        "/groups/suggest?category=refund_delay&incident_date=2026-03-02",
        "/providers?per_page=100",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    }
}
