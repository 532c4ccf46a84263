//! The pages in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/e2e/pages.mjs`), emulating a phone inside WeChat's in-app browser.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::helpers::app::TestApp;

#[tokio::test]
async fn pages_work_on_a_phone_in_an_in_app_browser() {
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "browser tests need `npm ci` in tests/e2e and Debian's chromium (`.ci/run` installs both)"
    );
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let member = app.verified_user("member@example.com", "参与者").await;
    let title = "快付钱包退款迟迟未到账，客服一直推诿";
    let group = app.create_group(&owner, json!({"title": title})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&member.access_token),
            TestApp::join_body("参与者", 1),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post("/auth/register", None, json!({"email": "newcomer@example.com", "password": "long enough pw", "display_name": "新人"}))
        .await;
    assert_eq!(res.status(), 201);
    let mail = app
        .mail
        .wait_for_mail_to("newcomer@example.com", Duration::from_secs(10))
        .await;
    let verify_link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/verify-email?token="))
        .expect("link")
        .to_owned();

    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("pages.mjs")
            .current_dir(e2e)
            .env("BASE_URL", &app.address)
            .env("GROUP_SLUG", &slug)
            .env("GROUP_TITLE", title)
            .env("VERIFY_LINK", &verify_link)
            .output()
            .map(|o| (o, app))
    })
    .await
    .expect("join")
    .expect("run node");
    let (out, _app) = out;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
