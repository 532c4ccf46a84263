//! The organiser's submissions page (record, clock with skipped holidays, overdue on the test
//! clock, extend, record the answer, escalate) and timeline page (post entries, the provider's
//! claim beside what participants confirm). Only organisers see them; every form is
//! CSRF-protected and goes through the same services as the JSON API.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::fixture;
use crate::helpers::visitor::{Seen, Visitor};
use crate::on_both_databases;

fn submissions_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/submissions")
}

fn updates_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/updates")
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// The group's submissions as the API shows them to anyone.
async fn submissions(app: &TestApp, slug: &str) -> Vec<Value> {
    json_body(app.get(&format!("/groups/{slug}/submissions"), None).await)
        .await
        .as_array()
        .expect("list")
        .clone()
}

/// The whole timeline as the owner sees it.
async fn timeline(app: &TestApp, owner: &TestUser, slug: &str) -> Vec<Value> {
    json_body(
        app.get(
            &format!("/groups/{slug}/updates"),
            Some(&owner.access_token),
        )
        .await,
    )
    .await
    .as_array()
    .expect("list")
    .clone()
}

fn assert_redirect_to(seen: &Seen, to: &str) {
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    assert_eq!(seen.location.as_deref(), Some(to));
}

async fn a_submission_is_recorded_watched_until_overdue_extended_and_answered(backend: Backend) {
    let app = TestApp::on(backend).await;
    // Monday 28 September 2026, 10:00 in Beijing: a 7-working-day clock runs over National Day.
    app.clock.set(t("2026-09-28T02:00:00Z"));
    let f = fixture(&app).await;
    let (slug, path) = (f.slug.clone(), submissions_path(&f.slug));
    let v = Visitor::signed_in(&app, &f.owner).await;
    let page = v.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("还没有记录任何提交"), "{}", page.html);
    assert!(
        page.html.contains("value=\"2026-09-28\""),
        "today is the default date"
    );
    let dash = v.get(&format!("/groups/{slug}/manage")).await;
    assert!(dash.html.contains(&format!("href=\"{path}\"")));
    assert!(
        dash.html
            .contains(&format!("href=\"{}\"", updates_path(&slug)))
    );

    let done = v
        .submit(
            &path,
            &path,
            &[
                ("channel", "consumer_association"),
                ("recipient", "深圳市消费者委员会"),
                ("reference", " SZ-2026-0928-17 "),
                ("submitted_on", "2026-09-28"),
                ("due_days", ""),
                ("due_kind", ""),
            ],
        )
        .await;
    assert_redirect_to(&done, &path);
    let list = submissions(&app, &slug).await;
    assert_eq!(list.len(), 1);
    let s = &list[0];
    let id = s["id"].as_i64().expect("id");
    assert_eq!(s["channel"], "consumer_association");
    assert_eq!(s["reference"], "SZ-2026-0928-17", "kept, trimmed");
    assert_eq!(s["due_kind"], "working", "the channel's usual days");
    assert_eq!(s["of"], 7);
    let page = v.get(&path).await;
    assert!(page.html.contains("已记录提交"), "flash: {}", page.html);
    assert!(page.html.contains("深圳市消费者委员会"));
    assert!(
        page.html
            .contains("编号 <span class=\"wrap\">SZ-2026-0928-17</span>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!(
            "第 {} 个工作日 / 共 7 个工作日 · 消费者协会",
            s["day"]
        )),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("2026-10-01 国庆节"),
        "skipped holidays: {}",
        page.html
    );
    assert!(page.html.contains("badge-awaiting"));
    assert!(
        !page.html.contains("channel=regulator"),
        "no escalation before it stalls"
    );

    // The test clock moves past the deadline: overdue, with the next channel and why.
    app.clock.advance(Duration::days(20));
    let now = &submissions(&app, &slug).await[0];
    assert_eq!(now["state"], "overdue", "{now}");
    let next = now["next_step"].as_str().expect("next step");
    let page = v.get(&path).await;
    assert!(page.html.contains("badge-overdue"), "{}", page.html);
    assert!(page.html.contains("逾期"), "{}", page.html);
    let escalate = format!("{path}?channel={next}#record");
    assert!(
        page.html.contains(&escalate.replace('&', "&amp;")),
        "{}",
        page.html
    );
    // Following it prefills the record form with that channel.
    let pre = v.get(&format!("{path}?channel={next}")).await;
    assert!(
        pre.html
            .contains(&format!("<option value=\"{next}\" selected>")),
        "{}",
        pre.html
    );

    // Extend with a reason.
    let done = v
        .submit(
            &path,
            &format!("{path}/{id}/extend"),
            &[("days", "5"), ("reason", "消协来电要求再给五个工作日")],
        )
        .await;
    assert_redirect_to(&done, &format!("{path}#submission-{id}"));
    let now = &submissions(&app, &slug).await[0];
    assert_eq!(now["extension_days"], 5);
    assert_eq!(now["of"], 12);
    let page = v.get(&path).await;
    assert!(page.html.contains("消协来电要求再给五个工作日"));

    // Record the answer: a timeline entry linked to the submission; its clock stops.
    let done = v
        .submit(
            &path,
            &format!("/groups/{slug}/manage/updates"),
            &[
                ("back", "submissions"),
                ("submission_id", &id.to_string()),
                ("kind", "response"),
                ("response_class", "in_progress"),
                ("title", "消协回复：已转交服务商处理"),
                ("body", "消协表示已将投诉转交服务商，要求十日内回复。"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_redirect_to(&done, &format!("{path}#submission-{id}"));
    let now = &submissions(&app, &slug).await[0];
    assert_eq!(now["state"], "answered", "{now}");
    let entries = timeline(&app, &f.owner, &slug).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["submission_id"], id);
    assert_eq!(entries[0]["response_class"], "in_progress");
    let page = v.get(&path).await;
    assert!(page.html.contains("badge-answered"), "{}", page.html);
}

async fn the_timeline_page_posts_entries_and_shows_the_claim_beside_confirmations(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let (slug, path) = (f.slug.clone(), updates_path(&f.slug));
    let v = Visitor::signed_in(&app, &f.owner).await;
    let page = v.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("服务商还没有公开答复"), "{}", page.html);
    assert!(
        page.html.contains("少于 5"),
        "fewer than five confirm: {}",
        page.html
    );

    let done = v
        .submit(
            &path,
            &path,
            &[
                ("kind", "offer"),
                ("response_class", "closed_monetary_relief"),
                ("title", "服务商称已全部退款"),
                ("body", "客服公告称已向所有用户退款。"),
                ("visibility", "public"),
                ("submission_id", ""),
            ],
        )
        .await;
    assert_redirect_to(&done, &path);
    let done = v
        .submit(
            &path,
            &path,
            &[
                ("kind", "organiser_note"),
                ("response_class", ""),
                ("title", "请大家核对是否真的到账"),
                ("visibility", "participants"),
            ],
        )
        .await;
    assert_redirect_to(&done, &path);
    let entries = timeline(&app, &f.owner, &slug).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["visibility"], "participants");
    let page = v.get(&path).await;
    assert!(page.html.contains("已发布到时间线"), "{}", page.html);
    let claim = page
        .html
        .split("id=\"provider-claim\">")
        .nth(1)
        .expect("claim");
    assert!(
        claim.starts_with("已赔付/退款 · 服务商称已全部退款"),
        "{claim}"
    );
    assert!(page.html.contains("请大家核对是否真的到账"));
    assert!(page.html.contains("仅参与者"));
    // The public group page shows the claim but not the participants-only note.
    let public = Visitor::new(&app).get(&format!("/groups/{slug}")).await;
    assert!(public.html.contains("服务商称已全部退款"));
    assert!(!public.html.contains("请大家核对是否真的到账"));
}

async fn bad_input_is_shown_beside_its_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::on(backend).await;
    app.clock.set(t("2026-09-28T02:00:00Z"));
    let f = fixture(&app).await;
    let slug = f.slug.clone();
    let (subs, ups) = (submissions_path(&slug), updates_path(&slug));
    let v = Visitor::signed_in(&app, &f.owner).await;

    let seen = v
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "regulator"),
                ("recipient", ""),
                ("submitted_on", "2026-09-28"),
            ],
        )
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        seen.html
    );
    assert!(
        seen.html
            .contains("id=\"record-recipient-error\">请填写接收方"),
        "{}",
        seen.html
    );
    assert!(
        seen.html.contains("href=\"#record-recipient\""),
        "summary links the field"
    );
    assert!(
        seen.html.contains("<option value=\"regulator\" selected>"),
        "choice kept"
    );
    let long = "号".repeat(101);
    let seen = v
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "regulator"),
                ("recipient", "国家金融监督管理总局"),
                ("reference", &long),
                ("submitted_on", "2026-09-28"),
            ],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        seen.html
            .contains("id=\"record-reference-error\">编号最多 100 个字"),
        "{}",
        seen.html
    );
    assert!(
        seen.html.contains(&format!("value=\"{long}\"")),
        "typed kept"
    );
    let seen = v
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "regulator"),
                ("recipient", "国家金融监督管理总局"),
                ("submitted_on", "2026-12-30"),
            ],
        )
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a date in the future"
    );
    assert!(
        seen.html.contains("id=\"record-submitted_at-error\""),
        "{}",
        seen.html
    );
    assert!(
        seen.html.contains("value=\"国家金融监督管理总局\""),
        "typed text kept"
    );
    let seen = v
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "regulator"),
                ("recipient", "国家金融监督管理总局"),
                ("submitted_on", "2026-09-28"),
                ("due_days", "九十"),
            ],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(seen.html.contains("id=\"record-due_days-error\""));
    assert!(submissions(&app, &slug).await.is_empty());

    // A real one, then bad extensions and answers against it.
    let ok = v
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "provider"),
                ("recipient", "快付钱包客服"),
                ("submitted_on", "2026-09-28"),
            ],
        )
        .await;
    assert_redirect_to(&ok, &subs);
    let id = submissions(&app, &slug).await[0]["id"]
        .as_i64()
        .expect("id");
    let seen = v
        .submit(
            &subs,
            &format!("{subs}/{id}/extend"),
            &[("days", "abc"), ("reason", "理由")],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        seen.html
            .contains(&format!("id=\"extend-{id}-days-error\"")),
        "{}",
        seen.html
    );
    assert!(
        seen.html.contains("<details open>"),
        "the refused form stays open"
    );
    let seen = v
        .submit(
            &subs,
            &format!("{subs}/{id}/extend"),
            &[("days", "3"), ("reason", "")],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        seen.html
            .contains(&format!("id=\"extend-{id}-reason-error\""))
    );
    assert_eq!(submissions(&app, &slug).await[0]["extension_days"], 0);

    let seen = v
        .submit(
            &ups,
            &ups,
            &[
                ("kind", "organiser_note"),
                ("response_class", "denied"),
                ("title", "带结论的通知"),
            ],
        )
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        seen.html
    );
    assert!(
        seen.html
            .contains("id=\"update-new-response_class-error\">组织者自己的通知不能带答复结论"),
        "{}",
        seen.html
    );
    assert!(seen.html.contains("value=\"带结论的通知\""));
    let seen = v
        .submit(&ups, &ups, &[("kind", "response"), ("title", "x")])
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(seen.html.contains("id=\"update-new-title-error\""));
    let seen = v
        .submit(
            &ups,
            &ups,
            &[
                ("kind", "response"),
                ("title", "别组的提交"),
                ("submission_id", "999999"),
            ],
        )
        .await;
    assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        seen.html.contains("id=\"update-new-submission_id-error\""),
        "{}",
        seen.html
    );
    assert!(timeline(&app, &f.owner, &slug).await.is_empty());

    // Without a valid CSRF token: 403, nothing changed.
    let posts: [(String, Vec<(&str, &str)>); 3] = [
        (
            subs.clone(),
            vec![
                ("channel", "provider"),
                ("recipient", "快付钱包客服"),
                ("submitted_on", "2026-09-28"),
            ],
        ),
        (
            format!("{subs}/{id}/extend"),
            vec![("days", "3"), ("reason", "理由充分")],
        ),
        (
            ups.clone(),
            vec![("kind", "response"), ("title", "伪造的答复")],
        ),
    ];
    for (action, fields) in &posts {
        let seen = v.post(action, fields).await;
        assert_eq!(
            seen.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            seen.html
        );
        let mut forged = fields.clone();
        forged.push(("csrf", "forged-token"));
        assert_eq!(v.post(action, &forged).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(submissions(&app, &slug).await.len(), 1);
    assert_eq!(submissions(&app, &slug).await[0]["extension_days"], 0);
    assert!(timeline(&app, &f.owner, &slug).await.is_empty());
}

async fn strangers_and_participants_are_refused_both_pages_and_every_form(backend: Backend) {
    let app = TestApp::on(backend).await;
    app.clock.set(t("2026-09-28T02:00:00Z"));
    let f = fixture(&app).await;
    let slug = f.slug.clone();
    let (subs, ups) = (submissions_path(&slug), updates_path(&slug));
    let owner = Visitor::signed_in(&app, &f.owner).await;
    let ok = owner
        .submit(
            &subs,
            &subs,
            &[
                ("channel", "provider"),
                ("recipient", "快付钱包客服"),
                ("submitted_on", "2026-09-28"),
            ],
        )
        .await;
    assert_redirect_to(&ok, &subs);
    let id = submissions(&app, &slug).await[0]["id"]
        .as_i64()
        .expect("id");
    let stranger = app.verified_user("lu.ren@example.com", "路人").await;
    for (who, user) in [("stranger", &stranger), ("participant", &f.wang)] {
        let v = Visitor::signed_in(&app, user).await;
        for path in [&subs, &ups] {
            v.get(path)
                .await
                .assert_refused(&format!("{who} GET {path}"));
        }
        // With a valid token of their own (from their account page), every form is refused.
        let id = id.to_string();
        let posts: [(String, Vec<(&str, &str)>); 4] = [
            (
                subs.clone(),
                vec![
                    ("channel", "provider"),
                    ("recipient", "冒名记录"),
                    ("submitted_on", "2026-09-28"),
                ],
            ),
            (
                format!("{subs}/{id}/extend"),
                vec![("days", "3"), ("reason", "冒名延期")],
            ),
            (
                ups.clone(),
                vec![("kind", "organiser_note"), ("title", "冒名公告")],
            ),
            (
                ups.clone(),
                vec![
                    ("back", "submissions"),
                    ("submission_id", &id),
                    ("kind", "resolution"),
                    ("title", "冒名答复"),
                ],
            ),
        ];
        for (action, fields) in &posts {
            let seen = v.submit("/account", action, fields).await;
            seen.assert_refused(&format!("{who} POST {action}"));
        }
    }
    let list = submissions(&app, &slug).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["extension_days"], 0);
    assert_eq!(list[0]["state"], "awaiting");
    assert!(timeline(&app, &f.owner, &slug).await.is_empty());
    // Signed out: sent to log in.
    let anon = Visitor::new(&app);
    for path in [&subs, &ups] {
        let seen = anon.get(path).await;
        assert_eq!(seen.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            seen.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("/login")
        );
    }
}

on_both_databases!(
    a_submission_is_recorded_watched_until_overdue_extended_and_answered,
    the_timeline_page_posts_entries_and_shows_the_claim_beside_confirmations,
    bad_input_is_shown_beside_its_field_and_changes_nothing,
    strangers_and_participants_are_refused_both_pages_and_every_form,
);
