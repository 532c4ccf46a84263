//! The organiser's dossier page (compile by tier, builds in progress, versions, downloads for
//! the team, the public version's links) and team page (invite, accept from the emailed link,
//! change roles, transfer, remove, the audit log). Only the team sees them; every form is
//! CSRF-protected and goes through the same services as the JSON API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser};
use crate::helpers::dossier::{Fixture, api_verify, fixture, wait_built};
use crate::helpers::team::{add_to_team, expect_json, expect_problem, mail_to, user_id};
use crate::helpers::visitor::{Seen, Visitor};
use crate::on_both_databases;

fn dossiers_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/dossiers")
}

fn team_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/team")
}

/// A download through a page route, as the browser of `v` fetches it: status, headers, bytes.
async fn fetch(app: &TestApp, v: &Visitor, path: &str) -> (StatusCode, String, String, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .expect("download");
    let status = res.status();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    (status, ct, cd, res.bytes().await.expect("bytes").to_vec())
}

/// The team API's members as (display name, role).
async fn roles(app: &TestApp, by: &TestUser, slug: &str) -> Vec<(String, String)> {
    let res = app
        .get(
            &format!("/groups/{slug}/organisers"),
            Some(&by.access_token),
        )
        .await;
    let team = expect_json(res, StatusCode::OK).await;
    team["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["display_name"].as_str().unwrap_or_default().to_owned(),
                m["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn versions(app: &TestApp, owner: &TestUser, slug: &str) -> Vec<Value> {
    let res = app
        .get(
            &format!("/groups/{slug}/dossiers"),
            Some(&owner.access_token),
        )
        .await;
    expect_json(res, StatusCode::OK)
        .await
        .as_array()
        .expect("list")
        .clone()
}

/// Posts `fields` with `v`'s CSRF token taken from `page`.
async fn post_with_token(v: &Visitor, page: &str, action: &str, fields: &[(&str, &str)]) -> Seen {
    v.submit(page, action, fields).await
}

async fn compiling_and_downloading_through_the_dossier_page(backend: Backend) {
    // Every build in the background, as for a large group.
    let app = TestApp::spawn_with(backend, |s| s.dossier_inline_max = 0).await;
    let Fixture { owner, slug, .. } = fixture(&app).await;
    let v = Visitor::signed_in(&app, &owner).await;
    let page = v.get(&dossiers_path(&slug)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("生成材料"), "{}", page.html);
    assert!(page.html.contains("还没有生成过材料"), "{}", page.html);
    assert!(!page.html.contains("http-equiv=\"refresh\""));
    // The dashboard links here and to the team page.
    let dash = v.get(&format!("/groups/{slug}/manage")).await;
    assert!(
        dash.html
            .contains(&format!("href=\"{}\"", dossiers_path(&slug)))
    );
    assert!(
        dash.html
            .contains(&format!("href=\"{}\"", team_path(&slug)))
    );

    let done = post_with_token(
        &v,
        &dossiers_path(&slug),
        &dossiers_path(&slug),
        &[("tier", "provider")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(
        done.location.as_deref(),
        Some(dossiers_path(&slug).as_str())
    );
    let after = v.get(&dossiers_path(&slug)).await;
    assert!(
        after.html.contains("已开始在后台生成材料"),
        "{}",
        after.html
    );
    let built = wait_built(&app, &owner, &slug, 1).await;
    assert_eq!(built["status"], "ready", "{built}");
    assert_eq!(built["tier"], "provider");

    let page = v.get(&dossiers_path(&slug)).await;
    assert!(page.html.contains("第 1 版"), "{}", page.html);
    assert!(page.html.contains("已完成"), "{}", page.html);
    assert!(page.html.contains("下载材料包"), "{}", page.html);
    assert!(
        !page.html.contains("http-equiv=\"refresh\""),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("公开下载链接"),
        "not public: {}",
        page.html
    );

    let base = format!("{}/1", dossiers_path(&slug));
    let (status, ct, cd, bundle) = fetch(&app, &v, &format!("{base}/bundle")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/zip");
    assert!(
        cd.starts_with("attachment") && cd.contains(&format!("lianming-{slug}-v1.zip")),
        "{cd}"
    );
    let report = api_verify(&app, bundle).await;
    assert_eq!(report["valid"], true, "{report}");
    let (status, ct, cd, letter) = fetch(&app, &v, &format!("{base}/letter.pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/pdf");
    assert!(cd.contains("letter.pdf"), "{cd}");
    assert!(letter.starts_with(b"%PDF"));
    let (status, ct, _, roster) = fetch(&app, &v, &format!("{base}/roster.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(String::from_utf8_lossy(&roster).contains("王芳"));
    // A part the tier does not have, and an unknown part.
    for part in ["regulator_export.csv", "secrets.txt"] {
        let (status, ..) = fetch(&app, &v, &format!("{base}/{part}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{part}");
    }

    // The public version shows its public links and the verify page.
    let done = post_with_token(
        &v,
        &dossiers_path(&slug),
        &dossiers_path(&slug),
        &[("tier", "public")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let built = wait_built(&app, &owner, &slug, 2).await;
    assert_eq!(built["status"], "ready", "{built}");
    assert_eq!(built["tier"], "public");
    let page = v.get(&dossiers_path(&slug)).await;
    assert!(page.html.contains("公开下载链接"), "{}", page.html);
    assert!(page.html.contains("href=\"/verify\""), "{}", page.html);
    assert!(
        page.html
            .contains(&format!("/api/v1/groups/{slug}/dossiers/2/bundle")),
        "{}",
        page.html
    );
}

async fn a_build_in_progress_is_shown_and_a_second_one_refused(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let group_id: i64 = <lianming::entities::groups::Entity as sea_orm::EntityTrait>::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("group")
        .id;
    sea_orm::ActiveModelTrait::insert(
        lianming::entities::dossiers::ActiveModel {
            group_id: sea_orm::ActiveValue::Set(group_id),
            version: sea_orm::ActiveValue::Set(1),
            tier: sea_orm::ActiveValue::Set(lianming::entities::enums::Tier::Regulator),
            status: sea_orm::ActiveValue::Set(lianming::entities::enums::DossierStatus::Building),
            statement_version: sea_orm::ActiveValue::Set(1),
            created_at: sea_orm::ActiveValue::Set(chrono::Utc::now()),
            ..Default::default()
        },
        &app.db,
    )
    .await
    .expect("insert");
    let v = Visitor::signed_in(&app, &f.owner).await;
    let page = v.get(&dossiers_path(&f.slug)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("http-equiv=\"refresh\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("生成中"), "{}", page.html);
    assert!(!page.html.contains("下载材料包"), "{}", page.html);
    // No download while it builds.
    let (status, ..) = fetch(&app, &v, &format!("{}/1/bundle", dossiers_path(&f.slug))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let refused = post_with_token(
        &v,
        &dossiers_path(&f.slug),
        &dossiers_path(&f.slug),
        &[("tier", "provider")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert_eq!(versions(&app, &f.owner, &f.slug).await.len(), 1);
}

async fn the_team_is_managed_through_the_page(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let li = app.verified_user("li.lei@example.com", "李雷").await;
    let han = app.verified_user("han.meimei@example.com", "韩梅梅").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let team = team_path(&slug);
    let ov = Visitor::signed_in(&app, &owner).await;

    // Invite 李雷 as moderator; the email's link opens a page that works.
    let page = ov.get(&team).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(">邀请</button>"), "{}", page.html);
    // Nobody to hand over to yet.
    assert!(!page.html.contains("移交所有权"), "{}", page.html);
    let sent = ov
        .submit(
            &team,
            &format!("{team}/invite"),
            &[("email", &li.email), ("role", "moderator")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    assert_eq!(sent.location.as_deref(), Some(team.as_str()));
    assert!(ov.get(&team).await.html.contains("邀请已发出"));
    let mail = mail_to(&app, &li.email, "邀请").await;
    let token = mail.find_link_token("token").expect("token");
    assert!(
        mail.text
            .contains(&format!("{}/invites/accept?token=", app.address)),
        "{}",
        mail.text
    );
    let lv = Visitor::signed_in(&app, &li).await;
    let link = format!("/invites/accept?token={token}");
    let confirm = lv.get(&link).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.html.contains("接受邀请"), "{}", confirm.html);
    assert!(
        !confirm.html.contains("type=\"password\""),
        "{}",
        confirm.html
    );
    let accepted = lv.submit(&link, "/invites/accept", &[]).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.html);
    assert!(accepted.html.contains("您已成为"), "{}", accepted.html);
    assert_eq!(
        roles(&app, &owner, &slug).await,
        [
            ("王芳".to_owned(), "owner".to_owned()),
            ("李雷".to_owned(), "moderator".to_owned())
        ]
    );

    assert!(ov.get(&team).await.html.contains("移交所有权"));

    // A moderator sees the team but no forms that manage it, and is refused if posting.
    let li_page = lv.get(&team).await;
    assert_eq!(li_page.status, StatusCode::OK, "{}", li_page.html);
    assert!(!li_page.html.contains(&format!("{team}/invite")));
    assert!(!li_page.html.contains(&format!("{team}/transfer")));
    assert!(li_page.html.contains("退出团队"), "{}", li_page.html);
    let han_id = user_id(&app, &han).await;
    let li_id = user_id(&app, &li).await;
    let owner_id = user_id(&app, &owner).await;
    let refused = lv
        .submit(
            &team,
            &format!("{team}/invite"),
            &[("email", &han.email), ("role", "moderator")],
        )
        .await;
    refused.assert_refused("a moderator inviting");

    // Change 李雷's role.
    let changed = ov
        .submit(
            &team,
            &format!("{team}/{li_id}/role"),
            &[("role", "organiser")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.html);
    assert!(
        roles(&app, &owner, &slug)
            .await
            .contains(&("李雷".to_owned(), "organiser".to_owned()))
    );
    // As an organiser 李雷 now gets the invite form, still not the transfer form.
    let li_page = lv.get(&team).await;
    assert!(li_page.html.contains(&format!("{team}/invite")));
    assert!(!li_page.html.contains(&format!("{team}/transfer")));
    // Nobody changes the owner's role.
    let refused = lv
        .submit(
            &team,
            &format!("{team}/{owner_id}/role"),
            &[("role", "moderator")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    // Transfer to 李雷: the old owner stays an organiser.
    let moved = ov
        .submit(
            &team,
            &format!("{team}/transfer"),
            &[("user_id", &li_id.to_string())],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.html);
    assert_eq!(
        roles(&app, &owner, &slug).await,
        [
            ("李雷".to_owned(), "owner".to_owned()),
            ("王芳".to_owned(), "organiser".to_owned())
        ]
    );
    assert!(
        lv.get(&team)
            .await
            .html
            .contains(&format!("{team}/transfer"))
    );
    assert!(
        !ov.get(&team)
            .await
            .html
            .contains(&format!("{team}/transfer"))
    );

    // Remove: 韩梅梅 joins the team (through the API), the organiser removes her on the page.
    add_to_team(&app, &slug, &li, &han, "moderator").await;
    let removed = ov
        .submit(&team, &format!("{team}/{han_id}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.html);
    assert!(
        !roles(&app, &li, &slug)
            .await
            .iter()
            .any(|(name, _)| name == "韩梅梅")
    );

    // The audit log lists every action, with names.
    let log = lv.get(&team).await;
    for action in [
        "创建了小组",
        "发出邀请",
        "接受了邀请",
        "更改了角色",
        "移交了所有权",
        "移除了成员",
    ] {
        assert!(log.html.contains(action), "{action}: {}", log.html);
    }
    let res = app
        .get(&format!("/groups/{slug}/audit"), Some(&li.access_token))
        .await;
    let api = expect_json(res, StatusCode::OK).await;
    let actions: Vec<&str> = api["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["team.role", "team.transfer", "team.remove", "team.accept"] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
}

async fn the_audit_log_pages(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let li = app.verified_user("li.lei@example.com", "李雷").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    add_to_team(&app, &slug, &owner, &li, "moderator").await;
    let li_id = user_id(&app, &li).await;
    // Each role change is one entry: 22 of them, plus create, invite and accept.
    for i in 0..22 {
        let role = if i % 2 == 0 { "organiser" } else { "moderator" };
        let res = app
            .patch(
                &format!("/groups/{slug}/organisers/{li_id}"),
                Some(&owner.access_token),
                json!({"role": role}),
            )
            .await;
        expect_json(res, StatusCode::OK).await;
    }
    let v = Visitor::signed_in(&app, &owner).await;
    let first = v.get(&team_path(&slug)).await;
    assert!(
        first.html.contains("第 1–20 条，共 25 条"),
        "{}",
        first.html
    );
    assert!(!first.html.contains("创建了小组"), "{}", first.html);
    let next = format!("href=\"{}?page=2\"", team_path(&slug));
    assert!(first.html.contains(&next), "{}", first.html);
    let second = v.get(&format!("{}?page=2", team_path(&slug))).await;
    assert!(
        second.html.contains("第 21–25 条，共 25 条"),
        "{}",
        second.html
    );
    assert!(second.html.contains("创建了小组"), "{}", second.html);
    assert!(
        second
            .html
            .contains(&format!("href=\"{}?page=1\"", team_path(&slug))),
        "{}",
        second.html
    );
}

async fn the_role_api_refuses_what_the_role_may_not_do(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let li = app.verified_user("li.lei@example.com", "李雷").await;
    let han = app.verified_user("han.meimei@example.com", "韩梅梅").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    add_to_team(&app, &slug, &owner, &li, "moderator").await;
    add_to_team(&app, &slug, &owner, &han, "moderator").await;
    let (owner_id, han_id) = (user_id(&app, &owner).await, user_id(&app, &han).await);
    let path = |id: i64| format!("/groups/{slug}/organisers/{id}");
    let res = app
        .patch(
            &path(han_id),
            Some(&li.access_token),
            json!({"role": "organiser"}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    let res = app
        .patch(
            &path(owner_id),
            Some(&owner.access_token),
            json!({"role": "moderator"}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "owner_role_fixed").await;
    let res = app
        .patch(
            &path(han_id),
            Some(&owner.access_token),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .patch(
            &path(999_999),
            Some(&owner.access_token),
            json!({"role": "organiser"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let team = expect_json(
        app.patch(
            &path(han_id),
            Some(&owner.access_token),
            json!({"role": "organiser"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        team["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["user_id"] == han_id && m["role"] == "organiser"),
        "{team}"
    );
}

async fn strangers_and_participants_are_refused_everywhere(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let built = crate::helpers::dossier::compile(&app, &f.owner, &f.slug, "provider").await;
    assert_eq!(built["version"], 1);
    let stranger = app.verified_user("lu.ren@example.com", "路人").await;
    let owner_id = user_id(&app, &f.owner).await;
    let team = team_path(&f.slug);
    let dossiers = dossiers_path(&f.slug);
    let before_team = roles(&app, &f.owner, &f.slug).await;
    for (who, user) in [("stranger", &stranger), ("participant", &f.wang)] {
        let v = Visitor::signed_in(&app, user).await;
        for path in [dossiers.clone(), team.clone(), format!("{team}?page=2")] {
            v.get(&path)
                .await
                .assert_refused(&format!("{who} GET {path}"));
        }
        for part in ["bundle", "letter.pdf", "roster.csv", "manifest.json"] {
            let (status, ..) = fetch(&app, &v, &format!("{dossiers}/1/{part}")).await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                "{who} {part}: {status}"
            );
        }
        // With a valid token of their own (from their account page), every form is refused.
        let posts: [(String, Vec<(&str, String)>); 5] = [
            (dossiers.clone(), vec![("tier", "provider".into())]),
            (
                format!("{team}/invite"),
                vec![
                    ("email", "x@example.com".into()),
                    ("role", "organiser".into()),
                ],
            ),
            (
                format!("{team}/{owner_id}/role"),
                vec![("role", "moderator".into())],
            ),
            (format!("{team}/{owner_id}/remove"), vec![]),
            (
                format!("{team}/transfer"),
                vec![("user_id", owner_id.to_string())],
            ),
        ];
        for (action, fields) in &posts {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let seen = v.submit("/account", action, &fields).await;
            seen.assert_refused(&format!("{who} POST {action}"));
        }
    }
    // Signed out: sent to log in.
    let anon = Visitor::new(&app);
    for path in [&dossiers, &team] {
        let seen = anon.get(path).await;
        assert_eq!(seen.status, StatusCode::SEE_OTHER, "{path}");
        assert!(seen.location.unwrap_or_default().starts_with("/login"));
    }
    assert_eq!(versions(&app, &f.owner, &f.slug).await.len(), 1);
    assert_eq!(roles(&app, &f.owner, &f.slug).await, before_team);
    let res = app
        .get(
            &format!("/groups/{}/organisers", f.slug),
            Some(&f.owner.access_token),
        )
        .await;
    let t = expect_json(res, StatusCode::OK).await;
    assert_eq!(t["invites"].as_array().map(Vec::len), Some(0), "{t}");
}

async fn bad_input_and_missing_csrf_change_nothing(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let li = f.li.clone();
    let team = team_path(&f.slug);
    let dossiers = dossiers_path(&f.slug);
    let v = Visitor::signed_in(&app, &f.owner).await;
    let owner_id = user_id(&app, &f.owner).await;
    let li_id = user_id(&app, &li).await;
    let invites = async || {
        let res = app
            .get(
                &format!("/groups/{}/organisers", f.slug),
                Some(&f.owner.access_token),
            )
            .await;
        expect_json(res, StatusCode::OK).await["invites"]
            .as_array()
            .map_or(0, Vec::len)
    };

    // Without a valid CSRF token: 403, nothing changed.
    let posts: [(String, Vec<(&str, &str)>); 5] = [
        (dossiers.clone(), vec![("tier", "provider")]),
        (
            format!("{team}/invite"),
            vec![("email", "new@example.com"), ("role", "organiser")],
        ),
        (format!("{team}/{li_id}/role"), vec![("role", "organiser")]),
        (format!("{team}/{li_id}/remove"), vec![]),
        (format!("{team}/transfer"), vec![("user_id", "1")]),
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
        let seen = v.post(action, &forged).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{action} forged");
    }
    assert!(versions(&app, &f.owner, &f.slug).await.is_empty());
    assert_eq!(invites().await, 0);

    // Bad email, unknown role, unknown tier: 422 with the message at the field.
    let bad = v
        .submit(
            &team,
            &format!("{team}/invite"),
            &[("email", "not-an-email"), ("role", "moderator")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains("id=\"invite-email-error\""),
        "{}",
        bad.html
    );
    assert!(bad.html.contains("aria-describedby=\"invite-email-error\""));
    assert!(
        bad.html.contains("value=\"not-an-email\""),
        "kept: {}",
        bad.html
    );
    let bad = v
        .submit(
            &team,
            &format!("{team}/invite"),
            &[("email", "new@example.com"), ("role", "owner")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains("id=\"invite-role-error\""),
        "{}",
        bad.html
    );
    assert!(bad.html.contains("aria-describedby=\"invite-role-error\""));
    assert_eq!(invites().await, 0);
    let bad = v
        .submit(&dossiers, &dossiers, &[("tier", "everyone")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(bad.html.contains("id=\"tier-error\""), "{}", bad.html);
    assert!(bad.html.contains("aria-describedby=\"tier-error\""));
    assert!(versions(&app, &f.owner, &f.slug).await.is_empty());

    // A member's role to something unknown; a transfer to someone off the team.
    add_to_team(&app, &f.slug, &f.owner, &li, "moderator").await;
    let bad = v
        .submit(&team, &format!("{team}/{li_id}/role"), &[("role", "owner")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains(&format!("id=\"role-{li_id}-error\"")),
        "{}",
        bad.html
    );
    let wang_id = user_id(&app, &f.wang).await;
    let bad = v
        .submit(
            &team,
            &format!("{team}/transfer"),
            &[("user_id", &wang_id.to_string())],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains("id=\"transfer-to-error\""),
        "{}",
        bad.html
    );
    let bad = v
        .submit(&team, &format!("{team}/transfer"), &[("user_id", "abc")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    // Inviting someone already on the team is refused at the email field.
    let dup = v
        .submit(
            &team,
            &format!("{team}/invite"),
            &[("email", &li.email), ("role", "organiser")],
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.html);
    assert!(
        dup.html.contains("id=\"invite-email-error\""),
        "{}",
        dup.html
    );
    let members = roles(&app, &f.owner, &f.slug).await;
    assert_eq!(
        members,
        [
            ("陈发起".to_owned(), "owner".to_owned()),
            ("李雷".to_owned(), "moderator".to_owned())
        ]
    );
    let _ = owner_id;
}

on_both_databases!(
    compiling_and_downloading_through_the_dossier_page,
    a_build_in_progress_is_shown_and_a_second_one_refused,
    the_team_is_managed_through_the_page,
    the_audit_log_pages,
    the_role_api_refuses_what_the_role_may_not_do,
    strangers_and_participants_are_refused_everywhere,
    bad_input_and_missing_csrf_change_nothing,
);
