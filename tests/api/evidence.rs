//! The evidence locker over HTTP: streamed, hashed, typed by content, stored once, readable by
//! its owner and the group's organisers only.

use std::path::Path;

use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::on_both_databases;

/// A small but well-formed PNG header followed by `seed`-dependent bytes.
fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn upload(
    app: &TestApp,
    token: Option<&str>,
    slug: &str,
    bytes: Vec<u8>,
    name: &str,
    mime: &str,
    kind: &str,
) -> reqwest::Response {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("mime");
    let form = Form::new()
        .text("kind", kind.to_owned())
        .text("description", "客服聊天截图")
        .part("file", part);
    let mut req = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("upload")
}

/// Files in the blob store, temporary area excluded.
fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.path().join("blobs"), &mut out);
    out
}

/// An owner's group with one participant; returns (owner, participant, slug).
async fn group_with_participant(app: &TestApp) -> (TestUser, TestUser, String) {
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let member = app.verified_user("member@example.com", "参与者").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&member.access_token),
            TestApp::join_body("参与者", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (owner, member, slug)
}

async fn files_with_chinese_names_round_trip_byte_for_byte(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = group_with_participant(&app).await;

    for (bytes, name, mime, kind, expected_type) in [
        (
            png(1, 4000),
            "支付宝转账截图.png",
            "image/png",
            "screenshot",
            "image/png",
        ),
        (
            pdf(),
            "交易明细 2026年3月.pdf",
            "application/pdf",
            "transaction_record",
            "application/pdf",
        ),
    ] {
        let res = upload(
            &app,
            Some(&member.access_token),
            &slug,
            bytes.clone(),
            name,
            mime,
            kind,
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let item = json_body(res).await;
        assert_eq!(
            item["sha256"],
            sha_hex(&bytes),
            "the server's hash is the content's SHA-256"
        );
        assert_eq!(item["size"], bytes.len());
        assert_eq!(item["content_type"], expected_type);
        assert_eq!(item["kind"], kind);
        assert_eq!(item["original_name"], name);

        let res = app
            .get(
                &format!("/evidence/{}/content", item["id"]),
                Some(&member.access_token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-type"], expected_type);
        let disposition = headers["content-disposition"]
            .to_str()
            .expect("ascii header");
        assert!(disposition.starts_with("attachment"), "{disposition}");
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
        let ext_value = disposition
            .split("filename*=UTF-8''")
            .nth(1)
            .expect("ext value");
        let decoded = percent_decode(ext_value);
        assert_eq!(
            decoded, name,
            "RFC 5987 name decodes to the original ({encoded})"
        );
        assert_eq!(res.bytes().await.expect("body").to_vec(), bytes);
    }
    let list = json_body(
        app.get(
            &format!("/groups/{slug}/participation/evidence"),
            Some(&member.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

async fn the_same_bytes_are_stored_once_and_survive_one_deletion(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (owner, member, slug) = group_with_participant(&app).await;
    app.post(
        &format!("/groups/{slug}/participation"),
        Some(&owner.access_token),
        TestApp::join_body("发起人", 1),
    )
    .await;
    let bytes = png(7, 10_000);

    let a = json_body(
        upload(
            &app,
            Some(&member.access_token),
            &slug,
            bytes.clone(),
            "a.png",
            "image/png",
            "screenshot",
        )
        .await,
    )
    .await;
    let b = json_body(
        upload(
            &app,
            Some(&owner.access_token),
            &slug,
            bytes.clone(),
            "b.png",
            "image/png",
            "screenshot",
        )
        .await,
    )
    .await;
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(
        stored_files(&app).len(),
        1,
        "one file on disk for two uploads"
    );

    let res = app
        .delete(
            &format!("/evidence/{}", a["id"]),
            Some(&member.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        stored_files(&app).len(),
        1,
        "the other upload still holds the file"
    );
    let res = app
        .get(
            &format!("/evidence/{}/content", b["id"]),
            Some(&owner.access_token),
        )
        .await;
    assert_eq!(res.bytes().await.expect("body").to_vec(), bytes);
    assert_eq!(
        app.get(
            &format!("/evidence/{}", a["id"]),
            Some(&member.access_token)
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    let res = app
        .delete(&format!("/evidence/{}", b["id"]), Some(&owner.access_token))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        stored_files(&app).is_empty(),
        "the last holder gone, the file goes"
    );
    assert_eq!(app.count_rows("blobs").await, 0);
}

async fn strangers_other_participants_and_other_organisers_get_404(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (owner, member, slug) = group_with_participant(&app).await;
    let item = json_body(
        upload(
            &app,
            Some(&member.access_token),
            &slug,
            png(3, 100),
            "x.png",
            "image/png",
            "screenshot",
        )
        .await,
    )
    .await;
    let id = item["id"].as_i64().expect("id");

    let stranger = app.verified_user("stranger@example.com", "路人").await;
    let other_member = app.verified_user("other@example.com", "另一位").await;
    app.post(
        &format!("/groups/{slug}/participation"),
        Some(&other_member.access_token),
        TestApp::join_body("另一位", 1),
    )
    .await;
    let other_owner = app
        .verified_user("elsewhere@example.com", "别的组织者")
        .await;
    app.create_group(&other_owner, json!({"title": "另一个投诉组"}))
        .await;

    for (who, token) in [
        ("stranger", Some(stranger.access_token.as_str())),
        (
            "another participant",
            Some(other_member.access_token.as_str()),
        ),
        (
            "organiser of another group",
            Some(other_owner.access_token.as_str()),
        ),
        ("unauthenticated", None),
        ("bad token", Some("not-a-token")),
    ] {
        for path in [format!("/evidence/{id}"), format!("/evidence/{id}/content")] {
            let res = app.get(&path, token).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{who} on {path}");
            let body = res.text().await.expect("body");
            assert!(
                !body.contains(item["sha256"].as_str().expect("sha")),
                "{who} learns nothing"
            );
        }
        assert_eq!(
            app.delete(&format!("/evidence/{id}"), token).await.status(),
            StatusCode::NOT_FOUND,
            "{who} cannot delete"
        );
    }
    // The group's organiser may read it (not delete it).
    let meta = app
        .get(&format!("/evidence/{id}"), Some(&owner.access_token))
        .await;
    assert_eq!(meta.status(), StatusCode::OK);
    let content = app
        .get(
            &format!("/evidence/{id}/content"),
            Some(&owner.access_token),
        )
        .await;
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/evidence/{id}"), Some(&owner.access_token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Listing is per participant.
    let none = app
        .get(
            &format!("/groups/{slug}/participation/evidence"),
            Some(&stranger.access_token),
        )
        .await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let theirs = json_body(
        app.get(
            &format!("/groups/{slug}/participation/evidence"),
            Some(&other_member.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(theirs, json!([]));
}

async fn ten_concurrent_uploads_all_land_with_their_hashes(backend: Backend) {
    let app = TestApp::on(backend).await;
    let (_, member, slug) = group_with_participant(&app).await;
    let files: Vec<Vec<u8>> = (0..10u8)
        .map(|i| png(i, 50_000 + usize::from(i) * 1000))
        .collect();
    let names: Vec<String> = (0..10).map(|i| format!("第{i}张.png")).collect();
    let answers = join_all(files.iter().zip(&names).map(|(f, name)| {
        upload(
            &app,
            Some(&member.access_token),
            &slug,
            f.clone(),
            name,
            "image/png",
            "screenshot",
        )
    }))
    .await;
    let mut hashes = Vec::new();
    for res in answers {
        assert_eq!(res.status(), StatusCode::CREATED);
        hashes.push(
            json_body(res).await["sha256"]
                .as_str()
                .expect("sha")
                .to_owned(),
        );
    }
    let mut expected: Vec<String> = files.iter().map(|f| sha_hex(f)).collect();
    hashes.sort();
    expected.sort();
    assert_eq!(hashes, expected);
    let list = json_body(
        app.get(
            &format!("/groups/{slug}/participation/evidence"),
            Some(&member.access_token),
        )
        .await,
    )
    .await;
    let total: i64 = list
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["size"].as_i64().expect("size"))
        .sum();
    assert_eq!(total, files.iter().map(|f| f.len() as i64).sum::<i64>());
    assert_eq!(stored_files(&app).len(), 10);
}

on_both_databases!(
    files_with_chinese_names_round_trip_byte_for_byte,
    the_same_bytes_are_stored_once_and_survive_one_deletion,
    strangers_other_participants_and_other_organisers_get_404,
    ten_concurrent_uploads_all_land_with_their_hashes,
);

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let (_, member, slug) = group_with_participant(&app).await;
    let big = png(9, 21 * 1024 * 1024);
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        big,
        "big.png",
        "image/png",
        "screenshot",
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(
        stored_files(&app).is_empty(),
        "no file, not even a temporary one: {:?}",
        stored_files(&app)
    );
    assert_eq!(app.count_rows("evidence").await, 0);

    // Without Content-Length the limit is enforced while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..22)
        .map(|i| {
            Ok(if i == 0 {
                png(1, 1024 * 1024 - 33)
            } else {
                vec![7u8; 1024 * 1024]
            })
        })
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let part = Part::stream(body)
        .file_name("stream.png")
        .mime_str("image/png")
        .expect("mime");
    let form = Form::new().text("kind", "screenshot").part("file", part);
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .bearer_auth(&member.access_token)
        .multipart(form)
        .send()
        .await
        .expect("streamed upload");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn the_participant_quota_is_enforced() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.evidence_quota_bytes = 250_000).await;
    let (_, member, slug) = group_with_participant(&app).await;
    let first = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(1, 200_000),
        "1.png",
        "image/png",
        "screenshot",
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(2, 100_000),
        "2.png",
        "image/png",
        "screenshot",
    )
    .await;
    assert_eq!(second.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_body(second).await["detail"]
            .as_str()
            .is_some_and(|d| d.contains("quota"))
    );
    assert_eq!(stored_files(&app).len(), 1);
    // Concurrent uploads cannot slip past it together.
    let answers = join_all((10..16u8).map(|i| {
        upload(
            &app,
            Some(&member.access_token),
            &slug,
            png(i, 20_000),
            "c.png",
            "image/png",
            "screenshot",
        )
    }))
    .await;
    let created = answers
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(created, 2, "room for two 20 kB files only");
}

#[tokio::test]
async fn types_are_judged_by_content_and_names_are_neutralised() {
    let app = TestApp::spawn().await;
    let (_, member, slug) = group_with_participant(&app).await;
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0\x01\0\0\0".repeat(10);
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        elf,
        "holiday.png",
        "image/png",
        "screenshot",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(1, 100),
        "scan",
        "application/pdf",
        "receipt",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(1, 100),
        "scan.pdf",
        "application/octet-stream",
        "receipt",
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "the extension disagrees with the content"
    );
    assert!(stored_files(&app).is_empty());

    // A NUL byte cannot even pass the multipart parser: a clear 400, nothing stored.
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(5, 50),
        "evil\0name.png",
        "image/png",
        "screenshot",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(stored_files(&app).is_empty());
    for (raw, expected) in [
        ("../../../etc/passwd.png", "passwd.png"),
        ("..\\..\\win.png", "win.png"),
        ("  .隐藏 文件.png", "隐藏 文件.png"),
    ] {
        let res = upload(
            &app,
            Some(&member.access_token),
            &slug,
            png(5, 50),
            raw,
            "image/png",
            "screenshot",
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{raw:?}");
        assert_eq!(json_body(res).await["original_name"], expected);
    }
    let csv = "交易时间,金额,状态\n2026-03-01 10:00,128.00,退款中\n"
        .as_bytes()
        .to_vec();
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        csv,
        "账单.csv",
        "text/csv",
        "transaction_record",
    )
    .await;
    assert_eq!(json_body(res).await["content_type"], "text/csv");
    let res = upload(
        &app,
        Some(&member.access_token),
        &slug,
        png(1, 10),
        "a.png",
        "image/png",
        "selfie",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(res).await["errors"]["kind"].is_array());
}

#[tokio::test]
async fn the_contact_log_records_each_call_and_is_private() {
    let app = TestApp::spawn().await;
    let (_, member, slug) = group_with_participant(&app).await;
    let path = format!("/groups/{slug}/participation/interactions");
    let entry = json!({
        "occurred_at": "2026-03-05T02:30:00Z", "channel": "hotline", "agent": "工号 8823",
        "ticket_ref": "CS20260305001", "summary": "客服称退款已在处理中，三到五个工作日到账。", "outcome": "promised"
    });
    let res = app.post(&path, Some(&member.access_token), entry).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = json_body(res).await;
    assert_eq!(created["agent"], "工号 8823");

    let bad = app.post(&path, Some(&member.access_token), json!({"occurred_at": "2026-03-05T02:30:00Z", "channel": "pigeon", "outcome": "promised"})).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(bad).await["errors"]["channel"].is_array());
    let future = app.post(&path, Some(&member.access_token), json!({"occurred_at": "2099-01-01T00:00:00Z", "channel": "email", "outcome": "no_answer"})).await;
    assert!(json_body(future).await["errors"]["occurred_at"].is_array());
    assert_eq!(app.count_rows("interactions").await, 1);

    let id = created["id"].as_i64().expect("id");
    let res = app
        .patch(
            &format!("{path}/{id}"),
            Some(&member.access_token),
            json!({"outcome": "refused"}),
        )
        .await;
    assert_eq!(json_body(res).await["outcome"], "refused");
    let stranger = app.verified_user("nosy@example.com", "好奇").await;
    assert_eq!(
        app.get(&path, Some(&stranger.access_token)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(
            &format!("{path}/{id}"),
            Some(&stranger.access_token),
            json!({"outcome": "resolved"})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("{path}/{id}"), Some(&stranger.access_token))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list = json_body(app.get(&path, Some(&member.access_token)).await).await;
    assert_eq!(list[0]["ticket_ref"], "CS20260305001");
    assert_eq!(list[0]["outcome"], "refused");
    assert_eq!(
        app.delete(&format!("{path}/{id}"), Some(&member.access_token))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn export_lists_evidence_and_contacts_and_deletion_removes_the_files() {
    let app = TestApp::spawn().await;
    let (_, member, slug) = group_with_participant(&app).await;
    let bytes = png(4, 5000);
    let item = json_body(
        upload(
            &app,
            Some(&member.access_token),
            &slug,
            bytes.clone(),
            "证据.png",
            "image/png",
            "screenshot",
        )
        .await,
    )
    .await;
    app.post(
        &format!("/groups/{slug}/participation/interactions"),
        Some(&member.access_token),
        json!({"occurred_at": "2026-03-05T02:30:00Z", "channel": "online_chat", "outcome": "no_answer"}),
    )
    .await;
    let export: Value = json_body(app.get("/me/export", Some(&member.access_token)).await).await;
    assert_eq!(export["evidence"][0]["sha256"], item["sha256"]);
    let url = export["evidence"][0]["content_url"]
        .as_str()
        .expect("download link");
    let res = app
        .client
        .get(format!("{}{url}", app.address))
        .bearer_auth(&member.access_token)
        .send()
        .await
        .expect("download");
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), bytes);
    assert_eq!(export["interactions"][0]["channel"], "online_chat");

    assert_eq!(stored_files(&app).len(), 1);
    let res = app
        .send(
            reqwest::Method::DELETE,
            "/me",
            Some(&member.access_token),
            Some(json!({"password": member.password})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        stored_files(&app).is_empty(),
        "the account's files are gone"
    );
    assert_eq!(app.count_rows("blobs").await, 0);
}
