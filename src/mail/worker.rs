//! The outbox worker: leases due rows, sends them, records the outcome. Runs inside `serve`
//! and alone as `lianming worker`; several may run against one PostgreSQL database.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use super::outbox;
use super::transport::Transport;
use crate::clock::SharedClock;
use crate::db;

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
    /// Wakes the worker early when mail was queued.
    pub wake: Arc<tokio::sync::Notify>,
}

impl MailWorker {
    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(transport = ?self.transport, "outbox worker started");
        loop {
            let sent = match self.run_once().await {
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
        let rows = {
            let txn = db::write_txn(&self.db).await?;
            let rows = outbox::lease_due(&txn, self.clock.now(), self.batch).await?;
            txn.commit().await?;
            rows
        };
        for row in &rows {
            match self.transport.send(&self.from, row).await {
                Ok(()) => outbox::mark_sent(&self.db, row.id, self.clock.now()).await?,
                Err(e) => {
                    tracing::warn!(id = row.id, kind = %row.kind, permanent = e.permanent, error = %e.message, "email not delivered");
                    outbox::mark_attempt_failed(
                        &self.db,
                        row,
                        &e.message,
                        e.permanent,
                        self.clock.now(),
                    )
                    .await?;
                }
            }
        }
        Ok(rows.len())
    }
}
