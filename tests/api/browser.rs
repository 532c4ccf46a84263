//! The pages in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/e2e/journey.mjs`), emulating a phone inside WeChat's in-app browser.

use std::time::Duration;

use lianming::clock::Clock as _;
use serde_json::json;

use crate::helpers::app::TestApp;

/// The next Friday 09:00 in Shanghai after `now`: when weekly digests go out by default.
fn next_friday_nine(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, TimeZone, Weekday};
    let tz = chrono_tz::Asia::Shanghai;
    let mut day = now.with_timezone(&tz).date_naive() + chrono::Duration::days(1);
    while day.weekday() != Weekday::Fri {
        day += chrono::Duration::days(1);
    }
    tz.from_local_datetime(&day.and_hms_opt(9, 0, 0).expect("09:00"))
        .single()
        .expect("no DST in Shanghai")
        .with_timezone(&chrono::Utc)
}

/// What the journey script asks for: the verification link of `email`'s newest verification
/// email, or the unsubscribe link of the next weekly digest (after an organiser's update and
/// the clock moved to Friday 09:00).
async fn answer(
    app: &TestApp,
    owner: &crate::helpers::app::TestUser,
    slug: &str,
    question: &str,
) -> String {
    let mut words = question.split_whitespace();
    let (what, email) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    match what {
        "verify" => {
            let mail = app
                .mail
                .wait_for_mail_to(email, Duration::from_secs(15))
                .await;
            mail.text
                .split_whitespace()
                .find(|w| w.contains("/verify-email?token="))
                .expect("verification link")
                .to_owned()
        }
        "digest" => {
            let res = app
                .post(
                    &format!("/groups/{slug}/updates"),
                    Some(&app.login(&owner.email, &owner.password).await.0),
                    json!({"kind": "response", "response_class": "in_progress",
                           "title": "快付钱包客服回复：正在核实", "body": "服务商表示正在逐笔核实退款。"}),
                )
                .await;
            assert_eq!(
                res.status(),
                201,
                "{}",
                res.text().await.unwrap_or_default()
            );
            app.clock.set(next_friday_nine(app.clock.now()));
            lianming::notify::scheduler::tick(&app.state)
                .await
                .expect("tick");
            app.outbox_sent().await;
            let digest = app
                .mail
                .messages()
                .into_iter()
                .rev()
                .find(|m| {
                    m.envelope_to.iter().any(|t| t == email) && m.subject.contains("每周进展")
                })
                .unwrap_or_else(|| panic!("no weekly digest to {email}"));
            digest
                .header("List-Unsubscribe")
                .expect("List-Unsubscribe")
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        }
        other => panic!("the journey asked something unknown: {other}"),
    }
}

/// The journey, with and without JavaScript, plus axe-core, the 360 px check and
/// screenshots of every page on the way (`tests/e2e/journey.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_finds_joins_and_follows_a_complaint_from_a_phone() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        e2e.join("node_modules/axe-core").exists(),
        "browser tests need `npm ci` in tests/e2e and Debian's chromium (`.ci/run` installs both)"
    );
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let title = "快付钱包退款超过30天未到账，客服一直推诿";
    // Distractors: other providers and other problems.
    let other = app.verified_user("other@example.com", "另一位发起人").await;
    for (t, cat) in [
        ("云闪钱提现申请一直不到账", "withdrawal_delay"),
        ("好付账户被盗刷后客服不处理", "account_security"),
    ] {
        app.create_group(
            &other,
            json!({"title": t, "category": cat, "provider_name": "好付"}),
        )
        .await;
    }
    let group = app
        .create_group(&owner, json!({"title": title, "category": "refund_delay"}))
        .await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let provider = group["provider"]["slug"]
        .as_str()
        .expect("provider")
        .to_owned();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");

    let mut child = tokio::process::Command::new("node")
        .arg("journey.mjs")
        .current_dir(&e2e)
        .env("BASE_URL", &app.address)
        .env("GROUP_SLUG", &slug)
        .env("GROUP_TITLE", title)
        .env("PROVIDER_SLUG", &provider)
        .env("SHOTS_DIR", &shots)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some(question) = line.strip_prefix("ASK ") {
                let reply = answer(&app, &owner, &slug, question).await;
                stdin
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .expect("answer");
            } else {
                printed.push_str(&line);
                printed.push('\n');
            }
        }
        child.wait().await.expect("node exits")
    };
    let status = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the journey finishes within five minutes");
    assert!(status.success(), "{printed}");
    assert!(printed.contains(" passed, 0 failed"), "{printed}");
}
