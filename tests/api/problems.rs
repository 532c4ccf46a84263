//! Problem documents pinned as snapshots: one representative answer of each kind a client must
//! handle (400, 401, 403, 404, 409, 413, 415, 422, 429), with its status, media type and the
//! headers a client acts on.
//!
//! The snapshots are the files `tests/api/snapshots/api__problems__*.snap`. When an answer
//! changes on purpose, record it again and review the diff before committing:
//!
//! ```text
//! INSTA_UPDATE=always cargo test --test api problems
//! ```
//!
//! (or `cargo insta test --review` where cargo-insta is installed; CI does not need it). CI runs
//! with `CI=true`, under which insta writes nothing: a mismatch fails the test.
//!
//! Every request says `Accept-Language: en`, so `title` and `detail` stay the same once they are
//! localised; `code` is the stable member clients branch on.

use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp};

/// A request to an API path in English, with a bearer token when given.
fn request(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
    let req = app
        .client
        .request(method, app.api(path))
        .header(ACCEPT_LANGUAGE, "en");
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// Sends `req` and returns what a client sees of the refusal: status, media type, the
/// `WWW-Authenticate` and `Retry-After` headers when present, and the body. How long to wait
/// depends on timing, so it is checked here and replaced by `[seconds]`, in the header and in
/// the detail.
async fn refusal(req: RequestBuilder) -> Value {
    let res = req.send().await.expect("request failed");
    let header = |name| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header").to_owned())
    };
    let status = res.status().as_u16();
    let content_type = header(CONTENT_TYPE);
    let www_authenticate = header(WWW_AUTHENTICATE);
    let retry_after = header(RETRY_AFTER);
    let text = res.text().await.expect("body");
    let mut body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    let mut out = json!({"status": status, "content-type": content_type});
    if let Some(w) = www_authenticate {
        out["www-authenticate"] = json!(w);
    }
    if let Some(seconds) = retry_after {
        let n: u64 = seconds.parse().expect("Retry-After in seconds");
        assert!(n >= 1, "Retry-After: {n}");
        if let Some(detail) = body["detail"].as_str() {
            body["detail"] = json!(detail.replace(&seconds, "[seconds]"));
        }
        out["retry-after"] = json!("[seconds]");
    }
    out["body"] = body;
    out
}

fn register_body() -> Value {
    json!({
        "email": "chen.jing@example.com",
        "password": "correct horse battery staple",
        "display_name": "陈静",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_the_server_cannot_take_are_answered_with_these_problems() {
    // Arrange
    let app = TestApp::spawn().await;
    let register = || request(&app, Method::POST, "/auth/register", None);
    let mut missing_email = register_body();
    missing_email
        .as_object_mut()
        .expect("object")
        .remove("email");
    let mut unknown_field = register_body();
    unknown_field["nickname"] = json!("小陈");
    let mut too_big = register_body();
    too_big["display_name"] = json!("x".repeat(70 * 1024));

    // Act
    let malformed = refusal(
        register()
            .header(CONTENT_TYPE, "application/json")
            .body("{\"email\": "),
    )
    .await;
    let missing = refusal(register().json(&missing_email)).await;
    let unknown = refusal(register().json(&unknown_field)).await;
    let too_large = refusal(register().json(&too_big)).await;
    let not_json = refusal(
        register()
            .header(CONTENT_TYPE, "text/plain")
            .body(register_body().to_string()),
    )
    .await;

    // Assert
    insta::assert_json_snapshot!("400_malformed_json", malformed);
    insta::assert_json_snapshot!("422_missing_field", missing);
    insta::assert_json_snapshot!("422_unknown_field", unknown);
    insta::assert_json_snapshot!("413_payload_too_large", too_large);
    insta::assert_json_snapshot!("415_unsupported_media_type", not_json);
    assert_eq!(app.count_rows("users").await, 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_who_may_not_do_something_are_answered_with_these_problems() {
    // Arrange: an owner's group, joined once by a stranger to it.
    let app = TestApp::spawn().await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let joiner = app.verified_user("li.lei@example.com", "李雷").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let join_path = format!("/groups/{slug}/participation");
    let join = |body: Value| {
        request(&app, Method::POST, &join_path, Some(&joiner.access_token)).json(&body)
    };
    let res = join(TestApp::join_body("李雷", 1))
        .send()
        .await
        .expect("join");
    assert_eq!(res.status(), 201, "the first join is accepted");
    let mut bad_join = TestApp::join_body("李雷", 1);
    bad_join["statement"] = json!("太短了");
    bad_join["signature"]["agree"] = json!(false);
    bad_join["transaction_refs"] = json!(["  "]);
    let edit = request(
        &app,
        Method::PATCH,
        &format!("/groups/{slug}"),
        Some(&joiner.access_token),
    )
    .json(&json!({"title": "被参与者改掉的标题"}));

    // Act
    let no_token = refusal(request(&app, Method::GET, "/me", None)).await;
    let not_an_organiser = refusal(edit).await;
    let not_found = refusal(request(&app, Method::GET, "/groups/no-such-group", None)).await;
    let joined_again = refusal(join(TestApp::join_body("李雷", 1))).await;
    let field_errors = refusal(join(bad_join)).await;

    // Assert
    insta::assert_json_snapshot!("401_missing_token", no_token);
    insta::assert_json_snapshot!("403_not_an_organiser", not_an_organiser);
    insta::assert_json_snapshot!("404_not_found", not_found);
    insta::assert_json_snapshot!("409_already_joined", joined_again);
    insta::assert_json_snapshot!("422_field_errors", field_errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_the_rate_limit_is_answered_with_this_problem() {
    // Arrange: two login attempts a minute, both spent.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.login_per_minute = 2).await;
    let login = || {
        request(&app, Method::POST, "/auth/login", None)
            .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
    };
    for _ in 0..2 {
        let res = login().send().await.expect("login");
        assert_eq!(res.status(), 401, "within the limit");
    }

    // Act
    let limited = refusal(login()).await;

    // Assert
    insta::assert_json_snapshot!("429_rate_limited", limited);
}
