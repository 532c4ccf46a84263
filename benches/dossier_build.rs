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

use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use lianming::blob::local::LocalStore;
use lianming::clock::SystemClock;
use lianming::entities::enums::{
    Category, ContactChannel, ContactOutcome, DossierStatus, EvidenceKind, EvidenceStatus,
    GroupStatus, ParticipantOutcome, ParticipationStatus, ProviderKind, Tier, UserStatus,
    Visibility,
};
use lianming::entities::{
    blobs, dossiers, evidence, groups, interactions, participations, providers, signatures,
    statement_versions, users,
};
use lianming::{Settings, dossier};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use sha2::{Digest, Sha256};

const EVIDENCE_BYTES: usize = 16 * 1024;
const CHUNK: usize = 400;

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

async fn insert_chunks<A, E>(db: &DatabaseConnection, rows: Vec<A>)
where
    A: ActiveModelTrait<Entity = E> + Clone + Send,
    E: EntityTrait,
{
    for chunk in rows.chunks(CHUNK) {
        E::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .expect("insert");
    }
}

/// A group with `n` active, signed participants, each with one evidence file; returns the
/// id of a dossier row in `building`.
async fn prepare(db: &DatabaseConnection, store: &LocalStore, n: usize) -> i64 {
    let now = Utc::now();
    let owner = users::ActiveModel {
        email: Set("owner@bench.invalid".into()),
        email_normalized: Set("owner@bench.invalid".into()),
        display_name: Set("基准组织者".into()),
        password_hash: Set("-".into()),
        locale: Set("zh-CN".into()),
        is_admin: Set(false),
        email_verified_at: Set(Some(now)),
        status: Set(UserStatus::Active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("owner");
    let provider = providers::ActiveModel {
        slug: Set("bench-pay".into()),
        name_zh: Set("基准钱包".into()),
        name_en: Set(Some("Bench Pay".into())),
        aliases: Set("[]".into()),
        kind: Set(ProviderKind::DigitalWallet),
        complaint_channels: Set("[]".into()),
        reviewed: Set(true),
        search_text: Set("基准钱包 bench pay".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("provider");
    let statement = "我们是基准钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。";
    let sha = hex::encode(Sha256::digest(statement.as_bytes()));
    let group = groups::ActiveModel {
        slug: Set("bench-refund-delay".into()),
        provider_id: Set(provider.id),
        title: Set("退款迟迟未到账（基准）".into()),
        summary: Set("申请退款后超过三十天仍未收到款项，客服一直说在处理中。".into()),
        category: Set(Category::RefundDelay),
        demands: Set(r#"[{"kind":"refund"},{"kind":"compensation","text":"按日支付利息"}]"#.into()),
        status: Set(GroupStatus::Gathering),
        visibility: Set(Visibility::Public),
        requires_moderation: Set(false),
        statement_version: Set(1),
        search_text: Set("bench".into()),
        created_by: Set(Some(owner.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("group");
    statement_versions::ActiveModel {
        group_id: Set(group.id),
        version: Set(1),
        joint_statement: Set(statement.into()),
        demands: Set(r#"[{"kind":"refund"}]"#.into()),
        sha256: Set(sha.clone()),
        created_by: Set(Some(owner.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("statement");

    let ids = |base: i64| (0..n).map(move |i| base + i as i64);
    let user_base = owner.id + 1;
    insert_chunks(
        db,
        (0..n)
            .map(|i| users::ActiveModel {
                id: Set(user_base + i as i64),
                email: Set(format!("p{i}@bench.invalid")),
                email_normalized: Set(format!("p{i}@bench.invalid")),
                display_name: Set(format!("参与者{i}")),
                password_hash: Set("-".into()),
                locale: Set("zh-CN".into()),
                is_admin: Set(false),
                email_verified_at: Set(Some(now)),
                status: Set(UserStatus::Active),
                created_at: Set(now),
                updated_at: Set(now),
                suspension_reason: Set(None),
            })
            .collect(),
    )
    .await;
    insert_chunks(
        db,
        ids(user_base)
            .enumerate()
            .map(|(i, user_id)| participations::ActiveModel {
                id: Set(i as i64 + 1),
                group_id: Set(group.id),
                user_id: Set(user_id),
                status: Set(ParticipationStatus::Active),
                statement: Set(format!("我在三月申请退款 {i} 号订单，至今没有到账。")),
                amount_minor: Set(10_000 + (i as i64 % 97) * 100),
                currency: Set(if i % 10 == 0 { "USD" } else { "CNY" }.into()),
                incident_date: Set(
                    NaiveDate::from_ymd_opt(2026, 3, 1 + (i % 28) as u32).expect("date")
                ),
                transaction_refs: Set(format!(r#"["T2026{i:08}"]"#)),
                consent_share_identity: Set(i % 10 < 7),
                consent_contact: Set(i % 2 == 0),
                signed_statement_version: Set(Some(1)),
                outcome: Set(ParticipantOutcome::Unresolved),
                rejection_reason: Set(None),
                duplicate_of: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                withdrawn_at: Set(None),
            })
            .collect(),
    )
    .await;
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
