//! Builders for the dossier tests: a group with named, partly contactable and anonymous
//! participants with evidence; compiling and downloading; taking bundles apart and putting them
//! back together; the independent Python verifier; `pdftotext`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::app::{TestApp, TestUser, json_body};

/// The anonymous participant's typed and display name: it must appear nowhere in a bundle.
pub const ANON_NAME: &str = "赵秘密";
/// Their email address: it must appear nowhere either.
pub const ANON_EMAIL: &str = "zhao.secret@example.com";

/// A group with three participants: #1 王芳 (name and contact shared, two evidence files, one
/// logged call), #2 李雷 (name shared, no contact), #3 anonymous (evidence).
pub struct Fixture {
    pub owner: TestUser,
    pub slug: String,
    pub wang: TestUser,
    pub li: TestUser,
    pub zhao: TestUser,
}

/// A PNG header followed by `seed`-dependent bytes.
pub fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed)));
    v
}

/// Uploads one evidence file.
pub async fn upload(
    app: &TestApp,
    user: &TestUser,
    slug: &str,
    bytes: Vec<u8>,
    name: &str,
    mime: &str,
) {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("mime");
    let form = Form::new()
        .text("kind", "screenshot")
        .text("description", "客服聊天记录")
        .part("file", part);
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .bearer_auth(&user.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

async fn join(
    app: &TestApp,
    slug: &str,
    user: &TestUser,
    name: &str,
    identity: bool,
    contact: bool,
    amount: i64,
) {
    let mut body = TestApp::join_body(name, 1);
    body["consent_share_identity"] = json!(identity);
    body["consent_contact"] = json!(contact);
    body["amount_disputed"] = json!({"amount_minor": amount, "currency": "CNY"});
    if !identity {
        body["statement"] = json!("我也遇到了同样的问题，退款一直没有到账。");
        body["transaction_refs"] = json!(["ANON-REF-7731"]);
    }
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&user.access_token),
            body,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// The standard group of the dossier tests.
pub async fn fixture(app: &TestApp) -> Fixture {
    let owner = app.verified_user("organiser@example.com", "陈发起").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let wang = app.verified_user("wang.fang@example.com", "王芳").await;
    let li = app.verified_user("li.lei@example.com", "李雷").await;
    let zhao = app.verified_user(ANON_EMAIL, ANON_NAME).await;
    join(app, &slug, &wang, "王芳", true, true, 12800).await;
    join(app, &slug, &li, "李雷", true, false, 5000).await;
    join(app, &slug, &zhao, ANON_NAME, false, true, 30000).await;
    upload(app, &wang, &slug, png(1, 3000), "转账截图.png", "image/png").await;
    upload(
        app,
        &wang,
        &slug,
        "客服说七个工作日内退款，但没有。\n".as_bytes().to_vec(),
        "聊天.txt",
        "text/plain",
    )
    .await;
    upload(
        app,
        &zhao,
        &slug,
        png(2, 2000),
        "zhao-screenshot.png",
        "image/png",
    )
    .await;
    let res = app
        .post(
            &format!("/groups/{slug}/participation/interactions"),
            Some(&wang.access_token),
            json!({"occurred_at": "2026-03-05T02:00:00Z", "channel": "hotline", "agent": "工号 1024",
                   "ticket_ref": "CS-88", "summary": "答复正在处理", "outcome": "promised"}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap_or_default()
    );
    Fixture {
        owner,
        slug,
        wang,
        li,
        zhao,
    }
}

/// Compiles a dossier of `tier` and expects it built in the request.
pub async fn compile(app: &TestApp, owner: &TestUser, slug: &str, tier: &str) -> Value {
    let res = app
        .post(
            &format!("/groups/{slug}/dossiers"),
            Some(&owner.access_token),
            json!({"tier": tier}),
        )
        .await;
    let status = res.status();
    let body = json_body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    body
}

/// Waits until the version leaves `building`; returns its view.
pub async fn wait_built(app: &TestApp, owner: &TestUser, slug: &str, version: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let res = app
            .get(
                &format!("/groups/{slug}/dossiers/{version}"),
                Some(&owner.access_token),
            )
            .await;
        let body = json_body(res).await;
        if body["status"] != "building" {
            return body;
        }
        assert!(Instant::now() < deadline, "still building: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Downloads a part (`bundle`, `letter.pdf`, …), expecting 200.
pub async fn download(
    app: &TestApp,
    token: Option<&str>,
    slug: &str,
    version: i64,
    part: &str,
) -> Vec<u8> {
    let res = app
        .get(&format!("/groups/{slug}/dossiers/{version}/{part}"), token)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{part}");
    res.bytes().await.expect("bytes").to_vec()
}

/// Saves the server's JWKS into `dir`; returns its path.
pub async fn save_jwks(app: &TestApp, dir: &Path) -> PathBuf {
    let res = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .expect("jwks");
    assert_eq!(res.status(), StatusCode::OK);
    let path = dir.join("jwks.json");
    std::fs::write(&path, res.bytes().await.expect("body")).expect("write jwks");
    path
}

/// The `lianming` binary on the data directory `data_dir`, with a clean environment (for
/// `lianming verify` and `keys rotate`).
pub fn lianming_cli(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lianming"));
    cmd.current_dir(data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LIANMING_DATA_DIR", data_dir)
        .env("LIANMING_LOG", "error")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs tests/support/verify_bundle.py (jwcrypto); returns (passed, its output).
pub fn python_verify(bundle: &[u8], jwks: &Path) -> (bool, String) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, bundle).expect("write bundle");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/verify_bundle.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg(jwks)
        .output()
        .expect("python3 runs (jwcrypto installed by .ci/run)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("ModuleNotFoundError"),
        "jwcrypto is missing: {text}"
    );
    (out.status.success(), text)
}

/// The files of a zip, by path.
pub fn entries(bundle: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).expect("a zip");
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).expect("read entry");
        out.insert(f.name().expect("UTF-8 name").into_owned(), bytes);
    }
    out
}

/// A zip of these files.
pub fn rezip(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// The text of a PDF, by `pdftotext`.
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils installed by .ci/run)");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// The titles of a PDF's bookmarks (its outline), in order, as poppler's `pdftohtml -xml`
/// reads them.
pub fn pdf_outline(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdftohtml")
        .args(["-xml", "-stdout", "-i", "-q"])
        .arg(&path)
        .output()
        .expect("pdftohtml runs (poppler-utils installed by .ci/run)");
    assert!(out.status.success(), "pdftohtml failed");
    let xml = String::from_utf8_lossy(&out.stdout);
    let Some((_, outline)) = xml.split_once("<outline>") else {
        return Vec::new();
    };
    outline
        .split("<item")
        .skip(1)
        .filter_map(|item| {
            let (_, rest) = item.split_once('>')?;
            let (title, _) = rest.split_once("</item>")?;
            Some(title.trim().to_owned())
        })
        .collect()
}

/// Every file of a bundle as text (lossy), plus the letter's extracted text: what a reader
/// could find in it.
pub fn everything_readable(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut all = String::new();
    for (name, bytes) in files {
        all.push_str(name);
        all.push('\n');
        all.push_str(&String::from_utf8_lossy(bytes));
        all.push('\n');
    }
    if let Some(pdf) = files.get("letter.pdf") {
        all.push_str(&pdf_text(pdf));
    }
    all
}

/// Verifies a bundle through `POST /api/v1/dossiers/verify`; returns the report.
pub async fn api_verify(app: &TestApp, bundle: Vec<u8>) -> Value {
    let form = Form::new().part(
        "bundle",
        Part::bytes(bundle)
            .file_name("bundle.zip")
            .mime_str("application/zip")
            .expect("mime"),
    );
    let res = app
        .client
        .post(app.api("/dossiers/verify"))
        .multipart(form)
        .send()
        .await
        .expect("verify");
    assert_eq!(res.status(), StatusCode::OK);
    json_body(res).await
}
