//! Scheduled progress emails, received by a real SMTP server on loopback: digests at the
//! user's local hour, alerts, one-click unsubscribe, languages, outcome checks, and the outbox
//! under several workers, a relay that is down, a relay that refuses, and a crash.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lianming::i18n::Locale;
use lianming::mail::EmailContent;
use lianming::mail::outbox::{NewEmail, enqueue};
use lianming::mail::worker::FaultHook;
use lianming::notify::scheduler::tick;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::app::{Backend, TestApp, TestUser, create_account, json_body};
use crate::helpers::smtp::ReceivedMail;
use crate::on_both_databases;

/// 2027-03-10 (a Wednesday) at `hour`:`minute` in Asia/Shanghai.
fn shanghai(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2027, 3, day, hour, minute, 0)
        .single()
        .expect("valid time")
        .with_timezone(&Utc)
}

async fn relogin(app: &TestApp, user: &TestUser) -> String {
    app.login(&user.email, &user.password).await.0
}

async fn post_update(
    app: &TestApp,
    token: &str,
    slug: &str,
    kind: &str,
    class: Option<&str>,
    title: &str,
) -> Value {
    let mut body = json!({"kind": kind, "title": title, "body": format!("{title}。详情见附件。")});
    if let Some(c) = class {
        body["response_class"] = json!(c);
    }
    let res = app
        .post(&format!("/groups/{slug}/updates"), Some(token), body)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "post update");
    json_body(res).await
}

/// Mail to `who` whose subject contains `needle`, after waiting for the outbox to drain.
async fn mail_to(app: &TestApp, who: &str, needle: &str) -> Vec<ReceivedMail> {
    app.outbox_sent().await;
    app.mail
        .messages()
        .into_iter()
        .filter(|m| m.envelope_to.iter().any(|t| t == who) && m.subject.contains(needle))
        .collect()
}

/// Two groups by two owners, both joined by `member` (verified, logged in).
async fn two_groups(app: &TestApp, member: &TestUser) -> (TestUser, String, TestUser, String) {
    let a = app.verified_user("owner.a@example.com", "组织者甲").await;
    let b = app.verified_user("owner.b@example.com", "组织者乙").await;
    let ga = app
        .create_group(&a, json!({"title": "快付钱包退款未到账"}))
        .await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let gb = app
        .create_group(
            &b,
            json!({"title": "云闪钱提现被冻结", "category": "withdrawal_delay"}),
        )
        .await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    for slug in [&ga, &gb] {
        let res = app
            .post(
                &format!("/groups/{slug}/participation"),
                Some(&member.access_token),
                TestApp::join_body("参与者", 1),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    (a, ga, b, gb)
}

async fn a_daily_digest_at_nine_lists_exactly_what_is_new(backend: Backend) {
    let app = TestApp::on(backend).await;
    let member = app.verified_user("daily@example.com", "每日用户").await;
    let (a, ga, b, gb) = two_groups(&app, &member).await;
    let (ta, tb) = (a.access_token.clone(), b.access_token.clone());
    post_update(
        &app,
        &ta,
        &ga,
        "acknowledgement",
        Some("in_progress"),
        "快付钱包已受理投诉",
    )
    .await;
    post_update(&app, &tb, &gb, "stall", None, "云闪钱客服仍称在核实").await;

    // 08:59 local: nothing yet.
    app.clock.set(shanghai(10, 8, 59));
    tick(&app.state).await.expect("tick");
    assert!(mail_to(&app, &member.email, "每日进展").await.is_empty());

    // 09:00 local: one email with both groups' news.
    app.clock.set(shanghai(10, 9, 0));
    tick(&app.state).await.expect("tick");
    let digests = mail_to(&app, &member.email, "每日进展").await;
    assert_eq!(digests.len(), 1);
    let d = &digests[0];
    assert!(d.subject.contains("2 条新动态"), "{}", d.subject);
    assert!(
        d.text.contains("快付钱包已受理投诉") && d.text.contains("云闪钱客服仍称在核实"),
        "{}",
        d.text
    );
    assert!(d.text.contains("快付钱包退款未到账") && d.text.contains("云闪钱提现被冻结"));

    // A second tick the same day sends nothing.
    app.clock.set(shanghai(10, 15, 0));
    tick(&app.state).await.expect("tick");
    assert_eq!(mail_to(&app, &member.email, "每日进展").await.len(), 1);

    // The next day only what is newer.
    let ta = relogin(&app, &a).await;
    post_update(
        &app,
        &ta,
        &ga,
        "offer",
        Some("in_progress"),
        "快付钱包提出分期退款",
    )
    .await;
    app.clock.set(shanghai(11, 9, 5));
    tick(&app.state).await.expect("tick");
    let digests = mail_to(&app, &member.email, "每日进展").await;
    assert_eq!(digests.len(), 2);
    let second = &digests[1];
    assert!(second.subject.contains("1 条新动态"), "{}", second.subject);
    assert!(second.text.contains("快付钱包提出分期退款"));
    assert!(
        !second.text.contains("快付钱包已受理投诉")
            && !second.text.contains("云闪钱客服仍称在核实")
    );
    assert_ne!(d.message_id, second.message_id);
}

async fn weekly_and_off_are_honoured_and_immediate_alerts_each_response(backend: Backend) {
    let app = TestApp::on(backend).await;
    // A fixed Monday noon: starting from the real time, the background scheduler would send the
    // weekly digest at once whenever the test runs on a Friday after 09:00 in Shanghai.
    app.clock.set(shanghai(8, 12, 0));
    let weekly = app.verified_user("weekly@example.com", "每周用户").await;
    let off = app.verified_user("off@example.com", "关闭用户").await;
    let now = app.verified_user("now@example.com", "即时用户").await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let slug = app.create_group(&owner, json!({})).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    for (u, mode) in [(&weekly, "weekly"), (&off, "off"), (&now, "immediate")] {
        app.post(
            &format!("/groups/{slug}/participation"),
            Some(&u.access_token),
            TestApp::join_body("参与者", 1),
        )
        .await;
        let body =
            json!({"digest": mode, "weekday": 5, "send_hour": 9, "time_zone": "Asia/Shanghai"});
        let res = app
            .send(
                reqwest::Method::PUT,
                "/me/notifications",
                Some(&u.access_token),
                Some(body),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(json_body(res).await["digest"], mode);
    }
    let bad = app
        .send(
            reqwest::Method::PUT,
            "/me/notifications",
            Some(&weekly.access_token),
            Some(json!({"digest": "hourly"})),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app
        .send(
            reqwest::Method::PUT,
            "/me/notifications",
            Some(&weekly.access_token),
            Some(json!({"digest": "daily", "time_zone": "Mars/Olympus"})),
        )
        .await;
    assert!(json_body(bad).await["errors"]["time_zone"].is_array());

    // Two provider responses: the immediate user gets one alert for each, at once.
    post_update(
        &app,
        &owner.access_token,
        &slug,
        "response",
        Some("in_progress"),
        "服务商答复：正在核查",
    )
    .await;
    post_update(
        &app,
        &owner.access_token,
        &slug,
        "denial",
        Some("denied"),
        "服务商拒绝退款",
    )
    .await;
    tick(&app.state).await.expect("tick");
    tick(&app.state)
        .await
        .expect("second tick queues nothing new");
    let alerts = mail_to(&app, &now.email, "服务商").await;
    assert_eq!(
        alerts.len(),
        2,
        "{:?}",
        alerts.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(mail_to(&app, &weekly.email, "服务商").await.is_empty());
    assert!(
        mail_to(&app, &off.email, "")
            .await
            .iter()
            .all(|m| !m.subject.contains("进展"))
    );

    // Wednesday 09:00: not the weekly user's day (Friday); Friday 09:00: one weekly digest.
    app.clock.set(shanghai(10, 9, 0));
    tick(&app.state).await.expect("tick");
    assert!(mail_to(&app, &weekly.email, "每周进展").await.is_empty());
    app.clock.set(shanghai(12, 9, 0));
    tick(&app.state).await.expect("tick");
    let weekly_mail = mail_to(&app, &weekly.email, "每周进展").await;
    assert_eq!(weekly_mail.len(), 1);
    assert!(weekly_mail[0].text.contains("服务商拒绝退款"));
    // The immediate user gets no digest, the off user nothing at all.
    assert!(mail_to(&app, &now.email, "进展（").await.is_empty());
    assert!(mail_to(&app, &off.email, "进展").await.is_empty());
}

async fn one_click_unsubscribe_works_without_cookies_and_stops_digests(backend: Backend) {
    let app = TestApp::on(backend).await;
    let member = app.verified_user("leaving@example.com", "退订者").await;
    let (a, ga, _, _) = two_groups(&app, &member).await;
    post_update(
        &app,
        &a.access_token,
        &ga,
        "acknowledgement",
        Some("in_progress"),
        "已受理",
    )
    .await;
    app.clock.set(shanghai(10, 9, 0));
    tick(&app.state).await.expect("tick");
    let digest = mail_to(&app, &member.email, "每日进展")
        .await
        .pop()
        .expect("digest");

    assert_eq!(
        digest.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let header = digest.header("List-Unsubscribe").expect("List-Unsubscribe");
    let url = header
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(
        url.starts_with(&format!("{}/unsubscribe/", app.address)),
        "{url}"
    );
    // The token cannot pass as an access token.
    let token = url.rsplit('/').next().expect("token");
    assert_eq!(
        app.get("/me", Some(token)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The confirm page for people; the one-click POST for mail clients, with no cookie.
    let page = reqwest::get(&url).await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("<form method=\"post\"")
    );
    let bare = reqwest::Client::new();
    let res = bare
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(res.status(), StatusCode::OK);
    let settings = json_body(
        app.get("/me/notifications", Some(&relogin(&app, &member).await))
            .await,
    )
    .await;
    assert_eq!(settings["digest"], "off");
    // A tampered token does nothing.
    let forged = bare
        .post(url.replace("~1~", "~2~").replace("u1~", "u1~9"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    let ta = relogin(&app, &a).await;
    post_update(&app, &ta, &ga, "offer", Some("in_progress"), "新的方案").await;
    app.clock.set(shanghai(11, 9, 0));
    tick(&app.state).await.expect("tick");
    assert_eq!(
        mail_to(&app, &member.email, "每日进展").await.len(),
        1,
        "no digest after unsubscribing"
    );
}

async fn each_user_gets_their_own_language(backend: Backend) {
    let app = TestApp::on(backend).await;
    let zh = app.verified_user("zh@example.com", "中文用户").await;
    let en = app.verified_user("en@example.com", "English user").await;
    let res = app
        .send(
            reqwest::Method::PUT,
            "/me/notifications",
            Some(&en.access_token),
            Some(json!({"digest": "daily", "language": "en"})),
        )
        .await;
    assert_eq!(json_body(res).await["language"], "en");
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let slug = app.create_group(&owner, json!({})).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    for u in [&zh, &en] {
        app.post(
            &format!("/groups/{slug}/participation"),
            Some(&u.access_token),
            TestApp::join_body("参与者", 1),
        )
        .await;
    }
    post_update(
        &app,
        &owner.access_token,
        &slug,
        "response",
        Some("in_progress"),
        "服务商已回复",
    )
    .await;
    app.clock.set(shanghai(10, 9, 0));
    tick(&app.state).await.expect("tick");
    let zh_mail = mail_to(&app, &zh.email, "每日进展")
        .await
        .pop()
        .expect("zh digest");
    let en_mail = mail_to(&app, &en.email, "Your joint complaints")
        .await
        .pop()
        .expect("en digest");
    assert!(zh_mail.subject.contains("每日进展"), "{}", zh_mail.subject);
    assert!(zh_mail.text.contains("以下是您参与的联合投诉"));
    assert!(
        zh_mail
            .html
            .as_deref()
            .is_some_and(|h| h.contains("lang=\"zh-CN\""))
    );
    assert!(
        en_mail.subject.contains("Your joint complaints today"),
        "{}",
        en_mail.subject
    );
    assert!(
        en_mail.text.contains("Here is what happened")
            && en_mail.text.contains("Response (in progress)"),
        "{}",
        en_mail.text
    );
    assert!(
        en_mail
            .html
            .as_deref()
            .is_some_and(|h| h.contains("lang=\"en\""))
    );
}

async fn an_outcome_check_answer_sets_the_outcome_shown_on_the_dashboard(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let member = app.verified_user("asked@example.com", "被回访者").await;
    let slug = app.create_group(&owner, json!({})).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    app.post(
        &format!("/groups/{slug}/participation"),
        Some(&member.access_token),
        TestApp::join_body("被回访者", 1),
    )
    .await;
    post_update(
        &app,
        &owner.access_token,
        &slug,
        "resolution",
        Some("closed_monetary_relief"),
        "服务商称已全部退款",
    )
    .await;

    tick(&app.state).await.expect("tick");
    assert!(
        mail_to(&app, &member.email, "解决了吗").await.is_empty(),
        "not before the waiting period"
    );
    app.clock.advance(chrono::Duration::days(15));
    tick(&app.state).await.expect("tick");
    let check = mail_to(&app, &member.email, "解决了吗")
        .await
        .pop()
        .expect("outcome check");
    let link = check
        .text
        .split_whitespace()
        .find(|w| w.contains("/outcome/") && w.ends_with("answer=resolved"))
        .expect("resolved link")
        .to_owned();

    // The link shows a confirmation; the click on it records the answer, no login needed.
    let action = link.split('?').next().expect("path").to_owned();
    let v = crate::helpers::visitor::Visitor::new(&app);
    let forged = v.post(&action, &[("answer", "resolved")]).await;
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "a form without its CSRF token"
    );
    let res = v.submit(&link, &action, &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.html);

    let mine = json_body(
        app.get(
            &format!("/groups/{slug}/participation"),
            Some(&relogin(&app, &member).await),
        )
        .await,
    )
    .await;
    assert_eq!(mine["outcome"], "resolved");
    let dashboard = json_body(
        app.get(
            &format!("/groups/{slug}/dashboard"),
            Some(&relogin(&app, &owner).await),
        )
        .await,
    )
    .await;
    assert_eq!(
        dashboard["outcomes"]["resolved"], 1,
        "{}",
        dashboard["outcomes"]
    );
    let csrf = v.get(&link).await.csrf();
    let tampered = v
        .post(
            &action.replace("~", "~9"),
            &[("csrf", csrf.as_str()), ("answer", "resolved")],
        )
        .await;
    assert_eq!(tampered.status, StatusCode::NOT_FOUND);
}

on_both_databases!(
    a_daily_digest_at_nine_lists_exactly_what_is_new,
    weekly_and_off_are_honoured_and_immediate_alerts_each_response,
    one_click_unsubscribe_works_without_cookies_and_stops_digests,
    each_user_gets_their_own_language,
    an_outcome_check_answer_sets_the_outcome_shown_on_the_dashboard,
);

/// Queues `n` emails to `recipients` in turn.
async fn queue(app: &TestApp, prefix: &str, n: usize, recipients: &[&str]) {
    let now = lianming::clock::Clock::now(&app.clock);
    for i in 0..n {
        let content = EmailContent::new(Locale::ZhCn, format!("测试邮件 {prefix} {i}"), "测试")
            .paragraph("正文");
        let email = NewEmail {
            kind: "test",
            recipient: recipients[i % recipients.len()].to_owned(),
            user_id: None,
            content,
            idempotency_key: format!("{prefix}:{i}"),
            headers: Vec::new(),
        };
        assert!(
            enqueue(&app.db, email, now, "test.invalid")
                .await
                .expect("enqueue")
        );
    }
}

async fn no_app_worker(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.run_worker = false).await
}

async fn two_workers_deliver_each_of_500_emails_exactly_once(backend: Backend) {
    let app = no_app_worker(backend).await;
    queue(
        &app,
        "test",
        500,
        &["a@example.com", "b@example.com", "c@example.com"],
    )
    .await;
    let stop = CancellationToken::new();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut w = lianming::app::mail_worker(&app.state).expect("worker");
            w.batch = 20;
            tokio::spawn(w.run(stop.clone()))
        })
        .collect();
    let got = app.mail.wait_for_count(500, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    for w in workers {
        w.await.expect("worker");
    }
    let all = app.mail.messages();
    assert_eq!(all.len(), 500, "no email twice");
    let mut ids: Vec<_> = got.iter().filter_map(|m| m.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 500);
    let pending = app.count_rows("outbox").await;
    assert_eq!(pending, 500);
}

on_both_databases!(two_workers_deliver_each_of_500_emails_exactly_once);

/// Stopping the server does not wait for a backlog: the worker stops after the email in hand
/// and gives its untried rows back (no lease left on them), so the next worker sends them at
/// once. (The backlog of a busy hour used to be drained first: minutes before exiting.)
#[tokio::test]
async fn a_stopping_worker_leaves_a_backlog_for_the_next_one_without_leases() {
    use lianming::entities::outbox;
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let app = no_app_worker(Backend::Sqlite).await;
    queue(&app, "backlog", 200, &["a@example.com", "b@example.com"]).await;
    let mut worker = lianming::app::mail_worker(&app.state).expect("worker");
    // Two emails a second: the backlog would take 100 s.
    worker.throttle = Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
        std::num::NonZeroU32::new(2).expect("2"),
    )));
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    app.mail.wait_for_count(1, Duration::from_secs(10)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(3), running)
        .await
        .expect("the worker stops within the email in hand")
        .expect("worker");
    let sent = app.mail.messages().len();
    assert!(sent < 200, "the backlog was not drained first: {sent}");
    let leased = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("pending"))
        .filter(outbox::Column::LeaseUntil.is_not_null())
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(leased, 0, "the untried rows are given back");
    // The next worker sends the rest, each exactly once.
    let next = lianming::app::mail_worker(&app.state).expect("worker");
    while next.run_once().await.expect("round") > 0 {}
    assert_eq!(app.mail.messages().len(), 200);
}

/// One email at a time made a relay's latency the send rate: the worker keeps as many in
/// flight as its SMTP pool has connections, and each is still delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sends_as_many_emails_at_once_as_the_smtp_pool_holds() {
    let app = no_app_worker(Backend::Sqlite).await;
    queue(&app, "parallel", 10, &["a@example.com", "b@example.com"]).await;
    let worker = lianming::app::mail_worker(&app.state).expect("worker");
    let pool = worker.concurrency;
    assert_eq!(pool, 4, "the default LIANMING_SMTP_POOL_SIZE");
    app.mail.hold(true);
    let round = tokio::spawn(async move { worker.run_once().await });
    app.mail.wait_for_held(pool, Duration::from_secs(20)).await;
    app.mail.hold(false);
    assert_eq!(round.await.expect("round").expect("round"), 10);
    let mut ids: Vec<_> = app
        .mail
        .messages()
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "each email once");
}

#[tokio::test]
async fn a_relay_that_is_down_loses_nothing_and_a_refused_address_blocks_no_one() {
    let app = no_app_worker(Backend::Sqlite).await;
    let worker = lianming::app::mail_worker(&app.state).expect("worker");
    app.mail.set_down(true);
    queue(&app, "test", 6, &["x@example.com", "y@example.com"]).await;
    worker.run_once().await.expect("round");
    assert!(app.mail.messages().is_empty());
    // Nothing is lost: the rows wait for their retry.
    assert_eq!(worker.run_once().await.expect("round"), 0, "backing off");
    app.mail.set_down(false);
    app.clock.advance(chrono::Duration::minutes(2));
    while worker.run_once().await.expect("round") > 0 {}
    assert_eq!(app.mail.messages().len(), 6);

    // A 5xx for one address: that row fails for good, the others go.
    app.mail.reject_recipient("gone@example.com");
    let before = app.mail.messages().len();
    queue(
        &app,
        "refuse",
        4,
        &[
            "gone@example.com",
            "ok1@example.com",
            "ok2@example.com",
            "gone@example.com",
        ],
    )
    .await;
    while worker.run_once().await.expect("round") > 0 {}
    let delivered: Vec<_> = app.mail.messages().into_iter().skip(before).collect();
    assert_eq!(delivered.len(), 2);
    assert!(
        delivered
            .iter()
            .all(|m| !m.envelope_to.contains(&"gone@example.com".to_owned()))
    );

    // Both rows to the refused address are failed, visible to an administrator.
    create_account(&app, "admin@example.com", "admin", "admin password", true).await;
    let (admin, _) = app.login("admin@example.com", "admin password").await;
    let failed = json_body(app.get("/admin/outbox?status=failed", Some(&admin)).await).await;
    assert_eq!(failed["total"], 2, "{failed}");
    assert!(
        failed["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["recipient"] == "gone@example.com")
    );
    create_account(&app, "plain@example.com", "plain", "plain password", false).await;
    let (plain, _) = app.login("plain@example.com", "plain password").await;
    assert_eq!(
        app.get("/admin/outbox", Some(&plain)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_crash_between_delivery_and_commit_resends_once_with_the_same_message_id() {
    let app = no_app_worker(Backend::Sqlite).await;
    queue(&app, "test", 1, &["crash@example.com"]).await;
    let crashed = Arc::new(AtomicBool::new(false));
    let mut dying = lianming::app::mail_worker(&app.state).expect("worker");
    let flag = crashed.clone();
    dying.fault = Some(FaultHook(Arc::new(move |_| {
        !flag.swap(true, Ordering::SeqCst)
    })));
    let outcome = dying.run_once().await;
    let rows = lianming::entities::outbox::Entity::find()
        .all(&app.db)
        .await
        .expect("rows");
    assert!(
        outcome.is_err(),
        "the worker dies after the relay accepted: {outcome:?} {rows:?}"
    );
    assert_eq!(app.mail.messages().len(), 1);

    // Another worker takes the row once its lease has run out.
    let survivor = lianming::app::mail_worker(&app.state).expect("worker");
    assert_eq!(survivor.run_once().await.expect("round"), 0, "still leased");
    app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(survivor.run_once().await.expect("round"), 1);
    assert_eq!(survivor.run_once().await.expect("round"), 0);
    let all = app.mail.messages();
    assert_eq!(all.len(), 2, "at most one duplicate");
    assert_eq!(
        all[0].message_id, all[1].message_id,
        "recognisable as the same message"
    );
}
