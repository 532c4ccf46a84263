//! The pages that emailed links lead to, and the public pages, over plain HTTP forms.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::app::TestApp;
use crate::helpers::visitor::{Visitor, hidden};

fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path))
        .expect("link in the email")
        .to_owned()
}

#[tokio::test]
async fn the_verification_link_opens_a_page_whose_button_verifies() {
    let app = TestApp::spawn().await;
    app.register("page@example.com", "页面", "long enough pw")
        .await;
    let mail = app
        .mail
        .wait_for_mail_to("page@example.com", Duration::from_secs(10))
        .await;
    let link = link_in(&mail.text, "/verify-email?token=");
    assert!(
        link.starts_with(&app.address),
        "links use the public URL: {link}"
    );

    // Opening the link does not verify by itself (mail scanners follow links).
    let v = Visitor::new(&app);
    let page = v.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains("<form method=\"post\" action=\"/verify-email\"")
    );
    assert!(page.html.contains("lang=\"zh-CN\""));
    let token = mail.find_link_token("token").expect("token");
    assert_eq!(hidden(&page.html, "token").as_deref(), Some(token.as_str()));

    let done = v.submit(&link, "/verify-email", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/"));
    assert!(v.get("/").await.html.contains("邮箱已验证"));
    let (access, _) = app.login("page@example.com", "long enough pw").await;
    let me = crate::helpers::app::json_body(app.get("/me", Some(&access)).await).await;
    assert_eq!(me["email_verified"], true);

    let again = v.submit(&link, "/verify-email", &[]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.html.contains("验证链接无效或已过期"));
}

#[tokio::test]
async fn the_reset_link_opens_a_form_that_sets_the_password_in_english_too() {
    let app = TestApp::spawn().await;
    let user = app.verified_user("forgot@example.com", "Forgetful").await;
    // The older address of the request form still works.
    let v = Visitor::new(&app);
    let form = v.get("/reset-password?lang=en").await;
    assert!(
        form.set_cookie("lang")
            .is_some_and(|c| c.contains("lang=en")),
        "{:?}",
        form.set_cookies
    );
    assert!(form.html.contains("action=\"/forgot-password\""));
    let asked = v
        .post(
            "/reset-password/request",
            &[("csrf", &form.csrf()), ("email", user.email.as_str())],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert!(
        v.get("/login")
            .await
            .html
            .contains("If this address has an account")
    );
    // The reset email is the only one: the user was made without a verification email.
    let mail = app
        .mail
        .wait_for_count(1, Duration::from_secs(10))
        .await
        .pop()
        .expect("reset mail");
    let link = link_in(&mail.text, "/reset-password?token=");

    let english = Visitor::new(&app);
    let res = app
        .client
        .get(&link)
        .header("Accept-Language", "en-GB,en;q=0.9")
        .send()
        .await
        .expect("form");
    let html = res.text().await.expect("html");
    assert!(
        html.contains("New password") && html.contains("name=\"password\""),
        "{html}"
    );

    let short = english
        .submit(&link, "/reset-password", &[("password", "short")])
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.html.contains("id=\"password-error\""));
    let done = english
        .submit(
            &link,
            "/reset-password",
            &[("password", "my new long password")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    app.login(&user.email, "my new long password").await;
}

#[tokio::test]
async fn the_home_page_searches_and_the_group_page_shows_no_personal_data() {
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let joiner = app.verified_user("private@example.com", "隐私用户").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug");
    app.post(
        &format!("/groups/{slug}/participation"),
        Some(&joiner.access_token),
        TestApp::join_body("欧阳隐私", 1),
    )
    .await;

    let home = app
        .client
        .get(format!("{}/?q=%E9%80%80%E6%AC%BE", app.address))
        .send()
        .await
        .expect("home");
    let html = home.text().await.expect("html");
    assert!(
        html.contains(&format!("/groups/{slug}")),
        "search result links the group"
    );
    assert!(html.contains("退款未到账"), "category in Chinese");

    let page = app
        .client
        .get(format!("{}/groups/{slug}", app.address))
        .send()
        .await
        .expect("group page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("快付钱包")
            && html.contains(group["statement_sha256"].as_str().expect("sha"))
    );
    for secret in [
        "欧阳隐私",
        "隐私用户",
        "private@example.com",
        "T2026030200001",
        "我在三月申请退款",
    ] {
        assert!(!html.contains(secret), "{secret} leaked on the public page");
    }
    let missing = app
        .client
        .get(format!("{}/groups/nope", app.address))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_invitation_link_opens_a_form_that_logs_in_and_accepts() {
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let helper = app.verified_user("helper@example.com", "帮手").await;
    let slug = app.create_group(&owner, json!({})).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let res = app
        .post(
            &format!("/groups/{slug}/organisers"),
            Some(&owner.access_token),
            json!({"email": helper.email, "role": "moderator"}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    // The invitation is the only email: the users were made without verification emails.
    let mail = app
        .mail
        .wait_for_count(1, Duration::from_secs(10))
        .await
        .pop()
        .expect("invitation");
    let link = link_in(&mail.text, "/invites/accept?token=");
    let v = Visitor::new(&app);
    let form = v.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("name=\"password\""));

    let forged = v
        .post(
            "/invites/accept",
            &[
                (
                    "token",
                    hidden(&form.html, "token").expect("token").as_str(),
                ),
                ("email", helper.email.as_str()),
                ("password", helper.password.as_str()),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF token");
    let wrong = v
        .submit(
            &link,
            "/invites/accept",
            &[
                ("email", helper.email.as_str()),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let done = v
        .submit(
            &link,
            "/invites/accept",
            &[
                ("email", helper.email.as_str()),
                ("password", helper.password.as_str()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    let roster = app
        .get(
            &format!("/groups/{slug}/roster"),
            Some(&helper.access_token),
        )
        .await;
    assert_eq!(
        roster.status(),
        StatusCode::OK,
        "the moderator reads the roster now"
    );
}

/// The static files: linked under content-hashed names, cached for a year, gzip for clients
/// that take it; scripts only from files (no inline script: the CSP forbids it).
#[tokio::test]
async fn static_files_are_hashed_cached_and_compressed() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let page = app.client.get(&app.address).send().await.expect("home");
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("<script>") && !html.contains(" onclick="),
        "no inline script"
    );
    let href = |ext: &str| {
        html.split('"')
            .find(|s| s.starts_with("/static/") && s.ends_with(ext))
            .unwrap_or_else(|| panic!("a hashed {ext} link in {html}"))
            .to_owned()
    };
    for (url, plain) in [
        (href(".css"), "/static/site.css"),
        (href(".js"), "/static/enhance.js"),
    ] {
        assert_ne!(url, plain, "the link carries the content hash");
        let get = |path: String, gzip: bool| {
            let mut req = app.client.get(format!("{}{path}", app.address));
            if gzip {
                req = req.header("accept-encoding", "gzip, br");
            }
            req.send()
        };
        let res = get(url.clone(), false).await.expect("asset");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(res.headers().get("content-encoding").is_none());
        let body = res.bytes().await.expect("body");
        let res = get(url.clone(), true).await.expect("asset");
        assert_eq!(res.headers()["content-encoding"], "gzip");
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        let packed = res.bytes().await.expect("body");
        assert!(packed.len() < body.len(), "compressed");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .expect("gzip");
        assert_eq!(unpacked, body, "the same file");
        // The plain name still answers (old links), cached briefly.
        let res = get(plain.to_owned(), false).await.expect("asset");
        assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    }
    let res = app
        .client
        .get(format!("{}/static/nothing.js", app.address))
        .send()
        .await
        .expect("404");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
