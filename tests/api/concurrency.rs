//! Joins under load: one row per user per group, and a count that includes every join as soon
//! as it is answered.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::on_both_databases;

async fn twenty_simultaneous_joins_by_one_user_make_one_participation(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let user = app.verified_user("eager@example.com", "心急").await;
    let group = app.create_group(&owner, json!({})).await;
    let path = format!(
        "/groups/{}/participation",
        group["slug"].as_str().expect("slug")
    );

    let body = TestApp::join_body("心急的人", 1);
    let answers =
        join_all((0..20).map(|_| app.post(&path, Some(&user.access_token), body.clone()))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();

    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(app.count_rows("participations").await, 1);
    assert_eq!(app.count_rows("signatures").await, 1);
    let view = json_body(
        app.get(
            &format!("/groups/{}", group["slug"].as_str().expect("slug")),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(view["participant_count"], 1);
}

async fn fifty_users_joining_at_once_are_all_counted(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let users = join_all((0..50).map(|i| {
        let app = &app;
        async move {
            app.verified_user(&format!("user{i}@example.com"), &format!("用户{i}"))
                .await
        }
    }))
    .await;

    let path = format!("/groups/{slug}/participation");
    let answers = join_all(users.iter().enumerate().map(|(i, u)| {
        app.post(
            &path,
            Some(&u.access_token),
            TestApp::join_body(&format!("参与者{i}"), 1),
        )
    }))
    .await;
    for res in &answers {
        assert_eq!(res.status(), StatusCode::CREATED);
    }

    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 50);
    // 50 people in one currency: the aggregate is shown.
    assert_eq!(view["disputed_totals"][0]["currency"], "CNY");
    assert_eq!(view["disputed_totals"][0]["participants"], 50);
    assert_eq!(view["disputed_totals"][0]["amount_minor"], 50 * 12800);
}

on_both_databases!(
    twenty_simultaneous_joins_by_one_user_make_one_participation,
    fifty_users_joining_at_once_are_all_counted
);
