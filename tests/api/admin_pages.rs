//! The administrators' pages and API: the provider directory (review, edit names and aliases,
//! merge duplicates), suspending users and groups, and failed mail. Only administrators get
//! them; every form is CSRF-protected and goes through the same services as `/api/v1/admin`.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser};
use crate::helpers::team::{
    expect_json, expect_problem, expect_refused, join, make_admin, user_id,
};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// An administrator, an organiser with a group against 快付钱包, a second organiser's group
/// against the duplicate KuaiPay, a participant and a stranger.
struct Site {
    app: TestApp,
    admin: TestUser,
    organiser: TestUser,
    participant: TestUser,
    stranger: TestUser,
    /// The provider that stays (快付钱包) and its group.
    keep: String,
    keep_group: String,
    /// The duplicate (KuaiPay) and its group.
    dup: String,
    dup_group: String,
}

async fn site(backend: Backend) -> Site {
    let app = TestApp::on(backend).await;
    let admin = app.verified_user("guan.li@example.com", "管理员").await;
    make_admin(&app, &admin).await;
    let organiser = app.verified_user("wang.fang@example.com", "王芳").await;
    let other = app.verified_user("zhao.lei@example.com", "赵磊").await;
    let participant = app.verified_user("li.lei@example.com", "李雷").await;
    let stranger = app.verified_user("lu.ren@example.com", "路人").await;
    let a = app.create_group(&organiser, json!({})).await;
    let b = app
        .create_group(
            &other,
            json!({"provider_name": "KuaiPay", "title": "KuaiPay 提现被冻结"}),
        )
        .await;
    join(
        &app,
        a["slug"].as_str().expect("slug"),
        &participant,
        TestApp::join_body("李雷全名", 1),
    )
    .await;
    let keep = a["provider"]["slug"].as_str().expect("slug").to_owned();
    let dup = b["provider"]["slug"].as_str().expect("slug").to_owned();
    assert_ne!(keep, dup);
    Site {
        keep_group: a["slug"].as_str().expect("slug").to_owned(),
        dup_group: b["slug"].as_str().expect("slug").to_owned(),
        app,
        admin,
        organiser,
        participant,
        stranger,
        keep,
        dup,
    }
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"),
    )
    .await
}

/// The slugs of the public groups `GET /groups?q=` finds.
async fn found(app: &TestApp, q: &str) -> Vec<String> {
    let url = format!("/groups?q={}", urlencoding(q));
    let page = expect_json(app.get(&url, None).await, StatusCode::OK).await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| g["slug"].as_str().expect("slug").to_owned())
        .collect()
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn provider_of(app: &TestApp, group: &str) -> String {
    let g = expect_json(
        app.get(&format!("/groups/{group}"), None).await,
        StatusCode::OK,
    )
    .await;
    g["provider"]["slug"].as_str().expect("slug").to_owned()
}

async fn merging_a_duplicate_through_the_page_moves_its_groups_and_keeps_its_address(
    backend: Backend,
) {
    let s = site(backend).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    // The directory for review lists both, newest first, with who proposed them.
    let list = admin.get("/admin/providers").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    let (at_dup, at_keep) = (
        list.html.find(&format!("id=\"provider-{}\"", s.dup)),
        list.html.find(&format!("id=\"provider-{}\"", s.keep)),
    );
    assert!(
        at_dup.expect("dup listed") < at_keep.expect("keep listed"),
        "newest first"
    );
    assert!(list.html.contains("赵磊"), "who proposed it: {}", list.html);
    // Before the merge, the old name finds only its own group.
    assert_eq!(found(&s.app, "KuaiPay").await, vec![s.dup_group.clone()]);

    let page = format!("/admin/providers/{}", s.dup);
    let seen = admin.get(&page).await;
    assert!(
        seen.html.contains("<label for=\"into\">合并到</label>"),
        "{}",
        seen.html
    );
    assert!(seen.html.contains(">合并</button>"), "{}", seen.html);
    let res = admin
        .submit(&page, &format!("{page}/merge"), &[("into", &s.keep)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(
        res.location.as_deref(),
        Some(format!("/admin/providers/{}", s.keep).as_str())
    );
    let after = admin.get(&format!("/admin/providers/{}", s.keep)).await;
    assert!(after.html.contains("已合并"), "flash: {}", after.html);

    // The group moved; the old address leads to the provider that stays, page and API.
    assert_eq!(provider_of(&s.app, &s.dup_group).await, s.keep);
    let old_page = Visitor::new(&s.app)
        .get(&format!("/providers/{}", s.dup))
        .await;
    assert_eq!(old_page.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        old_page.location.as_deref(),
        Some(format!("/providers/{}", s.keep).as_str())
    );
    let api = expect_json(
        s.app.get(&format!("/providers/{}", s.dup), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["slug"], s.keep.as_str());
    assert!(
        api["aliases"]
            .as_array()
            .expect("aliases")
            .contains(&json!("KuaiPay")),
        "{api}"
    );
    assert_eq!(api["groups"], 2);
    // The directory shows one provider, found by the old name.
    let dir = expect_json(
        s.app.get("/providers?q=KuaiPay", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dir["total"], 1, "{dir}");
    assert_eq!(dir["items"][0]["slug"], s.keep.as_str());
    assert!(
        !admin
            .get("/admin/providers")
            .await
            .html
            .contains(&format!("id=\"provider-{}\"", s.dup))
    );
    // Search terms were rebuilt: the old name now finds the group that was always here too.
    let hits = found(&s.app, "KuaiPay").await;
    assert!(
        hits.contains(&s.keep_group) && hits.contains(&s.dup_group),
        "{hits:?}"
    );
    // A new group naming the old slug lands on the provider that stays.
    let again = s
        .app
        .create_group(
            &s.stranger,
            json!({"provider": s.dup, "provider_name": null, "title": "KuaiPay 又一次"}),
        )
        .await;
    assert_eq!(again["provider"]["slug"], s.keep.as_str());
    assert_eq!(audit_count(&s.app, "provider.merge").await, 1);
}

async fn merging_through_the_api_and_refusing_bad_merges(backend: Backend) {
    let s = site(backend).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    let page = format!("/admin/providers/{}", s.dup);
    let merge = format!("{page}/merge");
    for (into, message) in [
        (s.dup.as_str(), "服务商不能合并到自己"),
        ("no-such-provider", "没有可合并到的服务商使用这个短名"),
        ("", "请填写要合并到的服务商短名"),
    ] {
        let res = admin.submit(&page, &merge, &[("into", into)]).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{into}: {}",
            res.html
        );
        assert!(
            res.html.contains(&format!(
                "<p class=\"error-message\" id=\"into-error\">{message}"
            )),
            "{into}: {}",
            res.html
        );
        assert!(
            res.html
                .contains("aria-describedby=\"into-hint into-error\"")
        );
        assert!(res.html.contains("href=\"#into\""), "error summary");
    }
    let token = Some(s.admin.access_token.as_str());
    let path = format!("/admin/providers/{}/merge", s.dup);
    let p = expect_problem(
        s.app.post(&path, token, json!({"into": s.dup})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(p["errors"]["into"].is_array(), "{p}");
    expect_problem(
        s.app.post(&path, token, json!({"into": "nope"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_refused(
        s.app
            .post(
                "/admin/providers/nope/merge",
                token,
                json!({"into": s.keep}),
            )
            .await,
        "unknown provider",
    )
    .await;
    // Nothing moved.
    assert_eq!(provider_of(&s.app, &s.dup_group).await, s.dup);
    assert_eq!(audit_count(&s.app, "provider.merge").await, 0);

    let done = expect_json(
        s.app.post(&path, token, json!({"into": s.keep})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["provider"]["slug"], s.keep.as_str());
    assert_eq!(done["groups_moved"], 1);
    assert_eq!(provider_of(&s.app, &s.dup_group).await, s.keep);
    // A merged provider cannot be merged again, nor be merged into.
    expect_refused(
        s.app.post(&path, token, json!({"into": s.keep})).await,
        "merged already",
    )
    .await;
    let review = expect_json(
        s.app.get("/admin/providers?unreviewed=true", token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(review["total"], 1, "only the one that stays: {review}");
}

async fn editing_names_and_aliases_and_reviewing_through_the_page(backend: Backend) {
    let s = site(backend).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    let page = format!("/admin/providers/{}", s.keep);
    // An empty Chinese name is refused at the field, nothing changed.
    let bad = admin
        .submit(
            &page,
            &page,
            &[("name_zh", " "), ("name_en", ""), ("aliases", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(bad.html.contains("id=\"name_zh-error\""), "{}", bad.html);
    assert!(bad.html.contains("aria-describedby=\"name_zh-error\""));
    let api = expect_json(
        s.app.get(&format!("/providers/{}", s.keep), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["name_zh"], "快付钱包");

    let res = admin
        .submit(
            &page,
            &page,
            &[
                ("name_zh", "快付钱包"),
                ("name_en", "QuickPay Wallet"),
                ("aliases", "快付\n\nKP钱包\n"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let api = expect_json(
        s.app.get(&format!("/providers/{}", s.keep), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["name_en"], "QuickPay Wallet");
    assert_eq!(api["aliases"], json!(["快付", "KP钱包"]));
    assert_eq!(found(&s.app, "QuickPay").await, vec![s.keep_group.clone()]);
    let shown = admin.get(&page).await;
    assert!(shown.html.contains("KP钱包"), "{}", shown.html);
    assert_eq!(audit_count(&s.app, "provider.edit").await, 1);

    // Review: the proposed provider is marked reviewed.
    assert_eq!(api["reviewed"], false);
    let res = admin.submit(&page, &format!("{page}/review"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let api = expect_json(
        s.app.get(&format!("/providers/{}", s.keep), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["reviewed"], true);
}

async fn can_log_in(app: &TestApp, user: &TestUser) -> StatusCode {
    app.post(
        "/auth/login",
        None,
        json!({"email": user.email, "password": user.password}),
    )
    .await
    .status()
}

async fn a_suspended_user_cannot_sign_in_or_use_tokens_until_reinstated(backend: Backend) {
    let s = site(backend).await;
    let id = user_id(&s.app, &s.participant).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    let their_browser = Visitor::signed_in(&s.app, &s.participant).await;
    let list = format!("/admin/users?q={}", urlencoding("li.lei"));
    let seen = admin.get(&list).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.html);
    assert!(seen.html.contains("li.lei@example.com"), "{}", seen.html);
    assert!(
        !seen.html.contains("wang.fang@example.com"),
        "filtered by email"
    );
    let suspend = format!("/admin/users/{id}/suspend");
    // A reason is required.
    let bad = admin.submit(&list, &suspend, &[("reason", "")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains(&format!("id=\"reason-{id}-error\"")),
        "{}",
        bad.html
    );
    assert!(
        bad.html
            .contains(&format!("aria-describedby=\"reason-{id}-error\""))
    );
    assert_eq!(
        s.app
            .get("/me", Some(&s.participant.access_token))
            .await
            .status(),
        StatusCode::OK
    );

    let res = admin
        .submit(
            &list,
            &suspend,
            &[("reason", "发布垃圾信息"), ("q", "li.lei")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location.as_deref(), Some("/admin/users?q=li.lei"));
    assert_eq!(
        s.app
            .get("/me", Some(&s.participant.access_token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the existing token is refused"
    );
    assert_eq!(
        can_log_in(&s.app, &s.participant).await,
        StatusCode::UNAUTHORIZED
    );
    let page_login = Visitor::new(&s.app)
        .submit(
            "/login",
            "/login",
            &[
                ("email", &s.participant.email),
                ("password", &s.participant.password),
            ],
        )
        .await;
    assert_ne!(
        page_login.status,
        StatusCode::SEE_OTHER,
        "page log-in refused"
    );
    let account = their_browser.get("/account").await;
    assert_eq!(
        account.status,
        StatusCode::SEE_OTHER,
        "the page session ended"
    );
    let api = expect_json(
        s.app
            .get("/admin/users?q=li.lei", Some(&s.admin.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["items"][0]["status"], "suspended");
    assert_eq!(api["items"][0]["suspension_reason"], "发布垃圾信息");
    assert!(admin.get(&list).await.html.contains("发布垃圾信息"));
    assert_eq!(audit_count(&s.app, "user.suspend").await, 1);

    let res = admin
        .submit(&list, &format!("/admin/users/{id}/unsuspend"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(
        s.app
            .get("/me", Some(&s.participant.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(can_log_in(&s.app, &s.participant).await, StatusCode::OK);

    // The API does the same; an administrator cannot suspend themselves.
    let token = Some(s.admin.access_token.as_str());
    let view = expect_json(
        s.app
            .post(
                &format!("/admin/users/{id}/suspend"),
                token,
                json!({"reason": "再次违规"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "suspended");
    assert_eq!(
        can_log_in(&s.app, &s.participant).await,
        StatusCode::UNAUTHORIZED
    );
    expect_problem(
        s.app
            .post(
                &format!("/admin/users/{id}/suspend"),
                token,
                json!({"reason": ""}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let me = user_id(&s.app, &s.admin).await;
    expect_problem(
        s.app
            .post(
                &format!("/admin/users/{me}/suspend"),
                token,
                json!({"reason": "试试"}),
            )
            .await,
        StatusCode::CONFLICT,
        "own_account",
    )
    .await;
}

async fn a_suspended_group_is_hidden_from_search_and_refuses_joins(backend: Backend) {
    let s = site(backend).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    assert!(found(&s.app, "退款").await.contains(&s.keep_group));
    let list = "/admin/groups";
    let suspend = format!("/admin/groups/{}/suspend", s.keep_group);
    let bad = admin.submit(list, &suspend, &[("reason", "x")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html
            .contains(&format!("id=\"reason-{}-error\"", s.keep_group))
    );
    assert!(
        found(&s.app, "退款").await.contains(&s.keep_group),
        "unchanged"
    );

    let res = admin
        .submit(list, &suspend, &[("reason", "涉嫌虚假信息")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert!(
        !found(&s.app, "退款").await.contains(&s.keep_group),
        "hidden from search"
    );
    let all = expect_json(s.app.get("/groups", None).await, StatusCode::OK).await;
    assert!(
        !all.to_string().contains(&s.keep_group),
        "hidden from the listing"
    );
    expect_problem(
        s.app
            .post(
                &format!("/groups/{}/participation", s.keep_group),
                Some(&s.stranger.access_token),
                TestApp::join_body("路人全名", 1),
            )
            .await,
        StatusCode::CONFLICT,
        "group_suspended",
    )
    .await;
    let shown = admin.get(list).await;
    assert!(shown.html.contains("涉嫌虚假信息"), "{}", shown.html);
    assert_eq!(audit_count(&s.app, "group.suspend").await, 1);

    let view = expect_json(
        s.app
            .post(
                &format!("/admin/groups/{}/unsuspend", s.keep_group),
                Some(&s.admin.access_token),
                json!({}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(view["suspended_at"].is_null(), "{view}");
    assert!(found(&s.app, "退款").await.contains(&s.keep_group));
    join(
        &s.app,
        &s.keep_group,
        &s.stranger,
        TestApp::join_body("路人全名", 1),
    )
    .await;
}

async fn failed_mail_is_listed_and_can_be_sent_again(backend: Backend) {
    let s = site(backend).await;
    let newcomer = "han.meimei@example.com";
    s.app.mail.reject_recipient(newcomer);
    let user = s.app.verified_user(newcomer, "韩梅梅").await;
    join(
        &s.app,
        &s.keep_group,
        &user,
        TestApp::join_body("韩梅梅全名", 1),
    )
    .await;
    s.app.outbox_sent().await;
    let token = Some(s.admin.access_token.as_str());
    let failed = expect_json(s.app.get("/admin/outbox", token).await, StatusCode::OK).await;
    let row = failed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["recipient"] == newcomer)
        .cloned()
        .unwrap_or_else(|| panic!("a failed row: {failed}"));
    let id = row["id"].as_i64().expect("id");

    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    let page = admin.get("/admin/mail").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(newcomer), "{}", page.html);
    assert!(page.html.contains(row["kind"].as_str().expect("kind")));
    assert!(page.html.contains("550"), "the error: {}", page.html);
    assert!(page.html.contains("重新发送"));

    s.app.mail.accept_recipient(newcomer);
    let res = admin
        .submit("/admin/mail", &format!("/admin/mail/{id}/retry"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    s.app
        .mail
        .wait_for_mail_to(newcomer, Duration::from_secs(10))
        .await;
    s.app.outbox_sent().await;
    let sent = expect_json(
        s.app.get("/admin/outbox?status=sent", token).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        sent["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|r| r["id"] == id),
        "{sent}"
    );
    assert!(!admin.get("/admin/mail").await.html.contains(newcomer));
    // A row that did not fail is not sent again.
    expect_problem(
        s.app
            .post(&format!("/admin/outbox/{id}/retry"), token, json!({}))
            .await,
        StatusCode::CONFLICT,
        "not_failed",
    )
    .await;
    assert_eq!(audit_count(&s.app, "mail.retry").await, 1);
}

/// Every admin page, and every admin form with the fields it takes.
fn gets(s: &Site) -> Vec<String> {
    vec![
        "/admin".into(),
        "/admin/providers".into(),
        format!("/admin/providers/{}", s.dup),
        "/admin/users".into(),
        "/admin/groups".into(),
        "/admin/mail".into(),
    ]
}

fn posts(s: &Site, user_id: i64) -> Vec<(String, Vec<(&'static str, String)>)> {
    vec![
        (
            format!("/admin/providers/{}", s.dup),
            vec![("name_zh", "改名".into())],
        ),
        (format!("/admin/providers/{}/review", s.dup), vec![]),
        (
            format!("/admin/providers/{}/merge", s.dup),
            vec![("into", s.keep.clone())],
        ),
        (
            format!("/admin/users/{user_id}/suspend"),
            vec![("reason", "无权操作".into())],
        ),
        (format!("/admin/users/{user_id}/unsuspend"), vec![]),
        (
            format!("/admin/groups/{}/suspend", s.keep_group),
            vec![("reason", "无权操作".into())],
        ),
        (format!("/admin/groups/{}/unsuspend", s.keep_group), vec![]),
        ("/admin/mail/1/retry".into(), vec![]),
    ]
}

fn api_calls(s: &Site, user_id: i64) -> Vec<(reqwest::Method, String, Value)> {
    use reqwest::Method;
    vec![
        (Method::GET, "/admin/providers".into(), Value::Null),
        (Method::GET, "/admin/users".into(), Value::Null),
        (Method::GET, "/admin/groups".into(), Value::Null),
        (Method::GET, "/admin/outbox".into(), Value::Null),
        (
            Method::POST,
            format!("/admin/providers/{}/merge", s.dup),
            json!({"into": s.keep}),
        ),
        (
            Method::POST,
            format!("/admin/providers/{}/review", s.dup),
            json!({}),
        ),
        (
            Method::PATCH,
            format!("/providers/{}", s.dup),
            json!({"name_zh": "改名"}),
        ),
        (
            Method::POST,
            format!("/admin/users/{user_id}/suspend"),
            json!({"reason": "无权操作"}),
        ),
        (
            Method::POST,
            format!("/admin/users/{user_id}/unsuspend"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/admin/groups/{}/suspend", s.keep_group),
            json!({"reason": "无权操作"}),
        ),
        (
            Method::POST,
            format!("/admin/groups/{}/unsuspend", s.keep_group),
            json!({}),
        ),
        (Method::POST, "/admin/outbox/1/retry".into(), json!({})),
    ]
}

/// Nothing an admin form or call would change has changed.
async fn nothing_changed(s: &Site) {
    assert_eq!(provider_of(&s.app, &s.dup_group).await, s.dup);
    let p = expect_json(
        s.app.get(&format!("/providers/{}", s.dup), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(p["name_zh"], "KuaiPay");
    assert_eq!(p["reviewed"], false);
    assert_eq!(
        s.app
            .get("/me", Some(&s.participant.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert!(found(&s.app, "退款").await.contains(&s.keep_group));
    assert_eq!(
        scalar(
            &s.app,
            "SELECT COUNT(*) FROM audit_log WHERE group_id IS NULL"
        )
        .await,
        0
    );
}

async fn nobody_but_an_administrator_gets_the_admin_pages_or_api(backend: Backend) {
    let s = site(backend).await;
    let target = user_id(&s.app, &s.participant).await;
    for (who, user) in [
        ("participant", &s.participant),
        ("organiser", &s.organiser),
        ("stranger", &s.stranger),
    ] {
        let v = Visitor::signed_in(&s.app, user).await;
        for path in gets(&s) {
            let seen = v.get(&path).await;
            assert!(
                matches!(seen.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{who} GET {path}: {}",
                seen.status
            );
        }
        for (path, fields) in posts(&s, target) {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let seen = v.submit("/account", &path, &fields).await;
            assert!(
                matches!(seen.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{who} POST {path}: {}",
                seen.status
            );
        }
        for (method, path, body) in api_calls(&s, target) {
            let body = (!body.is_null()).then_some(body);
            let res = s
                .app
                .send(method.clone(), &path, Some(&user.access_token), body)
                .await;
            expect_refused(res, &format!("{who} {method} {path}")).await;
        }
    }
    // Signed out: the pages ask to log in, the API asks for a token.
    let anonymous = Visitor::new(&s.app);
    for path in gets(&s) {
        let seen = anonymous.get(&path).await;
        assert_eq!(seen.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            seen.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login"))
        );
    }
    let res = s.app.get("/admin/providers", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // No link to the admin pages for them; an administrator has one.
    let account = Visitor::signed_in(&s.app, &s.organiser)
        .await
        .get("/account")
        .await;
    assert!(!account.html.contains("href=\"/admin\""));
    let account = Visitor::signed_in(&s.app, &s.admin)
        .await
        .get("/account")
        .await;
    assert!(account.html.contains("href=\"/admin\""), "{}", account.html);
    nothing_changed(&s).await;
}

async fn an_admin_form_without_a_valid_csrf_token_changes_nothing(backend: Backend) {
    let s = site(backend).await;
    let target = user_id(&s.app, &s.participant).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    for (path, fields) in posts(&s, target) {
        let mut fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let missing = admin.post(&path, &fields).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN, "no token: {path}");
        fields.push(("csrf", "forged-token-0000000000000000"));
        let forged = admin.post(&path, &fields).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "forged token: {path}");
    }
    nothing_changed(&s).await;
}

async fn every_admin_page_renders_for_an_administrator(backend: Backend) {
    let s = site(backend).await;
    let admin = Visitor::signed_in(&s.app, &s.admin).await;
    for path in gets(&s) {
        let seen = admin.get(&path).await;
        assert_eq!(seen.status, StatusCode::OK, "{path}: {}", seen.html);
        assert!(seen.html.contains("站点管理"), "{path}");
    }
    let en = admin.get("/admin/providers?lang=en").await;
    assert!(en.html.contains("Provider directory"), "{}", en.html);
    let edit = admin.get(&format!("/admin/providers/{}", s.dup)).await;
    assert!(edit.html.contains("Merge into"), "{}", edit.html);
    assert!(edit.html.contains(">Merge</button>"), "{}", edit.html);
    // Search by name and paging keep the query.
    let hit = admin.get("/admin/providers?lang=zh-CN&q=kuaipay").await;
    assert!(hit.html.contains(&format!("id=\"provider-{}\"", s.dup)));
    assert!(!hit.html.contains(&format!("id=\"provider-{}\"", s.keep)));
}

on_both_databases!(
    merging_a_duplicate_through_the_page_moves_its_groups_and_keeps_its_address,
    merging_through_the_api_and_refusing_bad_merges,
    editing_names_and_aliases_and_reviewing_through_the_page,
    a_suspended_user_cannot_sign_in_or_use_tokens_until_reinstated,
    a_suspended_group_is_hidden_from_search_and_refuses_joins,
    failed_mail_is_listed_and_can_be_sent_again,
    nobody_but_an_administrator_gets_the_admin_pages_or_api,
    an_admin_form_without_a_valid_csrf_token_changes_nothing,
    every_admin_page_renders_for_an_administrator,
);
