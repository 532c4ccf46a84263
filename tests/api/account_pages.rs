//! The account pages over HTTP, as a browser uses them: cookies kept and sent back, forms
//! posted with the CSRF token of the page they came from, redirects asserted.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::app::{Backend, TestApp};
use crate::helpers::visitor::{Visitor, hidden};
use crate::on_both_databases;

const PASSWORD: &str = "correct horse battery staple";

fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path))
        .expect("link in the email")
        .to_owned()
}

async fn a_newcomer_registers_verifies_through_the_email_and_lands_where_they_were_going(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let v = Visitor::new(&app);

    // The header of every page offers 登录 / 注册, carrying the page as `next`.
    let group_page = v.get("/groups/some-group").await;
    assert!(
        group_page
            .html
            .contains("href=\"/register?next=%2Fgroups%2Fsome-group\""),
        "{}",
        group_page.html
    );
    assert!(group_page.html.contains("登录") && group_page.html.contains("注册"));

    let registered = v
        .submit(
            "/register?next=/groups/some-group/join",
            "/register",
            &[
                ("email", "newcomer@example.com"),
                ("display_name", "新人"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.html
    );
    assert_eq!(registered.location.as_deref(), Some("/verify-email"));
    let told = v.get("/verify-email").await;
    assert!(
        told.html.contains("注册成功"),
        "the flash message: {}",
        told.html
    );
    assert!(
        !v.get("/verify-email").await.html.contains("注册成功"),
        "a flash message is shown once"
    );
    assert_eq!(app.count_rows("users").await, 1);

    let mail = app
        .mail
        .wait_for_mail_to("newcomer@example.com", Duration::from_secs(10))
        .await;
    let link = link_in(&mail.text, "/verify-email?token=");
    assert!(
        link.ends_with("&next=%2Fgroups%2Fsome-group%2Fjoin"),
        "the link carries next: {link}"
    );
    // The link is opened, say, in the mail app's browser: no cookies yet.
    let phone = Visitor::new(&app);
    let verified = phone.submit(&link, "/verify-email", &[]).await;
    assert_eq!(verified.status, StatusCode::SEE_OTHER, "{}", verified.html);
    assert_eq!(
        verified.location.as_deref(),
        Some("/groups/some-group/join")
    );
    assert!(verified.set_cookie("lm_session").is_some(), "signed in");

    let home = phone.get("/").await;
    assert!(
        home.html.contains("新人") && home.html.contains("action=\"/logout\""),
        "the header shows the user and a log-out button: {}",
        home.html
    );
    assert!(home.html.contains("邮箱已验证"), "{}", home.html);
    let (access, _) = app.login("newcomer@example.com", PASSWORD).await;
    let me = crate::helpers::app::json_body(app.get("/me", Some(&access)).await).await;
    assert_eq!(me["email_verified"], true);
}

async fn logging_out_ends_the_session_on_the_server_so_the_old_cookie_no_longer_works(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let user = app.verified_user("member@example.com", "老用户").await;
    let v = Visitor::new(&app);
    let login = v
        .submit(
            "/login?next=/groups/x",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.html);
    assert_eq!(login.location.as_deref(), Some("/groups/x"));
    let old = v.cookie("lm_session").expect("session cookie");
    let home = v.get("/").await;
    assert!(home.html.contains("老用户"), "signed in: {}", home.html);

    let out = v.post("/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.html);
    assert!(
        out.set_cookie("lm_session")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is removed: {:?}",
        out.set_cookies
    );
    assert!(v.get("/").await.html.contains("您已退出登录"));

    // A copy of the old cookie (another tab, a stolen cookie) no longer signs anyone in.
    let copy = Visitor::new(&app);
    copy.set_cookie("lm_session", &old);
    let page = copy.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.html.contains("老用户") && page.html.contains("href=\"/login"),
        "signed out: {}",
        page.html
    );
    assert!(
        page.set_cookie("lm_session")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
    // The session is revoked in the database, not only forgotten by the browser.
    let revoked = app.count_rows("refresh_tokens").await;
    assert!(revoked >= 2);
    let backend = app.db.get_database_backend();
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &app.db,
        sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE revoked_at IS NULL",
        ),
    )
    .await
    .expect("query")
    .expect("row");
    assert_eq!(
        row.try_get::<i64>("", "n").expect("n"),
        1,
        "only the API session of verified_user is left"
    );
}

on_both_databases!(
    a_newcomer_registers_verifies_through_the_email_and_lands_where_they_were_going,
    logging_out_ends_the_session_on_the_server_so_the_old_cookie_no_longer_works,
);

#[tokio::test]
async fn a_wrong_password_re_renders_the_login_form_with_the_message_by_the_field() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("member@example.com", "用户").await;
    let v = Visitor::new(&app);
    let page = v.get("/login").await;
    assert!(
        page.html.contains("href=\"/forgot-password\""),
        "linked from login"
    );
    let wrong = v
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.set_cookie("lm_session").is_none());
    assert!(
        wrong.html.contains("class=\"error-summary\""),
        "{}",
        wrong.html
    );
    assert!(
        wrong.html.contains("href=\"#password\""),
        "summary links the field"
    );
    assert!(wrong.html.contains("id=\"password-error\""));
    assert!(wrong.html.contains("邮箱或密码不正确"));
    assert!(
        wrong.html.contains("value=\"member@example.com\""),
        "the email is kept"
    );
    assert!(
        !wrong.html.contains("not the password"),
        "never the password"
    );

    let empty = v.submit("/login?lang=en", "/login", &[]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.html.contains("Enter your email address"),
        "{}",
        empty.html
    );
}

#[tokio::test]
async fn a_registration_with_mistakes_keeps_the_values_and_names_each_field() {
    let app = TestApp::spawn().await;
    let v = Visitor::new(&app);
    let res = v
        .submit(
            "/register",
            "/register",
            &[
                ("email", "not-an-address"),
                ("display_name", "小明"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in ["email-error", "password-error"] {
        assert!(res.html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(!res.html.contains("id=\"display_name-error\""));
    assert!(res.html.contains("value=\"小明\"") && res.html.contains("value=\"not-an-address\""));
    assert_eq!(app.count_rows("users").await, 0);
}

#[tokio::test]
async fn forms_posted_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("member@example.com", "用户").await;
    let users = app.count_rows("users").await;
    let v = Visitor::new(&app);
    let form = v.get("/register").await;
    let fields = [
        ("email", "forged@example.com"),
        ("display_name", "伪造"),
        ("password", PASSWORD),
    ];

    // No token, a wrong token, and a real token made for another browser's cookie.
    let none = v.post("/register", &fields).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(
        none.html.contains("表单已过期"),
        "the 403 page says why: {}",
        none.html
    );
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(
        v.post("/register", &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    let other = Visitor::new(&app);
    let theirs = other.get("/register").await.csrf();
    let mut foreign = fields.to_vec();
    foreign.push(("csrf", &theirs));
    assert_eq!(
        v.post("/register", &foreign).await.status,
        StatusCode::FORBIDDEN
    );
    // The same form with this browser's own token goes through.
    let mut good = fields.to_vec();
    let mine = form.csrf();
    good.push(("csrf", &mine));
    assert_eq!(
        v.post("/register", &good).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.count_rows("users").await, users + 1);

    // A signed-in browser: log-out and log-in forms without the token do nothing.
    let signed_in = Visitor::new(&app);
    signed_in
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    let sessions = app.count_rows("refresh_tokens").await;
    let mail_tokens = app.count_rows("email_tokens").await;
    let before_login = signed_in.get("/").await.csrf();
    assert_eq!(
        signed_in.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // A token of the signed-out state does not pass for the session either.
    let fresh = Visitor::new(&app);
    let anon = fresh.get("/login").await.csrf();
    assert_ne!(anon, before_login);
    assert_eq!(
        signed_in.post("/logout", &[("csrf", &anon)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        signed_in.get("/").await.html.contains("action=\"/logout\""),
        "still signed in"
    );
    assert_eq!(
        fresh
            .post(
                "/login",
                &[("email", &user.email), ("password", &user.password)]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.count_rows("refresh_tokens").await, sessions);
    let reset = fresh
        .post("/forgot-password", &[("email", &user.email)])
        .await;
    assert_eq!(reset.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("email_tokens").await, mail_tokens);
}

#[tokio::test]
async fn session_cookies_are_http_only_lax_and_site_wide_and_secure_behind_https() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("member@example.com", "用户").await;
    let v = Visitor::new(&app);
    let first = v.get("/login").await;
    let seed = first.set_cookie("lm_csrf").expect("a CSRF cookie");
    let login = v
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    let session = login.set_cookie("lm_session").expect("session cookie");
    for c in [seed, session] {
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Lax"), "{c}");
        assert!(c.contains("Path=/"), "{c}");
        assert!(!c.contains("Secure"), "plain http: {c}");
    }

    let https = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.public_url = Some("https://lianming.example".into());
    })
    .await;
    let user = https.verified_user("member@example.com", "用户").await;
    let v = Visitor::new(&https);
    let login = v
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let session = login.set_cookie("lm_session").expect("session cookie");
    assert!(
        session.contains("Secure")
            && session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    assert!(
        login
            .set_cookie("lm_flash")
            .expect("flash")
            .contains("Secure")
    );
}

#[tokio::test]
async fn next_values_that_leave_the_site_are_ignored() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("member@example.com", "用户").await;
    for bad in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "evil.example",
    ] {
        let v = Visitor::new(&app);
        let q: String = url::form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let form = v.get(&format!("/register?next={q}")).await;
        assert_eq!(hidden(&form.html, "next"), None, "{bad} is not carried");
        assert!(!form.html.contains("evil.example"), "{bad}");
        // Posted by hand, it is ignored too.
        let csrf = v.get("/login").await.csrf();
        let res = v
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", &user.email),
                    ("password", &user.password),
                    ("next", bad),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location.as_deref(), Some("/"), "{bad}");
    }
}

#[tokio::test]
async fn the_error_page_speaks_the_page_language_and_says_what_to_do_next() {
    let app = TestApp::spawn().await;
    let v = Visitor::new(&app);
    let zh = v.get("/groups/nope").await;
    assert_eq!(zh.status, StatusCode::NOT_FOUND);
    assert!(zh.html.contains("lang=\"zh-CN\"") && zh.html.contains("请检查链接是否完整"));
    let en = v.get("/groups/nope?lang=en").await;
    assert_eq!(en.status, StatusCode::NOT_FOUND);
    assert!(
        en.html.contains("Check that the link is complete"),
        "{}",
        en.html
    );
    assert!(
        v.post("/logout", &[])
            .await
            .html
            .contains("reload the page")
    );
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_emailed_link_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("member@example.com", "用户").await;
    let v = Visitor::new(&app);
    v.submit(
        "/login",
        "/login",
        &[("email", &user.email), ("password", &user.password)],
    )
    .await;
    let asked = v
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", &user.email)],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert_eq!(asked.location.as_deref(), Some("/login"));
    // The account was made without email, so the reset email is the only one it gets.
    let mail = app
        .mail
        .wait_for_mail_to(&user.email, Duration::from_secs(10))
        .await;
    let link = link_in(&mail.text, "/reset-password?token=");
    let done = v
        .submit(
            &link,
            "/reset-password",
            &[("password", "a brand new password")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location.as_deref(), Some("/login"));
    let after = v.get("/login").await;
    assert!(after.html.contains("密码已更新"));
    assert!(
        !after.html.contains("action=\"/logout\""),
        "signed out everywhere"
    );
    app.login(&user.email, "a brand new password").await;
}

#[tokio::test]
async fn an_unknown_address_answers_a_browser_with_the_404_page_and_a_client_with_json() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(format!("{}/no-such-page", app.address))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("请检查链接是否完整")
    );
    let api = app
        .client
        .get(app.api("/no-such-thing"))
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api.headers()["content-type"].to_str().expect("type"),
        "application/problem+json"
    );
}

#[tokio::test]
async fn logging_in_again_in_the_same_browser_ends_the_previous_session() {
    let app = TestApp::spawn().await;
    let first = app.verified_user("first@example.com", "甲").await;
    let second = app.verified_user("second@example.com", "乙").await;
    let v = Visitor::new(&app);
    v.submit(
        "/login",
        "/login",
        &[("email", &first.email), ("password", &first.password)],
    )
    .await;
    let old = v.cookie("lm_session").expect("first session");
    v.submit(
        "/login",
        "/login",
        &[("email", &second.email), ("password", &second.password)],
    )
    .await;
    assert!(v.get("/").await.html.contains("乙"));
    let copy = Visitor::new(&app);
    copy.set_cookie("lm_session", &old);
    assert!(
        !copy.get("/").await.html.contains("甲"),
        "the first session ended"
    );
}
