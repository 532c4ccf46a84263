//! The job that timestamps an uploaded evidence file's content (its SHA-256), queued with the
//! upload when a TSA is configured. One row per content in `timestamps`: the same file
//! uploaded twice, by anyone, is timestamped once (the job's key is the hash, and a row that
//! exists ends it).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::timestamps;
use crate::jobs::Job;
use crate::state::AppState;

/// Rows per `IN (…)` list.
const CHUNK: usize = 500;

/// Timestamps the content `sha256`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct TimestampEvidence {
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

impl Job for TimestampEvidence {
    const KIND: &'static str = "evidence.timestamp";
    const MAX_ATTEMPTS: i32 = 5;

    fn dedupe_key(&self) -> String {
        format!("timestamp:{}", self.sha256)
    }

    async fn run(self, state: Arc<AppState>, _attempt: i32) -> anyhow::Result<()> {
        if !state.tsa.enabled() || find(&state.db, &self.sha256).await?.is_some() {
            return Ok(());
        }
        let digest = hex::decode(&self.sha256).context("the job's hash is not hex")?;
        let stamp = state.tsa.stamp(&digest).await?;
        store(
            &state.db,
            &self.sha256,
            stamp.response,
            stamp.gen_time,
            state.now(),
        )
        .await?;
        Ok(())
    }
}

/// Queues the timestamp of `sha256` (inside the upload's transaction) when a TSA is
/// configured; nothing when one exists or is queued.
///
/// # Errors
/// On a database error.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    state: &AppState,
    sha256: &str,
) -> Result<(), DbErr> {
    if state.tsa.enabled() {
        crate::jobs::enqueue(
            conn,
            &TimestampEvidence {
                sha256: sha256.to_owned(),
            },
            state.now(),
        )
        .await?;
    }
    Ok(())
}

/// The timestamp of `sha256`, when one was obtained.
///
/// # Errors
/// On a database error.
pub async fn find(
    conn: &impl ConnectionTrait,
    sha256: &str,
) -> Result<Option<timestamps::Model>, DbErr> {
    timestamps::Entity::find()
        .filter(timestamps::Column::SubjectSha256.eq(sha256))
        .one(conn)
        .await
}

/// The timestamps of these hashes, by hash.
///
/// # Errors
/// On a database error.
pub async fn find_all(
    conn: &impl ConnectionTrait,
    hashes: &[String],
) -> Result<HashMap<String, timestamps::Model>, DbErr> {
    let mut out = HashMap::new();
    for chunk in hashes.chunks(CHUNK) {
        let rows = timestamps::Entity::find()
            .filter(timestamps::Column::SubjectSha256.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.subject_sha256.clone(), r)));
    }
    Ok(out)
}

/// Records a timestamp; the first one of a hash stays.
///
/// # Errors
/// On a database error.
pub async fn store(
    conn: &impl ConnectionTrait,
    sha256: &str,
    token: Vec<u8>,
    gen_time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = timestamps::ActiveModel {
        subject_sha256: Set(sha256.to_owned()),
        token: Set(token),
        gen_time: Set(gen_time),
        created_at: Set(now),
        ..Default::default()
    };
    match timestamps::Entity::insert(row)
        .on_conflict(
            OnConflict::column(timestamps::Column::SubjectSha256)
                .do_nothing()
                .to_owned(),
        )
        .exec(conn)
        .await
    {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e),
    }
}
