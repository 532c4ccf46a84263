//! Ending a session ends its access tokens at once (logout, refresh-token reuse, password
//! reset, account deletion), and login limits stop guessing without locking the owner out.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lianming::auth::tokens::derive_key;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::on_both_databases;

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/me", Some(token)).await.status()
}

/// Asserts `token` is refused with the problem code of an ended session.
async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let res = app.get("/me", Some(token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(json_body(res).await["code"], "invalid_token", "{what}");
}

async fn after_logout_the_old_access_token_is_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("logout-at@example.com", "登出者").await;
    let (other_access, _) = app.login(&user.email, &user.password).await;
    assert_eq!(me_status(&app, &user.access_token).await, StatusCode::OK);

    let res = app
        .post(
            "/auth/logout",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_refused(&app, &user.access_token, "the logged-out session's token").await;
    assert_eq!(
        me_status(&app, &other_access).await,
        StatusCode::OK,
        "another session of the same user keeps working"
    );
}

async fn a_reused_refresh_token_ends_its_family_s_access_tokens_but_not_other_sessions(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("reuse-at@example.com", "被盗者").await;
    let (other_access, _) = app.login(&user.email, &user.password).await;

    let rotated = json_body(
        app.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await,
    )
    .await;
    let rotated_access = rotated["access_token"].as_str().expect("access token");
    assert_eq!(me_status(&app, rotated_access).await, StatusCode::OK);

    let reuse = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(json_body(reuse).await["code"], "refresh_token_reused");
    assert_refused(&app, &user.access_token, "the family's first access token").await;
    assert_refused(&app, rotated_access, "the family's rotated access token").await;
    assert_eq!(
        me_status(&app, &other_access).await,
        StatusCode::OK,
        "another session of the same user keeps working"
    );
}

async fn after_a_password_reset_all_old_access_tokens_are_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("reset-at@example.com", "重设者").await;
    let (second_access, _) = app.login(&user.email, &user.password).await;
    let stranger = app.verified_user("bystander@example.com", "旁人").await;

    let res = app
        .post("/auth/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = app
        .mail
        .wait_for_mail_to(&user.email, Duration::from_secs(10))
        .await;
    assert!(mail.subject.contains("重设"), "{}", mail.subject);
    let token = mail.find_link_token("token").expect("token in link");
    let res = app
        .post(
            "/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "a brand new secret"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_refused(&app, &user.access_token, "the first session's token").await;
    assert_refused(&app, &second_access, "the second session's token").await;
    assert_eq!(
        me_status(&app, &stranger.access_token).await,
        StatusCode::OK,
        "other users' sessions are untouched"
    );
    let (fresh, _) = app.login(&user.email, "a brand new secret").await;
    assert_eq!(me_status(&app, &fresh).await, StatusCode::OK);
}

async fn after_account_deletion_its_access_tokens_are_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("gone-at@example.com", "离开者").await;
    let (second_access, _) = app.login(&user.email, &user.password).await;
    let res = app
        .send(
            reqwest::Method::DELETE,
            "/me",
            Some(&user.access_token),
            Some(json!({"password": user.password})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_refused(&app, &user.access_token, "the deleting session's token").await;
    assert_refused(&app, &second_access, "another session's token").await;
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

async fn a_token_naming_another_user_s_session_is_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("mine-at@example.com", "本人").await;
    let stranger = app.verified_user("theirs-at@example.com", "陌生人").await;
    // Signed with the server's own key, so only the session pairing is wrong: the user's id
    // with the stranger's open session.
    let secret = std::fs::read_to_string(app.data_dir.path().join("secrets/jwt.key"))
        .expect("generated secret");
    let key = derive_key(
        &STANDARD.decode(secret.trim()).expect("base64"),
        "access-token",
    );
    let mut claims = claims_of(&user.access_token);
    claims["sid"] = claims_of(&stranger.access_token)["sid"].clone();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let crossed =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key)).expect("sign");
    assert_refused(&app, &crossed, "the user's id with a stranger's session").await;

    // Ending the stranger's session leaves the user's alone.
    app.post(
        "/auth/logout",
        None,
        json!({"refresh_token": stranger.refresh_token}),
    )
    .await;
    assert_refused(&app, &stranger.access_token, "the stranger's ended session").await;
    assert_eq!(me_status(&app, &user.access_token).await, StatusCode::OK);
}

on_both_databases!(
    after_logout_the_old_access_token_is_refused,
    a_reused_refresh_token_ends_its_family_s_access_tokens_but_not_other_sessions,
    after_a_password_reset_all_old_access_tokens_are_refused,
    after_account_deletion_its_access_tokens_are_refused,
    a_token_naming_another_user_s_session_is_refused
);

/// Tries to log in as if from `address` (the server trusts `X-Forwarded-For` in these tests).
async fn login_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.api("/auth/login"))
        .header("X-Forwarded-For", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request failed")
}

async fn lockout_app(tweak: impl FnOnce(&mut lianming::Settings)) -> (TestApp, TestUser) {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.trust_forwarded_for = true;
        tweak(s);
    })
    .await;
    let user = app
        .verified_user("owner-login@example.com", "账户主人")
        .await;
    (app, user)
}

#[tokio::test]
async fn ten_wrong_passwords_from_one_address_limit_that_address_but_not_the_owner_elsewhere() {
    let (app, user) = lockout_app(|s| s.login_per_minute = 10).await;
    let attacker = "203.0.113.9";
    for i in 0..10 {
        let res = login_from(&app, attacker, &user.email, "wrong guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let limited = login_from(&app, attacker, &user.email, "wrong guess").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(
        login_from(&app, attacker, &user.email, &user.password)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address stays limited even with the right password"
    );

    let owner = login_from(&app, "198.51.100.7", &user.email, &user.password).await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the owner elsewhere logs in"
    );
    let access = json_body(owner).await["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
}

#[tokio::test]
async fn a_hundred_failures_from_many_addresses_make_the_next_one_429_while_the_owner_logs_in() {
    let (app, user) = lockout_app(|_| {}).await;
    assert_eq!(app.state.ctx.settings.login_failures_per_hour, 100);
    // 25 addresses × 4 guesses, each address far below its own limit.
    for i in 0..100 {
        let address = format!("10.0.{}.1", i / 4);
        let res = login_from(&app, &address, &user.email, "wrong guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "failure {}", i + 1);
    }
    let hundred_first = login_from(&app, "10.1.0.1", &user.email, "wrong guess").await;
    assert_eq!(
        hundred_first.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the 101st failure within the hour"
    );
    assert!(hundred_first.headers().get("retry-after").is_some());
    assert_eq!(
        login_from(&app, "10.0.3.1", &user.email, &user.password)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "an address that failed on the account is refused before its password is checked"
    );
    assert_eq!(
        login_from(&app, "192.0.2.50", &user.email, &user.password)
            .await
            .status(),
        StatusCode::OK,
        "the owner from an address without failures logs in"
    );
    // Other accounts are not affected by this one's failures.
    assert_eq!(
        login_from(&app, "10.0.3.1", "someone-else@example.com", "wrong guess")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The bound is per hour, on the server clock.
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        login_from(&app, "10.2.0.1", &user.email, "wrong guess")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_successful_login_does_not_count_as_a_failure() {
    let (app, user) = lockout_app(|s| s.login_failures_per_hour = 3).await;
    for i in 0..5 {
        let res = login_from(&app, &format!("10.3.0.{i}"), &user.email, &user.password).await;
        assert_eq!(res.status(), StatusCode::OK, "login {i}");
    }
    for i in 0..3 {
        let res = login_from(&app, "10.4.0.1", &user.email, "wrong guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "failure {}", i + 1);
    }
    assert_eq!(
        login_from(&app, "10.4.0.2", &user.email, "wrong guess")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "only the three failures counted towards the bound of three"
    );
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_limited_over_all_of_them() {
    // Ten times `login_per_minute` per address over all accounts: 20 here.
    let (app, user) = lockout_app(|s| s.login_per_minute = 2).await;
    let sprayer = "203.0.113.77";
    for i in 0..20 {
        let res = login_from(&app, sprayer, &format!("victim{i}@example.com"), "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
    }
    assert_eq!(
        login_from(&app, sprayer, "victim99@example.com", "guess")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "198.51.100.8", &user.email, &user.password)
            .await
            .status(),
        StatusCode::OK,
        "other addresses are not affected"
    );
}
