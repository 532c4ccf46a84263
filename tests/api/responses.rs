//! Submissions and their clocks on a test-controlled clock, the holiday table, extensions, and
//! the group status machine.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::team::{
    expect_json, expect_problem, expect_refused, join, join_with, make_admin, relogin,
};
use crate::on_both_databases;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// A group owned by a fresh user, with the clock at `at`.
async fn group_at(app: &TestApp, at: DateTime<Utc>) -> (TestUser, String) {
    app.clock.set(at);
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&owner, json!({})).await;
    (owner, group["slug"].as_str().expect("slug").to_owned())
}

async fn submit(app: &TestApp, slug: &str, owner: &TestUser, body: Value) -> Value {
    let res = app
        .post(
            &format!("/groups/{slug}/submissions"),
            Some(&owner.access_token),
            body,
        )
        .await;
    expect_json(res, StatusCode::CREATED).await
}

/// The submission `id` as anyone sees it now.
async fn read(app: &TestApp, slug: &str, id: &Value) -> Value {
    let list = json_body(app.get(&format!("/groups/{slug}/submissions"), None).await).await;
    list.as_array()
        .expect("list")
        .iter()
        .find(|s| s["id"] == *id)
        .cloned()
        .expect("submission listed")
}

fn time_of(v: &Value) -> DateTime<Utc> {
    t(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

#[tokio::test]
async fn overdue_and_very_overdue_appear_exactly_when_due() {
    // Arrange: sent to the provider at 10:00 China time on Monday 2 November 2026; 15 calendar
    // days by default, so due at the end of 17 November there, very overdue after 30 days.
    let app = TestApp::spawn().await;
    let sent = t("2026-11-02T02:00:00Z");
    let (mut owner, slug) = group_at(&app, sent).await;
    let s = submit(
        &app,
        &slug,
        &owner,
        json!({"channel": "provider", "recipient": "快付钱包客服", "submitted_at": sent}),
    )
    .await;
    let due = t("2026-11-17T16:00:00Z");
    let very = t("2026-12-02T16:00:00Z");
    assert_eq!(time_of(&s["due_at"]), due);
    assert_eq!(time_of(&s["very_overdue_at"]), very);
    assert_eq!(
        (s["state"].clone(), s["day"].clone(), s["of"].clone()),
        (json!("awaiting"), json!(0), json!(15))
    );
    assert_eq!(s["next_step"], "consumer_association");

    // Act & Assert: the state changes exactly at the deadlines.
    for (at, state, day) in [
        (sent + Duration::days(9), "awaiting", 9),
        (due - Duration::seconds(1), "awaiting", 15),
        (due, "awaiting", 16),
        (due + Duration::seconds(1), "overdue", 16),
        (very - Duration::seconds(1), "overdue", 30),
        (very, "overdue", 31),
        (very + Duration::seconds(1), "very_overdue", 31),
    ] {
        app.clock.set(at);
        let now = read(&app, &slug, &s["id"]).await;
        assert_eq!(now["state"], state, "at {at}: {now}");
        assert_eq!(now["day"], day, "at {at}: {now}");
    }

    // A late answer stops the clock: answered, not on time.
    relogin(&app, &mut owner).await;
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "denial", "response_class": "untimely", "submission_id": s["id"], "title": "服务商拒绝退款"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;
    app.clock.advance(Duration::days(3));
    let now = read(&app, &slug, &s["id"]).await;
    assert_eq!(now["state"], "answered");
    assert_eq!(now["answered_on_time"], false);
    assert_eq!(now["day"], 31, "the clock stopped at the answer");
}

#[tokio::test]
async fn working_days_skip_weekends_and_listed_holidays() {
    // Arrange: sent to a consumer association (7 working days) on Wednesday 30 September 2026,
    // the eve of the National Day week (1–7 October off, Saturday 10 October worked).
    let app = TestApp::spawn().await;
    let sent = t("2026-09-30T02:00:00Z");
    let (mut owner, slug) = group_at(&app, sent).await;
    let s = submit(
        &app,
        &slug,
        &owner,
        json!({"channel": "consumer_association", "recipient": "深圳市消费者委员会", "submitted_at": sent}),
    )
    .await;
    // Working days: 8, 9, 10 (Sat, worked), 12, 13, 14, 15 October.
    assert_eq!(
        (s["due_days"].clone(), s["due_kind"].clone()),
        (json!(7), json!("working"))
    );
    assert_eq!(time_of(&s["due_at"]), t("2026-10-15T16:00:00Z"));
    let calendar = submit(
        &app,
        &slug,
        &owner,
        json!({"channel": "regulator", "recipient": "金融监管局", "submitted_at": sent, "due_days": 7}),
    )
    .await;
    assert_eq!(calendar["due_kind"], "calendar");
    assert_eq!(time_of(&calendar["due_at"]), t("2026-10-07T16:00:00Z"));
    // Day N counts working days only: on Monday 12 October it is day 4 of 7.
    app.clock.set(t("2026-10-12T04:00:00Z"));
    let now = read(&app, &slug, &s["id"]).await;
    assert_eq!(
        (now["day"].clone(), now["of"].clone()),
        (json!(4), json!(7))
    );

    // Act: an administrator lists Tuesday 13 October as a holiday too.
    let admin = app.verified_user("admin@example.com", "管理员").await;
    make_admin(&app, &admin).await;
    relogin(&app, &mut owner).await;
    let mut year = json_body(app.get("/holidays?year=2026", None).await).await;
    assert!(
        year.as_array()
            .expect("days")
            .iter()
            .any(|d| d["day"] == "2026-10-10" && d["is_workday"] == true),
        "{year}"
    );
    year.as_array_mut()
        .expect("days")
        .push(json!({"day": "2026-10-13", "name": "测试假日", "is_workday": false}));
    let res = app
        .send(
            reqwest::Method::PUT,
            "/holidays",
            Some(&owner.access_token),
            Some(json!({"year": 2026, "days": year.clone()})),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "admin_only").await;
    let res = app
        .send(
            reqwest::Method::PUT,
            "/holidays",
            Some(&admin.access_token),
            Some(json!({"year": 2026, "days": year})),
        )
        .await;
    let saved = expect_json(res, StatusCode::OK).await;
    assert!(
        saved
            .as_array()
            .expect("days")
            .iter()
            .any(|d| d["day"] == "2026-10-13")
    );

    // Assert: the open clock follows the table at once; calendar days do not move.
    let now = read(&app, &slug, &s["id"]).await;
    assert_eq!(time_of(&now["due_at"]), t("2026-10-16T16:00:00Z"));
    let stored = lianming::entities::submissions::Entity::find_by_id(s["id"].as_i64().expect("id"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    assert_eq!(
        stored.due_at,
        t("2026-10-16T16:00:00Z"),
        "the stored due date follows"
    );
    let now = read(&app, &slug, &calendar["id"]).await;
    assert_eq!(time_of(&now["due_at"]), t("2026-10-07T16:00:00Z"));
    // A day outside the year is refused, naming it.
    let res = app
        .send(
            reqwest::Method::PUT,
            "/holidays",
            Some(&admin.access_token),
            Some(json!({"year": 2026, "days": [{"day": "2027-01-01", "name": "元旦"}]})),
        )
        .await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(p["errors"]["days[0].day"].is_array(), "{p}");
}

#[tokio::test]
async fn an_extension_moves_the_due_date() {
    let app = TestApp::spawn().await;
    let sent = t("2026-11-02T02:00:00Z");
    let (mut owner, slug) = group_at(&app, sent).await;
    let stranger = app.verified_user("s@example.com", "路人").await;
    let s = submit(
        &app,
        &slug,
        &owner,
        json!({"channel": "provider", "recipient": "快付钱包客服", "submitted_at": sent}),
    )
    .await;
    let path = format!("/groups/{slug}/submissions/{}/extend", s["id"]);
    let (app_ref, path) = (&app, &path);
    let extend = move |user: &TestUser, body: Value| {
        let token = user.access_token.clone();
        async move { app_ref.post(path, Some(&token), body).await }
    };
    expect_refused(
        extend(&stranger, json!({"days": 10, "reason": "想拖延"})).await,
        "stranger",
    )
    .await;
    let p = expect_problem(
        extend(&owner, json!({"days": 10})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(p["errors"]["reason"].is_array(), "{p}");

    let res = extend(
        &owner,
        json!({"days": 10, "reason": "服务商申请延长调查期"}),
    )
    .await;
    let extended = expect_json(res, StatusCode::OK).await;
    assert_eq!(time_of(&extended["due_at"]), t("2026-11-27T16:00:00Z"));
    assert_eq!(
        time_of(&extended["very_overdue_at"]),
        t("2026-12-22T16:00:00Z")
    );
    assert_eq!(
        (extended["extension_days"].clone(), extended["of"].clone()),
        (json!(10), json!(25))
    );
    assert_eq!(extended["extension_reason"], "服务商申请延长调查期");

    // The old deadline passes without the submission becoming overdue; the new one does.
    app.clock.set(t("2026-11-17T16:00:01Z"));
    assert_eq!(read(&app, &slug, &s["id"]).await["state"], "awaiting");
    app.clock.set(t("2026-11-27T16:00:01Z"));
    assert_eq!(read(&app, &slug, &s["id"]).await["state"], "overdue");

    // Once answered there is nothing to extend.
    relogin(&app, &mut owner).await;
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "offer", "response_class": "closed_monetary_relief", "submission_id": s["id"], "title": "同意退款"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;
    expect_problem(
        extend(&owner, json!({"days": 5, "reason": "再等等"})).await,
        StatusCode::CONFLICT,
        "submission_answered",
    )
    .await;
}

async fn illegal_status_moves_answer_409_and_change_nothing(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let participant = app.verified_user("p@example.com", "参与者").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    join(
        &app,
        &slug,
        &participant,
        join_with("参与者", 100, "CNY", 1),
    )
    .await;
    let (app_ref, slug_ref) = (&app, &slug);
    let move_to = move |user: &TestUser, status: &str, outcome: Option<&str>| {
        let mut body = json!({"status": status});
        if let Some(o) = outcome {
            body["outcome"] = json!(o);
        }
        let token = user.access_token.clone();
        async move {
            app_ref
                .post(&format!("/groups/{slug_ref}/status"), Some(&token), body)
                .await
        }
    };
    let snapshot = move || async move {
        let view = json_body(app_ref.get(&format!("/groups/{slug_ref}"), None).await).await;
        (
            view["status"].clone(),
            view["outcome"].clone(),
            app_ref.count_rows("audit_log").await,
        )
    };
    let illegal = |from: &'static str| -> Vec<(&'static str, Option<&'static str>)> {
        match from {
            "gathering" => vec![
                ("gathering", None),
                ("responded", None),
                ("escalated", None),
                ("closed", Some("resolved_monetary")),
            ],
            "submitted" => vec![
                ("submitted", None),
                ("gathering", None),
                ("closed", Some("explained")),
            ],
            "responded" => vec![
                ("responded", None),
                ("submitted", None),
                ("gathering", None),
            ],
            "escalated" => vec![("escalated", None), ("gathering", None)],
            _ => vec![
                ("gathering", None),
                ("submitted", None),
                ("responded", None),
                ("escalated", None),
                ("closed", Some("withdrawn")),
            ],
        }
    };

    // Act & Assert: along a legal path, every illegal move from each state is a 409 that
    // changes nothing.
    let path = [
        ("gathering", None),
        ("submitted", None),
        ("escalated", None),
        ("responded", None),
        ("closed", Some("rejected")),
    ];
    for (i, (state, _)) in path.iter().enumerate() {
        let before = snapshot().await;
        assert_eq!(before.0, *state);
        for (to, outcome) in illegal(state) {
            let p = expect_problem(
                move_to(&owner, to, outcome).await,
                StatusCode::CONFLICT,
                "illegal_status_transition",
            )
            .await;
            assert!(
                p["detail"].as_str().is_some_and(|d| d.contains(state)),
                "{p}"
            );
            assert_eq!(snapshot().await, before, "{state} → {to}");
        }
        if let Some((next, outcome)) = path.get(i + 1) {
            expect_refused(move_to(&participant, next, *outcome).await, "participant").await;
            let view = expect_json(move_to(&owner, next, *outcome).await, StatusCode::OK).await;
            assert_eq!(view["status"], *next);
        }
    }
    let closed = snapshot().await;
    assert_eq!(closed.1, "rejected");

    // Closing needs an outcome, and only closing takes one.
    let other = app
        .create_group(&owner, json!({"title": "另一个退款投诉"}))
        .await;
    let other = other["slug"].as_str().expect("slug");
    for body in [
        json!({"status": "closed"}),
        json!({"status": "submitted", "outcome": "explained"}),
    ] {
        let res = app
            .post(
                &format!("/groups/{other}/status"),
                Some(&owner.access_token),
                body,
            )
            .await;
        let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(p["errors"]["outcome"].is_array(), "{p}");
    }
    // A group may be withdrawn at any stage before it closes.
    let res = app
        .post(
            &format!("/groups/{other}/status"),
            Some(&owner.access_token),
            json!({"status": "closed", "outcome": "withdrawn"}),
        )
        .await;
    assert_eq!(
        expect_json(res, StatusCode::OK).await["outcome"],
        "withdrawn"
    );
}

on_both_databases!(illegal_status_moves_answer_409_and_change_nothing);
