//! Trusted timestamps (RFC 3161) from a test TSA on loopback (`openssl ts -reply` behind a
//! small HTTP server): the dossier's `manifest.tsr`, which `openssl ts -verify` and our verify
//! accept and which is refused when it is for other bytes or from an untrusted TSA; the letter's
//! line; bundles without a TSA; a TSA that is down; and evidence timestamped at upload.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::helpers::dossier::{
    api_verify, compile, download, entries, fixture, pdf_text, png, python_verify, rezip,
    save_jwks, upload,
};
use crate::helpers::tsa::{Key, TestTsa, down_url, make_authority};
use crate::on_both_databases;

async fn app_with(backend: Backend, tsa: &TestTsa) -> TestApp {
    let (url, cert) = (tsa.url.clone(), tsa.ca_pem());
    TestApp::spawn_with(backend, move |s| {
        s.tsa_url = Some(url);
        s.tsa_cert = Some(cert);
        s.tsa_timeout_secs = 5;
    })
    .await
}

fn problems(report: &Value) -> Vec<(String, String)> {
    report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["target"].as_str().unwrap_or_default().to_owned(),
                p["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn cli_verify(data_dir: &Path, bundle: &Path, tsa_cert: Option<&Path>) -> (Option<i32>, String) {
    let mut cmd = crate::helpers::dossier::lianming_cli(data_dir);
    cmd.arg("verify").arg(bundle);
    if let Some(cert) = tsa_cert {
        cmd.arg("--tsa-cert").arg(cert);
    }
    let out = cmd.output().expect("lianming verify");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn a_dossier_is_timestamped_and_openssl_and_our_verify_accept_the_token(backend: Backend) {
    let tsa = TestTsa::spawn(Key::Rsa).await;
    let app = app_with(backend, &tsa).await;
    let f = fixture(&app).await;
    let token = Some(f.owner.access_token.as_str());

    let view = compile(&app, &f.owner, &f.slug, "provider").await;
    let stamped_at = view["timestamped_at"]
        .as_str()
        .expect("timestamped_at")
        .to_owned();
    assert!(
        view["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.ends_with("/1/manifest.tsr"))),
        "{view}"
    );
    assert!(
        tsa.content_types
            .lock()
            .expect("lock")
            .iter()
            .all(|t| t == "application/timestamp-query"),
        "requests are posted as application/timestamp-query"
    );
    let bundle = download(&app, token, &f.slug, 1, "bundle").await;
    let files = entries(&bundle);
    let tsr = files
        .get("manifest.tsr")
        .expect("the bundle holds manifest.tsr");
    // The part route serves the same bytes.
    let res = app
        .get(
            &format!("/groups/{}/dossiers/1/manifest.tsr", f.slug),
            token,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/timestamp-reply");
    assert_eq!(res.bytes().await.expect("body").as_ref(), tsr.as_slice());

    // OpenSSL accepts the stored token for manifest.json, with the CA certificate alone.
    let dir = tempfile::tempdir().expect("dir");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, &files["manifest.json"]).expect("manifest");
    let (ok, out) = tsa.openssl_verify(tsr, ("-data", manifest.to_str().expect("path")));
    assert!(ok, "openssl ts -verify refused manifest.tsr:\n{out}");

    // Our verify reports it valid, with the TSA's time and name.
    let report = api_verify(&app, bundle.clone()).await;
    assert_eq!(report["valid"], true, "{report}");
    let ts = &report["timestamp"];
    assert_eq!(ts["present"], true, "{report}");
    assert_eq!(ts["status"], "valid", "{report}");
    assert_eq!(ts["valid"], true, "{report}");
    assert_eq!(
        ts["gen_time"].as_str(),
        Some(stamped_at.as_str()),
        "{report}"
    );
    assert!(
        ts["tsa"]
            .as_str()
            .is_some_and(|n| n.contains("Lianming Test TSA")),
        "{report}"
    );
    // The independent verifier knows manifest.tsr is not listed by design.
    let jwks = save_jwks(&app, dir.path()).await;
    let (ok, out) = python_verify(&bundle, &jwks);
    assert!(ok, "{out}");

    // The letter prints the timestamp's time.
    let gen_time: chrono::DateTime<chrono::Utc> = stamped_at.parse().expect("a time");
    let text = pdf_text(&files["letter.pdf"]);
    let flat: String = text.split_whitespace().collect();
    let when = gen_time.format("%Y-%m-%d%H:%M:%SUTC").to_string();
    assert!(
        flat.contains("可信时间戳") && flat.contains(&when),
        "the letter shows the timestamp ({when}):\n{text}"
    );

    // `lianming verify` checks it against --tsa-cert, and says when it could not.
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, &bundle).expect("bundle");
    let (code, out) = cli_verify(app.data_dir.path(), &path, Some(&tsa.ca_pem()));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("trusted timestamp") && out.contains(": valid"),
        "{out}"
    );
    let (code, out) = cli_verify(app.data_dir.path(), &path, None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("TSA not checked"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timestamp_of_other_bytes_is_refused_by_our_verify_and_by_openssl() {
    let tsa = TestTsa::spawn(Key::Rsa).await;
    let app = app_with(Backend::Sqlite, &tsa).await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "public").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let mut files = entries(&bundle);

    // A real token of the same TSA, but for other bytes.
    let other = tsa.stamp_of(b"not the manifest\n");
    files.insert("manifest.tsr".into(), other.clone());
    let report = api_verify(&app, rezip(&files)).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        problems(&report),
        vec![("manifest.tsr".to_owned(), "timestamp_invalid".to_owned())],
        "{report}"
    );
    assert_eq!(report["timestamp"]["status"], "invalid", "{report}");
    let dir = tempfile::tempdir().expect("dir");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, &files["manifest.json"]).expect("manifest");
    let (ok, out) = tsa.openssl_verify(&other, ("-data", manifest.to_str().expect("path")));
    assert!(!ok, "openssl accepted a token of other bytes:\n{out}");

    // Bytes that are no timestamp at all.
    files.insert("manifest.tsr".into(), b"\x30\x03\x02\x01\x00".to_vec());
    let report = api_verify(&app, rezip(&files)).await;
    assert_eq!(
        problems(&report),
        vec![("manifest.tsr".to_owned(), "timestamp_invalid".to_owned())],
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timestamp_whose_signer_does_not_chain_to_the_configured_certificates_is_untrusted() {
    let tsa = TestTsa::spawn(Key::Rsa).await;
    let app = app_with(Backend::Sqlite, &tsa).await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "public").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let jwks = app.state.keys.jwks().expect("jwks");
    let verify = |anchors: Option<&lianming::tsa::Anchors>| {
        lianming::dossier::verify::verify_with(
            std::io::Cursor::new(bundle.clone()),
            &jwks,
            None,
            anchors,
        )
    };

    // Another authority's CA: the signature holds, the signer is not trusted.
    let elsewhere = tempfile::tempdir().expect("dir");
    make_authority(elsewhere.path(), "Elsewhere", Key::EcP256);
    let foreign = lianming::tsa::load_anchors(&elsewhere.path().join("ca.pem")).expect("ca");
    let report = verify(Some(&foreign));
    assert!(!report.valid, "{}", report.to_text());
    let codes: Vec<_> = report.problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, vec!["timestamp_untrusted"], "{}", report.to_text());
    assert_eq!(report.timestamp.status, "untrusted");

    // The TSA's own certificate configured instead of its CA: trusted.
    let own = lianming::tsa::load_anchors(&tsa.tsa_pem()).expect("tsa cert");
    let report = verify(Some(&own));
    assert!(report.valid, "{}", report.to_text());
    assert_eq!(report.timestamp.status, "valid");
    // Nothing configured: the time is reported, the signer not checked, the bundle valid.
    let report = verify(None);
    assert!(report.valid, "{}", report.to_text());
    assert_eq!(report.timestamp.status, "not_checked");
    assert!(report.timestamp.gen_time.is_some());

    // An ECDSA (P-256) TSA's token checks too, against its own CA only.
    let ec = TestTsa::spawn(Key::EcP256).await;
    let data = b"evidence bytes";
    let tsr = ec.stamp_of(data);
    let digest = Sha256::digest(data);
    let ec_ca = lianming::tsa::load_anchors(&ec.ca_pem()).expect("ca");
    let checked = lianming::tsa::token::check(&tsr, &digest, Some(&ec_ca)).expect("valid");
    assert_eq!(checked.trust, lianming::tsa::Trust::Trusted);
    let checked = lianming::tsa::token::check(&tsr, &digest, Some(&foreign)).expect("signed");
    assert!(matches!(checked.trust, lianming::tsa::Trust::Untrusted(_)));
    assert!(lianming::tsa::token::check(&tsr, &Sha256::digest(b"other"), Some(&ec_ca)).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tsa_a_bundle_has_no_timestamp_and_its_letter_says_so() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let token = Some(f.owner.access_token.as_str());
    let view = compile(&app, &f.owner, &f.slug, "provider").await;
    assert!(view.get("timestamped_at").is_none(), "{view}");
    let bundle = download(&app, token, &f.slug, 1, "bundle").await;
    let files = entries(&bundle);
    assert!(!files.contains_key("manifest.tsr"));
    assert!(
        !files.keys().any(|k| k.ends_with(".tsr")),
        "{:?}",
        files.keys()
    );
    let res = app
        .get(
            &format!("/groups/{}/dossiers/1/manifest.tsr", f.slug),
            token,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let text: String = pdf_text(&files["letter.pdf"]).split_whitespace().collect();
    assert!(text.contains("未取得可信时间戳"), "{text}");
    let report = api_verify(&app, bundle).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["timestamp"]["present"], false, "{report}");
    assert_eq!(report["timestamp"]["status"], "absent", "{report}");
    // Evidence uploads queue no timestamp either.
    assert_eq!(app.count_rows("timestamps").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_tsa_is_down_the_build_is_retried_and_then_fails_with_the_reason() {
    let ca = tempfile::tempdir().expect("dir");
    make_authority(ca.path(), "Absent", Key::EcP256);
    let (url, cert) = (down_url().await, ca.path().join("ca.pem"));
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.tsa_url = Some(url);
        s.tsa_cert = Some(cert);
        s.tsa_timeout_secs = 2;
    })
    .await;
    let f = fixture(&app).await;
    let res = app
        .post(
            &format!("/groups/{}/dossiers", f.slug),
            Some(&f.owner.access_token),
            json!({"tier": "public"}),
        )
        .await;
    // The build in the request failed for want of a timestamp: it is left to the job runner.
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(json_body(res).await["status"], "building");
    let job = || async {
        lianming::entities::jobs::Entity::find()
            .filter(lianming::entities::jobs::Column::Kind.eq("dossier.build"))
            .one(&app.db)
            .await
            .expect("query")
            .expect("the build job")
    };
    let first = job().await;
    assert_eq!(first.attempts, 1);
    assert!(
        first
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer")),
        "{first:?}"
    );
    // Each retry is due after a backoff; move the clock past it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let view = loop {
        app.clock.advance(chrono::Duration::minutes(1));
        app.state.jobs.wake.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let res = app
            .get(
                &format!("/groups/{}/dossiers/1", f.slug),
                Some(&f.owner.access_token),
            )
            .await;
        let body = json_body(res).await;
        if body["status"] != "building" {
            break body;
        }
        assert!(Instant::now() < deadline, "still building: {body}");
    };
    assert_eq!(view["status"], "failed", "{view}");
    assert!(
        view["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("trusted timestamp") && r.contains("did not answer")),
        "{view}"
    );
    assert_eq!(job().await.attempts, 3);
    // The version is not published, and the evidence it had pinned is released.
    assert_eq!(app.count_rows("dossier_evidence").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_timestamped_once_per_content_and_the_bundle_carries_its_tokens() {
    let tsa = TestTsa::spawn(Key::Rsa).await;
    let app = app_with(Backend::Sqlite, &tsa).await;
    let f = fixture(&app).await;
    // 李雷 uploads the same screenshot as 王芳: the content is timestamped once.
    upload(&app, &f.li, &f.slug, png(1, 3000), "same.png", "image/png").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.count_rows("timestamps").await < 3 {
        assert!(Instant::now() < deadline, "evidence not timestamped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count_rows("timestamps").await, 3);
    let jobs = lianming::entities::jobs::Entity::find()
        .filter(lianming::entities::jobs::Column::Kind.eq("evidence.timestamp"))
        .all(&app.db)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 3, "{jobs:?}");

    // OpenSSL accepts a stored token for the file's SHA-256.
    let sha = hex::encode(Sha256::digest(png(1, 3000)));
    let row = lianming::entities::timestamps::Entity::find()
        .filter(lianming::entities::timestamps::Column::SubjectSha256.eq(sha.as_str()))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the screenshot's timestamp");
    let (ok, out) = tsa.openssl_verify(&row.token, ("-digest", &sha));
    assert!(
        ok,
        "openssl ts -verify -digest refused the evidence token:\n{out}"
    );

    // The participant sees when each of their files was timestamped.
    let res = app
        .get(
            &format!("/groups/{}/participation/evidence", f.slug),
            Some(&f.wang.access_token),
        )
        .await;
    let mine = json_body(res).await;
    let times: Vec<_> = mine
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["timestamped_at"].as_str().is_some())
        .collect();
    assert_eq!(times, vec![true, true], "{mine}");

    // The bundle holds each pinned evidence file's token, listed (hashed and signed).
    compile(&app, &f.owner, &f.slug, "provider").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let files = entries(&bundle);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    let evidence: Vec<&&str> = listed
        .iter()
        .filter(|p| p.starts_with("evidence/") && !p.ends_with(".tsr"))
        .collect();
    assert_eq!(evidence.len(), 4, "{listed:?}");
    for path in evidence {
        let token = format!("{path}.tsr");
        assert!(
            listed.contains(&token.as_str()),
            "{token} not listed: {listed:?}"
        );
        let content_sha = hex::encode(Sha256::digest(&files[*path]));
        let (ok, out) = tsa.openssl_verify(&files[&token], ("-digest", &content_sha));
        assert!(ok, "{token}:\n{out}");
    }
    let report = api_verify(&app, bundle.clone()).await;
    assert_eq!(report["valid"], true, "{report}");
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&bundle, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");
}

on_both_databases!(a_dossier_is_timestamped_and_openssl_and_our_verify_accept_the_token);
