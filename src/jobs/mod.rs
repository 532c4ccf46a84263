//! Background jobs that any instance may run, kept in the `jobs` table (the design of the Rust
//! package registry's own job queue): a job is a typed value ([`Job`]) stored as JSON under its
//! kind, queued in the transaction that causes it, and claimed by one instance with a lease
//! that the instance renews while it works. When an instance dies, its lease runs out and
//! another instance claims the job again, so work is never lost with a process and no
//! start-up sweep ever touches what another instance is doing. A job that returns an error is
//! retried with growing delays; out of attempts it is kept `failed` with its last error, for
//! administrators (`GET /api/v1/admin/jobs`).
//!
//! Claiming is one statement: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets instances claim side
//! by side; SQLite has a single writer, which makes the same statement atomic.

pub mod runner;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveEnum as _, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entities::enums::JobStatus;
use crate::entities::jobs;
use crate::state::AppState;

pub use runner::{Jobs, Runner, run_now};

/// A kind of background work. The value is the job's payload, stored as JSON.
pub trait Job: Serialize + DeserializeOwned + 'static {
    /// The kind stored with the job; names the registered handler.
    const KIND: &'static str;
    /// Attempts before the job is given up as failed (a dead instance's attempt counts).
    const MAX_ATTEMPTS: i32 = 3;

    /// Unique per subject: queuing a job whose key is already queued (or was run) does
    /// nothing.
    fn dedupe_key(&self) -> String;

    /// Does the work. `attempt` counts from 1; a later attempt may find what an earlier,
    /// interrupted one left behind. An error is retried while attempts remain.
    fn run(self, state: Arc<AppState>, attempt: i32) -> impl Future<Output = anyhow::Result<()>>;

    /// Called once when the job is given up (out of attempts), with the last error, so the
    /// subject does not stay waiting forever.
    fn gave_up(
        self,
        state: Arc<AppState>,
        reason: String,
    ) -> impl Future<Output = anyhow::Result<()>> {
        let _ = (state, reason);
        async { Ok(()) }
    }
}

/// A job's work with its type erased: the payload is decoded by the registered kind.
type Handler = fn(Arc<AppState>, Claimed) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;
type GiveUp =
    fn(Arc<AppState>, Claimed, String) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// The job kinds this binary runs.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: Vec<(&'static str, Handler, GiveUp)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.kinds.iter().map(|(k, _, _)| k))
            .finish()
    }
}

impl Registry {
    /// Every job kind of the application.
    #[must_use]
    pub fn all() -> Self {
        let mut r = Self::default();
        r.register::<crate::dossier::build::BuildDossier>();
        r.register::<crate::dossier::receipts::NotifyReceipts>();
        r.register::<crate::retention::RetentionSweep>();
        r.register::<crate::groups::statement::Reconfirm>();
        r.register::<crate::notify::scheduler::Tick>();
        r.register::<crate::tsa::job::TimestampEvidence>();
        r
    }

    /// Adds `J`.
    pub fn register<J: Job>(&mut self) {
        fn run<J: Job>(
            state: Arc<AppState>,
            job: Claimed,
        ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>> {
            Box::pin(async move {
                let value: J = serde_json::from_str(&job.payload)?;
                value.run(state, job.attempts).await
            })
        }
        fn give_up<J: Job>(
            state: Arc<AppState>,
            job: Claimed,
            reason: String,
        ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>> {
            Box::pin(async move {
                let value: J = serde_json::from_str(&job.payload)?;
                value.gave_up(state, reason).await
            })
        }
        self.kinds.push((J::KIND, run::<J>, give_up::<J>));
    }

    fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|(k, _, _)| *k).collect()
    }

    fn find(&self, kind: &str) -> Option<(Handler, GiveUp)> {
        self.kinds
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, h, g)| (*h, *g))
    }
}

/// Queues `job` to run from `now` on `conn` (call it inside the causing transaction). Returns
/// its id, or `None` when a job with the same key already exists.
///
/// # Errors
/// On a database error.
pub async fn enqueue<J: Job>(
    conn: &impl ConnectionTrait,
    job: &J,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    enqueue_at(conn, job, now, now).await
}

/// Queues `job` to run from `run_at` (a request that will run the job itself with [`run_now`]
/// queues it a lease ahead, so runners leave it alone unless the request dies first).
///
/// # Errors
/// On a database error.
pub async fn enqueue_at<J: Job>(
    conn: &impl ConnectionTrait,
    job: &J,
    now: DateTime<Utc>,
    run_at: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let payload =
        serde_json::to_string(job).map_err(|e| DbErr::Custom(format!("job payload: {e}")))?;
    let row = jobs::ActiveModel {
        kind: Set(J::KIND.to_owned()),
        payload: Set(payload),
        dedupe_key: Set(job.dedupe_key()),
        status: Set(JobStatus::Queued),
        attempts: Set(0),
        max_attempts: Set(J::MAX_ATTEMPTS),
        run_at: Set(run_at),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = jobs::Entity::insert(row)
        .on_conflict(
            OnConflict::column(jobs::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec(conn)
        .await;
    match inserted {
        Ok(r) => Ok(Some(r.last_insert_id)),
        Err(DbErr::RecordNotInserted) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A job this instance holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The row's id.
    pub id: i64,
    /// Its kind.
    pub kind: String,
    /// Its JSON payload.
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

/// Claims one due job of `kinds` for `worker` until `now + lease`: a queued job whose time has
/// come, or a running one whose holder let its lease run out. `only` claims that job alone,
/// queued whatever its time.
///
/// # Errors
/// On a database error.
pub async fn claim(
    conn: &impl ConnectionTrait,
    worker: &str,
    kinds: &[&str],
    now: DateTime<Utc>,
    lease: Duration,
    only: Option<i64>,
) -> Result<Option<Claimed>, DbErr> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let backend = conn.get_database_backend();
    let p = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let (running, queued) = (JobStatus::Running.to_value(), JobStatus::Queued.to_value());
    let due_by = if only.is_some() {
        now + Duration::days(36_500)
    } else {
        now
    };
    let mut values: Vec<sea_orm::Value> = vec![
        running.clone().into(),
        worker.into(),
        (now + lease).into(),
        queued.into(),
        due_by.into(),
        running.into(),
        now.into(),
    ];
    let kind_list: Vec<String> = kinds
        .iter()
        .map(|k| {
            values.push((*k).into());
            p(values.len())
        })
        .collect();
    let mut filter = format!("kind IN ({})", kind_list.join(", "));
    if let Some(id) = only {
        values.push(id.into());
        filter.push_str(&format!(" AND id = {}", p(values.len())));
    }
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // Placeholders in the order they appear (SQLite's `?` are positional).
    let sql = format!(
        "UPDATE jobs SET status = {}, locked_by = {}, lease_until = {}, \
         attempts = attempts + 1 WHERE id = (SELECT id FROM jobs WHERE \
         ((status = {} AND run_at <= {}) OR (status = {} AND lease_until < {})) AND {filter} \
         ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING id, kind, payload, attempts, max_attempts",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    row.map(|r| {
        Ok(Claimed {
            id: r.try_get("", "id")?,
            kind: r.try_get("", "kind")?,
            payload: r.try_get("", "payload")?,
            attempts: r.try_get("", "attempts")?,
            max_attempts: r.try_get("", "max_attempts")?,
        })
    })
    .transpose()
}

/// Renews `worker`'s lease on job `id`; false when the job is no longer its own (its lease ran
/// out and another instance took it).
///
/// # Errors
/// On a database error.
pub async fn renew(
    conn: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = jobs::Entity::update_many()
        .col_expr(
            jobs::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Some(until)),
        )
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LockedBy.eq(worker))
        .filter(jobs::Column::Status.eq(JobStatus::Running))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The delay before attempt `attempts + 1`: 10 s, 40 s, 160 s, … at most an hour.
fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 6) - 1).unwrap_or(0);
    Duration::seconds((10 * 4_i64.pow(exp)).min(3600))
}

/// What became of an attempt.
#[derive(Debug)]
pub enum Outcome {
    /// It finished.
    Done,
    /// It failed; retried later while attempts remain.
    Failed(String),
}

/// Records the end of `worker`'s attempt at `job`. Returns the job's new status, or `None` when
/// the job was no longer `worker`'s (another instance took it over; its result counts).
///
/// # Errors
/// On a database error.
pub async fn finish(
    conn: &impl ConnectionTrait,
    job: &Claimed,
    worker: &str,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<Option<JobStatus>, DbErr> {
    let mut update = jobs::Entity::update_many()
        .col_expr(
            jobs::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            jobs::Column::LockedBy,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        );
    let status = match outcome {
        Outcome::Done => JobStatus::Done,
        Outcome::Failed(_) if job.attempts >= job.max_attempts => JobStatus::Failed,
        Outcome::Failed(_) => JobStatus::Queued,
    };
    update = update.col_expr(
        jobs::Column::Status,
        sea_orm::sea_query::Expr::value(status.to_value()),
    );
    if let Outcome::Failed(reason) = outcome {
        let reason: String = reason.chars().take(2000).collect();
        update = update.col_expr(
            jobs::Column::LastError,
            sea_orm::sea_query::Expr::value(Some(reason)),
        );
    }
    if status == JobStatus::Queued {
        update = update.col_expr(
            jobs::Column::RunAt,
            sea_orm::sea_query::Expr::value(now + backoff(job.attempts)),
        );
    } else {
        update = update.col_expr(
            jobs::Column::FinishedAt,
            sea_orm::sea_query::Expr::value(Some(now)),
        );
    }
    let r = update
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::LockedBy.eq(worker))
        .filter(jobs::Column::Status.eq(JobStatus::Running))
        .exec(conn)
        .await?;
    Ok((r.rows_affected == 1).then_some(status))
}

/// Jobs for administrators: newest first, of `status` when given.
///
/// # Errors
/// On a database error.
pub async fn list(
    conn: &impl ConnectionTrait,
    status: Option<JobStatus>,
    limit: u64,
) -> Result<Vec<jobs::Model>, DbErr> {
    let mut q = jobs::Entity::find().order_by_desc(jobs::Column::Id);
    if let Some(s) = status {
        q = q.filter(jobs::Column::Status.eq(s));
    }
    q.limit(limit).all(conn).await
}

/// Queues a failed job again with fresh attempts (administrators, after fixing the cause).
/// Returns false when the job is not `failed`.
///
/// # Errors
/// On a database error.
pub async fn retry(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = jobs::Entity::update_many()
        .col_expr(
            jobs::Column::Status,
            sea_orm::sea_query::Expr::value(JobStatus::Queued.to_value()),
        )
        .col_expr(jobs::Column::Attempts, sea_orm::sea_query::Expr::value(0))
        .col_expr(jobs::Column::RunAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(
            jobs::Column::FinishedAt,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::Status.eq(JobStatus::Failed))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Forgets finished jobs: done ones after a week, failed ones after 90 days.
///
/// # Errors
/// On a database error.
pub async fn prune(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let mut removed = 0;
    for (status, keep) in [
        (JobStatus::Done, Duration::days(7)),
        (JobStatus::Failed, Duration::days(90)),
    ] {
        removed += jobs::Entity::delete_many()
            .filter(jobs::Column::Status.eq(status))
            .filter(jobs::Column::FinishedAt.lt(now - keep))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(removed)
}

/// Queue depth and the age of the oldest due job (for `/metrics`).
///
/// # Errors
/// On a database error.
pub async fn depth(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(u64, Option<Duration>), DbErr> {
    let row: Option<(i64, Option<DateTime<Utc>>)> = jobs::Entity::find()
        .select_only()
        .column_as(jobs::Column::Id.count(), "n")
        .column_as(jobs::Column::RunAt.min(), "oldest")
        .filter(jobs::Column::Status.eq(JobStatus::Queued))
        .filter(jobs::Column::RunAt.lte(now))
        .into_tuple()
        .one(conn)
        .await?;
    let (n, oldest) = row.unwrap_or((0, None));
    Ok((u64::try_from(n).unwrap_or(0), oldest.map(|t| now - t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(40));
        assert_eq!(backoff(3), Duration::seconds(160));
        assert_eq!(backoff(9), Duration::seconds(3600));
    }
}
