//! Inclusion receipts (issue 15): every participant of a dossier version gets a receipt of
//! their own record; an independent Python implementation (RFC 9162 inclusion proofs, jwcrypto
//! for the bundle) accepts it against the bundle and rejects it for another participant, another
//! version or a flipped byte; the API, the `/verify` page and `lianming verify --receipt` check
//! it against a bundle or the published root; nobody else's record is revealed, and a stranger
//! gets no one's receipt.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::dossier::lianming_cli;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, TestUser, json_body};
use crate::helpers::dossier::{
    ANON_EMAIL, ANON_NAME, Fixture, compile, download, entries, fixture, pdf_text, rezip, save_jwks,
};
use crate::helpers::team::{expect_problem, mails_to};
use crate::helpers::visitor::Visitor;
use crate::on_both_databases;

/// The caller's receipt for `version`, as downloaded.
async fn receipt_of(app: &TestApp, user: &TestUser, slug: &str, version: i64) -> Vec<u8> {
    let res = app
        .get(
            &format!("/me/receipts/{slug}/{version}"),
            Some(&user.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains(&format!("receipt-{slug}-v{version}.json"))
    );
    res.bytes().await.expect("body").to_vec()
}

/// Runs tests/support/verify_receipt.py; returns (accepted, its output).
fn python_check(dir: &Path, receipt: &[u8], bundle: &[u8], jwks: &Path) -> (bool, String) {
    let r = dir.join("receipt.json");
    let b = dir.join("bundle.zip");
    std::fs::write(&r, receipt).expect("write receipt");
    std::fs::write(&b, bundle).expect("write bundle");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/verify_receipt.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&r)
        .arg(&b)
        .arg(jwks)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("ModuleNotFoundError"), "{text}");
    (out.status.success(), text)
}

fn edit(receipt: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(receipt).expect("receipt JSON");
    f(&mut v);
    serde_json::to_vec(&v).expect("json")
}

/// Flips one hex digit of the salt inside the leaf (the leaf stays valid JSON).
fn flip_salt(receipt: &[u8]) -> Vec<u8> {
    edit(receipt, |v| {
        let leaf = v["leaf"].as_str().expect("leaf").to_owned();
        let at = leaf.find("\"salt\":\"").expect("salt") + 8;
        let mut bytes = leaf.into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        v["leaf"] = json!(String::from_utf8(bytes).expect("utf8"));
    })
}

async fn each_participant_gets_a_receipt_an_independent_verifier_checks(backend: Backend) {
    let app = TestApp::on(backend).await;
    let Fixture {
        owner,
        slug,
        wang,
        li,
        zhao,
    } = fixture(&app).await;
    let view = compile(&app, &owner, &slug, "provider").await;
    let token = Some(owner.access_token.as_str());
    let bundle = download(&app, token, &slug, 1, "bundle").await;
    let dir = tempfile::tempdir().expect("dir");
    let jwks = save_jwks(&app, dir.path()).await;

    // The manifest carries the root and one leaf hash per participant; the letter prints it.
    let files = entries(&bundle);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let root = manifest["merkle"]["root"]
        .as_str()
        .expect("root")
        .to_owned();
    assert_eq!(manifest["merkle"]["tree_size"], 3);
    assert_eq!(
        manifest["merkle"]["construction"],
        "RFC 9162 section 2.1 Merkle tree, SHA-256"
    );
    assert!(pdf_text(&files["letter.pdf"]).contains(&root));

    let mut receipts = Vec::new();
    for (who, number) in [(&wang, 1), (&li, 2), (&zhao, 3)] {
        let listed = json_body(app.get("/me/receipts", Some(&who.access_token)).await).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
        assert_eq!(listed[0]["version"], 1);
        assert_eq!(listed[0]["tier"], "provider");
        let receipt = receipt_of(&app, who, &slug, 1).await;
        let parsed: Value = serde_json::from_slice(&receipt).expect("json");
        assert_eq!(parsed["root"], root.as_str());
        assert_eq!(parsed["manifest_sha256"], view["manifest_sha256"]);
        let leaf: Value =
            serde_json::from_str(parsed["leaf"].as_str().expect("leaf")).expect("leaf");
        assert_eq!(leaf["number"], number);
        let (ok, out) = python_check(dir.path(), &receipt, &bundle, &jwks);
        assert!(ok, "participant #{number}: {out}");
        receipts.push(receipt);
    }
    // A receipt holds its owner's record only: nobody else's name, email, or statement.
    let text = String::from_utf8_lossy(&receipts[0]).into_owned();
    for other in [
        "李雷",
        ANON_NAME,
        ANON_EMAIL,
        "ANON-REF-7731",
        "wang.fang@example.com",
    ] {
        assert!(!text.contains(other), "{other} in 王芳's receipt: {text}");
    }

    // Another participant: 王芳's proof with 李雷's leaf, or her leaf moved to his place.
    let swapped = edit(&receipts[0], |v| {
        let theirs: Value = serde_json::from_slice(&receipts[1]).expect("json");
        v["leaf"] = theirs["leaf"].clone();
    });
    let (ok, out) = python_check(dir.path(), &swapped, &bundle, &jwks);
    assert!(!ok, "{out}");
    let moved = edit(&receipts[0], |v| v["leaf_index"] = json!(1));
    assert!(!python_check(dir.path(), &moved, &bundle, &jwks).0);
    // A flipped byte in the leaf, in the proof, or in the bundle's manifest.
    assert!(!python_check(dir.path(), &flip_salt(&receipts[0]), &bundle, &jwks).0);
    let bad_proof = edit(&receipts[0], |v| {
        let p = v["proof"][0].as_str().expect("proof").to_owned();
        let flipped = if p.starts_with('0') { "1" } else { "0" };
        v["proof"][0] = json!(format!("{flipped}{}", &p[1..]));
    });
    assert!(!python_check(dir.path(), &bad_proof, &bundle, &jwks).0);
    let mut tampered = files.clone();
    let m = tampered.get_mut("manifest.json").expect("manifest");
    let at = m.len() / 2;
    m[at] ^= 0x01;
    assert!(!python_check(dir.path(), &receipts[0], &rezip(&tampered), &jwks).0);

    // Another version: 李雷's v1 receipt against v2's bundle.
    compile(&app, &owner, &slug, "provider").await;
    let v2 = download(&app, token, &slug, 2, "bundle").await;
    let (ok, out) = python_check(dir.path(), &receipts[1], &v2, &jwks);
    assert!(!ok && out.contains("not the manifest"), "{out}");
    let v2_receipt = receipt_of(&app, &li, &slug, 2).await;
    assert!(python_check(dir.path(), &v2_receipt, &v2, &jwks).0);
    assert_ne!(v2_receipt, receipts[1]);

    // The receipts are stored with the version, one per participant.
    assert_eq!(app.count_rows("dossier_receipts").await, 6);
}

async fn the_api_checks_receipts_against_the_published_root_or_a_bundle(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "consumer_association").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let receipt = receipt_of(&app, &f.wang, &f.slug, 1).await;

    // The published root, for anyone; it names no one.
    let root = json_body(
        app.get(&format!("/groups/{}/dossiers/1/root", f.slug), None)
            .await,
    )
    .await;
    let keys: Vec<&str> = root
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["group", "manifest_sha256", "root", "tree_size", "version"]
    );
    assert_eq!(root["tree_size"], 3);
    let res = app
        .get(&format!("/groups/{}/dossiers/9/root", f.slug), None)
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;

    let check_json = |body: Vec<u8>| {
        app.client
            .post(app.api("/dossiers/verify-receipt"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let report = json_body(check_json(receipt.clone()).await.expect("check")).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["checked_against"], "published_root");
    assert_eq!(report["number"], 1);
    // The answer is about this record only.
    let text = report.to_string();
    for other in ["李雷", ANON_NAME, "王芳"] {
        assert!(!text.contains(other), "{other}: {text}");
    }
    let report = json_body(check_json(flip_salt(&receipt)).await.expect("check")).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["code"], "proof_invalid", "{report}");
    // A consistent receipt whose root the server never published.
    let forged = edit(&receipt, |v| v["version"] = json!(7));
    let report = json_body(check_json(forged).await.expect("check")).await;
    assert_eq!(report["valid"], false);
    let report = json_body(check_json(b"not json".to_vec()).await.expect("check")).await;
    assert_eq!(
        report["problems"][0]["code"], "receipt_malformed",
        "{report}"
    );
    let res = check_json(Vec::new()).await.expect("check");
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // With the bundle, as multipart.
    let with_bundle = |receipt: Vec<u8>, bundle: Vec<u8>| {
        let form = Form::new()
            .part("receipt", Part::bytes(receipt).file_name("receipt.json"))
            .part("bundle", Part::bytes(bundle).file_name("bundle.zip"));
        app.client
            .post(app.api("/dossiers/verify-receipt"))
            .multipart(form)
            .send()
    };
    let report = json_body(
        with_bundle(receipt.clone(), bundle.clone())
            .await
            .expect("check"),
    )
    .await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["checked_against"], "bundle");
    compile(&app, &f.owner, &f.slug, "consumer_association").await;
    let v2 = download(&app, Some(&f.owner.access_token), &f.slug, 2, "bundle").await;
    let report = json_body(with_bundle(receipt.clone(), v2).await.expect("check")).await;
    assert_eq!(report["problems"][0]["code"], "other_manifest", "{report}");
    let mut files = entries(&bundle);
    files.get_mut("roster.csv").expect("roster")[5] ^= 0x01;
    let report = json_body(with_bundle(receipt, rezip(&files)).await.expect("check")).await;
    assert_eq!(report["problems"][0]["code"], "bundle_invalid", "{report}");
}

async fn only_the_owner_gets_a_receipt(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "provider").await;
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    let path = format!("/me/receipts/{}/1", f.slug);
    // The organiser is not a participant: no receipt either.
    for who in [&stranger, &f.owner] {
        let res = app.get(&path, Some(&who.access_token)).await;
        expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        let listed = json_body(app.get("/me/receipts", Some(&who.access_token)).await).await;
        assert_eq!(listed, json!([]));
    }
    let res = app.get(&path, None).await;
    expect_problem(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let page = Visitor::signed_in(&app, &stranger).await;
    let seen = page.get(&format!("/account/receipts/{}/1", f.slug)).await;
    assert_eq!(seen.status, StatusCode::NOT_FOUND);
    // A participant withdrawn before a version is compiled is not in it.
    let res = app
        .delete(
            &format!("/groups/{}/participation", f.slug),
            Some(&f.li.access_token),
        )
        .await;
    assert!(res.status().is_success());
    compile(&app, &f.owner, &f.slug, "provider").await;
    let res = app
        .get(
            &format!("/me/receipts/{}/2", f.slug),
            Some(&f.li.access_token),
        )
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let root = json_body(
        app.get(&format!("/groups/{}/dossiers/2/root", f.slug), None)
            .await,
    )
    .await;
    assert_eq!(root["tree_size"], 2);
}

async fn participants_are_told_by_email_and_find_receipts_on_their_pages(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "regulator").await;
    app.outbox_sent().await;
    for to in ["wang.fang@example.com", "li.lei@example.com", ANON_EMAIL] {
        assert_eq!(mails_to(&app, to, "第 1 版联名材料"), 1, "{to}");
    }
    assert_eq!(mails_to(&app, &f.owner.email, "联名材料"), 0);

    let v = Visitor::signed_in(&app, &f.zhao).await;
    let account = v.get("/account").await;
    assert!(account.html.contains("href=\"/account/receipts\""));
    let page = v.get("/account/receipts").await;
    assert_eq!(page.status, StatusCode::OK);
    let href = format!("/account/receipts/{}/1", f.slug);
    assert!(page.html.contains(&href), "{}", page.html);
    assert!(page.html.contains("监管部门"), "{}", page.html);
    let res = app
        .client
        .get(format!("{}{href}", app.address))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    let receipt = res.bytes().await.expect("body").to_vec();
    assert_eq!(receipt, receipt_of(&app, &f.zhao, &f.slug, 1).await);
    // The data export lists them too.
    let export = json_body(app.get("/me/export", Some(&f.zhao.access_token)).await).await;
    assert_eq!(export["receipts"][0]["version"], 1, "{export}");

    // The public verify page checks it, without JavaScript, alone or with the bundle.
    let form = app
        .client
        .get(format!("{}/verify", app.address))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(form.contains("name=\"receipt\""), "{form}");
    let post = |form: Form| {
        app.client
            .post(format!("{}/verify", app.address))
            .header("Accept-Language", "zh-CN")
            .multipart(form)
            .send()
    };
    let html = post(Form::new().part("receipt", Part::bytes(receipt.clone()).file_name("r.json")))
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    assert!(html.contains("收据有效") && html.contains("#3"), "{html}");
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let html = post(
        Form::new()
            .part(
                "receipt",
                Part::bytes(flip_salt(&receipt)).file_name("r.json"),
            )
            .part("bundle", Part::bytes(bundle).file_name("b.zip")),
    )
    .await
    .expect("post")
    .text()
    .await
    .expect("html");
    assert!(
        html.contains("收据核验未通过") && html.contains("包含证明不成立"),
        "{html}"
    );
}

on_both_databases!(
    each_participant_gets_a_receipt_an_independent_verifier_checks,
    the_api_checks_receipts_against_the_published_root_or_a_bundle,
    only_the_owner_gets_a_receipt,
    participants_are_told_by_email_and_find_receipts_on_their_pages,
);

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[tokio::test]
async fn lianming_verify_checks_a_receipt_against_a_bundle_or_the_published_root() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "provider").await;
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let receipt = receipt_of(&app, &f.li, &f.slug, 1).await;
    let dir = tempfile::tempdir().expect("dir");
    let jwks = save_jwks(&app, dir.path()).await;
    let r = write(dir.path(), "r.json", &receipt);
    let bad = write(dir.path(), "bad.json", &flip_salt(&receipt));
    let b = write(dir.path(), "b.zip", &bundle);
    let jwks = jwks.to_str().expect("utf8");

    let run = |args: &[&str]| {
        let out = lianming_cli(dir.path())
            .arg("verify")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let r_arg = r.to_str().expect("utf8");
    let b_arg = b.to_str().expect("utf8");
    let (code, out) = run(&["--receipt", r_arg, b_arg, "--jwks", jwks]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("VALID RECEIPT") && out.contains("#2"),
        "{out}"
    );
    let (code, out) = run(&[
        "--receipt",
        bad.to_str().expect("utf8"),
        b_arg,
        "--jwks",
        jwks,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("proof_invalid"), "{out}");

    // Without the bundle: the receipt's root_url is the test server's published root.
    let (code, out) = run(&["--receipt", r_arg]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("publishes"), "{out}");
    let other_root = write(
        dir.path(),
        "root.json",
        serde_json::to_string(
            &json!({"group": f.slug, "version": 1, "root": "00".repeat(32),
            "tree_size": 3, "manifest_sha256": "00".repeat(32)}),
        )
        .expect("json")
        .as_bytes(),
    );
    let (code, out) = run(&[
        "--receipt",
        r_arg,
        "--root",
        other_root.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("root_not_published"), "{out}");
}
