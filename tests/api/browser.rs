//! The pages in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/e2e/journey.mjs`), emulating a phone inside WeChat's in-app browser.

use std::time::Duration;

use lianming::clock::Clock as _;
use serde_json::json;

use crate::helpers::app::{TestApp, json_body};

/// The next time after `now` that `email`'s weekly digest is due: their chosen weekday and hour
/// in their time zone, as stored by the notification settings page.
async fn next_weekly_digest(app: &TestApp, email: &str) -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, TimeZone};
    let backend = app.db.get_database_backend();
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &app.db,
        sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "SELECT p.weekday, p.send_hour, p.time_zone FROM notification_prefs p JOIN users u ON u.id = p.user_id WHERE u.email = $1",
                _ => "SELECT p.weekday, p.send_hour, p.time_zone FROM notification_prefs p JOIN users u ON u.id = p.user_id WHERE u.email = ?",
            },
            [email.into()],
        ),
    )
    .await
    .expect("query")
    .expect("the notification settings were saved");
    let weekday: i32 = row.try_get("", "weekday").expect("weekday");
    let hour: i32 = row.try_get("", "send_hour").expect("send_hour");
    let tz: chrono_tz::Tz = row
        .try_get::<String>("", "time_zone")
        .expect("time_zone")
        .parse()
        .expect("zone");
    let now = app.clock.now();
    let mut day = now.with_timezone(&tz).date_naive() + chrono::Duration::days(1);
    while i64::from(day.weekday().number_from_monday()) != i64::from(weekday) {
        day += chrono::Duration::days(1);
    }
    let at = day
        .and_hms_opt(u32::try_from(hour).expect("hour"), 0, 0)
        .expect("time");
    tz.from_local_datetime(&at)
        .earliest()
        .expect("a local time")
        .with_timezone(&chrono::Utc)
}

/// What the journey script asks for: the verification link of `email`'s newest verification
/// email, or the unsubscribe link of the next weekly digest (after an organiser's update and
/// the clock moved to the hour it is due).
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
            app.clock.set(next_weekly_digest(app, email).await);
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
    run_script(
        "journey.mjs",
        &[
            ("BASE_URL", app.address.as_str()),
            ("GROUP_SLUG", &slug),
            ("GROUP_TITLE", title),
            ("PROVIDER_SLUG", &provider),
        ],
        async |question: String| answer(&app, &owner, &slug, &question).await,
    )
    .await;
}

/// Runs `tests/e2e/<script>` with `env` (and `SHOTS_DIR`), answering each `ASK …` line it prints
/// with `answer`, and asserts that it ends with every check passed.
async fn run_script(
    script: &str,
    env: &[(&str, &str)],
    mut answer: impl AsyncFnMut(String) -> String,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("tests/e2e");
    assert!(
        e2e.join("node_modules/axe-core").exists(),
        "browser tests need `npm ci` in tests/e2e and Debian's chromium (`.ci/run` installs both)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(&e2e)
        .envs(env.iter().copied())
        .env("SHOTS_DIR", root.join("target/screenshots"))
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
                let reply = answer(question.to_owned()).await;
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
        .expect("the script finishes within five minutes");
    eprint!("{printed}");
    assert!(status.success(), "{printed}");
    assert!(printed.contains(" passed, 0 failed"), "{printed}");
}

/// Issue 11's organiser journey so far, on a desktop and on a phone (`tests/e2e/organiser.mjs`):
/// start a group after being shown the similar one, approve a newcomer and read their file
/// (evidence download, contact log), edit the statement
/// (the participant is asked by email to re-sign), compile a dossier, download it and check it
/// on the verify page (after posting a provider response and watching a submission become
/// overdue on the test clock; then an administrator merges a duplicate provider), with axe-core, the 360 px check and
/// screenshots of each desk page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_starts_a_group_moderates_re_words_it_and_compiles_a_dossier_that_verifies() {
    let app = TestApp::spawn().await;
    let mut password = String::new();
    for who in [
        "organiser.desktop@example.com",
        "organiser.phone@example.com",
    ] {
        password = app.verified_user(who, "组织者").await.password;
    }
    let other = app.verified_user("first@example.com", "先发起的人").await;
    let similar = app
        .create_group(
            &other,
            json!({"title": "快付钱包退款超过30天未到账", "category": "refund_delay"}),
        )
        .await;
    let similar = similar["slug"].as_str().expect("slug").to_owned();
    let newcomers = std::sync::Mutex::new(Vec::new());
    run_script(
        "organiser.mjs",
        &[
            ("BASE_URL", app.address.as_str()),
            ("SIMILAR_SLUG", &similar),
            ("PASSWORD", &password),
        ],
        async |question: String| {
            let words: Vec<&str> = question.split_whitespace().collect();
            match words.as_slice() {
                ["join", slug, email] => {
                    let name = format!("新参与者{}", newcomers.lock().expect("lock").len() + 1);
                    let user = app.verified_user(email, &name).await;
                    let version = json_body(app.get(&format!("/groups/{slug}"), None).await).await
                        ["statement_version"]
                        .as_i64()
                        .expect("version");
                    let res = app
                        .post(
                            &format!("/groups/{slug}/participation"),
                            Some(&user.access_token),
                            TestApp::join_body(&format!("{name}全名"), version),
                        )
                        .await;
                    let joined = json_body(res).await;
                    assert_eq!(joined["status"], "pending", "{joined}");
                    // Their file: a chat transcript and a logged call, for the team to read.
                    crate::helpers::dossier::upload(
                        &app,
                        &user,
                        slug,
                        "客服说退款在处理中。\n".as_bytes().to_vec(),
                        "客服聊天.txt",
                        "text/plain",
                    )
                    .await;
                    let res = app
                        .post(
                            &format!("/groups/{slug}/participation/interactions"),
                            Some(&user.access_token),
                            json!({"occurred_at": "2026-03-05T02:00:00Z", "channel": "hotline",
                                   "agent": "工号 2048", "ticket_ref": "CS-2048",
                                   "summary": "客服承诺三天内回电", "outcome": "promised"}),
                        )
                        .await;
                    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
                    newcomers.lock().expect("lock").push(user);
                    name
                }
                ["mail", email, subject @ ..] => {
                    let subject = subject.join(" ");
                    crate::helpers::team::mail_to(&app, email, &subject)
                        .await
                        .subject
                }
                ["admin", tag] => {
                    let admin = app
                        .verified_user(&format!("admin.{tag}@example.com"), "管理员")
                        .await;
                    crate::helpers::team::make_admin(&app, &admin).await;
                    let proposer = app
                        .verified_user(&format!("proposer.{tag}@example.com"), "提议者")
                        .await;
                    let dup = app
                        .create_group(
                            &proposer,
                            json!({"provider_name": format!("KuaiPay {tag}"),
                                   "title": format!("KuaiPay {tag} 提现被冻结")}),
                        )
                        .await;
                    let keep = json_body(app.get(&format!("/groups/{similar}"), None).await).await
                        ["provider"]["slug"]
                        .as_str()
                        .expect("slug")
                        .to_owned();
                    let dup = dup["provider"]["slug"].as_str().expect("slug").to_owned();
                    assert_eq!(admin.password, password, "one password for the journey");
                    format!("{} {dup} {keep}", admin.email)
                }
                ["advance", days] => {
                    let days: i64 = days.parse().expect("days");
                    app.clock.advance(chrono::Duration::days(days));
                    format!("advanced {days} days")
                }
                _ => panic!("the organiser journey asked something unknown: {question}"),
            }
        },
    )
    .await;
}
