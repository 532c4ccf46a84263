//! Fixtures the in-process benchmarks share: rows written directly through the entities in
//! chunks (no HTTP, no password hashing), so preparing 100,000 people takes seconds.

use chrono::{DateTime, NaiveDate, Utc};
use lianming::entities::enums::{
    Category, GroupStatus, ParticipantOutcome, ParticipationStatus, ProviderKind, UserStatus,
    Visibility,
};
use lianming::entities::{groups, participations, providers, statement_versions, users};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use sha2::{Digest, Sha256};

/// Rows per multi-row INSERT (SQLite allows 32,766 bound values; users have 12 columns).
const CHUNK: usize = 400;

/// The joint statement every bench group has, at version 1.
pub const STATEMENT: &str =
    "我们是基准钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。";

/// Inserts `rows` in multi-row statements of [`CHUNK`].
pub async fn insert_chunks<A, E>(db: &DatabaseConnection, rows: Vec<A>)
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

/// One provider (`bench-pay`) and an owner; call once per database.
pub async fn owner_and_provider(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> (users::Model, providers::Model) {
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
    (owner, provider)
}

/// A public, gathering group `slug` of `provider` titled `title`, with [`STATEMENT`] at
/// version 1, created by `owner`; and the statement's SHA-256 (hex).
pub async fn group(
    db: &DatabaseConnection,
    owner: &users::Model,
    provider: &providers::Model,
    slug: &str,
    title: &str,
    now: DateTime<Utc>,
) -> (groups::Model, String) {
    let sha = hex::encode(Sha256::digest(STATEMENT.as_bytes()));
    let group = groups::ActiveModel {
        slug: Set(slug.into()),
        provider_id: Set(provider.id),
        title: Set(title.into()),
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
        joint_statement: Set(STATEMENT.into()),
        demands: Set(r#"[{"kind":"refund"}]"#.into()),
        sha256: Set(sha.clone()),
        created_by: Set(Some(owner.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("statement");
    (group, sha)
}

/// `n` verified, active users with ids `first..first + n`, addressed `{prefix}{i}@bench.invalid`.
pub async fn users(
    db: &DatabaseConnection,
    first: i64,
    n: usize,
    prefix: &str,
    now: DateTime<Utc>,
) {
    insert_chunks(
        db,
        (0..n)
            .map(|i| users::ActiveModel {
                id: Set(first + i as i64),
                email: Set(format!("{prefix}{i}@bench.invalid")),
                email_normalized: Set(format!("{prefix}{i}@bench.invalid")),
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
}

/// Active participations in `group_id` of the users `first_user..first_user + n`, with ids
/// `first_id..first_id + n`, signed at version 1: 70 % share their name, half are contactable.
pub async fn participations(
    db: &DatabaseConnection,
    group_id: i64,
    first_id: i64,
    first_user: i64,
    n: usize,
    now: DateTime<Utc>,
) {
    insert_chunks(
        db,
        (0..n)
            .map(|i| participations::ActiveModel {
                id: Set(first_id + i as i64),
                group_id: Set(group_id),
                user_id: Set(first_user + i as i64),
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
                join_network: Set(None),
            })
            .collect(),
    )
    .await;
}
