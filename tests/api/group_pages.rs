//! The public group page and the provider page: figures under the small-cell rule, charts
//! with text alternatives, the public timeline, submission clocks on the test clock, the
//! provider's claim beside what participants confirm, the public dossier, similar groups,
//! link cards and the QR code; and that no participant's personal data reaches any public page.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::team::{expect_json, join};
use crate::on_both_databases;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// What one participant typed when joining: everything a public page must never show.
pub struct Person {
    pub user: TestUser,
    pub display_name: String,
    pub full_name: String,
    pub statement: String,
    pub amount_minor: i64,
    pub transaction_ref: String,
}

impl Person {
    /// The strings of this person that must stay off public pages (the amount as typed in
    /// minor units and as shown in major units).
    pub fn secrets(&self) -> Vec<String> {
        vec![
            self.user.email.clone(),
            self.display_name.clone(),
            self.full_name.clone(),
            self.statement.clone(),
            self.transaction_ref.clone(),
            self.amount_minor.to_string(),
            format!("{}.{:02}", self.amount_minor / 100, self.amount_minor % 100),
        ]
    }
}

/// `n` people with distinctive names, emails, statements, amounts and references join `slug`;
/// the first `resolved` of them then report their own case resolved, the next `partly` partly.
pub async fn people_join(
    app: &TestApp,
    slug: &str,
    tag: &str,
    n: usize,
    resolved: usize,
    partly: usize,
) -> Vec<Person> {
    let mut people = Vec::new();
    for i in 0..n {
        let email = format!("jinxiu.{tag}{i}@example.org");
        let display_name = format!("锦绣昵称{tag}{i}");
        let user = app.verified_user(&email, &display_name).await;
        let full_name = format!("欧阳锦绣{tag}{i}");
        let statement = format!("独特陈述{tag}{i}：银行卡尾号{:04}被重复扣款", 7000 + i);
        let amount_minor = 9_876_100 + i64::try_from(i).expect("small") * 7;
        let transaction_ref = format!("TXREF-{tag}-{:05}", 31_337 + i);
        let mut body = TestApp::join_body(&full_name, 1);
        body["statement"] = json!(statement);
        body["amount_disputed"] = json!({"amount_minor": amount_minor, "currency": "CNY"});
        body["transaction_refs"] = json!([transaction_ref]);
        join(app, slug, &user, body).await;
        let outcome = if i < resolved {
            Some("resolved")
        } else if i < resolved + partly {
            Some("partially_resolved")
        } else {
            None
        };
        if let Some(outcome) = outcome {
            let res = app
                .patch(
                    &format!("/groups/{slug}/participation"),
                    Some(&user.access_token),
                    json!({"outcome": outcome}),
                )
                .await;
            expect_json(res, StatusCode::OK).await;
        }
        people.push(Person {
            user,
            display_name,
            full_name,
            statement,
            amount_minor,
            transaction_ref,
        });
    }
    people
}

/// The HTML a signed-out browser gets for `path`, expecting `status`.
async fn page(app: &TestApp, path: &str, status: StatusCode) -> String {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .header("Accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), status, "{path}");
    res.text().await.expect("html")
}

/// The PRIVACY check, reusable: none of `people`'s personal data appears on any of `paths`
/// (fetched as the public sees them).
pub async fn assert_no_personal_data(app: &TestApp, paths: &[String], people: &[Person]) {
    for path in paths {
        let html = page(app, path, StatusCode::OK).await;
        for p in people {
            for secret in p.secrets() {
                assert!(
                    !html.contains(&secret),
                    "{path} shows a participant's personal data: {secret}"
                );
            }
        }
    }
}

/// Undoes the escaping askama applies inside attribute values.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `content` of the `<meta property="…">` tag.
fn meta(html: &str, property: &str) -> Option<String> {
    let marker = format!("<meta property=\"{property}\" content=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(unescape(&html[start..start + end]))
}

/// The text of `html` with tags removed and entities undone, for sentences that span tags.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
}

async fn organiser_post(app: &TestApp, owner: &TestUser, path: &str, body: Value) -> Value {
    let res = app.post(path, Some(&owner.access_token), body).await;
    expect_json(res, StatusCode::CREATED).await
}

/// Compiles a dossier of `tier` (built in the request for a small group).
async fn compile(app: &TestApp, owner: &TestUser, slug: &str, tier: &str) -> Value {
    let body = organiser_post(
        app,
        owner,
        &format!("/groups/{slug}/dossiers"),
        json!({"tier": tier}),
    )
    .await;
    assert_eq!(body["status"], "ready", "{body}");
    body
}

async fn the_group_page_shows_everything_public_and_nothing_personal(backend: Backend) {
    // Arrange: on Monday 2 November 2026, a group with six participants, five of whom
    // confirm their case resolved; a public answer saying resolved and a participants-only
    // note; a submission to the provider; dossiers of the provider and public tiers; a
    // similar group against the same provider.
    let app = TestApp::on(backend).await;
    let t0 = t("2026-11-02T02:00:00Z");
    app.clock.set(t0);
    let owner = app.verified_user("owner.g@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let provider = group["provider"]["slug"]
        .as_str()
        .expect("provider")
        .to_owned();
    let people = people_join(&app, &slug, "a", 6, 5, 0).await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/updates"),
        json!({"kind": "response", "response_class": "closed_monetary_relief",
               "title": "服务商称已全部退款", "body": "客服表示款项已原路退回。"}),
    )
    .await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/updates"),
        json!({"kind": "organiser_note", "visibility": "participants",
               "title": "仅参与者可见的内部消息", "body": "下周开会讨论下一步。"}),
    )
    .await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/submissions"),
        json!({"channel": "provider", "recipient": "快付钱包投诉中心", "submitted_at": t0}),
    )
    .await;
    compile(&app, &owner, &slug, "provider").await;
    let public = compile(&app, &owner, &slug, "public").await;
    let other = app
        .create_group(
            &owner,
            json!({"provider": provider, "provider_name": null, "title": "提现申请一直不到账"}),
        )
        .await;
    let other_slug = other["slug"].as_str().expect("slug");

    // Act: nine days later, a stranger opens the group page.
    app.clock.set(t0 + Duration::days(9));
    let path = format!("/groups/{slug}");
    let html = page(&app, &path, StatusCode::OK).await;
    let text = text_of(&html);

    // Assert: title, count, the join button, the provider page link.
    assert!(html.contains("<h1>退款迟迟未到账</h1>"), "{html}");
    assert!(html.contains("<span class=\"count\">6</span>"));
    assert!(html.contains(&format!("href=\"/groups/{slug}/join\"")));
    assert!(html.contains(&format!("href=\"/providers/{provider}\"")));
    // The statement hash is folded: a short start, the whole value inside <details>.
    let sha = group["statement_sha256"].as_str().expect("sha");
    assert!(html.contains(&format!("<code>{}…</code>", &sha[..12])));
    assert!(html.contains("<details class=\"hash\">"));
    assert!(html.contains(&format!("<code>{sha}</code></details>")));
    // Aggregates: the disputed total of six people, and who confirms.
    let total: i64 = people.iter().map(|p| p.amount_minor).sum();
    assert!(
        text.contains(&format!("CNY {}.{:02}（6 人）", total / 100, total % 100)),
        "{text}"
    );
    assert!(text.contains("服务商称已解决；6 人中 5 人确认"), "{text}");
    // Charts: role=img with a title, and the figures as a table.
    for (id, caption) in [
        ("chart-joins", "累计加入人数"),
        ("chart-outcomes", "参与者自述的处理结果"),
    ] {
        assert!(
            html.contains(&format!("<svg role=\"img\" aria-labelledby=\"{id}-title\"")),
            "{id}"
        );
        assert!(html.contains(&format!("<title id=\"{id}-title\">{caption}</title>")));
        assert!(html.contains(&format!(
            "<table class=\"visually-hidden\"><caption>{caption}</caption>"
        )));
    }
    assert!(html.contains("<tr><th scope=\"row\">2026-11-02</th><td>6</td></tr>"));
    assert!(html.contains("<tr><th scope=\"row\">已解决</th><td>5</td></tr>"));
    // The one unresolved person is under five: no cell shows them.
    assert!(!html.contains("<th scope=\"row\">没有解决</th>"));
    // The public timeline, with its response class; never the participants-only entry.
    assert!(text.contains("服务商称已全部退款"));
    assert!(text.contains("已赔付/退款"));
    assert!(!html.contains("仅参与者可见的内部消息"));
    assert!(!html.contains("下周开会讨论下一步"));
    // The submission's clock.
    assert!(text.contains("第 9 天 / 共 15 天 · 服务商"), "{text}");
    assert!(text.contains("等待答复"));
    assert!(!text.contains("已逾期"));
    // The public dossier (version 2), never the provider-tier one.
    let bundle = format!(
        "/api/v1/groups/{slug}/dossiers/{}/bundle",
        public["version"]
    );
    assert!(html.contains(&format!("href=\"{bundle}\"")), "{html}");
    assert!(!html.contains(&format!("/api/v1/groups/{slug}/dossiers/1/")));
    let zip = app
        .client
        .get(format!("{}{bundle}", app.address))
        .send()
        .await
        .expect("bundle");
    assert_eq!(zip.status(), StatusCode::OK);
    assert_eq!(
        zip.headers()["content-type"].to_str().expect("type"),
        "application/zip"
    );
    assert!(zip.bytes().await.expect("zip").starts_with(b"PK\x03\x04"));
    // Similar groups.
    assert!(html.contains(&format!(
        "<a href=\"/groups/{other_slug}\">提现申请一直不到账</a>"
    )));
    // Share: a link card, the copy button (shown by the script), the QR code image.
    let url = format!("{}/groups/{slug}", app.state.ctx.public_url);
    assert_eq!(meta(&html, "og:title").as_deref(), Some("退款迟迟未到账"));
    assert_eq!(meta(&html, "og:url").as_deref(), Some(url.as_str()));
    assert_eq!(meta(&html, "og:type").as_deref(), Some("website"));
    let description = meta(&html, "og:description").expect("og:description");
    assert!(
        description.starts_with("已有 6 人加入。申请退款后超过三十天"),
        "{description}"
    );
    assert!(unescape(&html).contains(&format!("<button type=\"button\" data-copy=\"{url}\" data-copied=\"已复制\" hidden>复制链接</button>")));
    assert!(html.contains(&format!("<img class=\"qr\" src=\"/groups/{slug}/qr.svg\"")));
    assert!(!html.contains(" style="), "no inline style (CSP)");

    // The clock moves past the deadline: overdue, then very overdue, with the next step.
    app.clock.set(t0 + Duration::days(17));
    let text = text_of(&page(&app, &path, StatusCode::OK).await);
    assert!(text.contains("第 17 天 / 共 15 天 · 服务商"), "{text}");
    assert!(text.contains("已逾期") && !text.contains("等待答复"));
    assert!(text.contains("建议下一步：向消费者协会投诉"));
    app.clock.set(t0 + Duration::days(31));
    let text = text_of(&page(&app, &path, StatusCode::OK).await);
    assert!(text.contains("严重逾期"), "{text}");
    let english = text_of(&page(&app, &format!("{path}?lang=en"), StatusCode::OK).await);
    assert!(english.contains("Day 31 of 15 · provider"), "{english}");
    assert!(english.contains("Very overdue"));
    assert!(english.contains("Provider says resolved; 5 of 6 confirm"));

    // PRIVACY: nobody's personal data on any public page.
    let provider_path = format!("/providers/{provider}");
    assert_no_personal_data(
        &app,
        &[
            path.clone(),
            format!("{path}?lang=en"),
            provider_path,
            "/".to_owned(),
            "/?q=%E9%80%80%E6%AC%BE".to_owned(),
        ],
        &people,
    )
    .await;
    // Nor is a group found by what a participant typed (the search box echoes the query).
    for p in &people[..2] {
        for q in [&p.full_name, &p.transaction_ref, &p.user.email] {
            let found = page(&app, &format!("/?q={q}"), StatusCode::OK).await;
            assert!(!found.contains(&format!("/groups/{slug}")), "found by {q}");
        }
    }
}

async fn cells_under_five_are_folded_and_a_hidden_confirmation_says_so(backend: Backend) {
    // Arrange: eleven people: six unresolved, two partly resolved, three resolved; the
    // provider says resolved. A second group has three people only.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner.f@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let people = people_join(&app, &slug, "b", 11, 3, 2).await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/updates"),
        json!({"kind": "resolution", "response_class": "closed_non_monetary_relief",
               "title": "服务商称问题已处理"}),
    )
    .await;
    let small = app
        .create_group(&owner, json!({"title": "只有三个人的联名投诉"}))
        .await;
    let small_slug = small["slug"].as_str().expect("slug").to_owned();
    let few = people_join(&app, &small_slug, "c", 3, 3, 0).await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{small_slug}/updates"),
        json!({"kind": "response", "response_class": "closed_monetary_relief", "title": "服务商称已退款"}),
    )
    .await;

    // Act
    let html = page(&app, &format!("/groups/{slug}"), StatusCode::OK).await;
    let small_html = page(&app, &format!("/groups/{small_slug}"), StatusCode::OK).await;

    // Assert: the two small cells (2 + 3) are shown only merged as "other", as the API does.
    let api = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(
        api["outcomes"],
        json!([{"key": "unresolved", "participants": 6}, {"key": "other", "participants": 5}])
    );
    assert!(html.contains("<tr><th scope=\"row\">没有解决</th><td>6</td></tr>"));
    assert!(html.contains("<tr><th scope=\"row\">其他（合并的小分组）</th><td>5</td></tr>"));
    assert!(!html.contains("<th scope=\"row\">已解决</th>"));
    assert!(!html.contains("<th scope=\"row\">部分解决</th>"));
    let text = text_of(&html);
    assert!(
        text.contains("服务商称已解决；11 人中有多少人确认，按小样本规则不单独公布"),
        "{text}"
    );
    assert!(!text.contains("人中 3 人确认"));
    // Three people: no chart, no money figure, no count of who confirms.
    assert!(!small_html.contains("role=\"img\""));
    assert!(!small_html.contains("（3 人）"));
    let small_text = text_of(&small_html);
    assert_eq!(small_text.matches("人数不足 5 人，暂不显示。").count(), 2);
    assert!(small_text.contains("服务商称已解决；3 人中有多少人确认"));
    assert!(small_html.contains("<span class=\"count\">3</span>"));
    // A group reachable by link only keeps out of search engines; a listed one does not.
    assert!(!small_html.contains("noindex"));
    let res = app
        .patch(
            &format!("/groups/{small_slug}"),
            Some(&owner.access_token),
            json!({"visibility": "unlisted"}),
        )
        .await;
    expect_json(res, StatusCode::OK).await;
    let unlisted = page(&app, &format!("/groups/{small_slug}"), StatusCode::OK).await;
    assert!(unlisted.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert_no_personal_data(
        &app,
        &[format!("/groups/{slug}"), format!("/groups/{small_slug}")],
        &people.into_iter().chain(few).collect::<Vec<_>>(),
    )
    .await;
}

async fn the_provider_page_shows_the_apis_scorecard_and_its_groups(backend: Backend) {
    // Arrange: two submissions against the provider; one answered three days later.
    let app = TestApp::on(backend).await;
    let t0 = t("2026-11-02T02:00:00Z");
    app.clock.set(t0);
    let owner = app.verified_user("owner.p@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let provider = group["provider"]["slug"]
        .as_str()
        .expect("provider")
        .to_owned();
    let answered = organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/submissions"),
        json!({"channel": "provider", "recipient": "快付钱包投诉中心", "submitted_at": t0}),
    )
    .await;
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/submissions"),
        json!({"channel": "consumer_association", "recipient": "消费者协会", "submitted_at": t0}),
    )
    .await;
    app.clock.set(t0 + Duration::days(3));
    let owner = {
        let mut o = owner;
        crate::helpers::team::relogin(&app, &mut o).await;
        o
    };
    organiser_post(
        &app,
        &owner,
        &format!("/groups/{slug}/updates"),
        json!({"kind": "response", "response_class": "in_progress", "submission_id": answered["id"],
               "title": "服务商答复正在处理"}),
    )
    .await;
    app.clock.set(t0 + Duration::days(40));

    // Act
    let html = page(&app, &format!("/providers/{provider}"), StatusCode::OK).await;
    let api = json_body(app.get(&format!("/providers/{provider}"), None).await).await;

    // Assert: the figures are the API's.
    let s = &api["scorecard"];
    assert_eq!(
        (s["submissions"].as_i64(), s["answered"].as_i64()),
        (Some(2), Some(1))
    );
    let pct = |v: &Value| format!("{:.0}%", v.as_f64().expect("share") * 100.0);
    let text = text_of(&html);
    assert!(html.contains("<h1>快付钱包</h1>"), "{html}");
    assert!(text.contains("待审核"), "a proposed provider is unreviewed");
    for expected in [
        format!("公开的联名投诉{}", api["groups"]),
        format!("已提交的投诉{}", s["submissions"]),
        format!(
            "答复率{}（{}/{}）",
            pct(&s["share_answered"]),
            s["answered"],
            s["submissions"]
        ),
        format!(
            "首次答复的中位天数{:.1} 天",
            s["median_days_to_first_answer"].as_f64().expect("median")
        ),
        format!(
            "按时答复比例{}（{}/{}）",
            pct(&s["share_answered_on_time"]),
            s["answered_on_time"],
            s["decided"]
        ),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }
    assert!(text.contains("答复率50%（1/2）"));
    assert!(html.contains(&format!("<a href=\"/groups/{slug}\">退款迟迟未到账</a>")));
    let english = text_of(
        &page(
            &app,
            &format!("/providers/{provider}?lang=en"),
            StatusCode::OK,
        )
        .await,
    );
    assert!(english.contains("Response rate50% (1/2)"), "{english}");

    // Unknown slugs: the localised 404 page.
    let missing = page(&app, "/providers/no-such-provider", StatusCode::NOT_FOUND).await;
    assert!(missing.contains("lang=\"zh-CN\"") && missing.contains("<h1>未找到</h1>"));
    let missing_en = page(
        &app,
        "/providers/no-such-provider?lang=en",
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(missing_en.contains("lang=\"en\"") && missing_en.contains("<h1>Not found</h1>"));
    page(&app, "/groups/no-such-group", StatusCode::NOT_FOUND).await;
    page(&app, "/groups/no-such-group/qr.svg", StatusCode::NOT_FOUND).await;
}

on_both_databases!(
    the_group_page_shows_everything_public_and_nothing_personal,
    cells_under_five_are_folded_and_a_hidden_confirmation_says_so,
    the_provider_page_shows_the_apis_scorecard_and_its_groups,
);

/// The dark modules of the QR code in `svg`, read from its path (`M{x} {y}h{w}v{h}H{x}V{y}`
/// per run), in module units, without the quiet zone.
fn modules(svg: &str, width_px: u32, size: u32) -> Vec<bool> {
    let unit = width_px / (size + 8);
    let start = svg.find(" d=\"").expect("path") + 4;
    let end = start + svg[start..].find('"').expect("path end");
    let mut dark = vec![false; (size * size) as usize];
    for run in svg[start..end].split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<u32> = run
            .split(['h', 'v', 'H', 'V', ' '])
            .map(|n| n.parse().expect("number"))
            .collect();
        let (x, y, w, h) = (nums[0], nums[1], nums[2], nums[3]);
        assert!(x % unit == 0 && y % unit == 0 && w % unit == 0 && h % unit == 0);
        for my in y / unit..(y + h) / unit {
            for mx in x / unit..(x + w) / unit {
                dark[((my - 4) * size + (mx - 4)) as usize] = true;
            }
        }
    }
    dark
}

#[tokio::test]
async fn the_qr_code_is_an_svg_of_the_page_address() {
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner.q@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug");

    let res = app
        .client
        .get(format!("{}/groups/{slug}/qr.svg", app.address))
        .send()
        .await
        .expect("qr");

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().expect("type"),
        "image/svg+xml"
    );
    let svg = res.text().await.expect("svg");
    assert!(svg.starts_with(
        "<?xml version=\"1.0\" standalone=\"yes\"?><svg xmlns=\"http://www.w3.org/2000/svg\""
    ));
    assert!(svg.ends_with("</svg>") && svg.matches("<svg").count() == 1);
    let width: u32 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|w| w.split('"').next())
        .and_then(|w| w.parse().ok())
        .expect("width");
    assert!(svg.contains(&format!("height=\"{width}\"")), "square");
    assert!(width >= 200, "at least 200 px: {width}");
    // The modules drawn are those of the QR code of the page's public address.
    let url = format!("{}/groups/{slug}", app.state.ctx.public_url);
    let code = qrcode::QrCode::new(url.as_bytes()).expect("code");
    let size = u32::try_from(code.width()).expect("width");
    let expected: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    assert_eq!(modules(&svg, width, size), expected);
}

/// The number in the page's count card.
fn shown_count(html: &str) -> String {
    let card = r#"group-count"><p><span class="count">"#;
    let start = html.find(card).expect("count card") + card.len();
    let rest = &html[start..];
    rest[..rest.find("</span>").expect("end")].to_owned()
}

#[tokio::test]
async fn the_signed_out_page_is_rendered_once_for_all_yet_follows_joins_and_shows_no_one_s_own_parts()
 {
    // Arrange: a group, a signed-out visitor and a signed-in one.
    let app = TestApp::spawn().await;
    let owner = app.verified_user("owner@example.com", "王组织").await;
    let g = app.create_group(&owner, json!({})).await;
    let slug = g["slug"].as_str().expect("slug").to_owned();
    let path = format!("/groups/{slug}");
    let stranger = crate::helpers::visitor::Visitor::new(&app);
    let member = app.verified_user("zhao.lei@example.com", "赵磊本人").await;
    let signed_in = crate::helpers::visitor::Visitor::signed_in(&app, &member).await;

    // Act: the signed-in page, the signed-out one, then a join and the signed-out page again.
    let own = signed_in.get(&path).await;
    let before = stranger.get(&path).await;
    let another = crate::helpers::visitor::Visitor::new(&app).get(&path).await;
    join(&app, &slug, &member, TestApp::join_body("赵磊真名", 1)).await;
    let after = stranger.get(&path).await;
    let english = stranger.get(&format!("{path}?lang=en")).await;

    // Assert: every signed-out visitor gets the same page, with the visitor's own cookies
    // (a new visitor still gets a CSRF seed); the signed-in one gets their own header; a join
    // shows at once; no one's name reaches the shared page.
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(shown_count(&before.html), "0");
    assert_eq!(before.html, another.html);
    assert!(
        another.set_cookie("lm_csrf").is_some(),
        "a new visitor gets a CSRF seed of their own"
    );
    assert!(own.html.contains("赵磊本人"), "the signed-in header");
    assert!(!before.html.contains("赵磊本人"));
    assert_eq!(shown_count(&after.html), "1", "a join shows at once");
    for private in ["赵磊本人", "赵磊真名", "zhao.lei@example.com"] {
        assert!(
            !after.html.contains(private),
            "{private} on the shared page"
        );
    }
    assert!(english.html.contains(r#"<html lang="en">"#));
}
