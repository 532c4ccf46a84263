//! Builders for the organiser tests: joining, team members through the emailed invitation,
//! problem checks, mail lookups and logging in again after the clock moved.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::app::{TestApp, TestUser, json_body};
use super::smtp::ReceivedMail;

/// Asserts `res` has `status` and returns its JSON body (null when empty).
pub async fn expect_json(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts that `res` is a problem document with `status` and `code`; returns it.
pub async fn expect_problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "Content-Type is {content_type:?}: {text}"
    );
    let problem: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(problem["code"], code, "{problem}");
    problem
}

/// Asserts that `res` refuses the caller: 403 or 404, as a problem document.
pub async fn expect_refused(res: reqwest::Response, what: &str) {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{what}: expected 403 or 404, got {status}: {text}"
    );
    assert!(text.contains("\"code\""), "{what}: not a problem: {text}");
}

/// Joins `slug` with `body`; returns the participation.
pub async fn join(app: &TestApp, slug: &str, user: &TestUser, body: Value) -> Value {
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&user.access_token),
            body,
        )
        .await;
    expect_json(res, StatusCode::CREATED).await
}

/// A join body with this name, amount, currency and incident date.
pub fn join_with(full_name: &str, amount_minor: i64, currency: &str, version: i64) -> Value {
    let mut body = TestApp::join_body(full_name, version);
    body["amount_disputed"] = json!({"amount_minor": amount_minor, "currency": currency});
    body
}

/// Waits for a message to `to` whose subject contains `subject`.
pub async fn mail_to(app: &TestApp, to: &str, subject: &str) -> ReceivedMail {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = app.mail.messages().into_iter().find(|m| {
            m.envelope_to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject.contains(subject)
        });
        if let Some(m) = found {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {to} about {subject:?}; got {:?}",
            app.mail
                .messages()
                .iter()
                .map(|m| (m.envelope_to.clone(), m.subject.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Messages to `to` whose subject contains `subject`, now.
pub fn mails_to(app: &TestApp, to: &str, subject: &str) -> usize {
    app.mail
        .messages()
        .iter()
        .filter(|m| {
            m.envelope_to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject.contains(subject)
        })
        .count()
}

/// Logs in again (access tokens expire when the test clock jumps ahead).
pub async fn relogin(app: &TestApp, user: &mut TestUser) {
    let (access, refresh) = app.login(&user.email, &user.password).await;
    user.access_token = access;
    user.refresh_token = refresh;
}

/// Invites `email` to `role` as `by`, reads the link from the email and accepts it as
/// `invitee`; returns the invitation.
pub async fn add_to_team(
    app: &TestApp,
    slug: &str,
    by: &TestUser,
    invitee: &TestUser,
    role: &str,
) -> Value {
    let before = mails_to(app, &invitee.email, "邀请");
    let res = app
        .post(
            &format!("/groups/{slug}/organisers"),
            Some(&by.access_token),
            json!({"email": invitee.email, "role": role}),
        )
        .await;
    let invite = expect_json(res, StatusCode::CREATED).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while mails_to(app, &invitee.email, "邀请") == before {
        assert!(Instant::now() < deadline, "no invitation mail");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mail = app
        .mail
        .messages()
        .into_iter()
        .rev()
        .find(|m| {
            m.envelope_to
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&invitee.email))
                && m.subject.contains("邀请")
        })
        .expect("invitation");
    let token = mail.find_link_token("token").expect("token in the link");
    let res = app
        .post(
            "/invites/accept",
            Some(&invitee.access_token),
            json!({"token": token}),
        )
        .await;
    let accepted = expect_json(res, StatusCode::OK).await;
    assert_eq!(accepted["group"], slug);
    invite
}

/// The user id of `user`, from `/me`.
pub async fn user_id(app: &TestApp, user: &TestUser) -> i64 {
    let me = json_body(app.get("/me", Some(&user.access_token)).await).await;
    me["id"].as_i64().expect("id")
}

/// Makes `user` a site administrator.
pub async fn make_admin(app: &TestApp, user: &TestUser) {
    use sea_orm::ConnectionTrait;
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE users SET is_admin = TRUE WHERE email = $1",
                _ => "UPDATE users SET is_admin = TRUE WHERE email = ?",
            },
            [user.email.clone().into()],
        ))
        .await
        .expect("make admin");
}
