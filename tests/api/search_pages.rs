//! Search that understands Chinese, through the API (`GET /api/v1/groups?q=`) and the search
//! results page (`GET /groups?q=`): character pairs, Latin words, provider names, aliases and
//! pinyin, category labels; ranking, filters, paging, the index kept up to date on edits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::team::{expect_json, make_admin, relogin};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// The groups every test searches, by their role.
struct Fixture {
    app: TestApp,
    owner: TestUser,
    admin: TestUser,
    refund: String,
    withdrawal: String,
    fee: String,
    service: String,
    stolen: String,
    failed: String,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn group(app: &TestApp, owner: &TestUser, body: Value) -> String {
    let mut body = body;
    if body.get("provider").is_none() {
        body["provider"] = Value::Null;
    } else {
        body["provider_name"] = Value::Null;
    }
    body["demands"] = json!(["refund"]);
    body["joint_statement"] = json!("我们共同要求平台依法处理上述问题，并给出书面答复。");
    app.create_group(owner, body)
        .await
        .get("slug")
        .and_then(Value::as_str)
        .expect("slug")
        .to_owned()
}

async fn fixture(backend: Backend) -> Fixture {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let mut admin = app.verified_user("admin@example.com", "管理员").await;
    make_admin(&app, &admin).await;
    relogin(&app, &mut admin).await;
    expect_json(
        app.post(
            "/providers",
            Some(&admin.access_token),
            json!({"slug": "kuaifu-qianbao", "name_zh": "快付钱包", "name_en": "QuickPay",
                   "aliases": ["KuaiPay"], "kind": "digital_wallet"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let refund = group(
        &app,
        &owner,
        json!({"provider": "kuaifu-qianbao", "title": "快付钱包退款超过30天未到账",
               "summary": "申请退款后客服一直说在处理，超过三十天款项仍未退回。",
               "category": "refund_delay"}),
    )
    .await;
    let withdrawal = group(
        &app,
        &owner,
        json!({"provider_name": "鑫融理财", "title": "提现申请一直不到账",
               "summary": "提交提现申请两周了，资金一直显示处理中，没有到账。",
               "category": "withdrawal_delay"}),
    )
    .await;
    let fee = group(
        &app,
        &owner,
        json!({"provider_name": "易达支付", "title": "手续费突然上调",
               "summary": "没有任何通知，每笔交易的手续费从0.6%上调到1.2%。",
               "category": "unexpected_fees"}),
    )
    .await;
    // Distractors: other problems at the same providers, some sharing a word or two.
    let service = group(
        &app,
        &owner,
        json!({"provider_name": "易达支付", "title": "客服电话长期打不通",
               "summary": "拨打客服热线总是占线，在线客服也不回复，问题无法处理。",
               "category": "customer_service"}),
    )
    .await;
    let stolen = group(
        &app,
        &owner,
        json!({"provider_name": "鑫融理财", "title": "账户被盗后资金被转走",
               "summary": "账户密码被改，余额被转走，平台至今没有说法。",
               "category": "account_security"}),
    )
    .await;
    let failed = group(
        &app,
        &owner,
        json!({"provider_name": "易达支付", "title": "支付失败但已扣款",
               "summary": "付款显示失败，银行卡却已扣款，申请退款也没有回应。",
               "category": "payment_failure"}),
    )
    .await;
    Fixture {
        app,
        owner,
        admin,
        refund,
        withdrawal,
        fee,
        service,
        stolen,
        failed,
    }
}

/// The slugs the API answers for `query` (a query string without `?`), and the total.
async fn api_slugs(app: &TestApp, query: &str) -> (Vec<String>, u64) {
    let res = app.get(&format!("/groups?{query}"), None).await;
    assert_eq!(res.status(), StatusCode::OK, "GET /groups?{query}");
    let page = json_body(res).await;
    let slugs = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| g["slug"].as_str().expect("slug").to_owned())
        .collect();
    (slugs, page["total"].as_u64().expect("total"))
}

/// The group links of a results page, in the order shown.
fn page_slugs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<h2><a href=\"/groups/") {
        rest = &rest[i + "<h2><a href=\"/groups/".len()..];
        let end = rest.find('"').expect("closing quote");
        out.push(rest[..end].to_owned());
    }
    out
}

async fn chinese_words_find_the_group_they_describe_first(backend: Backend) {
    let f = fixture(backend).await;
    let v = Visitor::new(&f.app);
    let cases = [
        ("退款未到账", &f.refund),
        ("提现不到账", &f.withdrawal),
        ("手续费", &f.fee),
        ("手续费上调", &f.fee),
        ("kuaifu", &f.refund),
        ("KuaiPay", &f.refund),
        ("quickpay", &f.refund),
        ("扣款", &f.failed),
        ("打不通", &f.service),
        ("盗", &f.stolen),
    ];
    for (q, expected) in cases {
        let (slugs, total) = api_slugs(&f.app, &format!("q={}", enc(q))).await;
        assert_eq!(slugs.first(), Some(expected), "API q={q}: {slugs:?}");
        assert_eq!(total as usize, slugs.len(), "q={q}");
        let page = v.get(&format!("/groups?q={}", enc(q))).await;
        assert_eq!(page.status, StatusCode::OK, "page q={q}");
        assert_eq!(
            page_slugs(&page.html),
            slugs,
            "the page shows what the API answers for q={q}"
        );
    }
    // A query of pairs that only share one pair with a text does not find it.
    let (slugs, _) = api_slugs(&f.app, &format!("q={}", enc("退款未到账"))).await;
    assert!(!slugs.contains(&f.failed), "{slugs:?}");
    let (slugs, _) = api_slugs(&f.app, &format!("q={}", enc("提现不到账"))).await;
    assert!(!slugs.contains(&f.refund), "{slugs:?}");
    let (slugs, total) = api_slugs(&f.app, &format!("q={}", enc("保险理赔被拒"))).await;
    assert_eq!((slugs.len(), total), (0, 0), "{slugs:?}");
    // The category label matches in English too.
    let (slugs, _) = api_slugs(&f.app, &format!("q={}", enc("surprise fees"))).await;
    assert_eq!(slugs.first(), Some(&f.fee), "{slugs:?}");
}

async fn filters_and_paging_narrow_the_results(backend: Backend) {
    let f = fixture(backend).await;
    let (slugs, total) = api_slugs(&f.app, "provider=yida-zhifu").await;
    assert_eq!(total, 3, "{slugs:?}");
    for s in [&f.fee, &f.service, &f.failed] {
        assert!(slugs.contains(s), "{slugs:?}");
    }
    let (slugs, _) = api_slugs(&f.app, &format!("q={}&provider=yida-zhifu", enc("退款"))).await;
    assert_eq!(slugs, vec![f.failed.clone()]);
    let (slugs, _) = api_slugs(&f.app, &format!("q={}&category=refund_delay", enc("退款"))).await;
    assert_eq!(slugs, vec![f.refund.clone()]);
    assert_eq!(api_slugs(&f.app, "status=gathering").await.1, 6);
    assert_eq!(api_slugs(&f.app, "status=closed").await.1, 0);

    // Pages of two cover all six once.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (slugs, total) = api_slugs(&f.app, &format!("per_page=2&page={page}")).await;
        assert_eq!((slugs.len(), total), (2, 6));
        seen.extend(slugs);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);
    // And of a search: `支付` is in three groups' provider name and one title.
    let (all, total) = api_slugs(&f.app, &format!("q={}", enc("支付"))).await;
    assert_eq!(total, 3, "{all:?}");
    let (first, _) = api_slugs(&f.app, &format!("q={}&per_page=2&page=1", enc("支付"))).await;
    let (second, _) = api_slugs(&f.app, &format!("q={}&per_page=2&page=2", enc("支付"))).await;
    assert_eq!([first, second].concat(), all);
    assert_eq!(
        all.first(),
        Some(&f.failed),
        "title beats provider: {all:?}"
    );
}

async fn edits_and_provider_aliases_are_found_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let q = |s: &str| format!("q={}", enc(s));
    assert_eq!(api_slugs(&f.app, &q("客服拒绝")).await.1, 0);
    expect_json(
        f.app
            .patch(
                &format!("/groups/{}", f.service),
                Some(&f.owner.access_token),
                json!({"title": "退款申请被客服拒绝"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let (slugs, _) = api_slugs(&f.app, &q("客服拒绝")).await;
    assert_eq!(slugs.first(), Some(&f.service));
    assert!(
        !api_slugs(&f.app, &q("打不通")).await.0.contains(&f.service),
        "the old title is forgotten"
    );

    assert_eq!(api_slugs(&f.app, &q("EasyPay")).await.1, 0);
    let updated = expect_json(
        f.app
            .patch(
                "/providers/yida-zhifu",
                Some(&f.admin.access_token),
                json!({"aliases": ["EasyPay"]}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["aliases"], json!(["EasyPay"]));
    let (slugs, total) = api_slugs(&f.app, &q("easypay")).await;
    assert_eq!(total, 3, "{slugs:?}");
    // Not an administrator: refused, nothing changed.
    let res = f
        .app
        .patch(
            "/providers/yida-zhifu",
            Some(&f.owner.access_token),
            json!({"aliases": ["Other"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_slugs(&f.app, &q("easypay")).await.1, 3);
}

async fn groups_without_terms_are_indexed_after_migrating(backend: Backend) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let f = fixture(backend).await;
    lianming::entities::group_search_terms::Entity::delete_many()
        .exec(&f.app.db)
        .await
        .expect("empty the index");
    assert_eq!(
        api_slugs(&f.app, &format!("q={}", enc("退款未到账")))
            .await
            .1,
        0
    );
    lianming::app::migrate(&f.app.db).await.expect("migrate");
    assert!(
        lianming::entities::group_search_terms::Entity::find()
            .count(&f.app.db)
            .await
            .expect("count")
            > 0
    );
    // Written outside the server (as another instance would): its cached answer to the same
    // search is served for at most a second.
    tokio::time::sleep(lianming::groups::cache::MAX_AGE + std::time::Duration::from_millis(50))
        .await;
    let (slugs, _) = api_slugs(&f.app, &format!("q={}", enc("退款未到账"))).await;
    assert_eq!(slugs.first(), Some(&f.refund));
}

on_both_databases!(
    chinese_words_find_the_group_they_describe_first,
    filters_and_paging_narrow_the_results,
    edits_and_provider_aliases_are_found_at_once,
    groups_without_terms_are_indexed_after_migrating,
    the_results_page_filters_pages_and_offers_to_start_a_group,
    the_home_page_searches_through_the_results_page,
    starting_a_group_shows_similar_groups_first_then_creates_it,
    a_group_about_a_new_provider_with_nothing_similar_is_made_at_once,
);

async fn the_results_page_filters_pages_and_offers_to_start_a_group(backend: Backend) {
    let f = fixture(backend).await;
    let joiner = f.app.verified_user("private@example.com", "隐私用户").await;
    expect_json(
        f.app
            .post(
                &format!("/groups/{}/participation", f.refund),
                Some(&joiner.access_token),
                TestApp::join_body("欧阳隐私", 1),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let v = Visitor::new(&f.app);

    // The filters are a plain form: the choices are listed and the chosen one stays selected.
    let page = v
        .get(&format!(
            "/groups?q={}&provider=yida-zhifu&category=&status=gathering",
            enc("退款")
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page_slugs(&page.html), vec![f.failed.clone()]);
    assert!(
        page.html
            .contains("<form class=\"search-page\" method=\"get\" action=\"/groups\"")
    );
    assert!(
        page.html
            .contains("<option value=\"yida-zhifu\" selected>易达支付</option>")
    );
    assert!(
        page.html
            .contains("<option value=\"gathering\" selected>征集中</option>")
    );
    assert!(
        page.html
            .contains("<option value=\"refund_delay\">退款未到账</option>")
    );
    assert!(page.html.contains("共找到 1 个联合投诉"), "{}", page.html);
    let page = v.get("/groups?category=refund_delay").await;
    assert_eq!(page_slugs(&page.html), vec![f.refund.clone()]);

    // Nothing found: the page says so and offers to start a group.
    let none = v.get(&format!("/groups?q={}", enc("保险理赔被拒"))).await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(page_slugs(&none.html).is_empty());
    assert!(none.html.contains("没有找到相关的联合投诉"));
    assert!(none.html.contains("href=\"/groups/new\""));

    // Paging: ten a page, the links keep the search.
    for n in 0..6 {
        group(
            &f.app,
            &f.owner,
            json!({"provider_name": "易达支付", "title": format!("第{n}笔退款被拒绝"),
                   "summary": "申请退款被拒绝，客服没有给出任何理由。", "category": "refund_delay"}),
        )
        .await;
    }
    let first = v.get("/groups").await;
    assert_eq!(page_slugs(&first.html).len(), 10);
    assert!(first.html.contains("第 1 页，共 2 页"), "{}", first.html);
    assert!(
        first
            .html
            .contains("<a href=\"/groups?page=2\" rel=\"next\">")
    );
    assert!(!first.html.contains("rel=\"prev\""));
    let second = v.get("/groups?page=2").await;
    assert_eq!(page_slugs(&second.html).len(), 2);
    assert!(second.html.contains("<a href=\"/groups\" rel=\"prev\">"));
    let mut all = [page_slugs(&first.html), page_slugs(&second.html)].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12);
    let q = v
        .get(&format!("/groups?q={}&category=refund_delay", enc("退款")))
        .await;
    assert_eq!(page_slugs(&q.html).len(), 7, "{}", q.html);
    let q = v
        .get(&format!("/groups?q={}&page=2&per_page=1", enc("退款")))
        .await;
    assert_eq!(q.status, StatusCode::OK, "an unknown parameter is ignored");

    // English page, and nobody's personal data on the results or the home page.
    let en = v
        .get(&format!("/groups?q={}&lang=en", enc("退款未到账")))
        .await;
    assert!(en.html.contains("Refund not received"));
    assert_eq!(page_slugs(&en.html).first(), Some(&f.refund));
    for path in [
        "/groups".to_owned(),
        format!("/groups?q={}", enc("退款")),
        "/".into(),
    ] {
        let html = v
            .get(&format!(
                "{path}{}lang=zh-CN",
                if path.contains('?') { "&" } else { "?" }
            ))
            .await
            .html;
        for secret in [
            "欧阳隐私",
            "隐私用户",
            "private@example.com",
            "T2026030200001",
            "我在三月申请退款",
        ] {
            assert!(!html.contains(secret), "{secret} on {path}");
        }
    }
}

async fn the_home_page_searches_through_the_results_page(backend: Backend) {
    let f = fixture(backend).await;
    let v = Visitor::new(&f.app);
    let home = v.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.html
            .contains("<form class=\"search\" method=\"get\" action=\"/groups\"")
    );
    assert!(home.html.contains("href=\"/groups/new\""));
    assert_eq!(home.html.matches("<h1>").count(), 1);
    for slug in [&f.refund, &f.withdrawal, &f.fee] {
        assert!(
            home.html.contains(&format!("href=\"/groups/{slug}\"")),
            "active group {slug} on home"
        );
    }
    // What the home form submits.
    let found = v.get(&format!("/groups?q={}", enc("提现不到账"))).await;
    assert_eq!(page_slugs(&found.html).first(), Some(&f.withdrawal));
}

async fn signed_in(app: &TestApp, user: &TestUser) -> Visitor {
    let v = Visitor::new(app);
    let login = v
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.html);
    v
}

const STATEMENT: &str = "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款。";

async fn starting_a_group_shows_similar_groups_first_then_creates_it(backend: Backend) {
    let f = fixture(backend).await;
    let groups_before = f.app.count_rows("groups").await;

    // A stranger is sent to log in, and comes back here afterwards.
    let stranger = Visitor::new(&f.app);
    let page = stranger.get("/groups/new").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Fgroups%2Fnew")
    );
    let sent = stranger
        .post("/groups/new", &[("title", "不该创建的投诉")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert!(
        sent.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login"))
    );

    let v = signed_in(&f.app, &f.owner).await;
    let form = v.get("/groups/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.html
            .contains("<option value=\"kuaifu-qianbao\">快付钱包</option>")
    );
    assert!(form.html.contains("<label for=\"title\">标题</label>"));
    let fields = [
        ("provider", "kuaifu-qianbao"),
        ("provider_name", ""),
        ("category", "refund_delay"),
        ("title", "快付钱包退款一直不到账"),
        ("incident_from", ""),
        ("incident_to", ""),
        ("summary", "三月申请的退款到现在都没有收到，客服只说等待。"),
        ("demands", "refund"),
        ("demands", "apology"),
        ("joint_statement", STATEMENT),
        ("requires_moderation", "1"),
    ];

    // Without the form's CSRF token: refused, nothing made.
    let forged = v.post("/groups/new", &fields).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(f.app.count_rows("groups").await, groups_before);

    // A mistake is shown next to its field, and what was typed is kept.
    let mut short = fields.to_vec();
    short[3] = ("title", "退款");
    let wrong = v.submit("/groups/new", "/groups/new", &short).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.html.contains(
            "<p class=\"error-message\" id=\"title-error\">请填写 4 到 120 个字的标题</p>"
        ),
        "{}",
        wrong.html
    );
    assert!(wrong.html.contains("三月申请的退款到现在都没有收到"));
    assert!(wrong.html.contains("value=\"apology\" checked"));
    let mut future = fields.to_vec();
    future[5] = ("incident_to", "2999-01-01");
    let wrong = v.submit("/groups/new", "/groups/new", &future).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.html.contains("id=\"incident_to-error\""),
        "{}",
        wrong.html
    );
    assert_eq!(f.app.count_rows("groups").await, groups_before);

    // The open group about the same problem is offered first; nothing is made yet.
    let similar = v.submit("/groups/new", "/groups/new", &fields).await;
    assert_eq!(similar.status, StatusCode::OK, "{}", similar.html);
    assert!(similar.html.contains("已经有人在投诉类似的问题"));
    let join = format!("<a href=\"/groups/{}\">加入这个联合投诉</a>", f.refund);
    assert!(similar.html.contains(&join), "{}", similar.html);
    assert!(similar.html.contains("name=\"confirm\" value=\"1\""));
    assert!(
        similar
            .html
            .contains("aria-describedby=\"requires_moderation-hint\" checked>"),
        "the ticked box is kept: {}",
        similar.html
    );
    assert_eq!(f.app.count_rows("groups").await, groups_before);

    // Confirmed: made as the API makes it, and the browser goes to its page.
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "1"));
    let made = v.submit("/groups/new", "/groups/new", &confirmed).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let location = made.location.expect("location");
    let slug = location
        .strip_prefix("/groups/")
        .expect("group page")
        .to_owned();
    let view = expect_json(
        f.app.get(&format!("/groups/{slug}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["title"], "快付钱包退款一直不到账");
    assert_eq!(view["provider"]["slug"], "kuaifu-qianbao");
    assert_eq!(
        view["demands"],
        json!([{"kind": "refund"}, {"kind": "apology"}])
    );
    assert_eq!(view["joint_statement"], STATEMENT);
    assert_eq!(view["requires_moderation"], true);
    let page = v.get(&location).await;
    assert!(page.html.contains("联合投诉已发起"), "flash: {}", page.html);
    // And it is found by search at once.
    let (slugs, _) = api_slugs(&f.app, &format!("q={}", enc("退款一直不到账"))).await;
    assert_eq!(slugs.first(), Some(&slug));
}

async fn a_group_about_a_new_provider_with_nothing_similar_is_made_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let v = signed_in(&f.app, &f.owner).await;
    let made = v
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("provider", ""),
                ("provider_name", "云朵出行"),
                ("category", "privacy_leak"),
                ("title", "乘车记录被公开"),
                ("summary", "行程记录在没有授权的情况下被展示给陌生人。"),
                ("demands", "data_deletion"),
                (
                    "joint_statement",
                    "我们要求云朵出行立即停止公开用户行程并删除相关数据。",
                ),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let slug = made.location.expect("location").replace("/groups/", "");
    let view = expect_json(
        f.app.get(&format!("/groups/{slug}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["provider"]["name_zh"], "云朵出行");
    assert_eq!(view["provider"]["slug"], "yunduo-chuxing");
    let (slugs, _) = api_slugs(&f.app, "q=yunduo").await;
    assert_eq!(slugs, vec![slug]);

    // Neither a provider chosen nor named: the message is next to the provider.
    let wrong = v
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("provider", ""),
                ("provider_name", ""),
                ("title", "乘车记录被公开"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.html.contains("id=\"provider-error\""));
    assert!(wrong.html.contains("id=\"demands-error\""));
    assert!(
        wrong
            .html
            .contains("<a href=\"#category\">请选择问题类型</a>")
    );
}
