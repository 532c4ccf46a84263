//! Figures: the organisers' dashboard and the provider scorecard equal what the test computes
//! from the rows it created, and public aggregates never show a cell under five people.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::team::{expect_json, join, join_with, relogin};
use crate::on_both_databases;
use crate::roster::upload_png;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

fn share(part: usize, whole: usize) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(part as f64 / whole as f64)
    }
}

/// One participant of the dashboard test and everything they do.
struct Person {
    email: &'static str,
    name: &'static str,
    amount: i64,
    currency: &'static str,
    /// Day of November 2026 they join (10:00 China time).
    day: u32,
    outcome: &'static str,
    evidence: &'static [&'static str],
    contacts: &'static [&'static str],
    /// Where they end up: active, withdrawn, pending or rejected.
    fate: &'static str,
}

const PEOPLE: &[Person] = &[
    Person {
        email: "p0@example.com",
        name: "赵一",
        amount: 12_800,
        currency: "CNY",
        day: 2,
        outcome: "resolved",
        evidence: &["screenshot", "transaction_record"],
        contacts: &["hotline", "hotline"],
        fate: "active",
    },
    Person {
        email: "p1@example.com",
        name: "钱二",
        amount: 5_000,
        currency: "CNY",
        day: 2,
        outcome: "unresolved",
        evidence: &["screenshot"],
        contacts: &["online_chat"],
        fate: "active",
    },
    Person {
        email: "p2@example.com",
        name: "孙三",
        amount: 99_901,
        currency: "CNY",
        day: 3,
        outcome: "partially_resolved",
        evidence: &[],
        contacts: &[],
        fate: "active",
    },
    Person {
        email: "p3@example.com",
        name: "李四",
        amount: 2_000,
        currency: "USD",
        day: 3,
        outcome: "unresolved",
        evidence: &["chat_log"],
        contacts: &["email", "hotline", "in_app"],
        fate: "active",
    },
    Person {
        email: "p4@example.com",
        name: "周五",
        amount: 7_777,
        currency: "CNY",
        day: 4,
        outcome: "unresolved",
        evidence: &["receipt"],
        contacts: &["hotline"],
        fate: "withdrawn",
    },
    Person {
        email: "p5@example.com",
        name: "吴六",
        amount: 3_000,
        currency: "CNY",
        day: 4,
        outcome: "unresolved",
        evidence: &["screenshot"],
        contacts: &["hotline"],
        fate: "pending",
    },
    Person {
        email: "p6@example.com",
        name: "郑七",
        amount: 4_500,
        currency: "HKD",
        day: 5,
        outcome: "unresolved",
        evidence: &[],
        contacts: &[],
        fate: "rejected",
    },
];

fn day(d: u32) -> DateTime<Utc> {
    t(&format!("2026-11-{d:02}T02:00:00Z"))
}

/// The dashboard the rows of [`PEOPLE`] should give.
fn expected_figures() -> Value {
    let active: Vec<&Person> = PEOPLE.iter().filter(|p| p.fate == "active").collect();
    let mut joins: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_status: BTreeMap<&str, i64> = ["pending", "active", "rejected", "withdrawn"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for p in PEOPLE {
        *joins.entry(format!("2026-11-{:02}", p.day)).or_default() += 1;
        *by_status.entry(p.fate).or_default() += 1;
    }
    let mut money: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut outcomes: BTreeMap<&str, i64> = ["unresolved", "partially_resolved", "resolved"]
        .into_iter()
        .map(|o| (o, 0))
        .collect();
    let mut kinds: BTreeMap<&str, (BTreeSet<&str>, i64)> = BTreeMap::new();
    let mut channels: BTreeMap<&str, i64> = BTreeMap::new();
    for p in &active {
        money.entry(p.currency).or_default().push(p.amount);
        *outcomes.entry(p.outcome).or_default() += 1;
        for k in p.evidence {
            let e = kinds.entry(k).or_default();
            e.0.insert(p.email);
            e.1 += 1;
        }
        for c in p.contacts {
            *channels.entry(c).or_default() += 1;
        }
    }
    let with_evidence = active.iter().filter(|p| !p.evidence.is_empty()).count();
    json!({
        "joins_per_day": joins.iter().map(|(d, n)| json!({"day": d, "joins": n})).collect::<Vec<_>>(),
        "participants_by_status": by_status,
        "signed_current": active.len(),
        "disputed": money.iter().map(|(c, a)| json!({
            "currency": c,
            "participants": a.len(),
            "total_minor": a.iter().sum::<i64>(),
            "median_minor": median(a.iter().map(|x| *x as f64).collect()),
            "bands": bands(a),
        })).collect::<Vec<_>>(),
        "evidence": {
            "participants_with_evidence": with_evidence,
            "share": share(with_evidence, active.len()),
            "by_kind": kinds.iter().map(|(k, (people, items))| ((*k).to_owned(), json!({
                "participants": people.len(),
                "share": share(people.len(), active.len()),
                "items": items,
            }))).collect::<serde_json::Map<_, _>>(),
        },
        // Everyone joins with the helper's incident date, and the group declares no window.
        "incidents": {
            "declared_from": null,
            "declared_to": null,
            "earliest": "2026-03-02",
            "latest": "2026-03-02",
            "outside_declared": 0,
        },
        "contacts": {
            "total": active.iter().map(|p| p.contacts.len()).sum::<usize>(),
            "participants_contacted": active.iter().filter(|p| !p.contacts.is_empty()).count(),
            "median_per_participant": median(active.iter().map(|p| p.contacts.len() as f64).collect()),
            "by_channel": channels,
        },
        "outcomes": outcomes,
        // Everyone joins with the helper's transaction reference: all seven claim one, whatever
        // became of them; the other signals need bursts or long statements.
        "flags": [
            {"code": "duplicate_ref", "participants": PEOPLE.len()},
            {"code": "network_burst", "participants": 0},
            {"code": "similar_statement", "participants": 0},
            {"code": "fresh_account_burst", "participants": 0},
        ],
        "flagged_participants": PEOPLE.len(),
    })
}

/// The amount bands the dashboard gives for `amounts`, from 0, 100, 500, 1,000, 5,000 and
/// 20,000 major units; every test currency has 100 minor units to the major one.
fn bands(amounts: &[i64]) -> Value {
    let edges = [0_i64, 100, 500, 1_000, 5_000, 20_000];
    Value::Array(
        edges
            .iter()
            .enumerate()
            .map(|(i, from)| {
                let to = edges.get(i + 1).map(|t| t * 100);
                json!({
                    "from_minor": from * 100,
                    "to_minor": to,
                    "participants": amounts
                        .iter()
                        .filter(|x| **x >= from * 100 && to.is_none_or(|t| **x < t))
                        .count(),
                })
            })
            .collect(),
    )
}

async fn dashboard_figures_equal_figures_computed_from_the_rows(backend: Backend) {
    // Arrange: the people of PEOPLE join on their days, bring evidence and log contacts.
    let app = TestApp::on(backend).await;
    app.clock.set(day(2));
    let mut owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let mut users: Vec<TestUser> = Vec::new();
    let mut ids = Vec::new();
    for p in PEOPLE {
        app.clock.set(day(p.day));
        if p.fate == "pending" {
            relogin(&app, &mut owner).await;
            let res = app
                .patch(
                    &format!("/groups/{slug}"),
                    Some(&owner.access_token),
                    json!({"requires_moderation": true}),
                )
                .await;
            expect_json(res, StatusCode::OK).await;
        }
        let user = app.verified_user(p.email, p.name).await;
        let joined = join(
            &app,
            &slug,
            &user,
            join_with(p.name, p.amount, p.currency, 1),
        )
        .await;
        ids.push(joined["id"].as_i64().expect("id"));
        users.push(user);
    }
    app.clock.set(day(6));
    relogin(&app, &mut owner).await;
    for (i, (p, user)) in PEOPLE.iter().zip(users.iter_mut()).enumerate() {
        relogin(&app, user).await;
        for (n, kind) in p.evidence.iter().enumerate() {
            upload_png(&app, &slug, user, kind, (i * 10 + n) as u8).await;
        }
        for (n, channel) in p.contacts.iter().enumerate() {
            let res = app
                .post(
                    &format!("/groups/{slug}/participation/interactions"),
                    Some(&user.access_token),
                    json!({
                        "occurred_at": day(5) + Duration::minutes(n as i64),
                        "channel": channel,
                        "outcome": "promised",
                    }),
                )
                .await;
            expect_json(res, StatusCode::CREATED).await;
        }
        if p.outcome != "unresolved" {
            let res = app
                .patch(
                    &format!("/groups/{slug}/participation"),
                    Some(&user.access_token),
                    json!({"outcome": p.outcome}),
                )
                .await;
            expect_json(res, StatusCode::OK).await;
        }
        match p.fate {
            "withdrawn" => {
                let res = app
                    .delete(
                        &format!("/groups/{slug}/participation"),
                        Some(&user.access_token),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            "rejected" => {
                let res = app
                    .patch(
                        &format!("/groups/{slug}/roster/{}", ids[i]),
                        Some(&owner.access_token),
                        json!({"action": "reject", "reason": "与本投诉无关"}),
                    )
                    .await;
                expect_json(res, StatusCode::OK).await;
            }
            _ => {}
        }
    }
    let res = app
        .post(
            &format!("/groups/{slug}/submissions"),
            Some(&owner.access_token),
            json!({"channel": "provider", "recipient": "快付钱包客服", "submitted_at": day(3)}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;

    // Act
    let res = app
        .get(
            &format!("/groups/{slug}/dashboard"),
            Some(&owner.access_token),
        )
        .await;
    let mut got = expect_json(res, StatusCode::OK).await;

    // Assert
    let submissions = json_body(app.get(&format!("/groups/{slug}/submissions"), None).await).await;
    assert_eq!(got["submissions"], submissions);
    assert_eq!(got["submissions"][0]["day"], 3, "day 3 of 15 on 6 November");
    for key in ["submissions", "status", "outcome", "statement_version"] {
        got.as_object_mut().expect("object").remove(key);
    }
    assert_eq!(got, expected_figures());
}

async fn scorecard_figures_equal_figures_computed_from_the_rows(backend: Backend) {
    // Arrange: two listed groups and one unlisted group against one provider, with
    // submissions and answers dated in the past; the clock stands on 2 December 2026.
    let app = TestApp::on(backend).await;
    let now = t("2026-12-02T02:00:00Z");
    let at = |d: i64| now - Duration::days(30) + Duration::days(d);
    app.clock.set(now);
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let mut slugs = Vec::new();
    for title in [
        "快付钱包退款迟迟未到账",
        "快付钱包提现失败",
        "快付钱包乱扣费",
    ] {
        let g = app.create_group(&owner, json!({"title": title})).await;
        slugs.push(g["slug"].as_str().expect("slug").to_owned());
    }
    let provider =
        json_body(app.get(&format!("/groups/{}", slugs[0]), None).await).await["provider"]["slug"]
            .as_str()
            .expect("provider")
            .to_owned();
    let res = app
        .patch(
            &format!("/groups/{}", slugs[2]),
            Some(&owner.access_token),
            json!({"visibility": "unlisted"}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;
    let mut active = BTreeMap::new();
    for (i, (g, fate)) in [
        (0, "active"),
        (0, "active"),
        (1, "active"),
        (1, "withdrawn"),
        (2, "active"),
    ]
    .into_iter()
    .enumerate()
    {
        let user = app
            .verified_user(&format!("u{i}@example.com"), "参与者")
            .await;
        join(&app, &slugs[g], &user, join_with("参与者", 100, "CNY", 1)).await;
        if fate == "withdrawn" {
            let res = app
                .delete(
                    &format!("/groups/{}/participation", slugs[g]),
                    Some(&user.access_token),
                )
                .await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        } else {
            *active.entry(g).or_insert(0) += 1;
        }
    }
    let (app_ref, token) = (&app, owner.access_token.as_str());
    let submit = |g: usize, channel: &str, d: i64| {
        let path = format!("/groups/{}/submissions", slugs[g]);
        let body = json!({"channel": channel, "recipient": "收件方", "submitted_at": at(d)});
        async move {
            expect_json(
                app_ref.post(&path, Some(token), body).await,
                StatusCode::CREATED,
            )
            .await
        }
    };
    let update = |g: usize, body: Value| {
        let path = format!("/groups/{}/updates", slugs[g]);
        async move {
            expect_json(
                app_ref.post(&path, Some(token), body).await,
                StatusCode::CREATED,
            )
            .await
        }
    };
    // (group, channel, sent on day, answered on day)
    let plan = [
        (0, "provider", 0, Some(3)),
        (0, "consumer_association", 5, Some(20)),
        (1, "provider", 1, None),
        (1, "regulator", 25, None),
        (2, "provider", 0, Some(1)),
    ];
    for (g, channel, sent, answered) in plan {
        let s = submit(g, channel, sent).await;
        if let Some(d) = answered {
            update(g, json!({"kind": "acknowledgement", "submission_id": s["id"], "title": "已受理", "occurred_at": at(d)})).await;
        }
    }
    update(0, json!({"kind": "resolution", "response_class": "closed_monetary_relief", "title": "已退款", "occurred_at": at(22)})).await;
    update(1, json!({"kind": "denial", "response_class": "denied", "title": "拒绝", "occurred_at": at(28)})).await;
    update(1, json!({"kind": "stall", "response_class": "untimely", "title": "内部", "visibility": "participants", "occurred_at": at(29)})).await;
    update(2, json!({"kind": "response", "response_class": "closed_explanation", "title": "解释", "occurred_at": at(2)})).await;
    for (to, outcome) in [
        ("submitted", None),
        ("responded", None),
        ("closed", Some("resolved_monetary")),
    ] {
        let mut body = json!({"status": to});
        if let Some(o) = outcome {
            body["outcome"] = json!(o);
        }
        let res = app
            .post(
                &format!("/groups/{}/status", slugs[0]),
                Some(&owner.access_token),
                body,
            )
            .await;
        expect_json(res, StatusCode::OK).await;
    }

    // The expected figures, from the submission rows of the listed groups.
    let mut rows = Vec::new();
    for slug in &slugs[..2] {
        let list = json_body(app.get(&format!("/groups/{slug}/submissions"), None).await).await;
        rows.extend(list.as_array().expect("list").clone());
    }
    let answered: Vec<&Value> = rows
        .iter()
        .filter(|s| s["first_response_at"].is_string())
        .collect();
    let time = |v: &Value| t(v.as_str().expect("time"));
    let days: Vec<f64> = answered
        .iter()
        .map(|s| {
            (time(&s["first_response_at"]) - time(&s["submitted_at"])).num_seconds() as f64
                / 86_400.0
        })
        .collect();
    let on_time = answered
        .iter()
        .filter(|s| time(&s["first_response_at"]) <= time(&s["due_at"]))
        .count();
    let decided = rows
        .iter()
        .filter(|s| s["first_response_at"].is_string() || now > time(&s["due_at"]))
        .count();

    // Act
    let card = json_body(app.get(&format!("/providers/{provider}"), None).await).await;

    // Assert
    assert_eq!(card["groups"], 2, "{card}");
    assert_eq!(card["participants"], active[&0] + active[&1]);
    assert_eq!(
        card["scorecard"],
        json!({
            "submissions": rows.len(),
            "answered": answered.len(),
            "share_answered": share(answered.len(), rows.len()),
            "median_days_to_first_answer": median(days),
            "decided": decided,
            "answered_on_time": on_time,
            "share_answered_on_time": share(on_time, decided),
            "response_classes": {"closed_monetary_relief": 1, "denied": 1},
            "group_outcomes": {"resolved_monetary": 1},
        })
    );
    assert_eq!(
        (rows.len(), answered.len(), decided, on_time),
        (4, 2, 3, 1),
        "the plan's shape"
    );
}

/// Checks that no public cell of the group's view shows fewer than five people, and that the
/// cells shown agree with `outcomes` (each active participant's own outcome).
async fn assert_public_cells(app: &TestApp, slug: &str, outcomes: &HashMap<usize, &str>) {
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    let mut actual: BTreeMap<&str, i64> = BTreeMap::new();
    for o in outcomes.values() {
        *actual.entry(o).or_default() += 1;
    }
    let total = i64::try_from(outcomes.len()).expect("small");
    assert_eq!(view["participant_count"], total);
    let cells = view["outcomes"].as_array().expect("outcomes");
    let mut shown = 0;
    for c in cells {
        let n = c["participants"].as_i64().expect("n");
        assert!(n >= 5, "a cell under five: {view}");
        shown += n;
        match c["key"].as_str().expect("key") {
            "other" => {}
            key => assert_eq!(Some(&n), actual.get(key), "{key}: {view}"),
        }
    }
    assert!(shown <= total);
    match view["confirmed_resolved"].as_i64() {
        Some(n) => assert_eq!(Some(&n), actual.get("resolved")),
        None => assert!(cells.iter().all(|c| c["key"] != "resolved"), "{view}"),
    }
    for cell in view["disputed_totals"].as_array().expect("totals") {
        if cell["currency"] != "other" {
            assert!(cell["participants"].as_i64().expect("n") >= 5, "{view}");
        }
    }
}

async fn public_aggregates_never_show_a_cell_under_five(backend: Backend) {
    // Arrange: eleven participants.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let mut users = Vec::new();
    for i in 0..11 {
        let user = app
            .verified_user(&format!("c{i}@example.com"), "参与者")
            .await;
        let currency = if i < 7 { "CNY" } else { "USD" };
        join(
            &app,
            &slug,
            &user,
            join_with("参与者", 1000 + i as i64, currency, 1),
        )
        .await;
        users.push(user);
    }
    let mut outcomes: HashMap<usize, &str> = (0..11).map(|i| (i, "unresolved")).collect();
    assert_public_cells(&app, &slug, &outcomes).await;

    // Act & Assert: as people report their own outcomes, no step shows a small cell.
    let steps: [&[(usize, &str)]; 4] = [
        &[(0, "resolved"), (1, "resolved"), (2, "resolved")],
        &[(3, "resolved"), (4, "resolved")],
        &[(5, "partially_resolved")],
        &[
            (6, "partially_resolved"),
            (7, "partially_resolved"),
            (8, "partially_resolved"),
            (9, "partially_resolved"),
        ],
    ];
    for step in steps {
        for (i, outcome) in step {
            let res = app
                .patch(
                    &format!("/groups/{slug}/participation"),
                    Some(&users[*i].access_token),
                    json!({"outcome": outcome}),
                )
                .await;
            expect_json(res, StatusCode::OK).await;
            outcomes.insert(*i, outcome);
        }
        assert_public_cells(&app, &slug, &outcomes).await;
    }
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["confirmed_resolved"], 5, "{view}");
    assert_eq!(
        view["outcomes"],
        json!([{"key": "resolved", "participants": 5}, {"key": "other", "participants": 6}]),
        "the single unresolved participant is hidden in `other` with the smallest shown cell"
    );
}

on_both_databases!(
    dashboard_figures_equal_figures_computed_from_the_rows,
    scorecard_figures_equal_figures_computed_from_the_rows,
    public_aggregates_never_show_a_cell_under_five,
);
