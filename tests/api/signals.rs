//! Integrity signals for organisers, in a seeded group: two participants claim one transaction
//! reference, five join from one network within minutes, two wrote the same statement, five
//! join minutes after making their accounts, and two are clean. Each flag shows with its code
//! and reason on the roster (API and page) and in the dashboard's counts, the filter finds
//! exactly the flagged ones, and none of it — nor the recorded network — reaches a stranger, a
//! participant, a public answer or a dossier.

use chrono::Duration;
use lianming::entities::participations;
use reqwest::StatusCode;
use reqwest::header::ACCEPT_LANGUAGE;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::{compile, download, entries, everything_readable};
use crate::helpers::team::{expect_json, expect_problem, expect_refused, relogin};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// What no one outside the team may ever see.
const NEVER_PUBLIC: [&str; 12] = [
    "duplicate_ref",
    "network_burst",
    "similar_statement",
    "fresh_account_burst",
    "join_network",
    "203.0.113",
    "127.0.0.0/24",
    "flags",
    "交易号重复",
    "同一网络集中加入",
    "陈述几乎相同",
    "新注册账号集中加入",
];

fn assert_nothing_private(what: &str, text: &str) {
    for secret in NEVER_PUBLIC {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

/// Two participants copy this (once with other punctuation).
const COPIED: &str =
    "我在三月二日申请退款一百二十八元，客服说七个工作日到账，至今没有收到任何款项。";

/// Joins `slug` as `user` from the client address `from` (the server trusts
/// `X-Forwarded-For` here) with its own statement and references; returns the participation.
async fn join_from(
    app: &TestApp,
    slug: &str,
    user: &mut TestUser,
    from: &str,
    statement: &str,
    refs: &[&str],
) -> Value {
    relogin(app, user).await;
    let mut body = TestApp::join_body("参与者本人", 1);
    body["statement"] = json!(statement);
    body["transaction_refs"] = json!(refs);
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation")))
        .bearer_auth(&user.access_token)
        .header("X-Forwarded-For", from)
        .json(&body)
        .send()
        .await
        .expect("join");
    expect_json(res, StatusCode::CREATED).await
}

struct Seeded {
    app: TestApp,
    slug: String,
    owner: TestUser,
    clean: TestUser,
    /// Participation ids by participant number (index 0 is #1).
    ids: Vec<i64>,
}

/// The group of the module's story; participants are numbered as they join:
/// #1 clean, #2 clean (joins on the page), #3–#4 one reference, #5–#9 one network,
/// #10–#11 one statement, #12–#16 fresh accounts.
async fn seeded(backend: Backend) -> Seeded {
    let app = TestApp::spawn_with(backend, |s| s.trust_forwarded_for = true).await;
    let mut owner = app.verified_user("owner@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    // Accounts made long before they join.
    let mut old = Vec::new();
    for n in 1..=11 {
        old.push(
            app.verified_user(&format!("p{n}@example.com"), &format!("参与者{n}"))
                .await,
        );
    }
    app.clock.advance(Duration::hours(2));
    let mut ids = Vec::new();
    let p = join_from(
        &app,
        &slug,
        &mut old[0],
        "198.51.100.7",
        "退款一直没有到账一号",
        &["A-100"],
    )
    .await;
    ids.push(p["id"].as_i64().expect("id"));

    // #2 joins on the page, from the test's own address.
    let page = Visitor::signed_in(&app, &old[1]).await;
    let join = format!("/groups/{slug}/join");
    let signed = page
        .submit(
            &join,
            &join,
            &[
                ("statement", "退款一直没有到账二号"),
                ("currency", "CNY"),
                ("amount", "20.00"),
                ("incident_date", "2026-03-02"),
                ("transaction_refs", "B-200"),
                ("consent_share_identity", "yes"),
                ("full_name", "参与者二"),
                ("statement_version", "1"),
                ("agree", "yes"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    relogin(&app, &mut old[1]).await;
    ids.push(mine(&app, &slug, &old[1]).await);

    // #3 and #4: one reference, spelt two ways (and #3 another of its own).
    app.clock.advance(Duration::minutes(30));
    let p = join_from(
        &app,
        &slug,
        &mut old[2],
        "198.51.101.3",
        "退款一直没有到账三号",
        &["T2026 0302 0001", "C-3"],
    )
    .await;
    ids.push(p["id"].as_i64().expect("id"));
    app.clock.advance(Duration::minutes(20));
    let p = join_from(
        &app,
        &slug,
        &mut old[3],
        "198.51.102.4",
        "退款一直没有到账四号",
        &["t202603020001"],
    )
    .await;
    ids.push(p["id"].as_i64().expect("id"));

    // #5–#9: five hosts of one /24 within five minutes.
    app.clock.advance(Duration::hours(1));
    for k in 0..5 {
        let statement = format!("退款一直没有到账{}号", k + 5);
        let from = format!("203.0.113.{}", 10 + k);
        let p = join_from(
            &app,
            &slug,
            &mut old[4 + k],
            &from,
            &statement,
            &[&format!("N-{k}")],
        )
        .await;
        ids.push(p["id"].as_i64().expect("id"));
        app.clock.advance(Duration::minutes(1));
    }

    // #10 and #11: one statement.
    app.clock.advance(Duration::hours(1));
    let p = join_from(&app, &slug, &mut old[9], "198.51.110.1", COPIED, &["S-1"]).await;
    ids.push(p["id"].as_i64().expect("id"));
    app.clock.advance(Duration::minutes(40));
    let copied_again = COPIED.replace('，', " ");
    let p = join_from(
        &app,
        &slug,
        &mut old[10],
        "198.51.111.1",
        &copied_again,
        &["S-2"],
    )
    .await;
    ids.push(p["id"].as_i64().expect("id"));

    // #12–#16: accounts made two minutes before joining, five within twenty-five minutes.
    app.clock.advance(Duration::hours(1));
    for k in 0..5 {
        let mut fresh = app
            .verified_user(&format!("fresh{k}@example.com"), &format!("新用户{k}"))
            .await;
        app.clock.advance(Duration::minutes(2));
        let statement = format!("退款一直没有到账{}号", k + 12);
        let from = format!("198.51.{}.9", 120 + k);
        let p = join_from(
            &app,
            &slug,
            &mut fresh,
            &from,
            &statement,
            &[&format!("F-{k}")],
        )
        .await;
        ids.push(p["id"].as_i64().expect("id"));
        app.clock.advance(Duration::minutes(3));
    }
    relogin(&app, &mut owner).await;
    let clean = old.swap_remove(0);
    Seeded {
        app,
        slug,
        owner,
        clean,
        ids,
    }
}

async fn mine(app: &TestApp, slug: &str, user: &TestUser) -> i64 {
    let me = json_body(
        app.get(
            &format!("/groups/{slug}/participation"),
            Some(&user.access_token),
        )
        .await,
    )
    .await;
    me["id"].as_i64().expect("id")
}

async fn roster(app: &TestApp, owner: &TestUser, slug: &str, query: &str) -> Value {
    expect_json(
        app.get(
            &format!("/groups/{slug}/roster{query}"),
            Some(&owner.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// Participant numbers of a roster page.
fn numbers(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["number"].as_i64().expect("number"))
        .collect()
}

fn codes(entry: &Value) -> Vec<&str> {
    entry["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| f["code"].as_str().expect("code"))
        .collect()
}

fn reason(entry: &Value) -> &str {
    entry["flags"][0]["reason"].as_str().expect("reason")
}

async fn each_signal_is_flagged_with_its_reason_on_the_roster_and_the_dashboard(backend: Backend) {
    // Arrange
    let Seeded {
        app, slug, owner, ..
    } = seeded(backend).await;

    // Act
    let page = roster(&app, &owner, &slug, "").await;

    // Assert: every participant listed, the flags where the story put them.
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 16, "{page}");
    let by_number = |n: usize| &items[n - 1];
    for n in [1, 2] {
        assert!(codes(by_number(n)).is_empty(), "#{n}: {}", by_number(n));
    }
    for (n, other) in [(3, "#4"), (4, "#3")] {
        assert_eq!(codes(by_number(n)), ["duplicate_ref"], "#{n}");
        let why = reason(by_number(n));
        assert!(why.contains("…0001") && why.contains(other), "#{n}: {why}");
        assert!(!why.contains("C-3"), "a reference of its own: {why}");
    }
    for n in 5..=9 {
        assert_eq!(codes(by_number(n)), ["network_burst"], "#{n}");
        let why = reason(by_number(n));
        assert!(
            why.contains("Network A") && why.contains("5 joins"),
            "#{n}: {why}"
        );
        let others: Vec<String> = (5..=9)
            .filter(|o| *o != n)
            .map(|o| format!("#{o}"))
            .collect();
        assert!(why.contains(&others.join(", ")), "#{n}: {why}");
        assert!(!why.contains("203.0.113"), "the prefix is not shown: {why}");
    }
    for (n, other) in [(10, "#11"), (11, "#10")] {
        assert_eq!(codes(by_number(n)), ["similar_statement"], "#{n}");
        assert!(reason(by_number(n)).contains(other), "#{n}");
    }
    for n in 12..=16 {
        assert_eq!(codes(by_number(n)), ["fresh_account_burst"], "#{n}");
        let why = reason(by_number(n));
        assert!(
            why.contains("less than 3 minutes") && why.contains("5 joins by new accounts"),
            "#{n}: {why}"
        );
    }
    // In the language asked for.
    let res = app
        .client
        .get(app.api(&format!("/groups/{slug}/roster")))
        .bearer_auth(&owner.access_token)
        .header(ACCEPT_LANGUAGE, "zh-CN")
        .send()
        .await
        .expect("roster");
    let zh = expect_json(res, StatusCode::OK).await;
    assert!(
        reason(&zh["items"][4]).contains("网络 A"),
        "{}",
        zh["items"][4]
    );
    assert!(
        reason(&zh["items"][2]).contains("也被 #4 填写"),
        "{}",
        zh["items"][2]
    );

    // The filter: exactly the flagged ones, and all of them for `any`.
    for (flag, expected) in [
        ("duplicate_ref", vec![3, 4]),
        ("network_burst", (5..=9).collect()),
        ("similar_statement", vec![10, 11]),
        ("fresh_account_burst", (12..=16).collect()),
        ("any", (3..=16).collect::<Vec<i64>>()),
    ] {
        let page = roster(&app, &owner, &slug, &format!("?flag={flag}")).await;
        assert_eq!(numbers(&page), expected, "{flag}");
        assert_eq!(page["total"], expected.len(), "{flag}");
    }
    // Combined with another filter and paged.
    let page = roster(&app, &owner, &slug, "?flag=any&per_page=4&page=2").await;
    assert_eq!(numbers(&page), [7, 8, 9, 10]);
    assert_eq!(page["total"], 14);
    let page = roster(&app, &owner, &slug, "?flag=network_burst&q=203").await;
    assert_eq!(
        numbers(&page),
        Vec::<i64>::new(),
        "the network is not searchable"
    );
    expect_problem(
        app.get(
            &format!("/groups/{slug}/roster?flag=suspicious"),
            Some(&owner.access_token),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // The dashboard counts participants per signal.
    let d = expect_json(
        app.get(
            &format!("/groups/{slug}/dashboard"),
            Some(&owner.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        d["flags"],
        json!([
            {"code": "duplicate_ref", "participants": 2},
            {"code": "network_burst", "participants": 5},
            {"code": "similar_statement", "participants": 2},
            {"code": "fresh_account_burst", "participants": 5},
        ])
    );
    assert_eq!(d["flagged_participants"], 14);
    // Nobody was rejected or changed: everyone is still active.
    assert_eq!(d["participants_by_status"]["active"], 16, "{d}");
}

async fn the_roster_and_dashboard_pages_show_the_flags_and_filter_by_them(backend: Backend) {
    // Arrange
    let Seeded {
        app,
        slug,
        owner,
        ids,
        ..
    } = seeded(backend).await;
    let desk = Visitor::signed_in(&app, &owner).await;

    // Act
    let all = desk.get(&format!("/groups/{slug}/manage/roster")).await;
    let similar = desk
        .get(&format!(
            "/groups/{slug}/manage/roster?flag=similar_statement"
        ))
        .await;
    let dashboard = desk.get(&format!("/groups/{slug}/manage")).await;
    let file = desk
        .get(&format!("/groups/{slug}/manage/roster/{}", ids[4]))
        .await;

    // Assert: a badge and the reason on each flagged row.
    assert_eq!(all.status, StatusCode::OK, "{}", all.html);
    for text in [
        "class=\"tag flag-badge\">交易号重复</span>",
        "交易号 …0001 也被 #4 填写",
        "class=\"tag flag-badge\">同一网络集中加入</span>",
        "网络 A：",
        "class=\"tag flag-badge\">陈述几乎相同</span>",
        "个人陈述与 #11 的几乎相同",
        "class=\"tag flag-badge\">新注册账号集中加入</span>",
        "账号注册不到 3 分钟即加入",
    ] {
        assert!(all.html.contains(text), "{text}: {}", all.html);
    }
    assert!(!all.html.contains("203.0.113"), "the prefix is not shown");
    assert_eq!(all.html.matches("class=\"flag flag-").count(), 14);
    // The filter is a plain GET form, its choice kept.
    assert!(
        similar
            .html
            .contains("<option value=\"similar_statement\" selected>"),
        "{}",
        similar.html
    );
    for (n, id) in ids.iter().enumerate() {
        let shown = similar.html.contains(&format!("id=\"row-{id}\""));
        assert_eq!(shown, n == 9 || n == 10, "#{}", n + 1);
    }
    // Moderation forms keep the filter.
    assert!(
        similar
            .html
            .contains("<input type=\"hidden\" name=\"flag\" value=\"similar_statement\">"),
        "{}",
        similar.html
    );

    // The dashboard: counts per signal, each linking to the filtered roster.
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.html);
    for (code, n) in [
        ("duplicate_ref", 2),
        ("network_burst", 5),
        ("similar_statement", 2),
        ("fresh_account_burst", 5),
    ] {
        let link = format!("href=\"/groups/{slug}/manage/roster?flag={code}\"");
        assert!(dashboard.html.contains(&link), "{link}: {}", dashboard.html);
        let row = format!("<tr id=\"flag-{code}\">");
        let at = dashboard.html.find(&row).expect(&row);
        assert!(
            dashboard.html[at..].contains(&format!("<td class=\"figure\">{n}</td>")),
            "{code}"
        );
    }
    assert!(dashboard.html.contains("14 位参与者至少有一个信号"));
    assert!(
        dashboard
            .html
            .contains(&format!("href=\"/groups/{slug}/manage/roster?flag=any\""))
    );

    // The participant's file shows theirs.
    assert_eq!(file.status, StatusCode::OK, "{}", file.html);
    assert!(file.html.contains("同一网络集中加入"), "{}", file.html);
}

async fn flags_and_networks_stay_with_the_team(backend: Backend) {
    // Arrange
    let Seeded {
        app,
        slug,
        owner,
        mut clean,
        ids,
    } = seeded(backend).await;
    relogin(&app, &mut clean).await;
    let stranger = app.verified_user("stranger@example.com", "路人").await;

    // Act / Assert: the joins recorded their networks, on the API and on the page alike.
    let rows = participations::Entity::find()
        .order_by_asc(participations::Column::Id)
        .all(&app.db)
        .await
        .expect("rows");
    assert_eq!(rows[0].join_network.as_deref(), Some("198.51.100.0/24"));
    assert_eq!(rows[1].join_network.as_deref(), Some("127.0.0.0/24"));
    assert_eq!(rows[4].join_network.as_deref(), Some("203.0.113.0/24"));
    assert_eq!(rows[8].join_network.as_deref(), Some("203.0.113.0/24"));

    // Strangers and participants are refused the team's resources, as before.
    for (who, token) in [
        ("a stranger", &stranger.access_token),
        ("a participant", &clean.access_token),
    ] {
        for path in [
            format!("/groups/{slug}/roster?flag=any"),
            format!("/groups/{slug}/dashboard"),
        ] {
            expect_refused(app.get(&path, Some(token)).await, &format!("{who}: {path}")).await;
        }
    }
    let outsider = Visitor::signed_in(&app, &stranger).await;
    for path in [
        format!("/groups/{slug}/manage/roster?flag=any"),
        format!("/groups/{slug}/manage"),
        format!("/groups/{slug}/manage/roster/{}", ids[4]),
    ] {
        outsider.get(&path).await.assert_refused(&path);
    }

    // No public answer, and no participant's own view, shows a flag or a network.
    let public = Visitor::new(&app);
    for path in [format!("/groups/{slug}"), "/groups?q=退款".to_owned()] {
        let seen = public.get(&path).await;
        assert_eq!(seen.status, StatusCode::OK, "{path}");
        assert_nothing_private(&path, &seen.html);
    }
    for path in [
        format!("/groups/{slug}"),
        "/groups?q=退款".to_owned(),
        format!("/groups/{slug}/similar"),
    ] {
        let res = app.get(&path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_nothing_private(&path, &res.text().await.expect("body"));
    }
    let own = app
        .get(
            &format!("/groups/{slug}/participation"),
            Some(&clean.access_token),
        )
        .await;
    assert_nothing_private("own participation", &own.text().await.expect("body"));
    let page = Visitor::signed_in(&app, &clean).await;
    for path in [format!("/groups/{slug}"), format!("/account/groups/{slug}")] {
        let seen = page.get(&path).await;
        assert_eq!(seen.status, StatusCode::OK, "{path}");
        assert_nothing_private(&path, &seen.html);
    }

    // Nor does a dossier, in any of its files.
    compile(&app, &owner, &slug, "regulator").await;
    let bundle = download(&app, Some(&owner.access_token), &slug, 1, "bundle").await;
    assert_nothing_private("the dossier", &everything_readable(&entries(&bundle)));
}

on_both_databases!(
    each_signal_is_flagged_with_its_reason_on_the_roster_and_the_dashboard,
    the_roster_and_dashboard_pages_show_the_flags_and_filter_by_them,
    flags_and_networks_stay_with_the_team,
);
