//! The job runner of one instance: claims due jobs, runs each with its lease renewed, records
//! the outcome. Jobs read blobs through a `?Send` store, so the runner lives on a thread of its
//! own with a single-threaded runtime; their heavy parts (typesetting, zipping) go to that
//! runtime's blocking pool as everywhere else.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Claimed, Outcome, Registry, claim, finish, renew};
use crate::entities::enums::JobStatus;
use crate::entities::jobs;
use crate::state::AppState;

/// This instance's identity and settings for jobs, kept in the shared state so that a request
/// may run the job it queued itself ([`run_now`]).
#[derive(Debug)]
pub struct Jobs {
    /// Names this instance in `jobs.locked_by`.
    pub worker: String,
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// Wakes this instance's runner after a job was queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// The kinds this binary runs.
    pub registry: Registry,
}

impl Jobs {
    /// An identity unique to this process.
    #[must_use]
    pub fn new(lease_secs: u64) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            worker: format!("pid{}-{}", std::process::id(), &id[..12]),
            lease: Duration::seconds(i64::try_from(lease_secs).unwrap_or(60)),
            wake: Arc::new(tokio::sync::Notify::new()),
            registry: Registry::all(),
        }
    }
}

/// How long a stopping runner lets running jobs finish before it gives them back.
const STOP_GRACE: StdDuration = StdDuration::from_secs(5);

/// Claims and runs jobs until stopped.
#[derive(Debug)]
pub struct Runner {
    state: Arc<AppState>,
    poll: StdDuration,
    concurrency: usize,
}

impl Runner {
    /// A runner of `concurrency` jobs at once that looks for due jobs every `poll`.
    #[must_use]
    pub fn new(state: Arc<AppState>, poll: StdDuration, concurrency: usize) -> Self {
        Self {
            state,
            poll,
            concurrency: concurrency.max(1),
        }
    }

    /// Starts the runner on a thread of its own; it stops when `stop` is cancelled (running
    /// jobs get a few seconds to finish, then are given back for another instance).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(self, stop: CancellationToken) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("lianming-jobs".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "could not start the job runner");
                        return;
                    }
                };
                tokio::task::LocalSet::new().block_on(&rt, self.run(stop));
            })
    }

    async fn run(self, stop: CancellationToken) {
        let jobs = &self.state.jobs;
        let kinds = jobs.registry.names();
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            while running.len() < self.concurrency {
                let claimed = claim(
                    &self.state.db,
                    &jobs.worker,
                    &kinds,
                    self.state.now(),
                    jobs.lease,
                    None,
                )
                .await;
                match claimed {
                    Ok(Some(job)) => {
                        let state = self.state.clone();
                        running.spawn_local(async move {
                            execute(state, job).await;
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a job failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = jobs.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        let drained = tokio::time::timeout(STOP_GRACE, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            running.abort_all();
            match release(&self.state).await {
                Ok(n) => tracing::info!(jobs = n, "stopping: running jobs given back"),
                Err(e) => tracing::warn!(error = %e, "stopping: could not give jobs back"),
            }
        }
    }
}

/// Gives back every job this instance holds, so another instance takes it at once instead of
/// after the lease (the interrupted attempt does not count).
async fn release(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ActiveEnum as _, ColumnTrait, EntityTrait, QueryFilter};
    let r = jobs::Entity::update_many()
        .col_expr(
            jobs::Column::Status,
            Expr::value(JobStatus::Queued.to_value()),
        )
        .col_expr(jobs::Column::RunAt, Expr::value(state.now()))
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).sub(1),
        )
        .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            jobs::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(jobs::Column::LockedBy.eq(state.jobs.worker.as_str()))
        .filter(jobs::Column::Status.eq(JobStatus::Running))
        .exec(&state.db)
        .await?;
    Ok(r.rows_affected)
}

/// Claims the job `id` for this instance and runs it here and now (a request running the job
/// it just queued). Returns the job's new status; `None` when another instance claimed it
/// first (it runs there) or the job is unknown.
///
/// # Errors
/// On a database error while claiming.
pub async fn run_now(state: &Arc<AppState>, id: i64) -> Result<Option<JobStatus>, sea_orm::DbErr> {
    let jobs = &state.jobs;
    let kinds = jobs.registry.names();
    let Some(job) = claim(
        &state.db,
        &jobs.worker,
        &kinds,
        state.now(),
        jobs.lease,
        Some(id),
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(execute(state.clone(), job).await)
}

/// Runs a claimed job to its end, renewing the lease meanwhile, and records the outcome.
/// Returns the new status; `None` when the lease was lost (the job belongs to another instance
/// now) or the outcome could not be recorded (the lease runs out and the job is retried).
async fn execute(state: Arc<AppState>, job: Claimed) -> Option<JobStatus> {
    let jobs = &state.jobs;
    let Some((handler, give_up)) = jobs.registry.find(&job.kind) else {
        tracing::error!(
            kind = job.kind,
            id = job.id,
            "claimed a job of an unknown kind"
        );
        return None;
    };
    let outcome = if job.attempts > job.max_attempts {
        // Every earlier attempt ended with its instance: do not start another one.
        Outcome::Failed("interrupted: the instance running it stopped each time".into())
    } else {
        let work = handler(state.clone(), job.clone());
        tokio::select! {
            r = work => match r {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Failed(format!("{e:#}")),
            },
            () = keep_lease(&state, job.id) => {
                tracing::warn!(id = job.id, kind = job.kind, "lost a job's lease; another instance has it");
                return None;
            }
        }
    };
    if let Outcome::Failed(reason) = &outcome {
        tracing::warn!(id = job.id, kind = job.kind, attempt = job.attempts, %reason, "job failed");
        if job.attempts >= job.max_attempts
            && let Err(e) = give_up(state.clone(), job.clone(), reason.clone()).await
        {
            tracing::error!(error = ?e, id = job.id, "recording a job given up");
        }
    }
    match finish(&state.db, &job, &jobs.worker, &outcome, state.now()).await {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(error = %e, id = job.id, "recording a job's outcome");
            None
        }
    }
}

/// Renews the lease on job `id` every third of its length; returns once the job is no longer
/// this instance's.
async fn keep_lease(state: &AppState, id: i64) {
    let jobs = &state.jobs;
    let every = (jobs.lease / 3)
        .to_std()
        .unwrap_or(StdDuration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        match renew(&state.db, id, &jobs.worker, state.now() + jobs.lease).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, id, "renewing a job's lease failed"),
        }
    }
}
