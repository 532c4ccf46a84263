//! Finding a participant and reading their file, for the team: the roster's search and consent
//! filters (page and API), and the file (`/groups/{slug}/manage/roster/{id}`) with what they
//! declared and signed, their evidence with downloads and their contact log. Moderators and up
//! read it; a stranger, the participant themself and other participants are refused the page and
//! every download, and no file of another participant or group is reachable through it.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::{ANON_EMAIL, fixture};
use crate::helpers::team::add_to_team;
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// The participation id of `email` in the group, from the team API's roster.
async fn participation_of(app: &TestApp, owner: &TestUser, slug: &str, email: &str) -> i64 {
    let page = json_body(
        app.get(
            &format!("/groups/{slug}/roster?per_page=500"),
            Some(&owner.access_token),
        )
        .await,
    )
    .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["email"] == email)
        .and_then(|e| e["participation_id"].as_i64())
        .unwrap_or_else(|| panic!("{email} is not on the roster: {page}"))
}

fn file_path(slug: &str, id: i64) -> String {
    format!("/groups/{slug}/manage/roster/{id}")
}

/// The evidence download links of a file page, in page order.
fn download_links(html: &str, slug: &str, id: i64) -> Vec<String> {
    let prefix = format!("{}/evidence/", file_path(slug, id));
    html.match_indices(&format!("href=\"{prefix}"))
        .map(|(at, _)| {
            let rest = &html[at + 6..];
            rest[..rest.find('"').expect("closing quote")].to_owned()
        })
        .collect()
}

async fn download(app: &TestApp, v: &Visitor, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .expect("download")
}

async fn the_team_reads_a_participant_s_file_and_downloads_their_evidence(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let slug = f.slug.clone();
    let wang = participation_of(&app, &f.owner, &slug, &f.wang.email).await;
    let owner = Visitor::signed_in(&app, &f.owner).await;

    // The roster leads to the file.
    let roster = owner.get(&format!("/groups/{slug}/manage/roster")).await;
    assert!(
        roster
            .html
            .contains(&format!("href=\"{}\"", file_path(&slug, wang))),
        "{}",
        roster.html
    );
    let page = owner.get(&file_path(&slug, wang)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    for shown in [
        "参与者 1 号",
        "王芳",
        "wang.fang@example.com",
        "我在三月申请退款，至今没有到账。",
        "128.00 CNY",
        "2026-03-02",
        "T2026030200001",
        "转账截图.png",
        "聊天.txt",
        // The contact, in the organiser's zone (Beijing).
        "2026-03-05 10:00",
        "工号 1024",
        "CS-88",
        "答复正在处理",
        "同意组织者联系本人",
    ] {
        assert!(page.html.contains(shown), "the file shows {shown}");
    }
    // Only this participant's: nobody else's name, address or files.
    for hidden in [
        "zhao-screenshot.png",
        ANON_EMAIL,
        "li.lei@example.com",
        "ANON-REF-7731",
    ] {
        assert!(!page.html.contains(hidden), "the file leaks {hidden}");
    }
    let links = download_links(&page.html, &slug, wang);
    assert_eq!(links.len(), 2, "{}", page.html);

    // The text file comes back byte for byte, as a private attachment.
    let res = download(&app, &owner, &links[1]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("%E8%81%8A%E5%A4%A9.txt"),
        "{disposition}"
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        "客服说七个工作日内退款，但没有。\n".as_bytes()
    );

    // A moderator of the team reads the same file and its downloads.
    let moderator = app.verified_user("mod@example.com", "审核员").await;
    add_to_team(&app, &slug, &f.owner, &moderator, "moderator").await;
    let m = Visitor::signed_in(&app, &moderator).await;
    let seen = m.get(&file_path(&slug, wang)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.html);
    assert_eq!(download(&app, &m, &links[0]).await.status(), StatusCode::OK);

    // Another participant's evidence is not reachable through this file, nor this group's
    // file through another group's path.
    let zhao = participation_of(&app, &f.owner, &slug, ANON_EMAIL).await;
    let zhao_page = owner.get(&file_path(&slug, zhao)).await;
    assert!(
        zhao_page.html.contains("不同意提供姓名"),
        "{}",
        zhao_page.html
    );
    let zhao_links = download_links(&zhao_page.html, &slug, zhao);
    assert_eq!(zhao_links.len(), 1);
    let zhao_item = zhao_links[0].rsplit('/').next().unwrap();
    let crossed = format!("{}/evidence/{zhao_item}", file_path(&slug, wang));
    assert_eq!(
        download(&app, &owner, &crossed).await.status(),
        StatusCode::NOT_FOUND
    );
    let other = app
        .verified_user("other.owner@example.com", "别的组织者")
        .await;
    let other_group = app
        .create_group(&other, json!({"title": "另一个投诉组：提现失败"}))
        .await;
    let other_slug = other_group["slug"].as_str().expect("slug");
    owner
        .get(&file_path(other_slug, wang))
        .await
        .assert_refused("a file through a group the viewer does not run");
    let seen = owner.get(&file_path(&slug, wang + 1000)).await;
    assert_eq!(
        seen.status,
        StatusCode::NOT_FOUND,
        "an unknown participation"
    );
}

async fn strangers_and_participants_are_refused_the_file_and_its_downloads(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let slug = f.slug.clone();
    let wang = participation_of(&app, &f.owner, &slug, &f.wang.email).await;
    let owner = Visitor::signed_in(&app, &f.owner).await;
    let page = owner.get(&file_path(&slug, wang)).await;
    let links = download_links(&page.html, &slug, wang);
    assert_eq!(links.len(), 2);
    let stranger = app.verified_user("lu.ren@example.com", "路人").await;
    // The participant themself reads their case on their own pages, not the team's file.
    for (who, user) in [
        ("stranger", &stranger),
        ("another participant", &f.li),
        ("the participant", &f.wang),
    ] {
        let v = Visitor::signed_in(&app, user).await;
        let seen = v.get(&file_path(&slug, wang)).await;
        seen.assert_refused(&format!("{who} GET the file"));
        assert!(!seen.html.contains("CS-88"), "{who} sees the contact log");
        for link in &links {
            let res = download(&app, &v, link).await;
            let status = res.status();
            let body = res.bytes().await.unwrap();
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                "{who} GET {link}: {status}"
            );
            assert!(
                !body.windows(6).any(|w| w == "客服".as_bytes()),
                "{who} got the file"
            );
        }
    }
    // Signed out: sent to log in, nothing shown.
    let anonymous = Visitor::new(&app);
    let seen = anonymous.get(&file_path(&slug, wang)).await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{}", seen.html);
    assert!(
        seen.location.as_deref().unwrap_or("").starts_with("/login"),
        "{:?}",
        seen.location
    );
    let res = download(&app, &anonymous, &links[0]).await;
    assert!(!res.status().is_success(), "{}", res.status());
}

/// The emails the team API's roster gives for `query`.
async fn roster_emails(app: &TestApp, owner: &TestUser, slug: &str, query: &str) -> Vec<String> {
    let res = app
        .get(
            &format!("/groups/{slug}/roster?{query}"),
            Some(&owner.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let page = json_body(res).await;
    let mut emails: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["email"].as_str().expect("email").to_owned())
        .collect();
    emails.sort();
    emails
}

async fn the_roster_finds_participants_by_words_and_consents(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let slug = f.slug.clone();
    let (wang, li) = (f.wang.email.as_str(), f.li.email.as_str());
    let zhao = participation_of(&app, &f.owner, &slug, ANON_EMAIL).await;
    // The API: words in the email (any case), the signed name, a reference, an id; consents.
    for (query, expected) in [
        ("q=WANG.FANG", vec![wang]),
        ("q=%E6%9D%8E%E9%9B%B7", vec![li]),
        ("q=anon-ref", vec![ANON_EMAIL]),
        ("q=example.com+%E7%8E%8B", vec![wang]),
        ("q=100%25", vec![]),
        ("consent_share_identity=false", vec![ANON_EMAIL]),
        ("consent_contact=false", vec![li]),
        (
            "consent_contact=true&consent_share_identity=true",
            vec![wang],
        ),
    ] {
        assert_eq!(
            roster_emails(&app, &f.owner, &slug, query).await,
            expected,
            "{query}"
        );
    }
    // A number finds that participation id (and references containing it).
    let by_id = roster_emails(&app, &f.owner, &slug, &format!("q={zhao}")).await;
    assert!(by_id.iter().any(|e| e == ANON_EMAIL), "{by_id:?}");
    let long = "退".repeat(101);
    let res = app
        .get(
            &format!("/groups/{slug}/roster?q={long}"),
            Some(&f.owner.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(res).await.to_string().contains("\"q\""));
    let res = app
        .get(
            &format!("/groups/{slug}/roster?q=wang"),
            Some(&f.li.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The page: the same filters, kept by the moderation forms.
    let owner = Visitor::signed_in(&app, &f.owner).await;
    let path = format!("/groups/{slug}/manage/roster");
    let found = owner.get(&format!("{path}?q=%E7%8E%8B%E8%8A%B3")).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.html);
    assert!(found.html.contains(wang) && !found.html.contains(li));
    assert!(
        found.html.contains("name=\"q\" value=\"王芳\""),
        "{}",
        found.html
    );
    let unnamed = owner.get(&format!("{path}?identity=no")).await;
    assert!(unnamed.html.contains(ANON_EMAIL) && !unnamed.html.contains(wang));
    let no_contact = owner.get(&format!("{path}?contact=no")).await;
    assert!(no_contact.html.contains(li) && !no_contact.html.contains(wang));
    assert!(
        no_contact
            .html
            .contains("<option value=\"no\" selected>不可联系</option>"),
        "{}",
        no_contact.html
    );
}

on_both_databases!(
    the_roster_finds_participants_by_words_and_consents,
    the_team_reads_a_participant_s_file_and_downloads_their_evidence,
    strangers_and_participants_are_refused_the_file_and_its_downloads,
);
