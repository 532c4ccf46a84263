//! Regression tests for defects found by trying the service as a new user would (issue 9):
//! days in the user's time zone, reference de-duplication, placeholders inside user text,
//! secrets in settings, readable provider slugs, the approval email and true next steps, and
//! errors in the request's language.

use chrono::{DateTime, TimeZone, Utc};
use lianming::Settings;
use lianming::notify::scheduler::tick;
use reqwest::StatusCode;
use reqwest::header::ACCEPT_LANGUAGE;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp};
use crate::helpers::team::{expect_json, expect_problem, join, join_with, mail_to};
use crate::on_both_databases;

/// A moment given in Beijing time.
fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
        .with_timezone(&Utc)
}

fn slug_of(group: &Value) -> String {
    group["slug"].as_str().expect("slug").to_owned()
}

// 1. Days in the user's time zone.

async fn an_incident_dated_today_at_one_in_the_morning_beijing_time_is_accepted(backend: Backend) {
    // Arrange: 01:00 on 12-02 in Beijing is still 12-01 in UTC.
    let app = TestApp::on(backend).await;
    app.clock.set(beijing(2026, 12, 2, 1, 0));
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "李雷").await;
    let slug = slug_of(&app.create_group(&owner, json!({})).await);
    let path = format!("/groups/{slug}/participation");

    // Act: the day after the local today is refused, naming the field…
    let mut body = TestApp::join_body("李雷", 1);
    body["incident_date"] = json!("2026-12-03");
    let refused = app.post(&path, Some(&joiner.access_token), body).await;
    // …and the local today is accepted.
    let mut body = TestApp::join_body("李雷", 1);
    body["incident_date"] = json!("2026-12-02");
    let accepted = app.post(&path, Some(&joiner.access_token), body).await;

    // Assert
    let p = expect_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(p["errors"]["incident_date"].is_array(), "{p}");
    let joined = expect_json(accepted, StatusCode::CREATED).await;
    assert_eq!(joined["incident_date"], "2026-12-02", "{joined}");
}

async fn a_group_whose_incidents_end_today_in_beijing_before_eight_is_accepted(backend: Backend) {
    let app = TestApp::on(backend).await;
    app.clock.set(beijing(2026, 12, 2, 7, 30));
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let group = app
        .create_group(
            &owner,
            json!({"incident_from": "2026-11-20", "incident_to": "2026-12-02"}),
        )
        .await;
    assert_eq!(group["incident_to"], "2026-12-02", "{group}");
}

async fn an_alert_for_an_update_at_0542_beijing_time_shows_that_day(backend: Backend) {
    // Arrange: a member who wants alerts at once, and a provider answer at 05:42 on 12-02 in
    // Beijing (21:42 on 12-01 in UTC).
    let app = TestApp::on(backend).await;
    app.clock.set(beijing(2026, 12, 2, 5, 30));
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let member = app.verified_user("member@example.com", "韩梅梅").await;
    let slug = slug_of(&app.create_group(&owner, json!({})).await);
    join(&app, &slug, &member, join_with("韩梅梅", 100, "CNY", 1)).await;
    let res = app
        .send(
            reqwest::Method::PUT,
            "/me/notifications",
            Some(&member.access_token),
            Some(json!({"digest": "immediate"})),
        )
        .await;
    expect_json(res, StatusCode::OK).await;
    app.clock.set(beijing(2026, 12, 2, 5, 42));
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "response", "response_class": "in_progress", "title": "服务商答复：正在核查"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;

    // Act
    tick(&app.state).await.expect("tick");

    // Assert
    let alert = mail_to(&app, &member.email, "正在核查").await;
    assert!(alert.text.contains("2026-12-02"), "{}", alert.text);
    assert!(!alert.text.contains("2026-12-01"), "{}", alert.text);
}

// 2. References de-duplicated in full.

async fn repeated_transaction_refs_are_kept_once_in_first_seen_order(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "李雷").await;
    let slug = slug_of(&app.create_group(&owner, json!({})).await);
    let mut body = TestApp::join_body("李雷", 1);
    body["transaction_refs"] = json!(["T1", "T2", "T1", " T2 ", "T3", "T1"]);

    let joined = join(&app, &slug, &joiner, body).await;
    assert_eq!(
        joined["transaction_refs"],
        json!(["T1", "T2", "T3"]),
        "{joined}"
    );

    let res = app
        .patch(
            &format!("/groups/{slug}/participation"),
            Some(&joiner.access_token),
            json!({"transaction_refs": ["B", "A", "B", "A "]}),
        )
        .await;
    let updated = expect_json(res, StatusCode::OK).await;
    assert_eq!(updated["transaction_refs"], json!(["B", "A"]), "{updated}");
}

// 3. Placeholders inside user text.

async fn a_title_containing_a_placeholder_arrives_verbatim_in_the_confirmation_email(
    backend: Backend,
) {
    // Arrange: a title that names the very placeholders its email templates fill.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "{title}").await;
    let title = "退款{version}与{provider}迟迟未到账";
    let slug = slug_of(&app.create_group(&owner, json!({"title": title})).await);

    // Act
    join(&app, &slug, &joiner, TestApp::join_body("李雷", 1)).await;

    // Assert: the title and the name come through as typed.
    let mail = mail_to(&app, &joiner.email, "已加入").await;
    assert!(mail.subject.contains(title), "{}", mail.subject);
    assert!(mail.text.contains(&format!("“{title}”")), "{}", mail.text);
    assert!(mail.text.contains("{title}，您好"), "{}", mail.text);
}

async fn a_title_and_statement_containing_placeholders_arrive_verbatim_in_the_reconfirm_email(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "李雷").await;
    let slug = slug_of(
        &app.create_group(&owner, json!({"title": "退款{version}问题"}))
            .await,
    );
    join(&app, &slug, &joiner, TestApp::join_body("李雷", 1)).await;
    let statement = "我们要求{group}平台立即退款，并承担{title}全部损失，公开道歉。";

    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&owner.access_token),
            Some(json!({"joint_statement": statement, "demands": ["refund"]})),
        )
        .await;
    assert!(
        res.status().is_success(),
        "{}",
        res.text().await.unwrap_or_default()
    );

    let mail = mail_to(&app, &joiner.email, "重新确认").await;
    assert!(
        mail.subject.contains("退款{version}问题"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains(statement), "{}", mail.text);
}

// 4. Secrets never shown.

#[test]
fn settings_show_and_serialise_no_secret_or_database_password() {
    let settings = Settings {
        database_url: Some("postgres://lianming:db-pass-4711@db.internal:5432/lianming".into()),
        smtp_url: Some("smtp://mailer:smtp-pass-0815@relay.internal:587".into()),
        jwt_secret: Some("jwt-secret-that-is-long-enough-0123456789".into()),
        ..Settings::default()
    };
    let shown = format!("{settings:?} {settings:#?}");
    let serialised = [
        serde_json::to_string(&settings).expect("json"),
        toml::to_string(&settings).expect("toml"),
    ];
    for out in std::iter::once(&shown).chain(&serialised) {
        for secret in [
            "db-pass-4711",
            "smtp-pass-0815",
            "mailer",
            "jwt-secret-that",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
    }
    // What is not secret stays visible for debugging.
    assert!(shown.contains("db.internal"), "{shown}");
    assert!(serialised[0].contains("\"bind\""), "{}", serialised[0]);
}

// 5. Readable provider slugs.

async fn a_new_provider_gets_a_pinyin_slug_and_a_numbered_one_when_taken(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;

    let first = app
        .create_group(&owner, json!({"provider_name": "快付钱包"}))
        .await;
    // Another spelling of the name is a new provider with the same reading.
    let second = app
        .create_group(
            &owner,
            json!({"provider_name": "快付 钱包", "title": "提现一直失败"}),
        )
        .await;
    let english = app
        .create_group(
            &owner,
            json!({"provider_name": "Quick Pay Ltd.", "title": "提现迟迟不到账"}),
        )
        .await;

    assert_eq!(first["provider"]["slug"], "kuaifu-qianbao", "{first}");
    assert_eq!(second["provider"]["slug"], "kuaifu-qianbao-2", "{second}");
    assert_eq!(english["provider"]["slug"], "quick-pay-ltd", "{english}");
    let res = app.get("/providers/kuaifu-qianbao", None).await;
    assert_eq!(
        expect_json(res, StatusCode::OK).await["name_zh"],
        "快付钱包"
    );
}

async fn a_provider_with_an_old_random_slug_keeps_it_and_is_found_again(backend: Backend) {
    use sea_orm::ConnectionTrait;
    // Arrange: a provider proposed before slugs were readable (SQL, as an old release wrote it).
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    app.db
        .execute_unprepared(
            "INSERT INTO providers (slug, name_zh, aliases, kind, complaint_channels, reviewed, \
             search_text, created_at) VALUES ('p-hpwvs7h3', '慢付钱包', '[]', 'other', '[]', \
             FALSE, '慢付钱包', CURRENT_TIMESTAMP)",
        )
        .await
        .expect("insert");

    // Act: a new group names it by name.
    let group = app
        .create_group(&owner, json!({"provider_name": "慢付钱包"}))
        .await;

    // Assert: the same row, under its old slug, which still resolves.
    assert_eq!(group["provider"]["slug"], "p-hpwvs7h3", "{group}");
    let res = app.get("/providers/p-hpwvs7h3", None).await;
    assert_eq!(
        expect_json(res, StatusCode::OK).await["name_zh"],
        "慢付钱包"
    );
}

// 6. The approval email, and next steps that lead to pages that exist.

async fn an_approved_joiner_is_told_by_email_with_a_link_to_the_group_page(backend: Backend) {
    // Arrange: a moderated group and a pending joiner.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "待审").await;
    let slug = slug_of(&app.create_group(&owner, json!({})).await);
    let res = app
        .patch(
            &format!("/groups/{slug}"),
            Some(&owner.access_token),
            json!({"requires_moderation": true}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;
    let p = join(&app, &slug, &joiner, join_with("待审", 100, "CNY", 1)).await;
    assert_eq!(p["status"], "pending");

    // Act
    let res = app
        .patch(
            &format!("/groups/{slug}/roster/{}", p["id"]),
            Some(&owner.access_token),
            json!({"action": "approve"}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;

    // Assert: the email arrives and its link opens the group page.
    let mail = mail_to(&app, &joiner.email, "已通过").await;
    let link = format!("{}/groups/{slug}", app.address);
    assert!(mail.text.contains(&link), "{}", mail.text);
    let page = app.client.get(&link).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
}

async fn a_rejection_email_names_no_form_that_does_not_exist(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let joiner = app.verified_user("joiner@example.com", "李雷").await;
    let slug = slug_of(&app.create_group(&owner, json!({})).await);
    let p = join(&app, &slug, &joiner, TestApp::join_body("李雷", 1)).await;

    let res = app
        .patch(
            &format!("/groups/{slug}/roster/{}", p["id"]),
            Some(&owner.access_token),
            json!({"action": "reject", "reason": "不属于本组"}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;

    let mail = mail_to(&app, &joiner.email, "未被接受").await;
    assert!(!mail.text.contains("更新您的资料"), "{}", mail.text);
    let link = format!("{}/groups/{slug}", app.address);
    assert!(mail.text.contains(&link), "{}", mail.text);
    let page = app.client.get(&link).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
}

// 7. Errors in the request's language.

#[tokio::test]
async fn an_error_page_in_chinese_shows_a_chinese_title_and_message() {
    let app = TestApp::spawn().await;

    let missing = app
        .client
        .get(format!("{}/groups/no-such-group", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let html = missing.text().await.expect("html");
    assert!(html.contains("未找到"), "{html}");
    assert!(!html.contains("Not found"), "{html}");

    let no_token = app
        .client
        .get(format!("{}/invites/accept", app.address))
        .send()
        .await
        .expect("page");
    let html = no_token.text().await.expect("html");
    assert!(html.contains("输入有误"), "{html}");
    assert!(!html.contains("invalid input"), "{html}");
}

#[tokio::test]
async fn a_problem_follows_the_requested_language_and_keeps_its_code() {
    let app = TestApp::spawn().await;
    let ask = |lang: Option<&'static str>| {
        let mut req = app.client.get(app.api("/groups/no-such-group"));
        if let Some(l) = lang {
            req = req.header(ACCEPT_LANGUAGE, l);
        }
        req.send()
    };

    let zh = expect_problem(
        ask(Some("zh-CN,zh;q=0.9")).await.expect("zh"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let en = expect_problem(
        ask(Some("en-GB,en;q=0.8")).await.expect("en"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unstated = expect_problem(
        ask(None).await.expect("none"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    assert_eq!(
        (zh["title"].as_str(), zh["detail"].as_str()),
        (Some("未找到"), Some("该内容不存在，或您无权查看。"))
    );
    assert_eq!(en["title"], "Not found");
    assert_eq!(
        unstated["title"], "Not found",
        "clients that state no language keep English"
    );

    // A validation problem: localised title and detail, the field still named.
    let res = app
        .client
        .post(app.api("/auth/login"))
        .header(ACCEPT_LANGUAGE, "zh-CN")
        .json(&json!({"email": "li@example.com", "password": ""}))
        .send()
        .await
        .expect("login");
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["title"], "输入有误", "{p}");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("password")),
        "{p}"
    );
    assert!(p["errors"]["password"].is_array(), "{p}");
}

on_both_databases!(
    an_incident_dated_today_at_one_in_the_morning_beijing_time_is_accepted,
    a_group_whose_incidents_end_today_in_beijing_before_eight_is_accepted,
    an_alert_for_an_update_at_0542_beijing_time_shows_that_day,
    repeated_transaction_refs_are_kept_once_in_first_seen_order,
    a_title_containing_a_placeholder_arrives_verbatim_in_the_confirmation_email,
    a_title_and_statement_containing_placeholders_arrive_verbatim_in_the_reconfirm_email,
    a_new_provider_gets_a_pinyin_slug_and_a_numbered_one_when_taken,
    a_provider_with_an_old_random_slug_keeps_it_and_is_found_again,
    an_approved_joiner_is_told_by_email_with_a_link_to_the_group_page,
    a_rejection_email_names_no_form_that_does_not_exist,
);
