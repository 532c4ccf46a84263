//! The roster: team-only, filtered and paged, as JSON or as a spreadsheet-safe CSV; and
//! moderation rules. Strangers and participants see none of the organisers' resources.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::team::{
    add_to_team, expect_json, expect_problem, expect_refused, join, join_with, relogin,
};
use crate::on_both_databases;

/// Uploads a small PNG as `kind` evidence of `user`'s participation.
pub async fn upload_png(app: &TestApp, slug: &str, user: &TestUser, kind: &str, seed: u8) {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    bytes.extend((0..64_u8).map(|i| i.wrapping_mul(31).wrapping_add(seed)));
    let part = Part::bytes(bytes)
        .file_name("shot.png")
        .mime_str("image/png")
        .expect("mime");
    let form = Form::new()
        .text("kind", kind.to_owned())
        .text("description", "截图")
        .part("file", part);
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .bearer_auth(&user.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    expect_json(res, StatusCode::CREATED).await;
}

async fn roster_csv(app: &TestApp, slug: &str, user: &TestUser) -> (String, Vec<u8>) {
    let res = app
        .client
        .get(app.api(&format!("/groups/{slug}/roster")))
        .bearer_auth(&user.access_token)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (content_type, res.bytes().await.expect("bytes").to_vec())
}

/// Splits one CSV line into cells (quotes honoured).
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    out.push(cell);
    out
}

#[tokio::test]
async fn the_roster_csv_has_a_bom_keeps_chinese_and_neutralises_formulas() {
    // Arrange: one participant signs with a formula for a name, another in Chinese.
    let app = TestApp::spawn().await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let attacker = app
        .verified_user("attacker@example.com", "=HYPERLINK(\"x\")")
        .await;
    let chinese = app.verified_user("xiaoming@example.com", "小明").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug");
    let mut evil = join_with("=cmd|' /C calc'!A0", 12_800, "CNY", 1);
    evil["transaction_refs"] = json!(["+SUM(1,2)", "@A1"]);
    join(&app, slug, &attacker, evil).await;
    join(&app, slug, &chinese, join_with("王小明", 34_500, "CNY", 1)).await;

    // Act
    let (content_type, bytes) = roster_csv(&app, slug, &owner).await;

    // Assert: BOM, UTF-8 text with the Chinese name intact, no cell a spreadsheet would run.
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header = cells(lines[0]);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows[1][col("full_name")], "王小明");
    assert_eq!(rows[1][col("display_name")], "小明");
    assert_eq!(rows[0][col("full_name")], "'=cmd|' /C calc'!A0");
    assert_eq!(rows[0][col("display_name")], "'=HYPERLINK(\"x\")");
    assert_eq!(rows[0][col("transaction_refs")], "'+SUM(1,2) @A1");
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula-like cell {cell:?}"
            );
        }
    }

    // A participant gets no CSV.
    for user in [&chinese] {
        let res = app
            .client
            .get(app.api(&format!("/groups/{slug}/roster")))
            .bearer_auth(&user.access_token)
            .header(ACCEPT, "text/csv")
            .send()
            .await
            .expect("csv");
        expect_refused(res, "participant's CSV").await;
    }
}

async fn the_roster_filters_and_pages(backend: Backend) {
    // Arrange: five joins over three days; two with evidence, one withdrawn, one re-signed.
    let app = TestApp::on(backend).await;
    let day = |d: u32| {
        // 10:00 in China on 2026-11-0d.
        format!("2026-11-{d:02}T02:00:00Z")
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
    };
    app.clock.set(day(2));
    let mut owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let mut people = Vec::new();
    for (i, d) in [2, 2, 3, 4, 4].into_iter().enumerate() {
        app.clock.set(day(d));
        let user = app
            .verified_user(&format!("p{i}@example.com"), &format!("参与者{i}"))
            .await;
        join(
            &app,
            &slug,
            &user,
            join_with(&format!("参与者{i}"), 1000, "CNY", 1),
        )
        .await;
        people.push(user);
    }
    // Access tokens expired while the clock moved on.
    for user in people.iter_mut().chain([&mut owner]) {
        relogin(&app, user).await;
    }
    upload_png(&app, &slug, &people[0], "screenshot", 1).await;
    upload_png(&app, &slug, &people[3], "transaction_record", 2).await;
    let res = app
        .delete(
            &format!("/groups/{slug}/participation"),
            Some(&people[4].access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&owner.access_token),
            Some(json!({
                "joint_statement": "新版联合声明：要求平台全额退款并公开道歉，并说明延迟原因。",
                "demands": ["refund", "apology"]
            })),
        )
        .await;
    assert_eq!(expect_json(res, StatusCode::OK).await["version"], 2);
    let res = app
        .post(
            &format!("/groups/{slug}/participation/sign"),
            Some(&people[1].access_token),
            json!({"full_name": "参与者1", "statement_version": 2, "agree": true}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;

    let (app_ref, token, slug_ref) = (&app, &owner.access_token, &slug);
    let names = move |query: &str| {
        let path = format!("/groups/{slug_ref}/roster{query}");
        async move {
            let page = json_body(app_ref.get(&path, Some(token)).await).await;
            let names: Vec<String> = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .iter()
                .map(|e| e["display_name"].as_str().unwrap_or_default().to_owned())
                .collect();
            (page["total"].as_u64().unwrap_or(0), names)
        }
    };
    let all = json_body(
        app.get(&format!("/groups/{slug}/roster"), Some(&owner.access_token))
            .await,
    )
    .await;
    assert_eq!(all["total"], 5);
    let numbers: Vec<i64> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["number"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert_eq!(all["items"][0]["evidence_count"], 1);
    assert_eq!(all["items"][0]["email"], "p0@example.com");

    assert_eq!(
        names("?status=withdrawn").await,
        (1, vec!["参与者4".to_owned()])
    );
    assert_eq!(
        names("?has_evidence=true").await,
        (2, vec!["参与者0".to_owned(), "参与者3".to_owned()])
    );
    assert_eq!(names("?has_evidence=false&status=active").await.0, 2);
    assert_eq!(
        names("?signed_version=2").await,
        (1, vec!["参与者1".to_owned()])
    );
    assert_eq!(
        names("?joined_from=2026-11-03&joined_to=2026-11-03").await,
        (1, vec!["参与者2".to_owned()])
    );
    assert_eq!(names("?joined_from=2026-11-04").await.0, 2);
    assert_eq!(names("?joined_to=2026-11-02").await.0, 2);
    assert_eq!(
        names("?per_page=2&page=2").await,
        (5, vec!["参与者2".to_owned(), "参与者3".to_owned()])
    );
    let res = app
        .get(
            &format!("/groups/{slug}/roster?status=lost"),
            Some(&owner.access_token),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn moderation_follows_the_participation_status(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let moderator = app.verified_user("mod@example.com", "审核员").await;
    let a = app.verified_user("a@example.com", "甲").await;
    let b = app.verified_user("b@example.com", "乙").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    add_to_team(&app, &slug, &owner, &moderator, "moderator").await;
    let pa = join(&app, &slug, &a, join_with("甲某", 100, "CNY", 1)).await["id"]
        .as_i64()
        .expect("id");
    let pb = join(&app, &slug, &b, join_with("乙某", 100, "CNY", 1)).await["id"]
        .as_i64()
        .expect("id");
    let (app_ref, token, slug_ref) = (&app, &moderator.access_token, &slug);
    let act = move |id: i64, body: Value| {
        let path = format!("/groups/{slug_ref}/roster/{id}");
        async move { app_ref.patch(&path, Some(token), body).await }
    };
    // Already active: approving again does not apply.
    expect_problem(
        act(pa, json!({"action": "approve"})).await,
        StatusCode::CONFLICT,
        "moderation_not_applicable",
    )
    .await;
    // A rejection needs a reason; a duplicate needs another participation of the group.
    let p = expect_problem(
        act(pa, json!({"action": "reject"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(p["errors"]["reason"].is_array(), "{p}");
    for dup in [json!(pa), json!(999_999), Value::Null] {
        let p = expect_problem(
            act(pa, json!({"action": "duplicate", "duplicate_of": dup})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(p["errors"]["duplicate_of"].is_array(), "{p}");
    }
    let audit_rows = app.count_rows("audit_log").await;
    // The moderator rejects, then approves again after a second look.
    let entry = expect_json(
        act(pb, json!({"action": "reject", "reason": "重复提交"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(entry["status"], "rejected");
    let entry = expect_json(act(pb, json!({"action": "approve"})).await, StatusCode::OK).await;
    assert_eq!(
        (entry["status"].clone(), entry["rejection_reason"].clone()),
        (json!("active"), Value::Null)
    );
    assert_eq!(app.count_rows("audit_log").await, audit_rows + 2);
    // Unknown or foreign participations are not found.
    let other = app
        .create_group(&owner, json!({"title": "另一个退款投诉"}))
        .await;
    let res = app
        .patch(
            &format!(
                "/groups/{}/roster/{pa}",
                other["slug"].as_str().expect("slug")
            ),
            Some(&owner.access_token),
            json!({"action": "reject", "reason": "不属于本组"}),
        )
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn strangers_and_participants_cannot_read_organiser_resources(backend: Backend) {
    // Arrange: a group with an active participant, a pending one, a stranger and a
    // participants-only update.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let participant = app.verified_user("p@example.com", "参与者").await;
    let pending = app.verified_user("pending@example.com", "待审").await;
    let stranger = app.verified_user("s@example.com", "路人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    join(
        &app,
        &slug,
        &participant,
        join_with("参与者", 100, "CNY", 1),
    )
    .await;
    let res = app
        .patch(
            &format!("/groups/{slug}"),
            Some(&owner.access_token),
            json!({"requires_moderation": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let p = join(&app, &slug, &pending, join_with("待审", 100, "CNY", 1)).await;
    assert_eq!(p["status"], "pending");
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "organiser_note", "title": "内部：下周提交监管", "visibility": "participants"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
            json!({"kind": "acknowledgement", "title": "服务商已受理"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;

    // Act & Assert: the team's resources refuse everyone else.
    let reads = [
        "roster",
        "roster?status=active",
        "dashboard",
        "audit",
        "organisers",
        "updates?visibility=participants",
    ];
    for user in [Some(&participant), Some(&pending), Some(&stranger), None] {
        for path in reads {
            if path.starts_with("updates") && user.is_some_and(|u| u.email == participant.email) {
                continue;
            }
            let res = app
                .get(
                    &format!("/groups/{slug}/{path}"),
                    user.map(|u| u.access_token.as_str()),
                )
                .await;
            let status = res.status();
            if user.is_none() && !path.starts_with("updates") {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
                continue;
            }
            expect_refused(res, &format!("{path} by {:?}", user.map(|u| &u.email))).await;
        }
        // The unfiltered timeline shows them the public entry only.
        let list = json_body(
            app.get(
                &format!("/groups/{slug}/updates"),
                user.map(|u| u.access_token.as_str()),
            )
            .await,
        )
        .await;
        let titles: Vec<&str> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|u| u["title"].as_str())
            .collect();
        if user.is_some_and(|u| u.email == participant.email) {
            assert_eq!(titles, ["服务商已受理", "内部：下周提交监管"]);
        } else {
            assert_eq!(titles, ["服务商已受理"], "{:?}", user.map(|u| &u.email));
        }
    }
    // The active participant reads participants-only entries; the public view never shows them.
    let only = json_body(
        app.get(
            &format!("/groups/{slug}/updates?visibility=participants"),
            Some(&participant.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(only.as_array().map(Vec::len), Some(1));
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert!(!view.to_string().contains("内部"), "{view}");

    // Nor may they write any of it.
    let writes: Vec<(reqwest::Method, String, Value)> = vec![
        (
            reqwest::Method::PATCH,
            format!("/groups/{slug}/roster/1"),
            json!({"action": "approve"}),
        ),
        (
            reqwest::Method::PUT,
            format!("/groups/{slug}/statement"),
            json!({"joint_statement": "我们要求平台立即退款，并承担全部损失，公开道歉。", "demands": ["refund"]}),
        ),
        (
            reqwest::Method::POST,
            format!("/groups/{slug}/updates"),
            json!({"kind": "organiser_note", "title": "伪造"}),
        ),
        (
            reqwest::Method::POST,
            format!("/groups/{slug}/submissions"),
            json!({"channel": "provider", "recipient": "某客服", "submitted_at": "2026-01-01T00:00:00Z"}),
        ),
        (
            reqwest::Method::POST,
            format!("/groups/{slug}/status"),
            json!({"status": "submitted"}),
        ),
        (
            reqwest::Method::POST,
            format!("/groups/{slug}/organisers"),
            json!({"email": "x@example.com", "role": "organiser"}),
        ),
        (
            reqwest::Method::POST,
            format!("/groups/{slug}/transfer"),
            json!({"user_id": 1}),
        ),
    ];
    let before = app.count_rows("audit_log").await;
    for user in [&participant, &stranger] {
        for (method, path, body) in &writes {
            let res = app
                .send(
                    method.clone(),
                    path,
                    Some(&user.access_token),
                    Some(body.clone()),
                )
                .await;
            expect_refused(res, &format!("{method} {path} by {}", user.email)).await;
        }
    }
    assert_eq!(app.count_rows("audit_log").await, before);
}

on_both_databases!(
    the_roster_filters_and_pages,
    moderation_follows_the_participation_status,
    strangers_and_participants_cannot_read_organiser_resources,
);
