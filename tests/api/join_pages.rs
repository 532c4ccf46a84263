//! The join flow's pages over HTTP, as a browser uses them: a newcomer is sent to register
//! (and comes back after verifying), a member fills in the statement form and signs the
//! displayed version, mistakes are shown by their fields and change nothing, a statement
//! changed meanwhile is shown for signing, and the confirmation shows what was signed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

async fn group(app: &TestApp) -> (crate::helpers::app::TestUser, String, Value) {
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let g = app
        .create_group(&owner, json!({"title": "快付钱包退款超过30天未到账"}))
        .await;
    let slug = g["slug"].as_str().expect("slug").to_owned();
    (owner, slug, g)
}

fn form(full_name: &str, agree: bool) -> Vec<(&str, &str)> {
    let mut f = vec![
        (
            "statement",
            "三月二日申请退款 128.50 元，客服说七个工作日到账，至今没有收到。",
        ),
        ("currency", "CNY"),
        ("amount", "128.50"),
        ("incident_date", "2026-03-02"),
        (
            "transaction_refs",
            "T2026030200001\nT2026030200002, T2026030200001",
        ),
        ("consent_share_identity", "yes"),
        ("full_name", full_name),
        ("statement_version", "1"),
    ];
    if agree {
        f.push(("agree", "yes"));
    }
    f
}

async fn a_member_signs_the_displayed_statement_and_sees_what_was_signed(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, slug, g) = group(&app).await;
    let member = app.verified_user("member@example.com", "参与者").await;
    let v = Visitor::signed_in(&app, &member).await;
    let join = format!("/groups/{slug}/join");

    let page = v.get(&join).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("第 2 步，共 3 步"), "{}", page.html);
    let statement = g["joint_statement"].as_str().expect("statement");
    assert!(
        page.html.contains(statement),
        "the statement to sign is shown"
    );
    assert!(
        page.html
            .contains(g["statement_sha256"].as_str().expect("hash"))
    );

    // Mistakes: each message by its field, 422, nothing stored.
    let mut bad = form("", false);
    bad.retain(|(k, _)| *k != "amount");
    bad.push(("amount", "一百"));
    let wrong = v.submit(&join, &join, &bad).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.html
    );
    for id in ["amount-error", "full_name-error", "agree-error"] {
        assert!(
            wrong.html.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            wrong.html
        );
    }
    assert!(
        wrong.html.contains("href=\"#amount\""),
        "the summary links the field"
    );
    assert!(
        wrong.html.contains("三月二日申请退款"),
        "what was typed is kept"
    );
    assert_eq!(app.count_rows("participations").await, 0);

    // Without the page's CSRF token: refused, nothing stored.
    let forged = v.post(&join, &form("王小明", true)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("participations").await, 0);

    let signed = v.submit(&join, &join, &form("王小明", true)).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let step3 = signed.location.expect("location");
    assert_eq!(step3, format!("/groups/{slug}/join/evidence"));
    let evidence = v.get(&step3).await;
    assert_eq!(evidence.status, StatusCode::OK);
    assert!(evidence.html.contains("签名成功"), "{}", evidence.html);

    // Stored exactly as the API would have stored it.
    let mine = json_body(
        app.get(
            &format!("/groups/{slug}/participation"),
            Some(&member.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(
        mine["amount_disputed"],
        json!({"amount_minor": 12850, "currency": "CNY"})
    );
    assert_eq!(mine["incident_date"], "2026-03-02");
    assert_eq!(
        mine["transaction_refs"],
        json!(["T2026030200001", "T2026030200002"])
    );
    assert_eq!(mine["consent_share_identity"], true);
    assert_eq!(mine["consent_contact"], false);
    assert_eq!(mine["signature"]["full_name"], "王小明");
    assert_eq!(mine["signature"]["statement_version"], 1);

    let done = v.get(&format!("/groups/{slug}/join/done")).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.html.contains("您已成功加入"), "{}", done.html);
    assert!(done.html.contains("王小明"));
    assert!(
        done.html.contains(
            mine["signature"]["statement_sha256"]
                .as_str()
                .expect("hash")
        ),
        "the confirmation shows the signed hash"
    );
    assert!(done.html.contains("href=\"/account/groups/"));

    // Joined already: the join page leads to the participant's own case.
    let again = v.get(&join).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        again.location.as_deref(),
        Some(format!("/account/groups/{slug}").as_str())
    );

    // Someone who has not joined has no confirmation to see.
    let other = app.verified_user("other@example.com", "路人").await;
    let stranger = Visitor::signed_in(&app, &other).await;
    assert_eq!(
        stranger
            .get(&format!("/groups/{slug}/join/done"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(stranger.get(&step3).await.status, StatusCode::NOT_FOUND);
}

async fn a_statement_changed_while_the_form_was_open_is_shown_for_signing(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (owner, slug, _) = group(&app).await;
    // Somebody signs version 1, so an edit makes version 2.
    let first = app.verified_user("first@example.com", "先加入").await;
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&first.access_token),
            TestApp::join_body("先加入者", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let member = app.verified_user("member@example.com", "参与者").await;
    let v = Visitor::signed_in(&app, &member).await;
    let join = format!("/groups/{slug}/join");
    let open = v.get(&join).await;
    let csrf = open.csrf();

    let new_text = "第二版：我们要求快付钱包在十五日内全额退款，并公开说明延误原因。";
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&owner.access_token),
            Some(json!({"joint_statement": new_text, "demands": ["refund"]})),
        )
        .await;
    assert!(res.status().is_success());

    let mut fields = form("王小明", true);
    fields.push(("csrf", &csrf));
    let stale = v.post(&join, &fields).await;
    assert_eq!(
        stale.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        stale.html
    );
    assert!(
        stale.html.contains("组织者更新了联合声明"),
        "{}",
        stale.html
    );
    assert!(stale.html.contains(new_text), "the new version is shown");
    assert!(
        stale
            .html
            .contains("name=\"statement_version\" value=\"2\"")
    );
    assert_eq!(app.count_rows("participations").await, 1, "nothing joined");
}

on_both_databases!(
    a_member_signs_the_displayed_statement_and_sees_what_was_signed,
    a_statement_changed_while_the_form_was_open_is_shown_for_signing,
);

#[tokio::test]
async fn a_newcomer_is_sent_to_register_and_an_unverified_member_to_the_email() {
    let app = TestApp::spawn().await;
    let (_, slug, _) = group(&app).await;
    let v = Visitor::new(&app);
    let join = format!("/groups/{slug}/join");
    let res = v.get(&join).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let register = res.location.expect("location");
    assert_eq!(
        register,
        format!("/register?next=%2Fgroups%2F{slug}%2Fjoin")
    );
    let page = v.get(&register).await;
    assert!(page.html.contains("第 1 步，共 3 步"), "{}", page.html);

    let password = "a long enough password";
    app.register("new@example.com", "新人", password).await;
    let unverified = crate::helpers::app::TestUser {
        email: "new@example.com".into(),
        password: password.into(),
        access_token: String::new(),
        refresh_token: String::new(),
    };
    let v = Visitor::signed_in(&app, &unverified).await;
    let page = v.get(&join).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("请先验证邮箱"), "{}", page.html);
    assert!(
        !page.html.contains("name=\"full_name\""),
        "no form to sign yet"
    );
}
