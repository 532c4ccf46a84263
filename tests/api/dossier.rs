//! The signed joint complaint: compiling versions per recipient tier, what each discloses, who
//! may download them, one build at a time, background builds, and withdrawal between versions
//! with key rotation.

use crate::helpers::dossier::lianming_cli;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::helpers::dossier::{
    ANON_EMAIL, ANON_NAME, compile, download, entries, everything_readable, fixture, pdf_outline,
    pdf_text, python_verify, save_jwks, wait_built,
};
use crate::helpers::team::expect_problem;
use crate::on_both_databases;

fn manifest_of(files: &std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    serde_json::from_slice(&files["manifest.json"]).expect("manifest is JSON")
}

async fn a_provider_dossier_is_signed_verifiable_independently_and_hides_the_anonymous(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let token = Some(f.owner.access_token.as_str());

    let view = compile(&app, &f.owner, &f.slug, "provider").await;
    assert_eq!(view["version"], 1);
    assert_eq!(view["tier"], "provider");
    let manifest_sha = view["manifest_sha256"]
        .as_str()
        .expect("manifest hash")
        .to_owned();
    let bundle = download(&app, token, &f.slug, 1, "bundle").await;
    assert_eq!(
        view["bundle_sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bundle))
    );

    // An independent implementation (Python, jwcrypto) accepts it with only the JWKS.
    let dir = tempfile::tempdir().expect("dir");
    let jwks = save_jwks(&app, dir.path()).await;
    let (ok, out) = python_verify(&bundle, &jwks);
    assert!(ok, "jwcrypto verification failed:\n{out}");
    // So does the server's own verification, with no login.
    let report = crate::helpers::dossier::api_verify(&app, bundle.clone()).await;
    assert_eq!(report["valid"], true, "{report}");

    let files = entries(&bundle);
    let manifest = manifest_of(&files);
    assert_eq!(manifest["format"], "lianming-dossier/1");
    assert_eq!(manifest["letter"], "hash in the signed JWS header");
    assert_eq!(manifest["group"]["provider"]["name_zh"], "快付钱包");
    assert_eq!(manifest["statement"]["version"], 1);
    let numbers: Vec<i64> = manifest["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p["number"].as_i64().expect("number"))
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert_eq!(manifest["participants"][0]["name"], "王芳");
    assert_eq!(
        manifest["participants"][0]["signature"]["full_name"],
        "王芳"
    );
    assert!(manifest["participants"][2].get("name").is_none());
    assert_eq!(
        manifest["participants"][0]["evidence"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    for entry in manifest["files"].as_array().expect("files") {
        let path = entry["path"].as_str().expect("path");
        assert!(files.contains_key(path), "{path} listed but absent");
    }
    assert_eq!(
        files.keys().filter(|k| k.starts_with("evidence/")).count(),
        3,
        "{:?}",
        files.keys()
    );

    // The letter: Chinese names and the provider as text, the manifest hash in its box.
    let letter = pdf_text(&files["letter.pdf"]);
    for needle in [
        "王芳",
        "李雷",
        "快付钱包",
        &manifest_sha,
        "参与者 #3",
        "退款迟迟未到账",
    ] {
        assert!(
            letter.contains(needle),
            "{needle:?} not in the letter:\n{letter}"
        );
    }
    // Its sections are bookmarks (the only introspection kept from typesetting).
    let outline = pdf_outline(&files["letter.pdf"]);
    for section in [
        "一、问题概述",
        "二、联合声明",
        "三、诉求",
        "四、汇总数据",
        "核验",
    ] {
        assert!(
            outline.iter().any(|t| t.starts_with(section)),
            "{section:?} not among the bookmarks {outline:?}"
        );
    }
    assert_eq!(
        files["letter.pdf"],
        download(&app, token, &f.slug, 1, "letter.pdf").await
    );

    // The roster: BOM, Chinese intact, the anonymous participant by number only.
    let roster = String::from_utf8(files["roster.csv"].clone()).expect("UTF-8");
    assert!(roster.starts_with('\u{feff}'));
    assert!(
        roster.contains("王芳") && roster.contains("参与者 #3"),
        "{roster}"
    );
    assert!(!files.contains_key("regulator_export.csv"));

    // The anonymous participant appears nowhere, under any name; and the provider tier carries
    // no contact details of anyone.
    let everything = everything_readable(&files);
    for secret in [ANON_NAME, ANON_EMAIL, "ANON-REF-7731", "zhao-screenshot"] {
        assert!(
            !everything.contains(secret),
            "{secret:?} found in the bundle"
        );
    }
    assert!(
        !everything.contains("@example.com"),
        "an email address is in the provider tier"
    );

    // Listed for its team; every compile is audited.
    let list = json_body(
        app.get(&format!("/groups/{}/dossiers", f.slug), token)
            .await,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["status"], "ready");
    let audit = json_body(app.get(&format!("/groups/{}/audit", f.slug), token).await).await;
    assert!(audit.to_string().contains("dossier.compile"), "{audit}");
}

async fn the_regulator_tier_carries_contacts_of_consenting_participants_only(backend: Backend) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let token = Some(f.owner.access_token.as_str());
    compile(&app, &f.owner, &f.slug, "regulator").await;
    let bundle = download(&app, token, &f.slug, 1, "bundle").await;
    let files = entries(&bundle);
    let export = String::from_utf8(files["regulator_export.csv"].clone()).expect("UTF-8");
    assert!(export.starts_with('\u{feff}'));
    assert!(export.contains("wang.fang@example.com"), "{export}");
    assert!(
        export.contains("快付钱包"),
        "the respondent is named: {export}"
    );
    assert!(
        export.contains("我在三月申请退款"),
        "the facts are there: {export}"
    );
    assert!(
        export.contains("T2026030200001"),
        "transaction refs: {export}"
    );
    let everything = everything_readable(&files);
    // 李雷 shares a name but did not agree to be contacted; the anonymous one shares nothing.
    assert!(everything.contains("李雷"));
    assert!(
        !everything.contains("li.lei@example.com"),
        "contact without consent"
    );
    for secret in [ANON_NAME, ANON_EMAIL, "ANON-REF-7731"] {
        assert!(
            !everything.contains(secret),
            "{secret:?} found in the regulator tier"
        );
    }
    assert_eq!(
        download(&app, token, &f.slug, 1, "regulator_export.csv").await,
        files["regulator_export.csv"]
    );
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&bundle, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");
}

on_both_databases!(
    a_provider_dossier_is_signed_verifiable_independently_and_hides_the_anonymous,
    the_regulator_tier_carries_contacts_of_consenting_participants_only,
);

#[tokio::test]
async fn the_public_tier_is_for_anyone_and_holds_nothing_personal() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "public").await;
    // No login needed for the public version.
    let bundle = download(&app, None, &f.slug, 1, "bundle").await;
    let files = entries(&bundle);
    assert!(
        !files.keys().any(|k| k.starts_with("evidence/")),
        "{:?}",
        files.keys()
    );
    let everything = everything_readable(&files);
    for personal in [
        "王芳",
        "李雷",
        ANON_NAME,
        "@example.com",
        "T2026030200001",
        "陈发起",
    ] {
        assert!(
            !everything.contains(personal),
            "{personal:?} in the public tier"
        );
    }
    assert!(everything.contains("参与者 #1"));
    let list = json_body(app.get(&format!("/groups/{}/dossiers", f.slug), None).await).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

#[tokio::test]
async fn strangers_and_participants_get_404_on_organiser_only_parts() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    compile(&app, &f.owner, &f.slug, "regulator").await;
    let stranger = app.verified_user("stranger@example.com", "路人").await;
    for (who, token) in [
        ("stranger", Some(stranger.access_token.as_str())),
        ("participant", Some(f.wang.access_token.as_str())),
        ("anonymous participant", Some(f.zhao.access_token.as_str())),
        ("anonymous", None),
    ] {
        for part in [
            "",
            "/bundle",
            "/letter.pdf",
            "/roster.csv",
            "/regulator_export.csv",
            "/manifest.json",
            "/manifest.jws",
        ] {
            let res = app
                .get(&format!("/groups/{}/dossiers/1{part}", f.slug), token)
                .await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{who} {part}");
        }
        let list = json_body(
            app.get(&format!("/groups/{}/dossiers", f.slug), token)
                .await,
        )
        .await;
        assert_eq!(list, json!([]), "{who} sees no organiser-only version");
        let res = app
            .post(
                &format!("/groups/{}/dossiers", f.slug),
                token,
                json!({"tier": "provider"}),
            )
            .await;
        assert!(
            matches!(
                res.status(),
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
            ),
            "{who} may not compile: {}",
            res.status()
        );
    }
}

#[tokio::test]
async fn only_one_build_per_group_runs_at_a_time_and_versions_never_skip() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let path = format!("/groups/{}/dossiers", f.slug);
    let (a, b) = tokio::join!(
        app.post(
            &path,
            Some(&f.owner.access_token),
            json!({"tier": "provider"})
        ),
        app.post(&path, Some(&f.owner.access_token), json!({"tier": "court"})),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let conflict = if a.status() == StatusCode::CONFLICT {
        a
    } else {
        b
    };
    expect_problem(conflict, StatusCode::CONFLICT, "dossier_building").await;

    let second = compile(&app, &f.owner, &f.slug, "court").await;
    assert_eq!(second["version"], 2);
    let list = json_body(app.get(&path, Some(&f.owner.access_token)).await).await;
    let versions: Vec<i64> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(versions, vec![2, 1]);
}

#[tokio::test]
async fn large_groups_build_in_the_background_and_a_failed_build_keeps_its_number() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.dossier_inline_max = 0).await;
    let f = fixture(&app).await;
    let path = format!("/groups/{}/dossiers", f.slug);
    let res = app
        .post(
            &path,
            Some(&f.owner.access_token),
            json!({"tier": "provider"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(res.headers().contains_key("location"));
    let body = json_body(res).await;
    assert_eq!(body["status"], "building");
    let built = wait_built(&app, &f.owner, &f.slug, 1).await;
    assert_eq!(built["status"], "ready", "{built}");
    let bundle = download(&app, Some(&f.owner.access_token), &f.slug, 1, "bundle").await;
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = python_verify(&bundle, &save_jwks(&app, dir.path()).await);
    assert!(ok, "{out}");

    // Take away the content of one evidence file: the next build fails and says why, keeps
    // version 2, and the one after is version 3.
    let blobs = app.data_dir.path().join("blobs");
    let victim = walk(&blobs)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n.len() == 64))
        .expect("a stored blob");
    std::fs::remove_file(&victim).expect("remove blob");
    let res = app
        .post(
            &path,
            Some(&f.owner.access_token),
            json!({"tier": "provider"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let failed = wait_built(&app, &f.owner, &f.slug, 2).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("evidence/")),
        "{failed}"
    );
    let res = app
        .get(&format!("{path}/2/bundle"), Some(&f.owner.access_token))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "dossier_not_ready").await;
    // The failed build released what it pinned; the issued version 1 still holds its items.
    let held: i64 = app.count_rows("dossier_evidence").await;
    assert_eq!(held, 3);
    let res = app
        .post(
            &path,
            Some(&f.owner.access_token),
            json!({"tier": "public"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(json_body(res).await["version"], 3);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn compiling_without_a_cjk_font_answers_a_clear_problem() {
    let fonts = tempfile::tempdir().expect("an empty font directory");
    let dir = fonts.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| s.pdf_font = Some(dir)).await;
    let owner = app.verified_user("organiser@example.com", "组织者").await;
    let group = app.create_group(&owner, json!({})).await;
    let res = app
        .post(
            &format!("/groups/{}/dossiers", group["slug"].as_str().expect("slug")),
            Some(&owner.access_token),
            json!({"tier": "provider"}),
        )
        .await;
    expect_problem(res, StatusCode::SERVICE_UNAVAILABLE, "pdf_font_missing").await;
    assert_eq!(app.count_rows("dossiers").await, 0);
}

async fn withdrawal_between_versions_and_key_rotation_keep_issued_versions_verifiable(
    backend: Backend,
) {
    let app = TestApp::on(backend).await;
    let f = fixture(&app).await;
    let token = Some(f.owner.access_token.as_str());
    compile(&app, &f.owner, &f.slug, "provider").await;
    let v1 = download(&app, token, &f.slug, 1, "bundle").await;

    // 李雷 (#2) withdraws; version 2 no longer has them, version 1 is unchanged.
    let res = app
        .delete(
            &format!("/groups/{}/participation", f.slug),
            Some(&f.li.access_token),
        )
        .await;
    assert!(res.status().is_success(), "withdraw: {}", res.status());
    // 王芳 deletes one of the items v1 holds: it is kept (withdrawn) and its content stays.
    let mine = json_body(
        app.get(
            &format!("/groups/{}/participation/evidence", f.slug),
            Some(&f.wang.access_token),
        )
        .await,
    )
    .await;
    let item = &mine[0];
    let res = app
        .delete(
            &format!("/evidence/{}", item["id"]),
            Some(&f.wang.access_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let sha = item["sha256"].as_str().expect("sha256");
    let blob = app
        .data_dir
        .path()
        .join("blobs")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(sha);
    assert!(blob.exists(), "the content an issued dossier holds is kept");
    compile(&app, &f.owner, &f.slug, "provider").await;
    let v2 = download(&app, token, &f.slug, 2, "bundle").await;
    let m2 = manifest_of(&entries(&v2));
    assert_eq!(
        m2["participants"][0]["evidence"].as_array().map(Vec::len),
        Some(1),
        "the deleted item is not in later versions: {m2}"
    );
    let numbers: Vec<i64> = m2["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p["number"].as_i64().expect("number"))
        .collect();
    assert_eq!(numbers, vec![1, 3], "#2 withdrew; numbers stay stable");
    assert!(!everything_readable(&entries(&v2)).contains("李雷"));
    assert_eq!(
        download(&app, token, &f.slug, 1, "bundle").await,
        v1,
        "v1 never changes"
    );
    let kid_before = json_body(
        app.client
            .get(format!("{}/.well-known/jwks.json", app.address))
            .send()
            .await
            .expect("jwks"),
    )
    .await["keys"][0]["kid"]
        .clone();

    // Rotate the signing key with the command an operator uses.
    let out = lianming_cli(app.data_dir.path())
        .args(["keys", "rotate"])
        .output()
        .expect("keys rotate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    compile(&app, &f.owner, &f.slug, "provider").await;
    let v3 = download(&app, token, &f.slug, 3, "bundle").await;

    let dir = tempfile::tempdir().expect("dir");
    let jwks_path = save_jwks(&app, dir.path()).await;
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(&jwks_path).expect("jwks")).expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2, "current and retired: {jwks}");
    assert_ne!(keys[0]["kid"], kid_before, "the new key is current");
    assert_eq!(keys[1]["kid"], kid_before, "the old key stays published");
    for k in keys {
        assert_eq!(
            (
                k["kty"].as_str(),
                k["crv"].as_str(),
                k["alg"].as_str(),
                k["use"].as_str()
            ),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"), Some("sig"))
        );
    }
    let v3_jws = String::from_utf8(entries(&v3)["manifest.jws"].clone()).expect("ascii");
    let v1_jws = String::from_utf8(entries(&v1)["manifest.jws"].clone()).expect("ascii");
    assert_ne!(jws_kid(&v3_jws), jws_kid(&v1_jws));

    for (name, bundle) in [("v1", &v1), ("v2", &v2), ("v3", &v3)] {
        let (ok, out) = python_verify(bundle, &jwks_path);
        assert!(ok, "{name} fails jwcrypto after rotation:\n{out}");
        // And with `lianming verify`, against the keyring in the data directory.
        let path = dir.path().join(format!("{name}.zip"));
        std::fs::write(&path, bundle).expect("write");
        let out = lianming_cli(app.data_dir.path())
            .arg("verify")
            .arg(&path)
            .output()
            .expect("lianming verify");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.starts_with("VALID"),
            "{name}: {text}"
        );
        // Against the JWKS as a file and as the server publishes it.
        let url = format!("{}/.well-known/jwks.json", app.address);
        for source in [jwks_path.to_string_lossy().into_owned(), url] {
            let out = lianming_cli(app.data_dir.path())
                .arg("verify")
                .arg(&path)
                .arg("--jwks")
                .arg(&source)
                .output()
                .expect("lianming verify --jwks");
            assert!(
                out.status.success(),
                "{name} with {source}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // A tampered bundle fails with exit status 1 and names the file.
    let mut altered = entries(&v1);
    let roster = altered.get_mut("roster.csv").expect("roster");
    roster[5] ^= 0x01;
    let path = dir.path().join("tampered.zip");
    std::fs::write(&path, crate::helpers::dossier::rezip(&altered)).expect("write");
    let out = lianming_cli(app.data_dir.path())
        .arg("verify")
        .arg(&path)
        .output()
        .expect("lianming verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("INVALID") && text.contains("roster.csv: hash_mismatch"),
        "{text}"
    );
}

fn jws_kid(compact: &str) -> String {
    use base64::Engine as _;
    let header = compact.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    v["kid"].as_str().expect("kid").to_owned()
}

on_both_databases!(withdrawal_between_versions_and_key_rotation_keep_issued_versions_verifiable);
