//! Who may see and do what: only organisers edit a group, only verified users start or join
//! one, a participation is its owner's alone, and the public views carry no personal data —
//! disputed money only in currency cells shared by at least five people.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::on_both_databases;

/// Asserts that `res` is a problem document with `status` and `code`; returns it.
async fn expect_problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "Content-Type is {content_type:?}: {text}"
    );
    let problem: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(problem["code"], code, "{problem}");
    assert_eq!(problem["status"], status.as_u16(), "{problem}");
    problem
}

/// Row counts of the tables a refused write must leave alone.
async fn row_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "groups",
        "group_roles",
        "statement_versions",
        "providers",
        "participations",
        "signatures",
        "audit_log",
        "outbox",
    ] {
        out.push((table, app.count_rows(table).await));
    }
    out
}

/// A join body with the participant's own statement, amount and references.
fn join_body(
    full_name: &str,
    statement: &str,
    amount_minor: i64,
    currency: &str,
    tx_ref: &str,
) -> Value {
    json!({
        "statement": statement,
        "amount_disputed": {"amount_minor": amount_minor, "currency": currency},
        "incident_date": "2026-03-02",
        "transaction_refs": [tx_ref],
        "consent_share_identity": true,
        "consent_contact": true,
        "signature": {"full_name": full_name, "statement_version": 1, "agree": true}
    })
}

async fn join(app: &TestApp, slug: &str, user: &TestUser, body: Value) {
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&user.access_token),
            body,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "join as {}: {}",
        user.email,
        res.text().await.unwrap_or_default()
    );
}

/// All mail that reached `address`, waiting until there are at least `n`.
async fn wait_for_mails_to(
    app: &TestApp,
    address: &str,
    n: usize,
) -> Vec<crate::helpers::smtp::ReceivedMail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mails: Vec<_> = app
            .mail
            .messages()
            .into_iter()
            .filter(|m| {
                m.envelope_to
                    .iter()
                    .any(|to| to.eq_ignore_ascii_case(address))
            })
            .collect();
        if mails.len() >= n || std::time::Instant::now() >= deadline {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// (a) Editing a group

async fn only_an_organiser_may_edit_a_group(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let stranger = app.verified_user("li.lei@example.com", "李雷").await;
    let participant = app.verified_user("han.meimei@example.com", "韩梅梅").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    join(&app, &slug, &participant, TestApp::join_body("韩梅梅", 1)).await;
    let path = format!("/groups/{slug}");
    let edit = json!({"title": "被陌生人改掉的标题", "visibility": "unlisted"});
    let before = row_counts(&app).await;

    // Act & Assert: another verified user, and even a participant, are refused.
    for user in [&stranger, &participant] {
        let res = app
            .patch(&path, Some(&user.access_token), edit.clone())
            .await;
        expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    }

    // Without a token, or with a forged one, the caller is not even known.
    let res = app.patch(&path, None, edit.clone()).await;
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
    expect_problem(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let res = app.patch(&path, Some("not.a.jwt"), edit.clone()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Nothing changed.
    assert_eq!(
        row_counts(&app).await,
        before,
        "refused edits write nothing"
    );
    let view = json_body(app.get(&path, None).await).await;
    assert_eq!(view["title"], group["title"], "{view}");
    assert_eq!(view["visibility"], "public", "{view}");

    // The owner may edit.
    let res = app.patch(&path, Some(&owner.access_token), edit).await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited = json_body(res).await;
    assert_eq!(edited["title"], "被陌生人改掉的标题");
    let view = json_body(app.get(&path, None).await).await;
    assert_eq!(view["title"], "被陌生人改掉的标题");
    assert_eq!(view["visibility"], "unlisted");
}

// (b) Unverified users

async fn an_unverified_user_may_log_in_and_resend_but_not_start_or_join_a_group(backend: Backend) {
    // Arrange: registered and logged in, never verified.
    let app = TestApp::on(backend).await;
    let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&organiser, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let email = "zhou.xun@example.com";
    let password = "correct horse battery staple";
    let first_token = app.register(email, "周迅", password).await;
    let (access, _refresh) = app.login(email, password).await;
    let me = json_body(app.get("/me", Some(&access)).await).await;
    assert_eq!(me["email_verified"], false, "{me}");
    let before = row_counts(&app).await;

    // Act & Assert: cannot start a group (not even one proposing a new provider) …
    let res = app
        .post(
            "/groups",
            Some(&access),
            json!({
                "provider": null,
                "provider_name": "未验证支付",
                "title": "未验证用户的群组",
                "summary": "这个群组不应该被创建，因为邮箱还没有验证。",
                "category": "other",
                "demands": ["apology"],
                "joint_statement": "这是一份不应该被保存的联合声明，因为发起人还没有验证邮箱。",
            }),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "email_not_verified").await;

    // … nor join one.
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&access),
            TestApp::join_body("周迅", 1),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "email_not_verified").await;

    assert_eq!(row_counts(&app).await, before, "refusals write nothing");
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 0);

    // May ask for a new verification email, which arrives with a new token.
    let res = app
        .send(
            reqwest::Method::POST,
            "/auth/verify-email/resend",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mails = wait_for_mails_to(&app, email, 2).await;
    assert_eq!(mails.len(), 2, "a second verification email should arrive");
    let second_token = mails[1]
        .find_link_token("token")
        .expect("verification link with token");
    assert_ne!(second_token, first_token);

    // The new link verifies the address; then joining works.
    let res = app
        .post("/auth/verify-email", None, json!({"token": second_token}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&access),
            TestApp::join_body("周迅", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Once verified, asking again is a conflict.
    let res = app
        .send(
            reqwest::Method::POST,
            "/auth/verify-email/resend",
            Some(&access),
            None,
        )
        .await;
    expect_problem(res, StatusCode::CONFLICT, "already_verified").await;
}

// (c) Public views carry no personal data

struct Participant {
    email: &'static str,
    display_name: &'static str,
    full_name: &'static str,
    statement: &'static str,
    tx_ref: &'static str,
}

const PARTICIPANTS: [Participant; 3] = [
    Participant {
        email: "zhao.tiezhu@example.com",
        display_name: "铁柱兄弟",
        full_name: "赵铁柱",
        statement: "私密陈述：我的银行卡尾号8848被重复扣款两次。",
        tx_ref: "TXN-SECRET-123",
    },
    Participant {
        email: "qian.duoduo@example.com",
        display_name: "多多妈妈",
        full_name: "钱多多",
        statement: "私密陈述：家住幸福路七号，退款一直没有到。",
        tx_ref: "TXN-SECRET-456",
    },
    Participant {
        email: "sun.xiaomei@example.com",
        display_name: "Xiaomei Sun",
        full_name: "孙小美",
        statement: "Private statement: my refund for order 42 never came.",
        tx_ref: "TXN-SECRET-789",
    },
];

/// Asserts that no personal datum of any participant appears in `body`, raw or re-encoded.
fn assert_no_personal_data(what: &str, body: &str, organiser: &TestUser) {
    let normalised = serde_json::from_str::<Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    for p in &PARTICIPANTS {
        let local_part = p.email.split('@').next().unwrap_or_default();
        for secret in [
            p.email,
            local_part,
            p.display_name,
            p.full_name,
            p.statement,
            p.tx_ref,
            "TXN-SECRET",
            "私密陈述",
        ] {
            assert!(
                !body.contains(secret) && !normalised.contains(secret),
                "{what} leaks {secret:?}: {body}"
            );
        }
    }
    assert!(
        !body.contains(&organiser.email),
        "{what} leaks the organiser's email: {body}"
    );
}

async fn public_views_show_no_participant_data(backend: Backend) {
    // Arrange: a group with three participants, and a second group like it.
    let app = TestApp::on(backend).await;
    let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&organiser, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let provider = group["provider"]["slug"]
        .as_str()
        .expect("provider")
        .to_owned();
    let sibling = app
        .create_group(&organiser, json!({"title": "快付钱包退款三个月未到账"}))
        .await;
    let sibling_slug = sibling["slug"].as_str().expect("slug").to_owned();
    for p in &PARTICIPANTS {
        let user = app.verified_user(p.email, p.display_name).await;
        join(
            &app,
            &slug,
            &user,
            join_body(p.full_name, p.statement, 12_800, "CNY", p.tx_ref),
        )
        .await;
    }

    // Act: every public read.
    let reads = [
        (format!("/groups/{slug}"), Some(slug.as_str())),
        (format!("/groups/{sibling_slug}"), None),
        ("/groups".to_owned(), Some(slug.as_str())),
        (
            "/groups?q=%E9%80%80%E6%AC%BE".to_owned(),
            Some(slug.as_str()),
        ), // q=退款
        (
            format!(
                "/groups/suggest?provider={provider}&category=refund_delay&q=%E9%80%80%E6%AC%BE"
            ),
            Some(slug.as_str()),
        ),
        (
            format!("/groups/{sibling_slug}/similar"),
            Some(slug.as_str()),
        ),
        (
            format!("/groups/{slug}/similar"),
            Some(sibling_slug.as_str()),
        ),
        (format!("/providers/{provider}"), None),
        (
            "/providers?q=%E5%BF%AB%E4%BB%98".to_owned(),
            Some(provider.as_str()),
        ), // q=快付
    ];
    for (path, must_list) in &reads {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        let body = res.text().await.expect("body");

        // Assert: the read is about the group (so the check is not vacuous) …
        if let Some(expected) = must_list {
            assert!(
                body.contains(expected),
                "GET {path} should list {expected}: {body}"
            );
        }
        // … and carries nobody's name, address, statement or references.
        assert_no_personal_data(&format!("GET {path}"), &body, &organiser);
    }
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 3);
    let detail = json_body(app.get(&format!("/providers/{provider}"), None).await).await;
    assert_eq!(detail["participants"], 3, "{detail}");

    // Search does not look into participants' data either.
    for q in ["TXN-SECRET-123", "%E8%B5%B5%E9%93%81%E6%9F%B1", "8848"] {
        // (%E8%B5%B5%E9%93%81%E6%9F%B1 is 赵铁柱.)
        let found = json_body(app.get(&format!("/groups?q={q}"), None).await).await;
        assert_eq!(found["total"], 0, "q={q} found {found}");
        let suggested = json_body(app.get(&format!("/groups/suggest?q={q}"), None).await).await;
        assert_eq!(suggested, json!([]), "suggest q={q}");
    }
}

// (d) A participation is its owner's alone

async fn a_participation_is_readable_only_by_its_owner(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
    let owner = app
        .verified_user(PARTICIPANTS[0].email, PARTICIPANTS[0].display_name)
        .await;
    let other = app.verified_user("li.lei@example.com", "李雷").await;
    let group = app.create_group(&organiser, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let p = &PARTICIPANTS[0];
    join(
        &app,
        &slug,
        &owner,
        join_body(p.full_name, p.statement, 12_800, "CNY", p.tx_ref),
    )
    .await;
    let path = format!("/groups/{slug}/participation");

    // Act & Assert: someone who has not joined gets 404 for their own (missing) one and never
    // sees the other's; the organiser, having not joined, likewise.
    for user in [&other, &organiser] {
        let res = app.get(&path, Some(&user.access_token)).await;
        let text = format!(
            "{}",
            expect_problem(res, StatusCode::NOT_FOUND, "not_found").await
        );
        assert_no_personal_data(&format!("GET {path} as {}", user.email), &text, &organiser);
    }

    // Nor can they change or withdraw it.
    let res = app
        .patch(
            &path,
            Some(&other.access_token),
            json!({"statement": "被别人改掉的陈述内容，长度足够。"}),
        )
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.delete(&path, Some(&other.access_token)).await;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;

    // Without a token there is nobody to look up.
    let res = app.get(&path, None).await;
    expect_problem(res, StatusCode::UNAUTHORIZED, "missing_token").await;

    // The owner sees their own record, unchanged.
    let res = app.get(&path, Some(&owner.access_token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mine = json_body(res).await;
    assert_eq!(mine["status"], "active");
    assert_eq!(mine["statement"], p.statement);
    assert_eq!(mine["transaction_refs"], json!([p.tx_ref]));
    assert_eq!(mine["signature"]["full_name"], p.full_name);

    // Once the other joins, each sees only their own.
    join(&app, &slug, &other, TestApp::join_body("李雷", 1)).await;
    let theirs = json_body(app.get(&path, Some(&other.access_token)).await).await;
    assert_eq!(theirs["signature"]["full_name"], "李雷");
    assert_ne!(theirs["id"], mine["id"]);
    assert_no_personal_data(
        "the other's own participation",
        &theirs.to_string(),
        &organiser,
    );
}

// (e) Disputed totals only in cells of five

/// The group's public `disputed_totals`, and the raw body of its view without the statement
/// hash (whose hex digits could contain any number).
async fn disputed_totals(app: &TestApp, slug: &str) -> (Value, String) {
    let body = app
        .get(&format!("/groups/{slug}"), None)
        .await
        .text()
        .await
        .expect("body");
    let view: Value = serde_json::from_str(&body).expect("json");
    let hash = view["statement_sha256"].as_str().unwrap_or("-").to_owned();
    (view["disputed_totals"].clone(), body.replace(&hash, ""))
}

async fn disputed_money_shows_only_for_currencies_shared_by_five_active_participants(
    backend: Backend,
) {
    // Arrange: four CNY participants and one USD participant, with amounts easy to spot.
    let app = TestApp::on(backend).await;
    let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&organiser, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let cny = [10_001_i64, 20_002, 30_003, 40_004];
    let mut cny_users = Vec::new();
    for (i, amount) in cny.iter().enumerate() {
        let user = app
            .verified_user(&format!("cny{i}@example.com"), &format!("人民币{i}"))
            .await;
        join(
            &app,
            &slug,
            &user,
            join_body("张三", "我的退款一直没有到账。", *amount, "CNY", "T1"),
        )
        .await;
        cny_users.push(user);
    }
    let usd = app.verified_user("usd@example.com", "美元").await;
    join(
        &app,
        &slug,
        &usd,
        join_body("李四", "My refund never arrived.", 777_777, "USD", "T2"),
    )
    .await;

    // Act
    let (totals, body) = disputed_totals(&app, &slug).await;

    // Assert: five people, but no currency has five: one merged cell without an amount.
    assert_eq!(
        totals,
        json!([{"currency": "other", "amount_minor": null, "participants": 5}]),
        "{body}"
    );
    for amount in cny.iter().chain([&777_777, &100_010]) {
        assert!(
            !body.contains(&amount.to_string()),
            "amount {amount} shown: {body}"
        );
    }
    assert!(
        !body.contains("\"CNY\"") && !body.contains("\"USD\""),
        "{body}"
    );

    // A fifth CNY participant opens the CNY cell; USD stays merged and hidden.
    let fifth = app.verified_user("cny4@example.com", "人民币4").await;
    join(
        &app,
        &slug,
        &fifth,
        join_body("王五", "我的退款一直没有到账。", 50_005, "CNY", "T3"),
    )
    .await;
    let (totals, body) = disputed_totals(&app, &slug).await;
    assert_eq!(
        totals,
        json!([{"currency": "CNY", "amount_minor": 150_015, "participants": 5}]),
        "{body}"
    );
    assert!(!body.contains("777777") && !body.contains("USD"), "{body}");

    // A withdrawal closes the cell again: only active participants count.
    let res = app
        .delete(
            &format!("/groups/{slug}/participation"),
            Some(&cny_users[0].access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (totals, body) = disputed_totals(&app, &slug).await;
    assert_eq!(
        totals,
        json!([{"currency": "other", "amount_minor": null, "participants": 5}]),
        "{body}"
    );
    assert!(
        !body.contains("140014") && !body.contains("150015"),
        "{body}"
    );
}

on_both_databases!(
    only_an_organiser_may_edit_a_group,
    an_unverified_user_may_log_in_and_resend_but_not_start_or_join_a_group,
    public_views_show_no_participant_data,
    a_participation_is_readable_only_by_its_owner,
    disputed_money_shows_only_for_currencies_shared_by_five_active_participants,
);
