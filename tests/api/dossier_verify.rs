//! Verifying a bundle: any altered byte in any file, the manifest or the signature fails and
//! the report names it — through the library, `POST /api/v1/dossiers/verify`, the public page
//! and the independent Python verifier alike.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::app::TestApp;
use crate::helpers::dossier::{
    api_verify, compile, download, entries, fixture, python_verify, rezip, save_jwks,
};
use crate::helpers::team::expect_problem;

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = at.min(out.len() - 1);
    out[i] ^= 0x01;
    out
}

/// Flips one character of the signature part of a compact JWS (keeping it base64url).
fn flip_signature(jws: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(jws.to_vec()).expect("ascii");
    let (signed, sig) = text.rsplit_once('.').expect("three parts");
    let mut sig: Vec<char> = sig.chars().collect();
    let i = sig.len() / 2;
    sig[i] = if sig[i] == 'A' { 'B' } else { 'A' };
    format!("{signed}.{}", sig.into_iter().collect::<String>()).into_bytes()
}

fn targets(report: &lianming::dossier::verify::Report) -> Vec<(String, &'static str)> {
    report
        .problems
        .iter()
        .map(|p| (p.target.clone(), p.code))
        .collect()
}

#[tokio::test]
async fn flipping_one_byte_in_any_file_the_manifest_or_the_signature_fails_and_names_it() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "regulator").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let dir = tempfile::tempdir().expect("dir");
    let jwks_path = save_jwks(&app, dir.path()).await;
    let jwks: lianming::dossier::keys::Jwks =
        serde_json::from_slice(&std::fs::read(&jwks_path).expect("jwks")).expect("a JWKS");
    let verify = |bytes: &[u8]| {
        lianming::dossier::verify::verify(std::io::Cursor::new(bytes.to_vec()), &jwks, None)
    };
    assert!(verify(&bundle).valid, "{:?}", verify(&bundle).problems);

    let files = entries(&bundle);
    assert!(files.len() >= 9, "{:?}", files.keys());
    for name in files.keys() {
        let mut altered: BTreeMap<String, Vec<u8>> = files.clone();
        let (expected_target, expected_code) = if name == "manifest.jws" {
            altered.insert(name.clone(), flip_signature(&files[name]));
            ("manifest.jws", "signature_invalid")
        } else if name == "manifest.json" {
            altered.insert(name.clone(), flip(&files[name], 40));
            ("manifest.json", "manifest_mismatch")
        } else {
            altered.insert(name.clone(), flip(&files[name], files[name].len() / 2));
            (name.as_str(), "hash_mismatch")
        };
        let tampered = rezip(&altered);
        let report = verify(&tampered);
        assert!(!report.valid, "{name}: tampering went unnoticed");
        assert_eq!(
            targets(&report),
            vec![(expected_target.to_owned(), expected_code)],
            "{name}: the report names exactly the altered part"
        );
        let (ok, out) = python_verify(&tampered, &jwks_path);
        assert!(!ok, "{name}: jwcrypto accepted a tampered bundle:\n{out}");
    }

    // A missing file and an extra one are named too.
    let mut fewer = files.clone();
    let evidence = fewer
        .keys()
        .find(|k| k.starts_with("evidence/"))
        .cloned()
        .expect("an evidence file");
    fewer.remove(&evidence);
    assert_eq!(
        targets(&verify(&rezip(&fewer))),
        vec![(evidence, "missing")]
    );
    let mut more = files.clone();
    more.insert("evidence/extra.png".into(), b"not listed".to_vec());
    assert_eq!(
        targets(&verify(&rezip(&more))),
        vec![("evidence/extra.png".to_owned(), "unexpected_file")]
    );
    // Signed by a key nobody published.
    let mut foreign = jwks.clone();
    foreign.keys.clear();
    let report =
        lianming::dossier::verify::verify(std::io::Cursor::new(bundle.clone()), &foreign, None);
    assert_eq!(
        targets(&report),
        vec![("manifest.jws".to_owned(), "unknown_kid")]
    );

    // The API says the same, with no login.
    let mut letter_altered = files.clone();
    letter_altered.insert(
        "letter.pdf".into(),
        flip(&files["letter.pdf"], files["letter.pdf"].len() / 3),
    );
    let report = api_verify(&app, rezip(&letter_altered)).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["target"], "letter.pdf", "{report}");
    assert_eq!(report["problems"][0]["code"], "hash_mismatch", "{report}");
    let report = api_verify(&app, b"PK not really a zip".to_vec()).await;
    assert_eq!(report["problems"][0]["code"], "not_a_zip", "{report}");
}

#[tokio::test]
async fn the_verify_endpoint_needs_a_bundle_and_limits_its_size() {
    let app = TestApp::spawn_with(crate::helpers::app::Backend::Sqlite, |s| {
        s.dossier_verify_max_bytes = 1024;
    })
    .await;
    let form = Form::new().text("something", "else");
    let res = app
        .client
        .post(app.api("/dossiers/verify"))
        .multipart(form)
        .send()
        .await
        .expect("verify");
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let form = Form::new().part("bundle", Part::bytes(vec![0u8; 4096]).file_name("big.zip"));
    let res = app
        .client
        .post(app.api("/dossiers/verify"))
        .multipart(form)
        .send()
        .await
        .expect("verify");
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn the_public_verification_page_checks_an_upload_without_javascript() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "provider").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;

    let page = app
        .client
        .get(format!("{}/verify?lang=en", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"bundle\""));

    let post = |bytes: Vec<u8>| {
        let form = Form::new().part("bundle", Part::bytes(bytes).file_name("bundle.zip"));
        app.client
            .post(format!("{}/verify", app.address))
            .header("Accept-Language", "zh-CN")
            .multipart(form)
            .send()
    };
    let html = post(bundle.clone())
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    assert!(html.contains("核验通过"), "{html}");
    let mut files = entries(&bundle);
    let roster = files.get_mut("roster.csv").expect("roster");
    roster[10] ^= 0x20;
    let html = post(rezip(&files))
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("核验未通过") && html.contains("roster.csv"),
        "{html}"
    );
}
