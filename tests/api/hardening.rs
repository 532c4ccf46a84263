//! Regression tests for the failures the reliability battery found (issue 14): the database
//! going away, text no reader can see or PostgreSQL cannot store, cross-origin page forms and
//! missing page policies, files readable by other users and upload temporaries left behind,
//! TRACE answered 404.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::on_both_databases;

// ---------------------------------------------------------------------------------------------
// Database down
// ---------------------------------------------------------------------------------------------

/// A TCP proxy on loopback in front of the shared PostgreSQL, which a test can cut (existing
/// connections dropped, new ones closed at once) and restore, so that only this test's server
/// loses its database.
struct CuttableProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let accept = {
            let (cut, conns) = (cut.clone(), conns.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    conns.lock().expect("lock").push(task.abort_handle());
                }
            })
        };
        CuttableProxy {
            port,
            cut,
            conns,
            accept,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for conn in self.conns.lock().expect("lock").drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Sends GET `url` with a 10 s client timeout: a server that hangs fails the test.
async fn get_within_10s(url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url} did not answer in 10 s: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_unreachable_requests_get_503_with_retry_after_and_recover_without_a_restart()
 {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: the PostgreSQL outage test is not run");
        return;
    };
    let parsed = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    let upstream = format!(
        "{}:{}",
        parsed.host_str().expect("host"),
        parsed.port().unwrap_or(5432)
    );
    let proxy = CuttableProxy::start(upstream).await;
    let proxy_port = proxy.port;
    let app = TestApp::spawn_with(Backend::Postgres(admin_url), |s| {
        // The server reaches its database only through the proxy; the test's own connection
        // (`app.db`) goes directly.
        let mut url = url::Url::parse(s.database_url.as_deref().expect("url")).expect("url");
        url.set_port(Some(proxy_port)).expect("port");
        s.database_url = Some(url.to_string());
        s.db_acquire_timeout_secs = 2;
    })
    .await;
    let groups = app.api("/groups");
    let ready = format!("{}/readyz", app.address);
    assert_eq!(get_within_10s(&groups).await.status(), StatusCode::OK);
    assert_eq!(get_within_10s(&ready).await.status(), StatusCode::OK);

    proxy.cut();
    // A search the public view cache has not answered yet, so it needs the database.
    let uncached = format!("{groups}?q=outage");
    let res = get_within_10s(&uncached).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.headers()["content-type"].to_str().expect("type"),
        "application/problem+json"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!(retry >= 1, "{retry}");
    assert_eq!(json_body(res).await["code"], "database_unavailable");
    let res = get_within_10s(&ready).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    // The pool drops its dead connections and opens new ones on demand: poll a bounded number
    // of times (a pool that never recovers fails the test).
    let mut recovered = false;
    for _ in 0..20 {
        if get_within_10s(&uncached).await.status() == StatusCode::OK
            && get_within_10s(&ready).await.status() == StatusCode::OK
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "the server did not recover once the database was back"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

/// Posts `body` and asserts a 422 naming `field`.
async fn refused(app: &TestApp, path: &str, token: Option<&str>, body: Value, field: &str) {
    let res = app.post(path, token, body.clone()).await;
    let status = res.status();
    let problem = json_body(res).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{path} {body}: {problem}"
    );
    assert!(
        problem["errors"][field].is_array(),
        "{path}: {field} not named in {problem}"
    );
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

async fn group_and_member(app: &TestApp) -> (TestUser, TestUser, String) {
    let owner = app.verified_user("owner@example.com", "Owner").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let member = app.verified_user("member@example.com", "Member").await;
    (owner, member, slug)
}

async fn a_nul_character_in_any_text_field_is_refused_naming_it_and_nothing_is_written(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let (owner, member, slug) = group_and_member(&app).await;
    let groups_before = app.count_rows("groups").await;
    let base = json!({
        "provider": null,
        "provider_name": "快付钱包",
        "title": "退款迟迟未到账",
        "summary": "申请退款后超过三十天仍未收到款项，客服一直说在处理中。",
        "category": "refund_delay",
        "demands": ["refund"],
        "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。",
    });
    let t = Some(owner.access_token.as_str());
    for field in ["title", "summary", "joint_statement", "provider_name"] {
        let body = with(
            base.clone(),
            field,
            json!("快付\u{0}钱包的退款问题很严重很严重很严重"),
        );
        refused(&app, "/groups", t, body, field).await;
    }
    let body = with(
        base.clone(),
        "demands",
        json!([{"kind": "other", "text": "赔\u{0}偿"}]),
    );
    refused(&app, "/groups", t, body, "demands[0].text").await;
    assert_eq!(app.count_rows("groups").await, groups_before);

    let join = format!("/groups/{slug}/participation");
    let m = Some(member.access_token.as_str());
    let body = with(
        TestApp::join_body("李四", 1),
        "statement",
        json!("我在三月申请退款\u{0}，至今没有到账。"),
    );
    refused(&app, &join, m, body, "statement").await;
    let mut body = TestApp::join_body("李\u{0}四", 1);
    refused(&app, &join, m, body.clone(), "signature.full_name").await;
    body = with(
        TestApp::join_body("李四", 1),
        "transaction_refs",
        json!(["T2026\u{0}"]),
    );
    refused(&app, &join, m, body, "transaction_refs").await;
    assert_eq!(app.count_rows("participations").await, 0);
    assert_eq!(app.count_rows("signatures").await, 0);

    let users_before = app.count_rows("users").await;
    refused(
        &app,
        "/auth/register",
        None,
        json!({"email": "nul@example.com", "password": "correct horse battery staple", "display_name": "N\u{0}"}),
        "display_name",
    )
    .await;
    assert_eq!(app.count_rows("users").await, users_before);
    refused(
        &app,
        "/auth/login",
        None,
        json!({"email": "member\u{0}@example.com", "password": "whatever"}),
        "email",
    )
    .await;
    let outbox_before = app.count_rows("outbox").await;
    let page = reset_request(&app, "member\u{0}@example.com", &[]).await;
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_rows("outbox").await, outbox_before);

    let res = app.post(&join, m, TestApp::join_body("李四", 1)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let log = format!("/groups/{slug}/participation/interactions");
    for field in ["agent", "ticket_ref", "summary"] {
        let body = json!({
            "occurred_at": "2026-03-05T02:30:00Z", "channel": "hotline", "outcome": "promised",
            field: "客服\u{0}说"
        });
        refused(&app, &log, m, body, field).await;
    }
    assert_eq!(app.count_rows("interactions").await, 0);

    let updates = format!("/groups/{slug}/updates");
    let body = json!({"kind": "organiser_note", "title": "进\u{0}展", "body": "正文"});
    refused(&app, &updates, t, body, "title").await;
    let body = json!({"kind": "organiser_note", "title": "进展", "body": "正\u{0}文"});
    refused(&app, &updates, t, body, "body").await;
    assert_eq!(app.count_rows("updates").await, 0);

    assert_eq!(
        app.get(&format!("/groups/{slug}%00x"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = app.get("/groups?q=%00", None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(res).await["errors"]["q"].is_array());
}

async fn text_without_visible_characters_is_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = group_and_member(&app).await;
    let join = format!("/groups/{slug}/participation");
    let m = Some(member.access_token.as_str());
    let zero_width = "\u{200B}".repeat(5);
    refused(
        &app,
        &join,
        m,
        TestApp::join_body(&zero_width, 1),
        "signature.full_name",
    )
    .await;
    let spaces = with(
        TestApp::join_body("李四", 1),
        "statement",
        json!(" ".repeat(30)),
    );
    refused(&app, &join, m, spaces, "statement").await;
    let bom = with(
        TestApp::join_body("李四", 1),
        "statement",
        json!("\u{FEFF}\u{3000}\u{2060}".repeat(5)),
    );
    refused(&app, &join, m, bom, "statement").await;
    assert_eq!(app.count_rows("participations").await, 0);
}

on_both_databases!(
    a_nul_character_in_any_text_field_is_refused_naming_it_and_nothing_is_written,
    text_without_visible_characters_is_refused,
);

#[tokio::test]
async fn an_email_address_without_a_dotted_domain_is_refused() {
    let app = TestApp::spawn().await;
    refused(
        &app,
        "/auth/register",
        None,
        json!({"email": "a@b", "password": "correct horse battery staple", "display_name": "A"}),
        "email",
    )
    .await;
    assert_eq!(app.count_rows("users").await, 0);
}

#[tokio::test]
async fn an_incident_window_from_before_2000_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "Owner").await;
    let body = json!({
        "provider": null,
        "provider_name": "快付钱包",
        "title": "退款迟迟未到账",
        "summary": "申请退款后超过三十天仍未收到款项，客服一直说在处理中。",
        "category": "refund_delay",
        "demands": ["refund"],
        "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。",
        "incident_from": "0000-01-01",
    });
    refused(
        &app,
        "/groups",
        Some(&owner.access_token),
        body,
        "incident_from",
    )
    .await;
    assert_eq!(app.count_rows("groups").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

fn assert_page_policies(res: &reqwest::Response) {
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no CSP on {}", res.url()));
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let permissions = res
        .headers()
        .get("permissions-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Permissions-Policy on {}", res.url()));
    for feature in ["camera=()", "microphone=()", "geolocation=()"] {
        assert!(permissions.contains(feature), "{feature}: {permissions}");
    }
}

#[tokio::test]
async fn pages_and_error_pages_carry_a_content_security_policy_and_a_permissions_policy() {
    let app = TestApp::spawn().await;
    let home = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("home");
    assert_eq!(home.status(), StatusCode::OK);
    assert_page_policies(&home);
    let html = home.text().await.expect("html");
    // The policy forbids inline script and style: the pages must not need them.
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );
    let missing = app
        .client
        .get(format!("{}/groups/no-such-group", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_page_policies(&missing);
}

async fn reset_request(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    // A browser that opened the form first, so the CSRF token is valid: what is refused here
    // is the origin alone.
    let browser = crate::helpers::visitor::Visitor::new(app);
    let csrf = browser.get("/forgot-password?lang=en").await.csrf();
    let mut req = app
        .client
        .post(format!("{}/reset-password/request?lang=en", app.address))
        .header("cookie", browser.cookie_header())
        .form(&[("email", email), ("csrf", csrf.as_str())]);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn a_cross_origin_password_reset_request_is_refused_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("forgot@example.com", "Forgetful").await;
    let outbox_before = app.count_rows("outbox").await;

    let foreign = reset_request(&app, &user.email, &[("Origin", "https://evil.example")]).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_page_policies(&foreign);
    let by_referer = reset_request(
        &app,
        &user.email,
        &[("Referer", "https://evil.example/phish.html")],
    )
    .await;
    assert_eq!(by_referer.status(), StatusCode::FORBIDDEN);
    let opaque = reset_request(&app, &user.email, &[("Origin", "null")]).await;
    assert_eq!(opaque.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("outbox").await, outbox_before);

    let own = app.address.clone();
    let same = reset_request(&app, &user.email, &[("Origin", own.as_str())]).await;
    assert_eq!(
        same.status(),
        StatusCode::SEE_OTHER,
        "accepted and sent to the login page"
    );
    assert_eq!(app.count_rows("outbox").await, outbox_before + 1);
    let referer = format!("{own}/reset-password");
    let stated_by_referer =
        reset_request(&app, &user.email, &[("Referer", referer.as_str())]).await;
    assert_eq!(
        stated_by_referer.status(),
        StatusCode::SEE_OTHER,
        "accepted and sent to the login page"
    );
    // Old clients state neither: still served.
    let neither = reset_request(&app, &user.email, &[]).await;
    assert_eq!(
        neither.status(),
        StatusCode::SEE_OTHER,
        "accepted and sent to the login page"
    );
    assert_eq!(app.count_rows("outbox").await, outbox_before + 3);
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upload_temporary_left_by_a_crash_is_removed_when_the_server_starts() {
    let mut paths = None;
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        let tmp = s.data_dir.join("blobs").join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        let stale = tmp.join("0b5e7c1c-crashed.part");
        let file = std::fs::File::create(&stale).expect("stale part");
        std::fs::write(&stale, b"half an upload").expect("write");
        file.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .expect("mtime");
        // One being written right now (another instance sharing the directory) stays.
        let live = tmp.join("live.part");
        std::fs::write(&live, b"in progress").expect("live part");
        paths = Some((stale, live));
    })
    .await;
    let (stale, live) = paths.expect("paths");
    assert!(!stale.exists(), "{} survived the start", stale.display());
    assert!(live.exists());
    drop(app);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_database_and_evidence_are_private_to_the_server() {
    let app = TestApp::spawn().await;
    let (_, member, slug) = group_and_member(&app).await;
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&member.access_token),
            TestApp::join_body("李四", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0private".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("kind", "screenshot")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png)
                .file_name("shot.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .bearer_auth(&member.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    let sha = json_body(res).await["sha256"]
        .as_str()
        .expect("sha")
        .to_owned();

    let data = app.data_dir.path();
    let blobs = data.join("blobs");
    assert_eq!(mode(data), 0o700);
    assert_eq!(mode(&blobs), 0o700);
    assert_eq!(mode(&blobs.join(&sha[..2])), 0o700);
    assert_eq!(
        mode(&blobs.join(&sha[..2]).join(&sha[2..4]).join(&sha)),
        0o600
    );
    assert_eq!(mode(&data.join("secrets")), 0o700);
    assert_eq!(mode(&data.join("test.db")), 0o600);
    for companion in ["test.db-wal", "test.db-shm"] {
        let path = data.join(companion);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{companion}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn trace_and_unsupported_methods_are_answered_405_with_allow() {
    let app = TestApp::spawn().await;
    let trace = Method::from_bytes(b"TRACE").expect("method");
    for url in [app.api("/groups"), format!("{}/", app.address)] {
        let res = app
            .client
            .request(trace.clone(), &url)
            .send()
            .await
            .expect("trace");
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{url}");
        let allow = res.headers()["allow"].to_str().expect("allow").to_owned();
        assert!(allow.contains("GET") && !allow.contains("TRACE"), "{allow}");
        assert_eq!(json_body(res).await["code"], "method_not_allowed");
    }
    let res = app.delete("/groups", None).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = res.headers()["allow"].to_str().expect("allow").to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(!allow.contains("DELETE"), "{allow}");
    // A path that does not exist is still 404.
    assert_eq!(
        app.get("/no-such-thing", None).await.status(),
        StatusCode::NOT_FOUND
    );
}
