//! Building one dossier version: read and pin what goes in ([`assembly`](super::assembly)),
//! write `statement.txt`, the CSVs and `manifest.json`, obtain its trusted timestamp
//! `manifest.tsr` when a TSA is configured ([`timestamp`](super::timestamp)), typeset
//! `letter.pdf` (it prints the manifest's hash and the timestamp's time), sign `manifest.jws`, and zip everything with the evidence streamed from
//! the blob store. The CPU-bound work (typesetting, zipping, hashing) runs on blocking threads.
//! Parts are written to a temporary directory renamed into place at the end, so an issued
//! version's files are written once and never changed. On failure the row is marked `failed`
//! with the reason, and the evidence it pinned is released.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web::Bytes;
use anyhow::Context as _;
use chrono::{Datelike as _, Timelike as _};
use futures_util::StreamExt as _;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::assembly::{self, Assembly};
use super::manifest::{
    FORMAT, FileEntry, GroupRef, LETTER_NOTE, Manifest, ParticipantEntry, StatementRef,
};
use super::{Part, csv, jws, letter, receipt, timestamp, version_dir};
use crate::entities::dossiers;
use crate::entities::enums::DossierStatus;
use crate::jobs::Job;
use crate::state::AppState;

/// The hashes of a finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
    /// SHA-256 of the zip.
    pub bundle_sha256: String,
    /// Bytes of the zip.
    pub bundle_size: u64,
    /// Participants included.
    pub participants: usize,
    /// The root of the tree over their signature records (hex).
    pub merkle_root: String,
    /// Each participant's receipt: (participation, its leaf index, the JSON document).
    pub receipts: Vec<(i64, i64, String)>,
    /// The TSA's time of `manifest.json`, when a TSA is configured.
    pub timestamped_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Builds the dossier `dossier_id` (status `building`) and records the outcome on its row:
/// `ready` with its hashes, or `failed` with the reason. Returns the updated row.
///
/// # Errors
/// When the row cannot be read or written, and when the TSA gave no timestamp (the row stays
/// `building` and the job tries again); any other failed build is an `Ok` failed row.
pub async fn run(state: &AppState, dossier_id: i64) -> anyhow::Result<dossiers::Model> {
    let row = dossiers::Entity::find_by_id(dossier_id)
        .one(&state.db)
        .await?
        .context("the dossier row is gone")?;
    let result = build(state, &row).await;
    let mut active: dossiers::ActiveModel = row.clone().into();
    match result {
        Ok(built) => {
            tracing::info!(
                group_id = row.group_id,
                version = row.version,
                participants = built.participants,
                bytes = built.bundle_size,
                "dossier built"
            );
            active.status = Set(DossierStatus::Ready);
            active.manifest_sha256 = Set(Some(built.manifest_sha256));
            active.bundle_sha256 = Set(Some(built.bundle_sha256));
            active.bundle_size = Set(Some(i64::try_from(built.bundle_size).unwrap_or(i64::MAX)));
            active.merkle_root = Set(Some(built.merkle_root));
            active.ready_at = Set(Some(state.now()));
            active.timestamped_at = Set(built.timestamped_at);
            // The receipts and the ready row commit together: a ready version has them all.
            let txn = crate::db::write_txn(&state.db).await?;
            super::receipts::store(&txn, row.id, built.receipts).await?;
            let updated = active.update(&txn).await?;
            txn.commit().await?;
            // The version is issued: a failure to queue the notices must not fail the build
            // (its job would find the row ready and never queue them either).
            if let Err(e) = super::receipts::queue_notices(state, row.id).await {
                tracing::error!(error = ?e, dossier_id = row.id, "queueing the receipts' notices");
            }
            return Ok(updated);
        }
        Err(e) if timestamp::is_retryable(&e) => {
            tracing::warn!(error = %format!("{e:#}"), group_id = row.group_id, version = row.version, "dossier build waits for the TSA");
            return Err(e);
        }
        Err(e) => {
            tracing::error!(error = ?e, group_id = row.group_id, version = row.version, "dossier build failed");
            if let Err(e) = assembly::unpin_evidence(&state.db, state.blobs.as_ref(), row.id).await
            {
                tracing::error!(error = ?e, "releasing the evidence of a failed dossier");
            }
            let reason: String = format!("{e:#}").chars().take(500).collect();
            active.status = Set(DossierStatus::Failed);
            active.failure_reason = Set(Some(reason));
        }
    }
    Ok(active.update(&state.db).await?)
}

/// The job that builds one dossier version: inside the compile request for small groups, by a
/// job runner for larger ones, and again on another instance when the one building it died.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BuildDossier {
    /// The `dossiers` row, in `building`.
    pub dossier_id: i64,
}

impl Job for BuildDossier {
    const KIND: &'static str = "dossier.build";

    fn dedupe_key(&self) -> String {
        format!("dossier.build:{}", self.dossier_id)
    }

    async fn run(self, state: Arc<AppState>, attempt: i32) -> anyhow::Result<()> {
        let Some(row) = dossiers::Entity::find_by_id(self.dossier_id)
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        if row.status != DossierStatus::Building {
            return Ok(());
        }
        if attempt > 1 {
            discard_partial(&state, &row).await?;
        }
        run(&state, row.id).await.map(|_| ())
    }

    async fn gave_up(self, state: Arc<AppState>, reason: String) -> anyhow::Result<()> {
        let Some(row) = dossiers::Entity::find_by_id(self.dossier_id)
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        if row.status != DossierStatus::Building {
            return Ok(());
        }
        assembly::unpin_evidence(&state.db, state.blobs.as_ref(), row.id).await?;
        let mut active: dossiers::ActiveModel = row.into();
        active.status = Set(DossierStatus::Failed);
        active.failure_reason = Set(Some(reason.chars().take(500).collect()));
        active.update(&state.db).await?;
        Ok(())
    }
}

/// Undoes what an interrupted attempt left: the evidence it pinned, and its published parts
/// when it died between publishing them and recording the row (the row is not `ready`, so
/// nothing was issued from them).
async fn discard_partial(state: &AppState, row: &dossiers::Model) -> anyhow::Result<()> {
    assembly::unpin_evidence(&state.db, state.blobs.as_ref(), row.id).await?;
    let dir = version_dir(&state.ctx.settings.data_dir, row.group_id, row.version);
    blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::Error::from(e).context(format!("removing {}", dir.display())))
        }
        _ => Ok(()),
    })
    .await
}

async fn build(state: &AppState, row: &dossiers::Model) -> anyhow::Result<Built> {
    let mut a = assembly::gather(&state.db, row, &state.ctx.public_url).await?;
    assembly::pin_evidence(&state.db, &mut a).await?;
    let final_dir = version_dir(&state.ctx.settings.data_dir, row.group_id, row.version);
    let parent = final_dir
        .parent()
        .context("the dossier directory has no parent")?
        .to_path_buf();
    let tmp = parent.join(format!(".{}-{}.tmp", row.version, uuid::Uuid::new_v4()));
    let mut result = build_in(state, Arc::new(a), &tmp, &final_dir).await;
    if let (Ok(_), Some(store)) = (&result, &state.parts)
        && let Err(e) = upload_parts(store, row.group_id, row.version, &final_dir).await
    {
        result = Err(e);
    }
    if result.is_err() {
        let tmp = tmp.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(tmp)).await;
    }
    result
}

fn sha_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<FileEntry> {
    let path = dir.join(name);
    crate::private_fs::write(&path, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(FileEntry {
        path: name.to_owned(),
        sha256: sha_of(bytes),
        size: bytes.len() as u64,
    })
}

/// What [`write_parts`] wrote.
struct Written {
    manifest_sha256: String,
    names: Vec<&'static str>,
    merkle_root: String,
    receipts: Vec<(i64, i64, String)>,
}

/// Writes `statement.txt`, the CSVs and `manifest.json` (listing each evidence file's token of
/// `tokens`, by content hash, after the file, and the Merkle tree over the signature records),
/// and makes each participant's receipt.
fn write_parts(
    dir: &Path,
    a: &Assembly,
    tokens: &HashMap<String, Vec<u8>>,
) -> anyhow::Result<Written> {
    crate::private_fs::create_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut names = vec!["statement.txt", Part::Roster.file_name()];
    let mut files = vec![
        write_file(dir, "statement.txt", a.statement.joint_statement.as_bytes())?,
        write_file(dir, Part::Roster.file_name(), csv::roster(a).as_bytes())?,
    ];
    if a.tier.has_regulator_export() {
        names.push(Part::RegulatorExport.file_name());
        files.push(write_file(
            dir,
            Part::RegulatorExport.file_name(),
            csv::regulator_export(a).as_bytes(),
        )?);
    }
    for e in a.participants.iter().flat_map(|p| p.evidence.iter()) {
        files.push(FileEntry {
            path: e.path.clone(),
            sha256: e.sha256.clone(),
            size: e.size,
        });
        if let Some(token) = tokens.get(&e.sha256) {
            files.push(FileEntry {
                path: timestamp::evidence_token_path(&e.path),
                sha256: sha_of(token),
                size: token.len() as u64,
            });
        }
    }
    let tree = receipt::Tree::new(
        &a.group.slug,
        a.dossier.version,
        a.participants
            .iter()
            .map(|p| (p.number, p.signature.clone())),
    )?;
    let manifest = Manifest {
        format: FORMAT.into(),
        group: GroupRef {
            slug: a.group.slug.clone(),
            title: a.group.title.clone(),
            category: a.group.category.to_string(),
            provider: a.provider.clone(),
        },
        version: a.dossier.version,
        tier: a.tier.as_str().into(),
        created_at: a.dossier.created_at,
        author: a.author.clone().filter(|_| a.tier.shares_names()),
        statement: StatementRef {
            version: a.statement.version,
            sha256: a.statement.sha256.clone(),
        },
        letter: LETTER_NOTE.into(),
        files,
        participants: a
            .participants
            .iter()
            .zip(&tree.hashes)
            .map(|(p, leaf)| ParticipantEntry {
                number: p.number,
                name: p.name.clone(),
                signature: p.signature.clone(),
                evidence: p.evidence.iter().map(|e| e.path.clone()).collect(),
                leaf: hex::encode(leaf),
            })
            .collect(),
        merkle: tree.manifest_member(),
        verify_url: format!("{}/verify", a.public_url),
        jwks_url: format!("{}/.well-known/jwks.json", a.public_url),
    };
    let bytes = manifest.to_bytes()?;
    let entry = write_file(dir, Part::ManifestJson.file_name(), &bytes)?;
    let receipts = tree
        .receipts(
            &a.group.slug,
            a.dossier.version,
            a.tier.as_str(),
            &entry.sha256,
            &a.public_url,
        )
        .into_iter()
        .zip(&a.participants)
        .map(|(r, p)| {
            let index = i64::try_from(r.leaf_index).unwrap_or(i64::MAX);
            serde_json::to_string_pretty(&r).map(|body| (p.participation_id, index, body))
        })
        .collect::<Result<_, _>>()?;
    Ok(Written {
        manifest_sha256: entry.sha256,
        names,
        merkle_root: manifest.merkle.root,
        receipts,
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a build thread panicked")?
}

/// The one thread that runs every CPU-bound step of one build in turn (the manifest and CSVs,
/// the letter, the signature, the zip). On tokio's blocking pool each step could land on
/// another thread, and glibc keeps what a thread freed in that thread's arena: the memory the
/// manifest or the letter had used stayed resident while the next step took fresh memory on
/// another thread, so a build's peak was the sum of its steps rather than the largest. It
/// ends when the build drops it.
struct BuildThread {
    steps: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl BuildThread {
    fn start() -> anyhow::Result<Self> {
        let (steps, next) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("dossier-build".into())
            .spawn(move || {
                for step in next {
                    step();
                }
            })
            .context("starting the build thread")?;
        Ok(Self { steps })
    }

    /// Runs `f` on the build's thread and waits for it without blocking the runtime.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.steps
            .send(Box::new(move || {
                let _ = done.send(f());
            }))
            .map_err(|_| anyhow::anyhow!("the build thread stopped"))?;
        result.await.context("a build step panicked")?
    }
}

async fn build_in(
    state: &AppState,
    a: Arc<Assembly>,
    tmp: &Path,
    final_dir: &Path,
) -> anyhow::Result<Built> {
    let dir = tmp.to_path_buf();
    let tokens = Arc::new(timestamp::evidence_tokens(state, &a).await?);
    let thread = BuildThread::start()?;
    let parts = {
        let (a, dir, tokens) = (a.clone(), dir.clone(), tokens.clone());
        thread.run(move || write_parts(&dir, &a, &tokens)).await?
    };
    let Written {
        manifest_sha256,
        mut names,
        merkle_root,
        receipts,
    } = parts;
    let stamp = timestamp::stamp_manifest(state, &dir, &manifest_sha256).await?;
    let timestamp_line = timestamp::letter_line(stamp.as_ref());

    let fonts = state.pdf_fonts.clone();
    let letter_entry = {
        let (a, dir, sha, root) = (
            a.clone(),
            dir.clone(),
            manifest_sha256.clone(),
            merkle_root.clone(),
        );
        thread
            .run(move || {
                let mut data = letter::letter_data(&a, &sha, &root);
                data.timestamp = timestamp_line;
                let pdf = letter::render(&fonts, data)?;
                write_file(&dir, Part::Letter.file_name(), &pdf)
            })
            .await?
    };

    let keys = state.keys.clone();
    {
        let dir = dir.clone();
        thread
            .run(move || {
                let manifest = std::fs::read(dir.join(Part::ManifestJson.file_name()))?;
                let key = keys.current()?;
                let letter_ref = jws::FileRef {
                    path: letter_entry.path,
                    sha256: letter_entry.sha256,
                    size: letter_entry.size,
                };
                let compact = jws::sign(&key.key, &key.kid, &letter_ref, &manifest)?;
                write_file(&dir, Part::ManifestJws.file_name(), compact.as_bytes())?;
                Ok(())
            })
            .await?;
    }

    let mut order = vec![
        Part::ManifestJson.file_name(),
        Part::ManifestJws.file_name(),
    ];
    if stamp.is_some() {
        order.push(Part::ManifestTsr.file_name());
    }
    order.push(Part::Letter.file_name());
    order.append(&mut names);
    let (bundle_sha256, bundle_size) = zip_bundle(state, &thread, &a, &tokens, &dir, order).await?;

    let (from, to) = (dir, final_dir.to_path_buf());
    blocking(move || publish(&from, &to)).await?;
    Ok(Built {
        manifest_sha256,
        bundle_sha256,
        bundle_size,
        participants: a.participants.len(),
        merkle_root,
        receipts,
        timestamped_at: stamp.map(|s| s.gen_time),
    })
}

/// Copies a published version's parts to the object store, so that every instance can serve
/// them (`dossiers/<group>/<version>/<part>`).
async fn upload_parts(
    store: &crate::blob::s3::S3Store,
    group_id: i64,
    version: i32,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if !entry.file_type().await?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        store
            .put_file(&part_key(group_id, version, &name), &entry.path())
            .await
            .with_context(|| format!("copying {name} to the object store"))?;
    }
    Ok(())
}

/// Where a dossier part lives in the object store.
#[must_use]
pub fn part_key(group_id: i64, version: i32, name: &str) -> String {
    format!("dossiers/{group_id}/{version}/{name}")
}

/// Renames the finished directory into place; an existing version directory is never touched.
fn publish(from: &Path, to: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !to.exists(),
        "{} already exists; issued versions are never rewritten",
        to.display()
    );
    std::fs::rename(from, to).with_context(|| format!("moving the parts to {}", to.display()))?;
    if let Some(parent) = to.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

enum ZipMsg {
    Start {
        path: String,
        sha256: String,
        size: u64,
        compress: bool,
    },
    Chunk(Bytes),
    End,
}

/// Streams the evidence from the blob store to the zip writer thread.
async fn zip_bundle(
    state: &AppState,
    thread: &BuildThread,
    a: &Assembly,
    tokens: &HashMap<String, Vec<u8>>,
    dir: &Path,
    parts: Vec<&'static str>,
) -> anyhow::Result<(String, u64)> {
    let (tx, rx) = mpsc::channel::<ZipMsg>(16);
    let created = a.dossier.created_at;
    let mtime = zip::DateTime::from_date_and_time(
        u16::try_from(created.year()).unwrap_or(1980),
        u8::try_from(created.month()).unwrap_or(1),
        u8::try_from(created.day()).unwrap_or(1),
        u8::try_from(created.hour()).unwrap_or(0),
        u8::try_from(created.minute()).unwrap_or(0),
        u8::try_from(created.second()).unwrap_or(0),
    )
    .unwrap_or_default();
    let out_dir = dir.to_path_buf();
    let writer = thread.run(move || write_zip(&out_dir, &parts, rx, mtime));
    let feeding = async {
        let fed = feed(state, a, tokens, &tx).await;
        drop(tx);
        fed
    };
    let (written, fed) = tokio::join!(writer, feeding);
    // A feeding failure explains a writer failure, so report it first.
    fed?;
    written
}

async fn feed(
    state: &AppState,
    a: &Assembly,
    tokens: &HashMap<String, Vec<u8>>,
    tx: &mpsc::Sender<ZipMsg>,
) -> anyhow::Result<()> {
    let closed = || anyhow::anyhow!("the zip writer stopped");
    for e in a.participants.iter().flat_map(|p| p.evidence.iter()) {
        tx.send(ZipMsg::Start {
            path: e.path.clone(),
            sha256: e.sha256.clone(),
            size: e.size,
            compress: e.content_type.starts_with("text/"),
        })
        .await
        .map_err(|_| closed())?;
        let mut stream = state
            .blobs
            .get(&e.sha256)
            .await
            .with_context(|| format!("reading the content of {}", e.path))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading the content of {}", e.path))?;
            tx.send(ZipMsg::Chunk(chunk)).await.map_err(|_| closed())?;
        }
        tx.send(ZipMsg::End).await.map_err(|_| closed())?;
        if let Some(token) = tokens.get(&e.sha256) {
            for msg in [
                ZipMsg::Start {
                    path: timestamp::evidence_token_path(&e.path),
                    sha256: sha_of(token),
                    size: token.len() as u64,
                    compress: false,
                },
                ZipMsg::Chunk(Bytes::from(token.clone())),
                ZipMsg::End,
            ] {
                tx.send(msg).await.map_err(|_| closed())?;
            }
        }
    }
    Ok(())
}

struct Entry {
    path: String,
    sha256: String,
    size: u64,
    hasher: Sha256,
    written: u64,
}

fn write_zip(
    dir: &Path,
    parts: &[&str],
    mut rx: mpsc::Receiver<ZipMsg>,
    mtime: zip::DateTime,
) -> anyhow::Result<(String, u64)> {
    let path = dir.join(Part::Bundle.file_name());
    let file = crate::private_fs::file_options()
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let base = SimpleFileOptions::default()
        .last_modified_time(mtime)
        .unix_permissions(0o644);
    let deflated = base.compression_method(CompressionMethod::Deflated);
    let stored = base.compression_method(CompressionMethod::Stored);
    for name in parts {
        let options = if name.ends_with(".pdf") {
            stored
        } else {
            deflated
        };
        zip.start_file(*name, options)?;
        let mut part = std::fs::File::open(dir.join(name))?;
        std::io::copy(&mut part, &mut zip)?;
    }
    let mut current: Option<Entry> = None;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            ZipMsg::Start {
                path,
                sha256,
                size,
                compress,
            } => {
                anyhow::ensure!(current.is_none(), "a file started inside another");
                zip.start_file(path.as_str(), if compress { deflated } else { stored })?;
                current = Some(Entry {
                    path,
                    sha256,
                    size,
                    hasher: Sha256::new(),
                    written: 0,
                });
            }
            ZipMsg::Chunk(bytes) => {
                let e = current.as_mut().context("content outside a file")?;
                e.hasher.update(&bytes);
                e.written += bytes.len() as u64;
                zip.write_all(&bytes)?;
            }
            ZipMsg::End => {
                let e = current.take().context("the end of no file")?;
                let got = hex::encode(e.hasher.finalize());
                anyhow::ensure!(
                    got == e.sha256 && e.written == e.size,
                    "the stored content of {} does not match its SHA-256",
                    e.path
                );
            }
        }
    }
    anyhow::ensure!(current.is_none(), "the evidence stream stopped early");
    let buffered = zip.finish()?;
    let file = buffered
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing the bundle: {}", e.error()))?;
    file.sync_all()?;
    drop(file);
    hash_file(&path)
}

/// SHA-256 and size of a file, read in blocks.
///
/// # Errors
/// When it cannot be read.
pub fn hash_file(path: &PathBuf) -> anyhow::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}
