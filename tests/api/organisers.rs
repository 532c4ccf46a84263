//! The organiser's work over HTTP: a team built through emailed invitations, moderation of the
//! roster, a statement edited after signatures (new version, re-confirm emails), submissions
//! and answers on the timeline, and a group closed with an outcome; and the limits of each
//! role.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, ClockExt, TestApp, TestUser, json_body};
use crate::helpers::team::{
    add_to_team, expect_json, expect_problem, join, join_with, mail_to, mails_to, relogin, user_id,
};
use crate::on_both_databases;

/// Moves the group `slug` to `to` (with `outcome`) as `user`.
async fn set_status(
    app: &TestApp,
    slug: &str,
    user: &TestUser,
    to: &str,
    outcome: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"status": to});
    if let Some(o) = outcome {
        body["outcome"] = json!(o);
    }
    app.post(
        &format!("/groups/{slug}/status"),
        Some(&user.access_token),
        body,
    )
    .await
}

const STATEMENT_V2: &str =
    "我们是快付钱包的用户，申请退款后长期未到账。我们要求平台在十五日内全额退款，并按日支付利息。";

async fn an_organiser_runs_a_complaint_from_invite_to_close(backend: Backend) {
    // Arrange: an owner, a co-organiser to be, and four people who will join.
    let app = TestApp::on(backend).await;
    let mut owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let mut co = app.verified_user("li.lei@example.com", "李雷").await;
    let mut zhang = app.verified_user("zhang.san@example.com", "张三").await;
    let li = app.verified_user("li.si@example.com", "李四").await;
    let wang = app.verified_user("wang.wu@example.com", "王五").await;
    let zhao = app.verified_user("zhao.liu@example.com", "赵六").await;
    let group = app
        .create_group(&owner, json!({"requires_moderation": true}))
        .await;
    let slug = group["slug"].as_str().expect("slug").to_owned();

    // Before anyone signed, an edit changes version 1 in place.
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&owner.access_token),
            Some(json!({
                "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即全额退款。",
                "demands": ["refund"]
            })),
        )
        .await;
    let edited = expect_json(res, StatusCode::OK).await;
    assert_eq!(edited["version"], 1);
    assert_eq!(edited["new_version"], false);

    // The owner invites a co-organiser; the link arrives by email and is accepted.
    let invite = add_to_team(&app, &slug, &owner, &co, "organiser").await;
    assert_eq!(invite["role"], "organiser");
    let mail = mail_to(&app, &co.email, "邀请").await;
    assert!(
        mail.text.contains("王芳") && mail.text.contains("共同组织者"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains(&format!("{}/invites/accept?token=", app.address)),
        "{}",
        mail.text
    );
    let team = json_body(
        app.get(
            &format!("/groups/{slug}/organisers"),
            Some(&co.access_token),
        )
        .await,
    )
    .await;
    let roles: Vec<(&str, &str)> = team["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["display_name"].as_str().unwrap_or_default(),
                m["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(roles, [("王芳", "owner"), ("李雷", "organiser")]);
    assert!(team["invites"][0]["accepted_at"].is_string(), "{team}");

    // Four people join and wait for approval; they are not counted yet.
    let mut ids = Vec::new();
    for (user, name) in [
        (&zhang, "张三"),
        (&li, "李四"),
        (&wang, "王五"),
        (&zhao, "赵六"),
    ] {
        let p = join(&app, &slug, user, join_with(name, 12_800, "CNY", 1)).await;
        assert_eq!(p["status"], "pending");
        ids.push(p["id"].as_i64().expect("id"));
    }
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 0);

    // The co-organiser moderates: two approved, one rejected with a reason, one duplicate.
    let roster_path = |id: i64| format!("/groups/{slug}/roster/{id}");
    for id in &ids[..2] {
        let res = app
            .patch(
                &roster_path(*id),
                Some(&co.access_token),
                json!({"action": "approve"}),
            )
            .await;
        assert_eq!(expect_json(res, StatusCode::OK).await["status"], "active");
    }
    let res = app
        .patch(
            &roster_path(ids[2]),
            Some(&co.access_token),
            json!({"action": "reject", "reason": "交易记录与本投诉无关"}),
        )
        .await;
    let rejected = expect_json(res, StatusCode::OK).await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection_reason"], "交易记录与本投诉无关");
    let res = app
        .patch(
            &roster_path(ids[3]),
            Some(&co.access_token),
            json!({"action": "duplicate", "duplicate_of": ids[0]}),
        )
        .await;
    let duplicate = expect_json(res, StatusCode::OK).await;
    assert_eq!(duplicate["status"], "rejected");
    assert_eq!(duplicate["duplicate_of"], ids[0]);
    let notice = mail_to(&app, &wang.email, "未被接受").await;
    assert!(
        notice.text.contains("交易记录与本投诉无关"),
        "{}",
        notice.text
    );
    mail_to(&app, &zhao.email, "未被接受").await;
    let mine = json_body(
        app.get(
            &format!("/groups/{slug}/participation"),
            Some(&wang.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(mine["status"], "rejected");
    assert_eq!(mine["rejection_reason"], "交易记录与本投诉无关");
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["participant_count"], 2);

    // After signatures, an edit makes version 2 and asks the active participants to re-confirm.
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&co.access_token),
            Some(json!({"joint_statement": STATEMENT_V2, "demands": ["refund", "compensation"]})),
        )
        .await;
    let v2 = expect_json(res, StatusCode::OK).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["new_version"], true);
    assert_eq!(v2["reconfirm_requested"], 2);
    for user in [&zhang, &li] {
        let mail = mail_to(&app, &user.email, "重新确认").await;
        assert!(mail.text.contains(STATEMENT_V2), "{}", mail.text);
    }
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(view["statement_version"], 2);
    assert_eq!(view["joint_statement"], STATEMENT_V2);

    // One participant re-signs; each signature keeps its version.
    let res = app
        .post(
            &format!("/groups/{slug}/participation/sign"),
            Some(&zhang.access_token),
            json!({"full_name": "张三", "statement_version": 2, "agree": true}),
        )
        .await;
    let signed = expect_json(res, StatusCode::CREATED).await;
    assert_eq!(signed["signature"]["statement_version"], 2);
    assert_eq!(signed["signature"]["statement_sha256"], v2["sha256"]);
    assert_eq!(signed["signature_current"], true);
    let res = app
        .post(
            &format!("/groups/{slug}/participation/sign"),
            Some(&li.access_token),
            json!({"full_name": "李四", "statement_version": 1, "agree": true}),
        )
        .await;
    expect_problem(res, StatusCode::CONFLICT, "statement_version_stale").await;
    let roster = json_body(
        app.get(
            &format!("/groups/{slug}/roster?status=active&signed_version=1"),
            Some(&co.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(roster["total"], 1, "{roster}");
    assert_eq!(roster["items"][0]["full_name"], "李四");
    assert_eq!(roster["items"][0]["signature_current"], false);

    // The complaint goes to the provider, which answers; the group follows.
    let sent = chrono::DateTime::from_timestamp(app.clock.now_ts(), 0).expect("time");
    let res = app
        .post(
            &format!("/groups/{slug}/submissions"),
            Some(&co.access_token),
            json!({"channel": "provider", "recipient": "快付钱包客服中心", "submitted_at": sent}),
        )
        .await;
    let submission = expect_json(res, StatusCode::CREATED).await;
    assert_eq!(submission["state"], "awaiting");
    assert_eq!(
        (
            submission["due_days"].clone(),
            submission["due_kind"].clone()
        ),
        (json!(15), json!("calendar"))
    );
    let res = set_status(&app, &slug, &co, "submitted", None).await;
    assert_eq!(
        expect_json(res, StatusCode::OK).await["status"],
        "submitted"
    );

    // A day and a bit later the provider answers (tokens expired meanwhile).
    app.clock.advance(chrono::Duration::hours(30));
    for user in [&mut owner, &mut co, &mut zhang] {
        relogin(&app, user).await;
    }
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&co.access_token),
            json!({
                "kind": "response",
                "response_class": "in_progress",
                "submission_id": submission["id"],
                "title": "客服称已提交退款复核",
            }),
        )
        .await;
    let answer = expect_json(res, StatusCode::CREATED).await;
    assert_eq!(answer["response_class"], "in_progress");
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&co.access_token),
            json!({"kind": "organiser_note", "title": "请大家补充转账截图", "visibility": "participants"}),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;
    let subs = json_body(app.get(&format!("/groups/{slug}/submissions"), None).await).await;
    assert_eq!(subs[0]["state"], "answered", "{subs}");
    assert_eq!(subs[0]["answered_on_time"], true);
    assert_eq!(subs[0]["first_response_at"], answer["occurred_at"]);
    let res = set_status(&app, &slug, &co, "responded", None).await;
    expect_json(res, StatusCode::OK).await;
    let res = app
        .post(
            &format!("/groups/{slug}/updates"),
            Some(&co.access_token),
            json!({
                "kind": "resolution",
                "response_class": "closed_monetary_relief",
                "title": "快付钱包称已向所有用户退款",
            }),
        )
        .await;
    expect_json(res, StatusCode::CREATED).await;
    let res = app
        .patch(
            &format!("/groups/{slug}/participation"),
            Some(&zhang.access_token),
            json!({"outcome": "resolved"}),
        )
        .await;
    assert_eq!(
        expect_json(res, StatusCode::OK).await["outcome"],
        "resolved"
    );
    let res = set_status(&app, &slug, &co, "closed", Some("resolved_monetary")).await;
    let closed = expect_json(res, StatusCode::OK).await;
    assert_eq!(
        (closed["status"].clone(), closed["outcome"].clone()),
        (json!("closed"), json!("resolved_monetary"))
    );
    // A closed group's statement no longer changes.
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/groups/{slug}/statement"),
            Some(&co.access_token),
            Some(json!({"joint_statement": "关闭之后试图修改联合声明的文本，应当被拒绝。", "demands": ["refund"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // The public sees the claim and the public timeline, not the participants-only note.
    let view = json_body(app.get(&format!("/groups/{slug}"), None).await).await;
    assert_eq!(
        view["provider_claim"]["response_class"],
        "closed_monetary_relief"
    );
    let titles: Vec<&str> = view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|u| u["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["快付钱包称已向所有用户退款", "客服称已提交退款复核"]
    );
    let for_zhang = json_body(
        app.get(
            &format!("/groups/{slug}/updates"),
            Some(&zhang.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(for_zhang.as_array().map(Vec::len), Some(3), "{for_zhang}");

    // Every organiser action is in the audit log, newest first.
    let audit = json_body(
        app.get(
            &format!("/groups/{slug}/audit?per_page=200"),
            Some(&owner.access_token),
        )
        .await,
    )
    .await;
    let mut actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "group.create",
            "statement.edit",
            "team.invite",
            "team.accept",
            "roster.approve",
            "roster.approve",
            "roster.reject",
            "roster.duplicate",
            "statement.new_version",
            "submission.create",
            "group.status",
            "update.create",
            "update.create",
            "group.status",
            "update.create",
            "group.status",
        ]
    );
    assert_eq!(audit["items"][0]["actor_name"], "李雷");
    assert_eq!(audit["items"][0]["details"]["outcome"], "resolved_monetary");

    // A closed group takes nobody new.
    let late = app.verified_user("late@example.com", "迟到").await;
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&late.access_token),
            join_with("迟到", 100, "CNY", 2),
        )
        .await;
    expect_problem(res, StatusCode::CONFLICT, "group_closed").await;
    assert_eq!(
        mails_to(&app, &wang.email, "重新确认"),
        0,
        "rejected people are not asked"
    );
}

async fn a_moderator_cannot_transfer_ownership_or_remove_the_owner(backend: Backend) {
    // Arrange: an owner with a moderator and a co-organiser.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let moderator = app.verified_user("mod@example.com", "审核员").await;
    let co = app.verified_user("co@example.com", "李雷").await;
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    add_to_team(&app, &slug, &owner, &moderator, "moderator").await;
    add_to_team(&app, &slug, &owner, &co, "organiser").await;
    let (owner_id, mod_id, co_id, stranger_id) = (
        user_id(&app, &owner).await,
        user_id(&app, &moderator).await,
        user_id(&app, &co).await,
        user_id(&app, &stranger).await,
    );
    let audit_before = app.count_rows("audit_log").await;

    // Act & Assert: the moderator can neither hand the group over nor remove anyone.
    let res = app
        .post(
            &format!("/groups/{slug}/transfer"),
            Some(&moderator.access_token),
            json!({"user_id": mod_id}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    for target in [owner_id, co_id] {
        let res = app
            .delete(
                &format!("/groups/{slug}/organisers/{target}"),
                Some(&moderator.access_token),
            )
            .await;
        expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    }
    let res = app
        .post(
            &format!("/groups/{slug}/organisers"),
            Some(&moderator.access_token),
            json!({"email": "x@example.com", "role": "moderator"}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    // Nor can a co-organiser remove the owner, nor the owner leave.
    for who in [&co, &owner] {
        let res = app
            .delete(
                &format!("/groups/{slug}/organisers/{owner_id}"),
                Some(&who.access_token),
            )
            .await;
        expect_problem(res, StatusCode::FORBIDDEN, "owner_cannot_be_removed").await;
    }
    // Only the owner transfers, and only to a member of the team.
    let res = app
        .post(
            &format!("/groups/{slug}/transfer"),
            Some(&co.access_token),
            json!({"user_id": co_id}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
    let res = app
        .post(
            &format!("/groups/{slug}/transfer"),
            Some(&owner.access_token),
            json!({"user_id": stranger_id}),
        )
        .await;
    let problem = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["errors"]["user_id"].is_array(), "{problem}");
    assert_eq!(
        app.count_rows("audit_log").await,
        audit_before,
        "refusals change nothing"
    );
    let team = json_body(
        app.get(
            &format!("/groups/{slug}/organisers"),
            Some(&moderator.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(team["members"][0]["user_id"], owner_id);
    assert_eq!(team["members"][0]["role"], "owner");

    // The owner hands over to the co-organiser and stays on as an organiser.
    let res = app
        .post(
            &format!("/groups/{slug}/transfer"),
            Some(&owner.access_token),
            json!({"user_id": co_id}),
        )
        .await;
    let team = expect_json(res, StatusCode::OK).await;
    let roles: Vec<(i64, &str)> = team["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["user_id"].as_i64().unwrap_or(0),
                m["role"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        roles.contains(&(co_id, "owner")) && roles.contains(&(owner_id, "organiser")),
        "{roles:?}"
    );
    // The new owner removes the moderator; the moderator loses access at once.
    let res = app
        .delete(
            &format!("/groups/{slug}/organisers/{mod_id}"),
            Some(&co.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get(
            &format!("/groups/{slug}/roster"),
            Some(&moderator.access_token),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "not_an_organiser").await;
}

async fn an_invitation_is_for_its_address_once_and_for_a_week(backend: Backend) {
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("wang.fang@example.com", "王芳").await;
    let mut invitee = app.verified_user("invitee@example.com", "受邀人").await;
    let other = app.verified_user("other@example.com", "别人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug");
    let (app_ref, path, owner_token) = (
        &app,
        format!("/groups/{slug}/organisers"),
        &owner.access_token,
    );
    let path = &path;
    let invite = move |email: &str| {
        let body = json!({"email": email, "role": "moderator"});
        async move { app_ref.post(path, Some(owner_token), body).await }
    };
    expect_json(invite(" Invitee@Example.com ").await, StatusCode::CREATED).await;
    let token = mail_to(&app, &invitee.email, "邀请")
        .await
        .find_link_token("token")
        .expect("token");
    let accept = move |user: &TestUser, token: &str| {
        let (access, body) = (user.access_token.clone(), json!({"token": token}));
        async move { app_ref.post("/invites/accept", Some(&access), body).await }
    };
    expect_problem(
        accept(&other, &token).await,
        StatusCode::FORBIDDEN,
        "invite_for_another_address",
    )
    .await;
    let accepted = expect_json(accept(&invitee, &token).await, StatusCode::OK).await;
    assert_eq!(accepted["role"], "moderator");
    let again = expect_problem(
        accept(&invitee, &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(again["errors"]["token"].is_array(), "{again}");
    expect_problem(
        invite("invitee@example.com").await,
        StatusCode::CONFLICT,
        "already_in_team",
    )
    .await;

    // A week later the link no longer works.
    expect_json(invite("other@example.com").await, StatusCode::CREATED).await;
    let token = mail_to(&app, &other.email, "邀请")
        .await
        .find_link_token("token")
        .expect("token");
    app.clock.advance(chrono::Duration::days(7));
    let mut other = other;
    relogin(&app, &mut other).await;
    relogin(&app, &mut invitee).await;
    expect_problem(
        accept(&other, &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let team: Value = json_body(
        app.get(
            &format!("/groups/{slug}/organisers"),
            Some(&invitee.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(team["members"].as_array().map(Vec::len), Some(2), "{team}");
}

on_both_databases!(
    an_organiser_runs_a_complaint_from_invite_to_close,
    a_moderator_cannot_transfer_ownership_or_remove_the_owner,
    an_invitation_is_for_its_address_once_and_for_a_week,
);
