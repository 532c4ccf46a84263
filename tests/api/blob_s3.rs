//! The S3-compatible blob store against a real S3 server on loopback (`moto_server`, from
//! PyPI's `moto[server]`): a 20 MiB streamed upload and download with matching hashes, nothing
//! left of an upload over the limit, and a dossier built on one instance from evidence uploaded
//! through another with a data directory of its own, which then serves the bundle from the store.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use lianming::blob::s3::S3Store;
use lianming::blob::{BlobStore, StageError};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::helpers::dossier::{download, entries};
use crate::helpers::instance::Instance;

/// A `moto_server` on a free loopback port with one bucket, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    async fn start(bucket: &str) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]') runs");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = client
                .put(format!("{}/{bucket}", moto.endpoint))
                .send()
                .await
                && res.status().is_success()
            {
                return moto;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The blob URL of `bucket/prefix` on this server.
    fn url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={}&region=us-east-1&allow_http=true\
             &access_key_id=test&secret_access_key=test",
            self.endpoint
        )
    }
}

/// Deterministic bytes that do not repeat in any short period.
fn content(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn chunks(bytes: &[u8]) -> Vec<std::io::Result<actix_web::web::Bytes>> {
    bytes
        .chunks(64 * 1024)
        .map(|c| Ok(actix_web::web::Bytes::copy_from_slice(c)))
        .collect()
}

#[tokio::test]
async fn twenty_mib_stream_up_and_down_with_matching_hashes() {
    let moto = Moto::start("lianming").await;
    let store = S3Store::from_url(&moto.url("lianming", "one")).expect("store");
    let bytes = content(20 * 1024 * 1024);
    let expected = hex::encode(Sha256::digest(&bytes));

    let mut upload = std::pin::pin!(futures_util::stream::iter(chunks(&bytes)));
    let staged = store
        .stage(upload.as_mut(), 20 * 1024 * 1024)
        .await
        .expect("stage");
    assert_eq!(staged.sha256, expected);
    assert_eq!(staged.size, bytes.len() as u64);
    assert!(
        !store.exists(&expected).await.expect("head"),
        "staged is not yet addressable"
    );
    store.commit(&staged).await.expect("commit");
    assert!(store.exists(&expected).await.expect("head"));
    // Committing the same content again keeps one copy.
    let mut again = std::pin::pin!(futures_util::stream::iter(chunks(&bytes)));
    let second = store
        .put(again.as_mut(), 20 * 1024 * 1024)
        .await
        .expect("put");
    assert_eq!(second.sha256, expected);

    let mut down = store.get(&expected).await.expect("get");
    let (mut hasher, mut len) = (Sha256::new(), 0usize);
    while let Some(chunk) = down.next().await {
        let chunk = chunk.expect("chunk");
        len += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(len, bytes.len());
    assert_eq!(hex::encode(hasher.finalize()), expected);

    // Nothing of the uploads stays staged.
    let swept = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.sweep(Duration::ZERO)
    })
    .await
    .expect("join")
    .expect("sweep");
    assert_eq!(swept, 0, "staged copies were removed on commit");

    // Over the limit: refused, and nothing is left in the bucket.
    let mut big = std::pin::pin!(futures_util::stream::iter(chunks(
        &bytes[..3 * 1024 * 1024]
    )));
    let refused = store.stage(big.as_mut(), 1024 * 1024).await;
    assert!(
        matches!(refused, Err(StageError::TooLarge { .. })),
        "{refused:?}"
    );
    let swept = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.sweep(Duration::ZERO)
    })
    .await
    .expect("join")
    .expect("sweep");
    assert_eq!(swept, 0, "an aborted upload leaves no object");

    store.delete(&expected).await.expect("delete");
    assert!(!store.exists(&expected).await.expect("head"));
    store
        .delete(&expected)
        .await
        .expect("deleting a missing blob is fine");
    let missing = store.get(&expected).await.err().expect("gone");
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_built_on_one_instance_holds_evidence_uploaded_through_another() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("TEST_DATABASE_URL unset: two instances on one database not tested");
        return;
    };
    let moto = Moto::start("lianming").await;
    let blob_url = moto.url("lianming", "evidence");
    let url = blob_url.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        s.blob_url = Some(SecretString::from(url));
    })
    .await;
    // B has a data directory of its own: only the database, the bucket and the secrets are
    // shared (the token key copied, as a scaled set shares it).
    let b_dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(b_dir.path().join("secrets")).expect("secrets dir");
    std::fs::copy(
        app.data_dir.path().join("secrets/jwt.key"),
        b_dir.path().join("secrets/jwt.key"),
    )
    .expect("share the token key");
    let b = Instance::start(&app, b_dir.path(), &[("LIANMING_BLOB_URL", &blob_url)]);

    let owner = app.verified_user("organiser@example.com", "陈发起").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let wang = app.verified_user("wang.fang@example.com", "王芳").await;
    let res = b
        .post(
            &app,
            &format!("/groups/{slug}/participation"),
            &wang.access_token,
            TestApp::join_body("王芳", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let evidence = {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        v.extend(content(300 * 1024));
        v
    };
    let form = Form::new()
        .text("kind", "screenshot")
        .text("description", "转账截图")
        .part(
            "file",
            Part::bytes(evidence.clone())
                .file_name("转账截图.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    let res = app
        .client
        .post(format!(
            "{}/api/v1/groups/{slug}/participation/evidence",
            b.url
        ))
        .bearer_auth(&wang.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload through B");
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap_or_default()
    );

    // A builds the dossier: it reads the evidence from the bucket.
    let res = app
        .post(
            &format!("/groups/{slug}/dossiers"),
            Some(&owner.access_token),
            json!({"tier": "provider"}),
        )
        .await;
    let status = res.status();
    let view = json_body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["status"], "ready", "{view}");
    let bundle = download(&app, Some(&owner.access_token), &slug, 1, "bundle").await;
    let files = entries(&bundle);
    let inside: Vec<&Vec<u8>> = files
        .iter()
        .filter(|(name, _)| name.starts_with("evidence/"))
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(
        inside,
        vec![&evidence],
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    // B, which did not build it and shares no directory with A, serves the same bundle from
    // the object store.
    let from_b = app
        .client
        .get(format!("{}/api/v1/groups/{slug}/dossiers/1/bundle", b.url))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .expect("download from B");
    assert_eq!(from_b.status(), StatusCode::OK);
    assert_eq!(from_b.bytes().await.expect("bundle").to_vec(), bundle);
    assert!(
        !b_dir.path().join("dossiers").exists(),
        "B holds no dossier files"
    );
    // Neither instance kept the evidence on its own disk.
    for dir in [app.data_dir.path(), b_dir.path()] {
        let local = dir.join("blobs");
        let kept = std::fs::read_dir(&local).map(|d| d.count()).unwrap_or(0);
        assert_eq!(kept, 0, "{} holds blobs", local.display());
    }
}
