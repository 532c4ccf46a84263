//! Time and peak memory of building one dossier for 1,000 and for 10,000 participants, each with
//! an evidence file and a signature (regulator tier: names, contacts, the regulator export, the
//! evidence index and every file in the zip).
//!
//! Run: `cargo bench --bench dossier_build`. For each size it prepares a fresh SQLite database
//! and blob store directly through the entities (no HTTP, no password hashing), loads the
//! letter's fonts once, resets the kernel's peak-memory counter, then calls the library's
//! `dossier::build::run` and prints the wall time, the process's peak resident memory
//! (`VmHWM`) above the resting baseline, the bundle size, and the 10k/1k ratios. Linux only
//! (/proc).

mod common;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use lianming::blob::local::LocalStore;
use lianming::clock::SystemClock;
use lianming::entities::enums::{
    ContactChannel, ContactOutcome, DossierStatus, EvidenceKind, EvidenceStatus, Tier,
};
use lianming::entities::{blobs, dossiers, evidence, interactions, signatures};
use lianming::{Settings, dossier};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use sha2::{Digest, Sha256};

use common::insert_chunks;

const EVIDENCE_BYTES: usize = 16 * 1024;

fn status_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn png(seed: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    // Distinct content per participant: the seed, then noise that deflate cannot shrink.
    v.extend((seed as u64).to_le_bytes());
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ seed as u64;
    v.extend((0..EVIDENCE_BYTES).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.to_le_bytes()[0]
    }));
    v
}

/// A group with `n` active, signed participants, each with one evidence file; returns the
/// id of a dossier row in `building`.
async fn prepare(db: &DatabaseConnection, store: &LocalStore, n: usize) -> i64 {
    let now = Utc::now();
    let (owner, provider) = common::owner_and_provider(db, now).await;
    let (group, sha) = common::group(
        db,
        &owner,
        &provider,
        "bench-refund-delay",
        "退款迟迟未到账（基准）",
        now,
    )
    .await;
    let user_base = owner.id + 1;
    common::users(db, user_base, n, "p", now).await;
    common::participations(db, group.id, 1, user_base, n, now).await;
    insert_chunks(
        db,
        (0..n)
            .map(|i| signatures::ActiveModel {
                participation_id: Set(i as i64 + 1),
                statement_version: Set(1),
                statement_sha256: Set(sha.clone()),
                full_name: Set(format!("王{i}")),
                consent_share_identity: Set(i % 10 < 7),
                signed_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await;
    insert_chunks(
        db,
        (0..n)
            .filter(|i| i % 4 == 0)
            .map(|i| interactions::ActiveModel {
                participation_id: Set(i as i64 + 1),
                occurred_at: Set(now),
                channel: Set(ContactChannel::Hotline),
                agent: Set("工号 1024".into()),
                ticket_ref: Set(format!("CS-{i}")),
                summary: Set("答复正在处理".into()),
                outcome: Set(ContactOutcome::Promised),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await;
    let mut blob_rows = Vec::with_capacity(n);
    let mut evidence_rows = Vec::with_capacity(n);
    for i in 0..n {
        let bytes = png(i);
        let sha = hex::encode(Sha256::digest(&bytes));
        let path = store.path_of(&sha).expect("path");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, &bytes).expect("blob");
        blob_rows.push(blobs::ActiveModel {
            sha256: Set(sha.clone()),
            size: Set(bytes.len() as i64),
            ref_count: Set(1),
            created_at: Set(now),
        });
        evidence_rows.push(evidence::ActiveModel {
            participation_id: Set(i as i64 + 1),
            group_id: Set(group.id),
            user_id: Set(user_base + i as i64),
            sha256: Set(sha),
            size: Set(bytes.len() as i64),
            content_type: Set("image/png".into()),
            kind: Set(EvidenceKind::Screenshot),
            description: Set("转账截图".into()),
            original_name: Set(format!("{i}.png")),
            status: Set(EvidenceStatus::Active),
            created_at: Set(now),
            ..Default::default()
        });
    }
    insert_chunks(db, blob_rows).await;
    insert_chunks(db, evidence_rows).await;
    dossiers::ActiveModel {
        group_id: Set(group.id),
        version: Set(1),
        tier: Set(Tier::Regulator),
        status: Set(DossierStatus::Building),
        statement_version: Set(1),
        author_id: Set(Some(owner.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("dossier")
    .id
}

struct Run {
    n: usize,
    secs: f64,
    growth_kib: u64,
    bundle_bytes: i64,
}

async fn measure(n: usize) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(url.clone()),
        log: "error".into(),
        ..Settings::default()
    };
    let db = lianming::db::connect(&url).await.expect("db");
    Migrator::up(&db, None).await.expect("migrate");
    let addr = "127.0.0.1:0".parse().expect("addr");
    let state =
        lianming::state::build_state(settings, Arc::new(SystemClock), db, addr).expect("state");
    let store = LocalStore::new(dir.path().join("blobs"));
    let prep = Instant::now();
    let id = prepare(&state.db, &store, n).await;
    let prep_secs = prep.elapsed().as_secs_f64();
    // Fonts are loaded once per process; load them before the baseline.
    state.pdf_fonts.load().expect("a CJK font (fonts-noto-cjk)");

    let baseline = status_kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    let row = dossier::build::run(&state, id).await.expect("build");
    let secs = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    assert_eq!(row.status, DossierStatus::Ready, "{:?}", row.failure_reason);
    let growth_kib = peak.saturating_sub(baseline);
    println!(
        "dossier_build: {n:>6} participants (+{n} evidence files of {} KiB): {secs:>7.2} s, \
         peak RSS +{} MiB over a {} MiB baseline, bundle {} MiB (prepared in {prep_secs:.1} s)",
        EVIDENCE_BYTES / 1024,
        growth_kib / 1024,
        baseline / 1024,
        row.bundle_size.unwrap_or(0) / (1024 * 1024),
    );
    Run {
        n,
        secs,
        growth_kib,
        bundle_bytes: row.bundle_size.unwrap_or(0),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let small = measure(1_000).await;
        let large = measure(10_000).await;
        println!(
            "  ratio {}/{}: time {:.2}x, peak-memory growth {:.2}x, bundle {:.2}x (10x the participants)",
            large.n,
            small.n,
            large.secs / small.secs.max(1e-9),
            large.growth_kib as f64 / small.growth_kib.max(1) as f64,
            large.bundle_bytes as f64 / small.bundle_bytes.max(1) as f64,
        );
    });
}
