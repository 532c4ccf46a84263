//! "My account" over HTTP, as a browser uses it: my groups, my case (outcome, re-signing,
//! withdrawing), evidence upload (multipart, the CSRF token first), download and deletion, the
//! contact log, notification settings, the export and deleting the account — each checked
//! against the API's view afterwards, and refused to strangers, to the logged-out and to forms
//! without the CSRF token.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::png;
use crate::helpers::visitor::{Visitor, hidden};
use crate::on_both_databases;

/// A browser logged in as `user` through the log-in page.
async fn signed_in(app: &TestApp, user: &TestUser) -> Visitor {
    let v = Visitor::new(app);
    let res = v
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    v
}

/// An owner's group that `member` joined (statement version 1).
async fn joined_group(app: &TestApp) -> (TestUser, TestUser, String) {
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let member = app.verified_user("member@example.com", "王芳").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&member.access_token),
            TestApp::join_body("王芳", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (owner, member, slug)
}

async fn api_json(app: &TestApp, path: &str, user: &TestUser) -> Value {
    let res = app.get(path, Some(&user.access_token)).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    json_body(res).await
}

/// Posts the upload form as a browser does: `csrf` first (when given), `next`, the files,
/// their kind. Returns (status, location, body).
async fn upload_form(
    app: &TestApp,
    v: &Visitor,
    slug: &str,
    csrf: Option<&str>,
    files: Vec<(&str, Vec<u8>, &str)>,
) -> (StatusCode, Option<String>, String) {
    let mut form = Form::new();
    if let Some(token) = csrf {
        form = form.text("csrf", token.to_owned());
    }
    form = form.text("next", format!("/account/groups/{slug}"));
    for (name, bytes, mime) in files {
        form = form.part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    }
    form = form
        .text("kind", "screenshot")
        .text("description", "客服聊天截图");
    let res = app
        .client
        .post(format!("{}/account/groups/{slug}/evidence", app.address))
        .header("cookie", v.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    // The browser keeps the cookies set (the flash message) as for any other answer.
    for c in res.headers().get_all("set-cookie") {
        let c = c.to_str().unwrap();
        let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
        if !value.is_empty() && !c.to_ascii_lowercase().contains("max-age=0") {
            v.set_cookie(name, value);
        }
    }
    (status, location, res.text().await.unwrap())
}

async fn every_account_page_renders_for_its_owner_and_only_for_them(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;

    let home = v.get("/").await;
    assert!(
        home.html.contains("href=\"/account\">我的账户</a>"),
        "the header links to the account: {}",
        home.html
    );
    let account = v.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.html.contains("我参加的投诉"), "{}", account.html);
    assert!(account.html.contains("退款迟迟未到账"));
    assert!(
        account
            .html
            .contains(&format!("href=\"/account/groups/{slug}\""))
    );
    assert!(account.html.contains("参加中") && account.html.contains("未解决"));
    assert!(!account.html.contains("需要重新签署"));

    let case = v.get(&format!("/account/groups/{slug}")).await;
    assert_eq!(case.status, StatusCode::OK, "{}", case.html);
    for text in [
        "我在三月申请退款，至今没有到账。",
        "128.00 CNY",
        "T2026030200001",
        "王芳",
        "添加证据",
        "记录一次与商家的沟通",
        "name=\"file\" multiple",
        "enctype=\"multipart/form-data\" data-progress",
        "<progress hidden",
    ] {
        assert!(case.html.contains(text), "{text}: {}", case.html);
    }
    assert!(!case.html.contains('{'), "no placeholder left unfilled");
    let sha = api_json(&app, &format!("/groups/{slug}/participation"), &member).await["signature"]
        ["statement_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(case.html.contains(&sha), "the fingerprint signed is shown");

    for (path, text) in [
        ("/account/evidence", "我的全部证据"),
        ("/account/notifications", "通知设置"),
        ("/account/export", "下载我的数据"),
        ("/account/delete", "永久注销我的账户"),
    ] {
        let page = v.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.html.contains(text), "{path}: {}", page.html);
    }
    let english = v.get("/account?lang=en").await;
    assert!(english.html.contains("My groups"), "{}", english.html);

    // Logged out: every page sends to the log-in page, coming back afterwards.
    let anon = Visitor::new(&app);
    for path in [
        "/account".to_owned(),
        format!("/account/groups/{slug}"),
        "/account/evidence".to_owned(),
        "/account/notifications".to_owned(),
        "/account/export".to_owned(),
        "/account/export/download".to_owned(),
        "/account/delete".to_owned(),
    ] {
        let res = anon.get(&path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        let expected = format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        );
        assert_eq!(res.location.as_deref(), Some(expected.as_str()), "{path}");
    }

    // Someone else, logged in, does not see my case.
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    let s = signed_in(&app, &stranger).await;
    let res = s.get(&format!("/account/groups/{slug}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.html.contains("我在三月申请退款"));
    let theirs = s.get("/account").await;
    assert!(theirs.html.contains("您还没有参加任何联合投诉"));
}

async fn evidence_is_uploaded_downloaded_and_deleted_through_the_pages(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.evidence_max_file_bytes = 100_000).await;
    let (owner, member, slug) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;
    let csrf = v.get(&format!("/account/groups/{slug}")).await.csrf();
    let evidence_api = format!("/groups/{slug}/participation/evidence");

    // Two real PNGs in one form.
    let first = png(1, 2_000);
    let (status, location, body) = upload_form(
        &app,
        &v,
        &slug,
        Some(&csrf),
        vec![
            ("截图一.png", first.clone(), "image/png"),
            ("shot-2.png", png(2, 3_000), "image/png"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(
        location.as_deref(),
        Some(format!("/account/groups/{slug}").as_str())
    );
    let listed = api_json(&app, &evidence_api, &member).await;
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(items[0]["original_name"], "截图一.png");
    assert_eq!(items[0]["kind"], "screenshot");
    assert_eq!(items[0]["description"], "客服聊天截图");
    let id = items[0]["id"].as_i64().unwrap();
    let case = v.get(&format!("/account/groups/{slug}")).await;
    assert!(case.html.contains("证据已上传"), "the flash: {}", case.html);
    assert!(case.html.contains("截图一.png") && case.html.contains("shot-2.png"));
    let all = v.get("/account/evidence").await;
    assert!(all.html.contains("截图一.png") && all.html.contains("退款迟迟未到账"));

    // The owner downloads the bytes as an attachment.
    let download = format!("/account/groups/{slug}/evidence/{id}");
    let res = app
        .client
        .get(format!("{}{download}", app.address))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().to_vec(), first);

    // Too big, or not a type we take: the page again with the message, nothing stored.
    let (status, _, body) = upload_form(
        &app,
        &v,
        &slug,
        Some(&csrf),
        vec![
            ("ok.png", png(3, 1_000), "image/png"),
            ("big.png", png(4, 150_000), "image/png"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("有文件太大：每个文件最多 98 KB。"), "{body}");
    assert!(body.contains("id=\"evidence-file-error\""), "{body}");
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0\x01\0\0\0".repeat(10);
    let (status, _, body) = upload_form(
        &app,
        &v,
        &slug,
        Some(&csrf),
        vec![("holiday.png", elf, "image/png")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("不接受此文件类型"), "{body}");
    // Without the CSRF token first: refused before any file is read.
    let (status, _, _) = upload_form(
        &app,
        &v,
        &slug,
        None,
        vec![("x.png", png(5, 500), "image/png")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = upload_form(
        &app,
        &v,
        &slug,
        Some("forged"),
        vec![("x.png", png(5, 500), "image/png")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Logged out: to the log-in page, coming back to the case afterwards.
    let anon = Visitor::new(&app);
    let (status, location, _) = upload_form(
        &app,
        &anon,
        &slug,
        None,
        vec![("x.png", png(5, 500), "image/png")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location,
        Some(format!("/login?next=%2Faccount%2Fgroups%2F{slug}"))
    );
    assert_eq!(app.count_rows("evidence").await, 2, "nothing more stored");

    // A stranger cannot download or delete it; nor can the group's owner from here.
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    for who in [&stranger, &owner] {
        let s = signed_in(&app, who).await;
        assert_eq!(s.get(&download).await.status, StatusCode::NOT_FOUND);
        let res = s
            .submit("/account", &format!("{download}/delete"), &[])
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(app.count_rows("evidence").await, 2);

    // Deleting without the token changes nothing; with it, the item is gone.
    let res = v.post(&format!("{download}/delete"), &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("evidence").await, 2);
    // The list of all my evidence brings me back to it (its form's `next`).
    let res = v
        .submit("/account/evidence", &format!("{download}/delete"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location.as_deref(), Some("/account/evidence"));
    let listed = api_json(&app, &evidence_api, &member).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["original_name"], "shot-2.png");
}

async fn the_contact_log_is_added_to_and_edited_through_the_pages(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;
    let case = format!("/account/groups/{slug}");
    let contacts_api = format!("/groups/{slug}/participation/interactions");

    // Missing date, and a date in the future: messages next to the field, nothing stored.
    let res = v
        .submit(
            &case,
            &format!("{case}/contacts"),
            &[("channel", "hotline"), ("outcome", "promised")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.html
            .contains("id=\"contact-date-error\">请填写沟通日期"),
        "{}",
        res.html
    );
    let res = v
        .submit(
            &case,
            &format!("{case}/contacts"),
            &[
                ("date", "2099-01-01"),
                ("channel", "hotline"),
                ("outcome", "promised"),
                ("ticket_ref", "GD-778"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.html.contains("沟通时间不能在将来"), "{}", res.html);
    assert!(res.html.contains("value=\"GD-778\""), "the values are kept");
    let res = app
        .client
        .post(format!("{}{case}/contacts", app.address))
        .header("cookie", v.cookie_header())
        .form(&[
            ("date", "2026-03-05"),
            ("channel", "hotline"),
            ("outcome", "promised"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.count_rows("interactions").await, 0);

    let res = v
        .submit(
            &case,
            &format!("{case}/contacts"),
            &[
                ("date", "2026-03-05"),
                ("time", "14:30"),
                ("channel", "hotline"),
                ("outcome", "promised"),
                ("agent", "工号 1024"),
                ("ticket_ref", "GD-778"),
                ("summary", "客服说七个工作日内退款。"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location.as_deref(), Some(case.as_str()));
    let listed = api_json(&app, &contacts_api, &member).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let entry = &listed[0];
    // 14:30 in Shanghai (the default zone) is 06:30 UTC.
    assert_eq!(entry["occurred_at"], "2026-03-05T06:30:00Z");
    assert_eq!(entry["channel"], "hotline");
    assert_eq!(entry["ticket_ref"], "GD-778");
    assert_eq!(entry["summary"], "客服说七个工作日内退款。");
    let id = entry["id"].as_i64().unwrap();
    let page = v.get(&case).await;
    assert!(page.html.contains("已添加到沟通记录"));
    assert!(page.html.contains("2026-03-05 14:30") && page.html.contains("GD-778"));

    let edit = format!("{case}/contacts/{id}");
    let form = v.get(&edit).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("value=\"2026-03-05\"") && form.html.contains("value=\"14:30\""));
    assert!(
        form.html.contains("<option value=\"promised\" selected>"),
        "{}",
        form.html
    );
    let res = v
        .submit(
            &edit,
            &edit,
            &[
                ("date", "2026-03-06"),
                ("time", ""),
                ("channel", "online_chat"),
                ("outcome", "refused"),
                ("agent", ""),
                ("ticket_ref", "GD-778"),
                ("summary", "这次客服拒绝退款。"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let listed = api_json(&app, &contacts_api, &member).await;
    assert_eq!(listed[0]["occurred_at"], "2026-03-05T16:00:00Z");
    assert_eq!(listed[0]["channel"], "online_chat");
    assert_eq!(listed[0]["outcome"], "refused");
    assert_eq!(listed[0]["agent"], "");
    assert_eq!(listed[0]["summary"], "这次客服拒绝退款。");

    // A stranger can neither see nor change the entry.
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    let s = signed_in(&app, &stranger).await;
    assert_eq!(s.get(&edit).await.status, StatusCode::NOT_FOUND);
    let res = s
        .submit(
            "/account",
            &edit,
            &[
                ("date", "2026-03-01"),
                ("channel", "email"),
                ("outcome", "resolved"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let listed = api_json(&app, &contacts_api, &member).await;
    assert_eq!(listed[0]["outcome"], "refused", "unchanged");
}

async fn outcome_resigning_and_withdrawing_through_my_case(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (owner, member, slug) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;
    let case = format!("/account/groups/{slug}");
    let mine = format!("/groups/{slug}/participation");

    let res = v
        .post(&format!("{case}/outcome"), &[("outcome", "resolved")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(
        api_json(&app, &mine, &member).await["outcome"],
        "unresolved"
    );
    let res = v
        .submit(
            &case,
            &format!("{case}/outcome"),
            &[("outcome", "partially_resolved")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        api_json(&app, &mine, &member).await["outcome"],
        "partially_resolved"
    );
    assert!(v.get("/account").await.html.contains("部分解决"));

    // The organiser changes the joint statement: my account asks me to sign again.
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&owner.access_token),
            Some(json!({
                "joint_statement": "我们是快付钱包的用户，退款长期未到账，要求平台七日内全额退款并公开道歉。",
                "demands": ["refund", "apology"]
            })),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // The email asking to re-sign leads to this page.
    app.outbox_sent().await;
    let mail = app
        .mail
        .messages()
        .into_iter()
        .find(|m| m.envelope_to.contains(&member.email) && m.subject.contains("重新确认"))
        .expect("the re-sign email");
    assert!(
        mail.text.contains(&format!("{}{case}", app.address)),
        "{}",
        mail.text
    );
    let account = v.get("/account").await;
    assert!(account.html.contains("需要重新签署"), "{}", account.html);
    let page = v.get(&case).await;
    assert!(page.html.contains("联合声明已更新"));
    assert!(page.html.contains("要求平台七日内全额退款并公开道歉"));
    assert_eq!(
        hidden(&page.html, "statement_version").as_deref(),
        Some("2")
    );

    // Without ticking the box: the message, still unsigned.
    let res = v
        .submit(
            &case,
            &format!("{case}/sign"),
            &[("full_name", "王芳"), ("statement_version", "2")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.html.contains("请勾选以确认签署"), "{}", res.html);
    assert_eq!(
        api_json(&app, &mine, &member).await["signature_current"],
        false
    );
    let res = v
        .submit(
            &case,
            &format!("{case}/sign"),
            &[
                ("full_name", "王芳"),
                ("statement_version", "2"),
                ("agree", "true"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let view = api_json(&app, &mine, &member).await;
    assert_eq!(view["signature_current"], true);
    assert_eq!(view["signature"]["statement_version"], 2);
    assert!(!v.get("/account").await.html.contains("需要重新签署"));

    // Withdrawing asks first, then takes effect.
    let confirm = v.get(&format!("{case}/withdraw")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.html.contains("确定退出此投诉吗"));
    let res = v.post(&format!("{case}/withdraw"), &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(api_json(&app, &mine, &member).await["status"], "active");
    let res = v
        .submit(
            &format!("{case}/withdraw"),
            &format!("{case}/withdraw"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location.as_deref(), Some("/account"));
    assert_eq!(api_json(&app, &mine, &member).await["status"], "withdrawn");
    let account = v.get("/account").await;
    assert!(account.html.contains("您已退出此投诉") && account.html.contains("已退出"));
}

async fn notification_settings_are_saved_through_the_page(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;
    let page = v.get("/account/notifications").await;
    assert!(
        page.html.contains("name=\"digest\" value=\"weekly\""),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("name=\"digest\" value=\"daily\" checked")
    );
    assert!(page.html.contains(&format!("name=\"group.{slug}\"")));

    let res = v
        .post(
            "/account/notifications",
            &[("digest", "off"), ("weekday", "1"), ("send_hour", "9")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api_json(&app, "/me/notifications", &member).await["digest"],
        "daily"
    );

    let group_field = format!("group.{slug}");
    let res = v
        .submit(
            "/account/notifications",
            "/account/notifications",
            &[
                ("digest", "weekly"),
                ("weekday", "5"),
                ("send_hour", "20"),
                (&group_field, "immediate"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let saved = api_json(&app, "/me/notifications", &member).await;
    assert_eq!(saved["digest"], "weekly");
    assert_eq!(saved["weekday"], 5);
    assert_eq!(saved["send_hour"], 20);
    assert_eq!(saved["time_zone"], "Asia/Shanghai");
    assert_eq!(
        saved["groups"],
        json!([{"group": slug, "digest": "immediate"}])
    );
    let page = v.get("/account/notifications").await;
    assert!(page.html.contains("通知设置已保存"));
    assert!(
        page.html
            .contains("name=\"digest\" value=\"weekly\" checked")
    );

    // "As above" removes the override.
    let res = v
        .submit(
            "/account/notifications",
            "/account/notifications",
            &[("digest", "weekly"), (&group_field, "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        api_json(&app, "/me/notifications", &member).await["groups"],
        json!([])
    );

    // The language is stored on the account and set for this browser.
    let res = v
        .submit("/account", "/account/language", &[("locale", "en")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location.as_deref(), Some("/account?lang=en"));
    assert_eq!(api_json(&app, "/me", &member).await["locale"], "en");
    let page = v.get("/account?lang=en").await;
    assert!(
        page.html.contains("Your language was saved."),
        "{}",
        page.html
    );
    assert_eq!(v.cookie("lang").as_deref(), Some("en"));
}

async fn export_downloads_and_deleting_the_account_ends_the_session(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, _) = joined_group(&app).await;
    let v = signed_in(&app, &member).await;

    let res = app
        .client
        .get(format!("{}/account/export/download", app.address))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"lianming-export.json\""
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["account"]["email"], "member@example.com");
    assert_eq!(doc["participations"].as_array().unwrap().len(), 1);

    // A wrong password, or none: nothing deleted.
    let res = v
        .submit(
            "/account/delete",
            "/account/delete",
            &[("password", "not it")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.html.contains("密码不正确"), "{}", res.html);
    let res = v
        .post("/account/delete", &[("password", &member.password)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.count_rows("users").await, 2);

    let old_cookie = v.cookie("lm_session").expect("a session cookie");
    let res = v
        .submit(
            "/account/delete",
            "/account/delete",
            &[("password", &member.password)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location.as_deref(), Some("/"));
    assert!(v.cookie("lm_session").is_none(), "the cookie is removed");
    assert!(v.get("/").await.html.contains("您的账户已注销"));
    assert_eq!(app.count_rows("users").await, 1);

    // A copy of the old cookie no longer works.
    let copy = Visitor::new(&app);
    copy.set_cookie("lm_session", &old_cookie);
    let res = copy.get("/account").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location.as_deref(), Some("/login?next=%2Faccount"));
    let res = app
        .post(
            "/auth/login",
            None,
            json!({"email": member.email, "password": member.password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

on_both_databases!(
    every_account_page_renders_for_its_owner_and_only_for_them,
    evidence_is_uploaded_downloaded_and_deleted_through_the_pages,
    the_contact_log_is_added_to_and_edited_through_the_pages,
    outcome_resigning_and_withdrawing_through_my_case,
    notification_settings_are_saved_through_the_page,
    export_downloads_and_deleting_the_account_ends_the_session,
);
