//! The outbox worker: leases due rows, sends them, records the outcome. Runs inside `serve`
//! and alone as `lianming worker`; several may run against one PostgreSQL database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{StreamExt as _, stream};
use governor::DefaultDirectRateLimiter;
use lettre::message::Mailbox;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use super::outbox;
use super::transport::Transport;
use crate::clock::SharedClock;
use crate::db;
use crate::entities::outbox as outbox_row;

/// The counter of delivery attempts, by `result`: `delivered`, `retry` (failed, tried again
/// later), `gave_up` or `suppressed` (the address refused mail for good before).
pub const DELIVERIES: &str = "lianming_outbox_deliveries_total";

fn count(result: &'static str) {
    metrics::counter!(DELIVERIES, "result" => result).increment(1);
}

/// A test hook: called after the relay accepted a row and before the result is recorded;
/// returning true makes the worker stop right there, as if the process died.
#[derive(Clone)]
pub struct FaultHook(pub Arc<dyn Fn(&outbox_row::Model) -> bool + Send + Sync>);

impl std::fmt::Debug for FaultHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultHook")
    }
}

/// What the worker needs.
#[derive(Debug, Clone)]
pub struct MailWorker {
    /// The database holding the outbox.
    pub db: DatabaseConnection,
    /// Where mail goes.
    pub transport: Transport,
    /// The `From:` mailbox.
    pub from: Mailbox,
    /// The application clock.
    pub clock: SharedClock,
    /// Pause between polls when nothing is due.
    pub poll: Duration,
    /// Rows leased per round.
    pub batch: u64,
    /// Emails in flight at once (the SMTP pool's size: one connection each).
    pub concurrency: usize,
    /// Wakes the worker early when mail was queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// Sends at most this many emails per second.
    pub throttle: Arc<DefaultDirectRateLimiter>,
    /// Fault injection for tests; `None` in production.
    pub fault: Option<FaultHook>,
    /// Turns at SQLite's write lock, shared with the join writer, so that a join storm does
    /// not starve the worker's leases and marks.
    pub gate: db::WriteGate,
}

impl MailWorker {
    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(transport = ?self.transport, "outbox worker started");
        // A backlog (thousands of confirmations after a busy hour) is not finished first: the
        // worker stops after the emails in hand, and gives back the rest of its batch.
        while !stop.is_cancelled() {
            let sent = match self.round(Some(&stop)).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox round failed");
                    0
                }
            };
            if sent > 0 {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// Leases one batch of due rows and tries each; returns how many were handled.
    ///
    /// # Errors
    /// On a database error.
    pub async fn run_once(&self) -> Result<usize, sea_orm::DbErr> {
        self.round(None).await
    }

    /// One round; with `stop`, it ends early when asked to, giving back the untried rows.
    /// Up to `concurrency` rows are delivered at once; each is recorded on its own as soon as
    /// the relay answered, so a crash resends at most the emails that were in flight.
    async fn round(&self, stop: Option<&CancellationToken>) -> Result<usize, sea_orm::DbErr> {
        let rows = {
            let _turn = self.gate.turn().await;
            let txn = db::write_txn(&self.db).await?;
            let rows = outbox::lease_due(&txn, self.clock.now(), self.batch).await?;
            txn.commit().await?;
            rows
        };
        // After a database error the emails in flight still finish and are recorded; those
        // not begun are given back, then the error is returned.
        let failed = AtomicBool::new(false);
        // Collected first: a stream mapped by a closure over `&Model` is not `Send` for every
        // lifetime, which `tokio::spawn` needs.
        let attempts: Vec<_> = rows
            .iter()
            .map(|row| self.attempt(row, stop, &failed))
            .collect();
        let outcomes: Vec<(i64, Result<Delivery, sea_orm::DbErr>)> = stream::iter(attempts)
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut untried = Vec::new();
        let mut first_error = None;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(Delivery::Tried) => {}
                Ok(Delivery::Untried) => untried.push(id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let handled = rows.len() - untried.len();
        if !untried.is_empty() {
            let _turn = self.gate.turn().await;
            outbox::release(&self.db, untried).await?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(handled),
        }
    }

    /// [`Self::deliver`], unless a delivery of the same round failed on the database before
    /// this one began.
    async fn attempt(
        &self,
        row: &outbox_row::Model,
        stop: Option<&CancellationToken>,
        failed: &AtomicBool,
    ) -> (i64, Result<Delivery, sea_orm::DbErr>) {
        if failed.load(Ordering::Relaxed) {
            return (row.id, Ok(Delivery::Untried));
        }
        let outcome = self.deliver(row, stop).await;
        if outcome.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        (row.id, outcome)
    }

    /// Tries one leased row: sends it and records the outcome, or leaves it untried when the
    /// worker is stopping before its turn.
    async fn deliver(
        &self,
        row: &outbox_row::Model,
        stop: Option<&CancellationToken>,
    ) -> Result<Delivery, sea_orm::DbErr> {
        if stop.is_some_and(CancellationToken::is_cancelled) {
            return Ok(Delivery::Untried);
        }
        if outbox::is_suppressed(&self.db, &row.recipient).await? {
            let msg = "the address refused mail permanently before; not sent";
            let _turn = self.gate.turn().await;
            outbox::mark_attempt_failed(&self.db, row, msg, true, self.clock.now()).await?;
            count("suppressed");
            return Ok(Delivery::Tried);
        }
        match stop {
            Some(stop) => {
                tokio::select! {
                    () = stop.cancelled() => return Ok(Delivery::Untried),
                    () = self.throttle.until_ready() => {}
                }
            }
            None => self.throttle.until_ready().await,
        }
        match self.transport.send(&self.from, row).await {
            Ok(()) => {
                if self.fault.as_ref().is_some_and(|f| (f.0)(row)) {
                    return Err(sea_orm::DbErr::Custom(
                        "fault injected after delivery".into(),
                    ));
                }
                let _turn = self.gate.turn().await;
                outbox::mark_sent(&self.db, row.id, self.clock.now()).await?;
                count("delivered");
            }
            Err(e) => {
                tracing::warn!(id = row.id, kind = %row.kind, permanent = e.permanent, error = %e.message, "email not delivered");
                let _turn = self.gate.turn().await;
                if e.permanent {
                    outbox::suppress(&self.db, &row.recipient, &e.message, self.clock.now())
                        .await?;
                }
                outbox::mark_attempt_failed(
                    &self.db,
                    row,
                    &e.message,
                    e.permanent,
                    self.clock.now(),
                )
                .await?;
                let gave_up = e.permanent || row.attempts >= outbox::MAX_ATTEMPTS;
                count(if gave_up { "gave_up" } else { "retry" });
            }
        }
        Ok(Delivery::Tried)
    }
}

/// What became of one leased row in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Sent, or the attempt recorded as failed.
    Tried,
    /// Not tried because the worker is stopping: given back without its lease.
    Untried,
}
