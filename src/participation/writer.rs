//! Group commit for joins. A complaint that goes viral brings hundreds of joins a second, and on
//! SQLite every write transaction takes the one write lock: joins that each begin and commit
//! their own transaction queue on that lock. One writer task instead takes the joins that are
//! waiting together and commits them in one transaction, each in its own savepoint so a bad join
//! fails alone; every request is answered only after the commit that holds its join, so an
//! answered join is durable and an unanswered one left nothing behind (its outbox row included).
//! A batch is read and written with a few multi-row statements (`super::batch`); the writer
//! runs on connections of its own, so it never queues behind readers for one. SQLite has one
//! writer at a time, so it gets one such task; PostgreSQL commits many transactions at once,
//! so it gets several, each taking the next waiting batch while the others wait for their
//! commit's round trips (a (user, group) pair raced in two batches is still joined once: the
//! unique index refuses the second, which then answers 409 from its own savepoint).

use std::sync::Arc;

use futures_util::FutureExt as _;
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use super::dto::JoinRequest;
use super::service::{Joined, join_in};
use crate::auth::CurrentUser;
use crate::db::{self, WriteGate};
use crate::domain::JoinNetwork;
use crate::error::{AppError, AppResult};
use crate::groups::cache::ViewCache;
use crate::state::Ctx;

/// Joins waiting for the writer at most; a full queue makes callers wait (backpressure).
const QUEUE: usize = 1024;

/// One join to commit.
#[derive(Debug)]
pub struct JoinJob {
    /// Who joins.
    pub user: CurrentUser,
    /// Which group.
    pub slug: String,
    /// What they sign.
    pub req: JoinRequest,
    /// The client network of the join request, when known.
    pub network: Option<JoinNetwork>,
}

type Answer = oneshot::Sender<AppResult<Joined>>;

/// A hook that runs after the `n`th join of a batch is written, before the commit — tests use
/// it to make the writer fail mid-batch, as a crash would.
pub type Fault = Arc<dyn Fn(usize) + Send + Sync>;

/// The handle requests use to reach the writer task.
#[derive(Clone)]
pub struct JoinWriter {
    tx: mpsc::Sender<(JoinJob, Answer)>,
}

impl std::fmt::Debug for JoinWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinWriter").finish_non_exhaustive()
    }
}

impl JoinWriter {
    /// Starts `tasks` writer tasks on the current runtime, sharing `db` (a pool of at least
    /// that many connections) and one queue; they end when every handle is dropped.
    #[must_use]
    pub fn spawn(
        db: DatabaseConnection,
        ctx: Ctx,
        wake: Wake,
        gate: WriteGate,
        max_batch: usize,
        tasks: usize,
        fault: Option<Fault>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Arc::new(Writer {
            queue: Mutex::new(rx),
            db,
            ctx,
            wake,
            gate,
            max_batch: max_batch.max(1),
            fault,
        });
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(writer.clone()));
        }
        Self { tx }
    }

    /// Joins through the writer and waits for the commit that holds the join.
    ///
    /// # Errors
    /// The join's own error (404, 409, 422 …); 503 when the writer is gone or its batch could
    /// not be committed (then nothing of the join was kept).
    pub async fn join(&self, job: JoinJob) -> AppResult<Joined> {
        let (answer, answered) = oneshot::channel();
        self.tx
            .send((job, answer))
            .await
            .map_err(|_| writer_gone())?;
        answered.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> AppError {
    AppError::ServiceUnavailable(
        "join_not_committed",
        "the join could not be saved; nothing was kept, please try again".into(),
    )
}

/// Who hears of a committed batch: the outbox worker and the public view cache.
#[derive(Debug, Clone)]
pub struct Wake {
    /// The outbox worker, for the confirmations.
    pub mail: Arc<Notify>,
    /// The public views, dropped at each commit.
    pub views: Arc<ViewCache>,
}

/// What the writer tasks share.
struct Writer {
    queue: Mutex<Queue>,
    db: DatabaseConnection,
    ctx: Ctx,
    wake: Wake,
    gate: WriteGate,
    max_batch: usize,
    fault: Option<Fault>,
}

/// Takes the joins waiting together, at most `max`: the first is awaited, the rest only taken
/// if already there. `None` once every handle is dropped.
async fn next_batch(queue: &Mutex<Queue>, max: usize) -> Option<Vec<(JoinJob, Answer)>> {
    let mut rx = queue.lock().await;
    let mut batch = vec![rx.recv().await?];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

type Queue = mpsc::Receiver<(JoinJob, Answer)>;

async fn run(w: Arc<Writer>) {
    while let Some(batch) = next_batch(&w.queue, w.max_batch).await {
        let (jobs, answers): (Vec<JoinJob>, Vec<Answer>) = batch.into_iter().unzip();
        let n = jobs.len();
        // A panic inside a batch drops its transaction (rolled back) and its answers (each
        // caller gets 503); the writer goes on with the next batch.
        let turn = w.gate.turn().await;
        let outcome =
            std::panic::AssertUnwindSafe(commit_batch(&w.db, &w.ctx, jobs, w.fault.as_ref()))
                .catch_unwind()
                .await;
        drop(turn);
        match outcome {
            Ok(results) => {
                w.wake.views.invalidate();
                w.wake.mail.notify_one();
                for (answer, result) in answers.into_iter().zip(results) {
                    // A caller that gave up waiting is not an error of the writer.
                    let _ = answer.send(result);
                }
            }
            Err(_) => tracing::error!(joins = n, "the join writer failed mid-batch; none kept"),
        }
    }
}

/// Writes `jobs` in one transaction and commits; answers per job. New joins are written
/// together; a re-join, or every join of a batch that could not be written together, in a
/// savepoint of its own. When the transaction cannot begin or commit, every job is answered
/// 503 and none is kept.
pub async fn commit_batch(
    db: &DatabaseConnection,
    ctx: &Ctx,
    jobs: Vec<JoinJob>,
    fault: Option<&Fault>,
) -> Vec<AppResult<Joined>> {
    let n = jobs.len();
    let all_failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, joins = n, "a batch of joins could not be committed");
        (0..n).map(|_| Err(writer_gone())).collect()
    };
    let txn = match db::write_txn(db).await {
        Ok(t) => t,
        Err(e) => return all_failed(&e),
    };
    let mut results: Vec<Option<AppResult<Joined>>> = (0..n).map(|_| None).collect();
    let one_by_one = match super::batch::write_new(&txn, ctx, &jobs, &mut results).await {
        Ok(slow) => slow,
        Err(e) => {
            tracing::debug!(error = %e, "the batch path failed; joins written one by one");
            (0..n).filter(|i| results[*i].is_none()).collect()
        }
    };
    let mut one_by_one = one_by_one.into_iter().peekable();
    for (i, job) in jobs.into_iter().enumerate() {
        if one_by_one.next_if_eq(&i).is_some() {
            let result = match txn.begin().await {
                Ok(savepoint) => {
                    match join_in(&savepoint, ctx, &job.user, &job.slug, job.req, job.network).await
                    {
                        Ok(j) => savepoint.commit().await.map(|()| j).map_err(AppError::from),
                        Err(e) => {
                            if let Err(rb) = savepoint.rollback().await {
                                return all_failed(&rb);
                            }
                            Err(e)
                        }
                    }
                }
                Err(e) => return all_failed(&e),
            };
            results[i] = Some(result);
        }
        if let Some(fault) = fault {
            fault(i + 1);
        }
    }
    match txn.commit().await {
        Ok(()) => results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(writer_gone())))
            .collect(),
        Err(e) => all_failed(&e),
    }
}
