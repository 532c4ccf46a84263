//! Database connection: SQLite (embedded default) or PostgreSQL, chosen by URL scheme.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// How long a request waits for a pooled connection unless configured
/// (`LIANMING_DB_ACQUIRE_TIMEOUT_SECS`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a pool for `url` with the default acquire timeout.
///
/// # Errors
/// When the database cannot be reached or opened.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// Opens a pool for `url`. SQLite gets WAL, foreign keys, a busy timeout and `NORMAL` sync.
/// A request waits at most `acquire_timeout` for a connection: when the database is down it
/// is answered 503 in a few seconds rather than hanging (see [`is_unavailable`]).
///
/// # Errors
/// When the database cannot be reached or opened.
pub async fn connect_with(
    url: &str,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let size = if url.starts_with("sqlite:") { 8 } else { 20 };
    open(url, acquire_timeout, size).await
}

async fn open(
    url: &str,
    acquire_timeout: Duration,
    size: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout);
    if url.starts_with("sqlite:") {
        opts.max_connections(size)
            .min_connections(1)
            .map_sqlx_sqlite_opts(move |o| {
                // The lone writer's batch statements vary with the batch's size (multi-row
                // inserts, `IN (…)` lists): a larger statement cache keeps them all prepared.
                let o = if size == 1 {
                    o.pragma("wal_autocheckpoint", "0")
                        .statement_cache_capacity(WRITER_STATEMENTS)
                } else {
                    o
                };
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(15))
                    .create_if_missing(true)
            });
    } else {
        opts.max_connections(size).min_connections(1);
    }
    Database::connect(opts).await
}

/// Prepared statements the writer's connection keeps (sqlx's default is 100).
const WRITER_STATEMENTS: usize = 1024;

/// Opens the join writer's connections for `url` ([`writers`] of them) with the pool's
/// settings. On SQLite its commits never run a WAL checkpoint (`wal_autocheckpoint=0`):
/// copying the log into the database and syncing it would stall every join of that batch;
/// [`checkpoint`] does it in the background instead.
///
/// # Errors
/// When the database cannot be reached or opened.
pub async fn connect_writer(
    url: &str,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let backend = if url.starts_with("sqlite:") {
        DbBackend::Sqlite
    } else {
        DbBackend::Postgres
    };
    let size = u32::try_from(writers(backend)).unwrap_or(1);
    open(url, acquire_timeout, size).await
}

/// How many transactions write joins at once: one on SQLite, which has one writer at a time;
/// on PostgreSQL several, so that one batch's round trips and commit overlap another's.
#[must_use]
pub fn writers(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 1,
        _ => PG_WRITERS,
    }
}

/// Join writers on PostgreSQL.
const PG_WRITERS: usize = 4;

/// On SQLite, copies what the write-ahead log holds into the database file without waiting for
/// readers or writers (`PASSIVE`); nothing on PostgreSQL.
///
/// # Errors
/// When the statement fails.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await?;
    }
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so two writers wait on the busy timeout instead of one failing when it
/// upgrades a read lock.
///
/// # Errors
/// When the transaction cannot begin.
pub async fn write_txn(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mode = match db.get_database_backend() {
        DbBackend::Sqlite => Some(SqliteTransactionMode::Immediate),
        _ => None,
    };
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: mode,
        ..Default::default()
    })
    .await
}

/// Turns at SQLite's one write lock for this process's two busiest writers, the join writer
/// and the outbox worker, in the order they asked. SQLite itself does not queue: a writer that
/// finds the lock taken sleeps and retries (the busy timeout), and one that commits batch after
/// batch takes it again before the sleeper wakes, so during a join storm the outbox worker used
/// to send 4 emails a second of 86. Each takes a turn around one write transaction, never
/// around anything that waits on the network; a turn is given up when its guard drops. On
/// PostgreSQL, which has no such lock, there are no turns.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// Turns on SQLite; none on PostgreSQL.
    #[must_use]
    pub fn for_backend(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Sqlite => Self(Some(Arc::default())),
            _ => Self(None),
        }
    }

    /// Waits for this caller's turn (first come, first served); the turn lasts as long as the
    /// guard.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

/// Whether `err` is the violation of a unique constraint.
#[must_use]
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether `err` says the database cannot be reached now (no connection within the acquire
/// timeout, a connection lost, the server shutting down or refusing connections) rather than
/// that a statement is wrong: such errors are answered 503 with `Retry-After`.
#[must_use]
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        // Failing to open or acquire a connection is unavailability, whatever the cause (a
        // refused or reset socket, a half-open proxy answering garbage, authentication while
        // the server starts up).
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e
            .as_ref()
        {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception), 57P01–57P03 (admin or crash shutdown,
            // cannot connect now), 53300 (too many connections).
            Sqlx::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        },
        _ => false,
    }
}

/// Writes an online, consistent copy of a SQLite database to `file` with `VACUUM INTO` (one
/// read transaction: writers go on meanwhile, and the copy is the database as it was when the
/// copy began, compacted). `file` must not exist; it is created private (0600) first, as it
/// holds everything the database does.
///
/// # Errors
/// When `file` exists or cannot be created, or the copy fails (it is then removed). On
/// PostgreSQL, which `pg_dump` backs up, an error saying so.
pub async fn backup_into(db: &DatabaseConnection, file: &std::path::Path) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    if db.get_database_backend() != DbBackend::Sqlite {
        anyhow::bail!("only SQLite databases are backed up this way; use pg_dump -Fc");
    }
    crate::private_fs::file_options()
        .truncate(false)
        .create_new(true)
        .open(file)
        .with_context(|| format!("{}: cannot create it (it must not exist)", file.display()))?;
    let path = file.to_string_lossy().into_owned();
    let copied = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [path.into()],
        ))
        .await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(file);
        return Err(anyhow::Error::new(e).context("VACUUM INTO"));
    }
    Ok(std::fs::metadata(file)?.len())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
#[must_use]
pub fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_turns_go_first_come_first_served_on_sqlite_and_are_free_on_postgres() {
        // Arrange: the join writer holds the turn; the outbox worker asks for the next one.
        let gate = WriteGate::for_backend(DbBackend::Sqlite);
        let writer_turn = gate.turn().await;
        assert!(writer_turn.is_some());
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let worker = {
            let (gate, order_tx) = (gate.clone(), order_tx.clone());
            tokio::spawn(async move {
                let _turn = gate.turn().await;
                order_tx.send("outbox worker").expect("send");
            })
        };
        tokio::task::yield_now().await;

        // Act: the writer ends its batch and at once asks for another turn.
        drop(writer_turn);
        let again = gate.turn().await;
        order_tx.send("join writer").expect("send");
        worker.await.expect("worker");
        drop(again);

        // Assert: the worker, which asked first, wrote first; PostgreSQL never waits.
        assert_eq!(order.recv().await, Some("outbox worker"));
        assert_eq!(order.recv().await, Some("join writer"));
        let pg = WriteGate::for_backend(DbBackend::Postgres);
        let (a, b) = (pg.turn().await, pg.turn().await);
        assert!(a.is_none() && b.is_none());
    }
}
