//! The walking skeleton end to end: register, verify through the emailed link, log in, create a
//! group, find it by a Chinese substring, join with a signature, withdraw.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::on_both_databases;

async fn two_strangers_find_each_other_and_join(backend: Backend) {
    let app = TestApp::on(backend).await;

    // Two people register; the tokens come from the emails the SMTP server received.
    let organiser = app.registered_user("wang.fang@example.com", "王芳").await;
    let joiner = app.registered_user("li.lei@example.com", "李雷").await;

    // One starts a group against a provider not yet in the directory.
    let group = app
        .create_group(
            &organiser,
            json!({"title": "快付钱包退款迟迟未到账，客服推诿"}),
        )
        .await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    assert_eq!(group["participant_count"], 0);
    assert_eq!(group["statement_version"], 1);
    assert_eq!(group["provider"]["name_zh"], "快付钱包");
    assert_eq!(group["provider"]["reviewed"], false);

    // The other finds it by a Chinese substring of the title.
    let found = json_body(app.get("/groups?q=%E9%80%80%E6%AC%BE", None).await).await; // q=退款
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["slug"], slug.as_str());

    // Joins with a signature of the current statement.
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&joiner.access_token),
            TestApp::join_body("李雷", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let joined = json_body(res).await;
    assert_eq!(joined["status"], "active");
    assert_eq!(joined["signature"]["statement_version"], 1);
    assert_eq!(
        joined["signature"]["statement_sha256"],
        group["statement_sha256"]
    );

    // Counted as soon as the join is answered.
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 1);
    let listed = json_body(app.get("/groups?q=%E9%80%80%E6%AC%BE", None).await).await;
    assert_eq!(listed["items"][0]["participant_count"], 1);

    // The join confirmation arrives by email, in Chinese.
    let confirmation = app
        .mail
        .wait_for_count(3, std::time::Duration::from_secs(15))
        .await
        .into_iter()
        .find(|m| m.envelope_to.contains(&joiner.email) && m.subject.contains("已加入"))
        .expect("join confirmation");
    assert!(confirmation.text.contains("快付钱包"));

    // Withdraws: no longer counted.
    let res = app
        .delete(
            &format!("/groups/{slug}/participation"),
            Some(&joiner.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let view: Value = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 0);
    let mine = json_body(
        app.get(
            &format!("/groups/{slug}/participation"),
            Some(&joiner.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(mine["status"], "withdrawn");
}

on_both_databases!(two_strangers_find_each_other_and_join);
