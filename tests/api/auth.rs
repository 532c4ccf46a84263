//! Accounts and sessions: refresh rotation and reuse detection, rejected access tokens,
//! password reset, no user enumeration, rate limits, the user's own data.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lianming::auth::tokens::{AUDIENCE, derive_key};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, ClockExt, TestApp, json_body};
use crate::on_both_databases;

async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.registered_user("rotate@example.com", "轮换").await;

    let first = json_body(
        app.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await,
    )
    .await;
    let second_refresh = first["refresh_token"]
        .as_str()
        .expect("new refresh token")
        .to_owned();
    assert_ne!(second_refresh, user.refresh_token, "refresh tokens rotate");
    assert_eq!(first["token_type"], "Bearer");
    let me = app.get("/me", first["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);

    // The spent token comes back (stolen copy): refused, and the whole family is revoked.
    let reuse = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(reuse).await["code"], "refresh_token_reused");
    let after = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": second_refresh}),
        )
        .await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the legitimate newer token is revoked too"
    );

    // A new login opens a new, working family.
    let (_, refresh) = app.login(&user.email, &user.password).await;
    let ok = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

async fn logout_ends_the_session(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.registered_user("logout@example.com", "登出").await;
    let res = app
        .post(
            "/auth/logout",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

on_both_databases!(
    refresh_tokens_rotate_and_a_reused_one_ends_the_session,
    logout_ends_the_session
);

fn server_secret(app: &TestApp) -> Vec<u8> {
    let text = std::fs::read_to_string(app.data_dir.path().join("secrets/jwt.key"))
        .expect("generated secret");
    STANDARD.decode(text.trim()).expect("base64")
}

fn forge(app: &TestApp, typ: Option<&str>, claims: Value, key: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    let _ = app;
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key)).expect("sign")
}

#[tokio::test]
async fn bad_access_tokens_are_rejected_with_401() {
    let app = TestApp::spawn().await;
    let user = app.registered_user("tokens@example.com", "令牌").await;
    let me = json_body(app.get("/me", Some(&user.access_token)).await).await;
    let sub = me["id"].as_i64().expect("id").to_string();
    let key = derive_key(&server_secret(&app), "access-token");
    let now = app.clock.now_ts();
    // The session id of the user's real token: a forged token needs an open session too.
    let sid = {
        let payload = user.access_token.split('.').nth(1).expect("payload");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        claims["sid"].clone()
    };
    assert!(sid.is_string(), "access tokens name their session");
    let good = json!({"iss": app.address, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600, "jti": "x", "sid": sid});

    // Sanity: a token forged exactly like the server's own is accepted, so the rejections below
    // are caused by the one thing each changes.
    let valid = forge(&app, Some("at+jwt"), good.clone(), &key);
    assert_eq!(app.get("/me", Some(&valid)).await.status(), StatusCode::OK);

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("some-other-api");
    let mut expired = good.clone();
    expired["exp"] = json!(now - 1);
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let mut no_session = good.clone();
    no_session.as_object_mut().expect("object").remove("sid");
    let mut unknown_session = good.clone();
    unknown_session["sid"] = json!(uuid::Uuid::new_v4().to_string());
    let tampered = {
        let mut parts: Vec<String> = user.access_token.split('.').map(str::to_owned).collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
        claims["sub"] = json!("999999");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let cases = [
        ("expired", forge(&app, Some("at+jwt"), expired, &key)),
        ("tampered", tampered),
        ("alg none", alg_none),
        (
            "wrong audience",
            forge(&app, Some("at+jwt"), wrong_aud, &key),
        ),
        ("wrong issuer", forge(&app, Some("at+jwt"), wrong_iss, &key)),
        (
            "no session id",
            forge(&app, Some("at+jwt"), no_session, &key),
        ),
        (
            "unknown session id",
            forge(&app, Some("at+jwt"), unknown_session, &key),
        ),
        ("wrong type", forge(&app, Some("JWT"), good.clone(), &key)),
        ("no type", forge(&app, None, good.clone(), &key)),
        (
            "wrong key",
            forge(
                &app,
                Some("at+jwt"),
                good.clone(),
                b"not-the-server-key-not-the-server-key",
            ),
        ),
        (
            "raw server secret",
            forge(&app, Some("at+jwt"), good.clone(), &server_secret(&app)),
        ),
        ("garbage", "abc.def.ghi".to_owned()),
    ];
    for (name, token) in cases {
        let res = app.get("/me", Some(&token)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{name} token must be refused"
        );
        assert_eq!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{name}"
        );
    }
    assert_eq!(
        app.get("/me", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Expiry follows the server clock.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        app.get("/me", Some(&user.access_token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn answers_do_not_reveal_whether_an_address_has_an_account() {
    let app = TestApp::spawn().await;
    let user = app.registered_user("known@example.com", "已注册").await;

    // Registering a taken address answers exactly like a new one; the owner gets a notice.
    let taken = app
        .post("/auth/register", None, json!({"email": "Known@Example.com", "password": "another password", "display_name": "冒充"}))
        .await;
    let fresh = app
        .post("/auth/register", None, json!({"email": "new@example.com", "password": "another password", "display_name": "新人"}))
        .await;
    assert_eq!(taken.status(), fresh.status());
    assert_eq!(
        taken.text().await.expect("body"),
        fresh.text().await.expect("body")
    );
    let notice = app.mail.wait_for_count(3, Duration::from_secs(10)).await;
    assert!(
        notice
            .iter()
            .any(|m| m.envelope_to.contains(&user.email) && m.subject.contains("尝试"))
    );
    assert_eq!(
        app.count_rows("users").await,
        2,
        "no second account for a known address"
    );

    // Login: unknown address and wrong password give the same answer.
    let unknown = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "whatever1"}),
        )
        .await;
    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"email": user.email, "password": "whatever1"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.text().await.expect("body"),
        wrong.text().await.expect("body")
    );

    // Reset: same answer for known and unknown; only the known one gets mail.
    let before = app.mail.messages().len();
    let a = app
        .post(
            "/auth/password-reset",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    let b = app
        .post("/auth/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(a.status(), StatusCode::ACCEPTED);
    assert_eq!(a.status(), b.status());
    assert_eq!(a.text().await.expect("body"), b.text().await.expect("body"));
    let all = app
        .mail
        .wait_for_count(before + 1, Duration::from_secs(10))
        .await;
    app.outbox_sent().await;
    assert_eq!(app.mail.messages().len(), before + 1);
    assert!(
        all.iter()
            .all(|m| !m.envelope_to.contains(&"nobody@example.com".to_owned()))
    );
}

#[tokio::test]
async fn a_password_reset_sets_the_new_password_and_ends_old_sessions() {
    let app = TestApp::spawn().await;
    let user = app.registered_user("reset@example.com", "重设").await;
    let res = app
        .post(
            "/auth/password-reset",
            None,
            json!({"email": "RESET@example.com "}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = app
        .mail
        .wait_for_count(2, Duration::from_secs(10))
        .await
        .pop()
        .expect("reset mail");
    assert!(mail.subject.contains("重设"));
    let token = mail.find_link_token("token").expect("token in link");

    let res = app
        .post(
            "/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "a brand new secret"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Single use.
    let again = app
        .post(
            "/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "yet another one"}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(again).await["errors"]["token"].is_array());

    assert_eq!(
        app.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token})
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let old = app
        .post(
            "/auth/login",
            None,
            json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    app.login(&user.email, "a brand new secret").await;
}

#[tokio::test]
async fn an_expired_verification_link_is_refused() {
    let app = TestApp::spawn().await;
    let token = app
        .register("late@example.com", "迟到", "long enough pw")
        .await;
    app.clock.advance(chrono::Duration::hours(49));
    let res = app
        .post("/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(res).await["errors"]["token"].is_array());
}

#[tokio::test]
async fn variants_of_one_gmail_address_are_one_account() {
    let app = TestApp::spawn().await;
    let user = app.registered_user("li.ming@gmail.com", "李明").await;
    let res = app
        .post("/auth/register", None, json!({"email": "LiMing+wallet@googlemail.com", "password": "long enough pw", "display_name": "李明2"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.count_rows("users").await, 1);
    app.login("l.i.m.i.n.g+x@gmail.com", &user.password).await;
}

#[tokio::test]
async fn login_is_rate_limited_per_client_and_per_account() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.login_per_minute = 3).await;
    let body = json!({"email": "nobody@example.com", "password": "whatever1"});
    for _ in 0..3 {
        assert_eq!(
            app.post("/auth/login", None, body.clone()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.post("/auth/login", None, body).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(json_body(limited).await["code"], "rate_limited");
}

#[tokio::test]
async fn registration_is_rate_limited_per_client() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.register_per_hour = 2).await;
    for i in 0..2 {
        let res = app
            .post("/auth/register", None, json!({"email": format!("r{i}@example.com"), "password": "long enough pw", "display_name": "甲"}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app
        .post(
            "/auth/register",
            None,
            json!({"email": "r9@example.com", "password": "long enough pw", "display_name": "甲"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_rows("users").await, 2);
}

#[tokio::test]
async fn a_user_can_export_and_delete_their_data() {
    let app = TestApp::spawn().await;
    let owner = app.registered_user("owner@example.com", "发起人").await;
    let user = app.registered_user("leaver@example.com", "离开者").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug");
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&user.access_token),
            TestApp::join_body("离开者全名", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let export = app.get("/me/export", Some(&user.access_token)).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.headers().get("content-disposition").is_some());
    let export = json_body(export).await;
    assert_eq!(export["account"]["email"], user.email.as_str());
    assert_eq!(
        export["participations"][0]["signatures"][0]["full_name"],
        "离开者全名"
    );
    assert!(export["emails"].as_array().is_some_and(|e| !e.is_empty()));

    // Deleting needs the password.
    let wrong = app
        .send(
            reqwest::Method::DELETE,
            "/me",
            Some(&user.access_token),
            Some(json!({"password": "nope"})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .send(
            reqwest::Method::DELETE,
            "/me",
            Some(&user.access_token),
            Some(json!({"password": user.password})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/me", Some(&user.access_token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.count_rows("participations").await, 0);
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 0);

    // An owner whose group others joined must hand it over first.
    let joiner = app.registered_user("stays@example.com", "留下者").await;
    app.post(
        &format!("/groups/{slug}/participation"),
        Some(&joiner.access_token),
        TestApp::join_body("留下者", 1),
    )
    .await;
    let res = app
        .send(
            reqwest::Method::DELETE,
            "/me",
            Some(&owner.access_token),
            Some(json!({"password": owner.password})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}
