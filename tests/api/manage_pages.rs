//! The organiser's desk pages: the dashboard, the roster with moderation and its CSV, and the
//! joint statement's editor. Only the team sees them; every form is CSRF-protected and goes
//! through the same services as the team API.

use lianming::clock::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser};
use crate::helpers::team::{expect_json, join, join_with, mail_to};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// A group with an owner, one active participant and one pending participant.
struct Desk {
    app: TestApp,
    slug: String,
    owner: TestUser,
    participant: TestUser,
    pending_id: i64,
    active_id: i64,
}

async fn desk(backend: Backend) -> Desk {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let participant = app.verified_user("li.lei@example.com", "李雷").await;
    let pending = app.verified_user("han.meimei@example.com", "韩梅梅").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let p = join(
        &app,
        &slug,
        &participant,
        join_with("李雷全名", 12800, "CNY", 1),
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
    let q = join(
        &app,
        &slug,
        &pending,
        join_with("韩梅梅全名", 5000, "CNY", 1),
    )
    .await;
    assert_eq!(q["status"], "pending");
    Desk {
        pending_id: q["id"].as_i64().expect("id"),
        active_id: p["id"].as_i64().expect("id"),
        app,
        slug,
        owner,
        participant,
    }
}

/// The team API's roster entry of participation `id`.
async fn entry(d: &Desk, id: i64) -> Value {
    let res = d
        .app
        .get(
            &format!("/groups/{}/roster?per_page=500", d.slug),
            Some(&d.owner.access_token),
        )
        .await;
    let page = expect_json(res, StatusCode::OK).await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["participation_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no entry {id}: {page}"))
}

async fn group_version(d: &Desk) -> i64 {
    let res = d.app.get(&format!("/groups/{}", d.slug), None).await;
    expect_json(res, StatusCode::OK).await["statement_version"]
        .as_i64()
        .expect("version")
}

fn pages(slug: &str) -> Vec<String> {
    ["", "/roster", "/roster.csv", "/statement"]
        .iter()
        .map(|p| format!("/groups/{slug}/manage{p}"))
        .collect()
}

async fn every_page_renders_for_the_owner_and_no_one_else(backend: Backend) {
    let d = desk(backend).await;
    let stranger = d.app.verified_user("lu.ren@example.com", "路人").await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    for path in pages(&d.slug) {
        let seen = owner.get(&path).await;
        assert_eq!(seen.status, StatusCode::OK, "{path}: {}", seen.html);
    }
    let dash = owner.get(&format!("/groups/{}/manage", d.slug)).await;
    assert!(dash.html.contains("组织者工作台"), "{}", dash.html);
    assert!(dash.html.contains("role=\"img\""), "a chart: {}", dash.html);
    let roster = owner
        .get(&format!("/groups/{}/manage/roster", d.slug))
        .await;
    assert!(roster.html.contains("韩梅梅全名"), "{}", roster.html);
    assert!(
        roster.html.contains("li.lei@example.com"),
        "{}",
        roster.html
    );
    // The organiser's link is on the public page for the owner only.
    let public = format!("/groups/{}", d.slug);
    let desk_link = format!("href=\"/groups/{}/manage\"", d.slug);
    assert!(owner.get(&public).await.html.contains(&desk_link));

    let forms = [
        (
            format!("/groups/{}/manage/roster/{}", d.slug, d.pending_id),
            vec![("action", "approve")],
        ),
        (
            format!("/groups/{}/manage/roster/bulk", d.slug),
            vec![("action", "approve")],
        ),
        (
            format!("/groups/{}/manage/statement", d.slug),
            vec![
                (
                    "joint_statement",
                    "有人想偷偷改写这份联合声明的全部内容，这不应成功。",
                ),
                ("demands", "refund"),
            ],
        ),
    ];
    let pending = d.pending_id.to_string();
    for user in [&stranger, &d.participant] {
        let v = Visitor::signed_in(&d.app, user).await;
        assert!(
            !v.get(&public).await.html.contains(&desk_link),
            "{}",
            user.email
        );
        for path in pages(&d.slug) {
            let seen = v.get(&path).await;
            assert!(
                seen.status == StatusCode::FORBIDDEN || seen.status == StatusCode::NOT_FOUND,
                "{} {path}: {}",
                user.email,
                seen.status
            );
            assert!(!seen.html.contains("韩梅梅全名"), "{path} leaks the roster");
        }
        for (action, fields) in &forms {
            let mut fields = fields.clone();
            fields.push(("ids", &pending));
            let seen = v.submit("/", action, &fields).await;
            assert!(
                seen.status == StatusCode::FORBIDDEN || seen.status == StatusCode::NOT_FOUND,
                "{} {action}: {} {}",
                user.email,
                seen.status,
                seen.html
            );
        }
    }
    assert_eq!(entry(&d, d.pending_id).await["status"], "pending");
    assert_eq!(group_version(&d).await, 1);

    // Signed out: to the log-in page, coming back here.
    let anon = Visitor::new(&d.app);
    for path in pages(&d.slug) {
        let seen = anon.get(&path).await;
        assert_eq!(seen.status, StatusCode::SEE_OTHER, "{path}");
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(
            seen.location.as_deref(),
            Some(format!("/login?next={next}").as_str())
        );
    }
}

async fn a_form_without_a_valid_csrf_token_changes_nothing(backend: Backend) {
    let d = desk(backend).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let action = format!("/groups/{}/manage/roster/{}", d.slug, d.pending_id);
    for csrf in [None, Some("forged-token")] {
        let mut fields = vec![("action", "approve")];
        if let Some(t) = csrf {
            fields.push(("csrf", t));
        }
        let seen = owner.post(&action, &fields).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{}", seen.html);
    }
    let seen = owner
        .post(
            &format!("/groups/{}/manage/statement", d.slug),
            &[
                (
                    "joint_statement",
                    "一段没有令牌的新联合声明文本，不应该被保存下来。",
                ),
                ("demands", "refund"),
            ],
        )
        .await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(entry(&d, d.pending_id).await["status"], "pending");
    assert_eq!(group_version(&d).await, 1);
}

async fn approving_and_rejecting_through_the_roster_page(backend: Backend) {
    let d = desk(backend).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let roster = format!("/groups/{}/manage/roster?status=pending", d.slug);

    // Approve the pending participant: back to the same filtered roster, with a message.
    let seen = owner
        .submit(
            &roster,
            &format!("/groups/{}/manage/roster/{}", d.slug, d.pending_id),
            &[("action", "approve"), ("status", "pending")],
        )
        .await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    let back = seen.location.expect("location");
    assert!(
        back.starts_with(&format!("/groups/{}/manage/roster?status=pending", d.slug)),
        "{back}"
    );
    let next = owner.get(&back).await;
    assert!(next.html.contains("已通过该参与者"), "{}", next.html);
    assert!(
        !next.html.contains("韩梅梅全名"),
        "no longer pending: {}",
        next.html
    );
    assert_eq!(entry(&d, d.pending_id).await["status"], "active");
    mail_to(&d.app, "han.meimei@example.com", "已通过").await;

    // Rejecting without a reason: the message at the field, 422, nothing changed.
    let all = format!("/groups/{}/manage/roster", d.slug);
    let reject = format!("/groups/{}/manage/roster/{}", d.slug, d.active_id);
    let seen = owner
        .submit(&all, &reject, &[("action", "reject"), ("reason", " ")])
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        seen.html
    );
    assert!(
        seen.html
            .contains(&format!("id=\"reason-{}-error\"", d.active_id)),
        "{}",
        seen.html
    );
    assert_eq!(entry(&d, d.active_id).await["status"], "active");

    // With a reason: rejected, the reason kept and emailed.
    let seen = owner
        .submit(
            &all,
            &reject,
            &[("action", "reject"), ("reason", "交易单号与本投诉无关")],
        )
        .await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    let e = entry(&d, d.active_id).await;
    assert_eq!(e["status"], "rejected");
    assert_eq!(e["rejection_reason"], "交易单号与本投诉无关");
    let mail = mail_to(&d.app, "li.lei@example.com", "未被接受").await;
    assert!(mail.text.contains("交易单号与本投诉无关"), "{}", mail.text);

    // Marking as a duplicate: a number that is not another participation is refused at
    // the field; the active participant's number is accepted.
    let (a, b) = (d.active_id.to_string(), d.pending_id.to_string());
    let dup = format!("/groups/{}/manage/roster/{}", d.slug, d.pending_id);
    let seen = owner
        .submit(&all, &dup, &[("action", "duplicate"), ("duplicate_of", &b)])
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        seen.html
    );
    assert!(
        seen.html
            .contains(&format!("id=\"duplicate_of-{}-error\"", d.pending_id)),
        "{}",
        seen.html
    );
    assert_eq!(entry(&d, d.pending_id).await["status"], "active");
    let seen = owner
        .submit(&all, &dup, &[("action", "duplicate"), ("duplicate_of", &a)])
        .await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    let e = entry(&d, d.pending_id).await;
    assert_eq!(e["status"], "rejected");
    assert_eq!(e["duplicate_of"], d.active_id);

    // Bulk: both approved again in one go.
    let seen = owner
        .submit(
            &all,
            &format!("/groups/{}/manage/roster/bulk", d.slug),
            &[("action", "approve"), ("ids", &a), ("ids", &b)],
        )
        .await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    assert_eq!(entry(&d, d.active_id).await["status"], "active");
    assert_eq!(entry(&d, d.pending_id).await["status"], "active");
}

async fn the_roster_csv_has_the_participants(backend: Backend) {
    let d = desk(backend).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let res = d
        .app
        .client
        .get(format!(
            "{}/groups/{}/manage/roster.csv?status=active",
            d.app.address, d.slug
        ))
        .header("cookie", owner.cookie_header())
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_owned();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let body = res.text().await.expect("body");
    assert!(body.starts_with('\u{feff}'), "BOM");
    assert!(body.contains("李雷全名"), "{body}");
    assert!(body.contains("li.lei@example.com"), "{body}");
    assert!(!body.contains("韩梅梅全名"), "the filter applies: {body}");
}

async fn editing_the_statement_makes_a_new_version_to_re_sign(backend: Backend) {
    let d = desk(backend).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let page = format!("/groups/{}/manage/statement", d.slug);
    let before = owner.get(&page).await;
    assert!(
        before
            .html
            .contains("1 位参加中的参与者中，1 位已签署第 1 版"),
        "{}",
        before.html
    );

    // Too short: 422, the message at the field, nothing changed.
    let seen = owner
        .submit(
            &page,
            &page,
            &[("joint_statement", "太短"), ("demands", "refund")],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        seen.html.contains("id=\"joint_statement-error\""),
        "{}",
        seen.html
    );
    assert_eq!(group_version(&d).await, 1);

    let text =
        "我们是快付钱包的用户，退款长期未到账。现补充：要求平台在十五个工作日内退款并赔偿利息。";
    let seen = owner
        .submit(
            &page,
            &page,
            &[
                ("joint_statement", text),
                ("demands", "refund"),
                ("demands", "compensation"),
                ("text_compensation", "按日支付利息"),
            ],
        )
        .await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    assert_eq!(seen.location.as_deref(), Some(page.as_str()));
    assert_eq!(group_version(&d).await, 2);
    let after = owner.get(&page).await;
    assert!(after.html.contains("已保存为新版本"), "{}", after.html);
    assert!(
        after
            .html
            .contains("1 位参加中的参与者中，0 位已签署第 2 版"),
        "{}",
        after.html
    );
    assert!(after.html.contains("按日支付利息"), "{}", after.html);
    assert_eq!(entry(&d, d.active_id).await["signature_current"], false);
    let mail = mail_to(&d.app, "li.lei@example.com", "请重新确认").await;
    assert!(mail.text.contains("十五个工作日"), "{}", mail.text);
}

async fn the_dashboard_shows_the_api_figures(backend: Backend) {
    let d = desk(backend).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let res = d
        .app
        .get(
            &format!("/groups/{}/dashboard", d.slug),
            Some(&d.owner.access_token),
        )
        .await;
    let api = expect_json(res, StatusCode::OK).await;
    let html = owner.get(&format!("/groups/{}/manage", d.slug)).await.html;
    let active = api["participants_by_status"]["active"]
        .as_i64()
        .expect("active");
    assert_eq!(active, 1);
    assert!(
        html.contains(&format!("id=\"figure-active\">{active}<")),
        "{html}"
    );
    let signed = api["signed_current"].as_i64().expect("signed");
    assert!(
        html.contains(&format!(
            "{active} 位参加中的参与者中，{signed} 位已签署第 1 版"
        )),
        "{html}"
    );
    let pending = api["participants_by_status"]["pending"]
        .as_i64()
        .expect("pending");
    assert!(
        html.contains(&format!(
            "<th scope=\"row\">等待审核</th><td>{pending}</td>"
        )),
        "{html}"
    );
    let cny = &api["disputed"][0];
    assert_eq!(cny["currency"], "CNY");
    let total = cny["total_minor"].as_i64().expect("total");
    assert_eq!(total, 12800);
    assert!(
        html.contains("<td class=\"money-total\">128.00 CNY</td>"),
        "{html}"
    );
    // The amounts by band, as a chart with its table: 128 yuan is in 100–500.
    assert_eq!(cny["bands"][1]["participants"], 1);
    assert!(
        html.contains("争议金额分布（CNY，参加中的参与者）")
            && html.contains("<th scope=\"row\">100–500</th><td>1</td>")
            && html.contains("<th scope=\"row\">≥ 20000</th><td>0</td>"),
        "{html}"
    );
}

async fn the_dashboard_shows_the_incident_window_contacts_and_overdue_clocks(backend: Backend) {
    let d = desk(backend).await;
    let res = d
        .app
        .patch(
            &format!("/groups/{}", d.slug),
            Some(&d.owner.access_token),
            json!({"incident_from": "2026-03-01", "incident_to": "2026-03-31"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = d
        .app
        .post(
            &format!("/groups/{}/participation/interactions", d.slug),
            Some(&d.participant.access_token),
            json!({"channel": "hotline", "occurred_at": d.app.clock.now(), "outcome": "no_answer"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    let sent = d.app.clock.now();
    let res = d
        .app
        .post(
            &format!("/groups/{}/submissions", d.slug),
            Some(&d.owner.access_token),
            json!({"channel": "provider", "recipient": "快付钱包客服", "submitted_at": sent}),
        )
        .await;
    let s = expect_json(res, StatusCode::CREATED).await;
    let owner = Visitor::signed_in(&d.app, &d.owner).await;
    let page = format!("/groups/{}/manage", d.slug);
    let html = owner.get(&page).await.html;
    assert!(
        html.contains("声明的事发期间：2026-03-01 至 2026-03-31。参与者填报的事发日期：2026-03-02 至 2026-03-02，其中 0 位在声明期间之外。"),
        "{html}"
    );
    assert!(
        html.contains("1 位参与者中有 1 位联系过服务商，共记录 1 次联系"),
        "{html}"
    );
    assert!(html.contains("badge-awaiting"), "{html}");
    assert!(!html.contains("建议下一步"), "not yet due: {html}");

    // The API carries the same figures.
    let res = d
        .app
        .get(
            &format!("/groups/{}/dashboard", d.slug),
            Some(&d.owner.access_token),
        )
        .await;
    let api = expect_json(res, StatusCode::OK).await;
    assert_eq!(api["incidents"]["earliest"], "2026-03-02");
    assert_eq!(api["incidents"]["outside_declared"], 0);
    assert_eq!(api["contacts"]["participants_contacted"], 1);
    // Past the due date without an answer: overdue, with where to turn and why.
    let due: chrono::DateTime<chrono::Utc> =
        s["due_at"].as_str().expect("due").parse().expect("time");
    d.app.clock.set(due + chrono::Duration::days(1));
    let html = owner.get(&page).await.html;
    assert!(html.contains("1 份已逾期"), "{html}");
    assert!(html.contains("badge-overdue"), "{html}");
    assert!(
        html.contains("建议下一步：向消费者协会投诉</strong> 服务商逾期未答复"),
        "{html}"
    );
    // The public page shows the clock and the next step, not the organisers' reasoning.
    let public = Visitor::new(&d.app)
        .get(&format!("/groups/{}", d.slug))
        .await
        .html;
    assert!(public.contains("建议下一步：向消费者协会投诉"), "{public}");
    assert!(!public.contains("服务商逾期未答复"), "{public}");
}

on_both_databases!(
    the_dashboard_shows_the_incident_window_contacts_and_overdue_clocks,
    every_page_renders_for_the_owner_and_no_one_else,
    a_form_without_a_valid_csrf_token_changes_nothing,
    approving_and_rejecting_through_the_roster_page,
    the_roster_csv_has_the_participants,
    editing_the_statement_makes_a_new_version_to_re_sign,
    the_dashboard_shows_the_api_figures,
);
