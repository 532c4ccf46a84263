//! Application assembly: the HTTP server and its background tasks, built from the state and
//! the router. Shared by `main` and the integration tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use anyhow::Context as _;
use lettre::message::Mailbox;
use migration::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::router::{AllowedMethods, OpenApiJson, routes};
use crate::state::{AppState, build_state};

/// A built server, bound and ready to run.
pub struct Application {
    server: Server,
    local: std::net::SocketAddr,
    public_url: String,
    state: web::Data<AppState>,
    drain: web::Data<crate::ops::Drain>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects and migrates the database, loads or creates secrets, binds the listener and
    /// starts the background tasks.
    ///
    /// # Errors
    /// When the database, the data directory, the secrets or the address cannot be used.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        prepare_data_dir(&settings)?;
        crate::ops::recorder();
        let db = db::connect_with(
            &settings.database_url(),
            Duration::from_secs(settings.db_acquire_timeout_secs),
        )
        .await
        .context("connecting to the database")?;
        restrict_sqlite_files(&settings);
        migrate(&db).await?;
        let listener = TcpListener::bind(settings.bind_addr()?)
            .with_context(|| format!("binding {}", settings.bind))?;
        let local = listener.local_addr()?;
        let joins_db = db::connect_writer(
            &settings.database_url(),
            Duration::from_secs(settings.db_acquire_timeout_secs),
        )
        .await
        .context("connecting the join writer to the database")?;
        let mut state = build_state(settings, clock, db, local)?;
        state.write_joins_on(joins_db);
        let state = web::Data::new(state);
        sweep_uploads(&state).await;
        crate::dossier::service::sweep_temporaries(&state)
            .await
            .context("removing dead dossier builds' files")?;

        // Collect the OpenAPI document once from the same registrations the server uses.
        let drain = web::Data::new(crate::ops::Drain::default());
        let (_, api) = routes(
            state.clone(),
            web::Data::new(OpenApiJson::default()),
            web::Data::new(AllowedMethods::default()),
            drain.clone(),
        );
        let spec = web::Data::new(OpenApiJson(api.to_json().context("serialising OpenAPI")?));
        let allowed = web::Data::new(AllowedMethods::from_openapi(&api));
        let server_state = state.clone();
        let server_drain = drain.clone();
        // Signals are ours (`run_until_stopped`): actix's own would stop at once, without
        // the drain.
        let server = HttpServer::new(move || {
            routes(
                server_state.clone(),
                spec.clone(),
                allowed.clone(),
                server_drain.clone(),
            )
            .0
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(10)
        .run();

        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if state.ctx.settings.run_worker {
            let worker = mail_worker(&state)?;
            tasks.push(tokio::spawn(worker.run(stop.child_token())));
            let every = Duration::from_millis(state.ctx.settings.scheduler_tick_ms);
            tasks.push(tokio::spawn(crate::notify::scheduler::run(
                state.clone().into_inner(),
                every,
                stop.child_token(),
            )));
            tasks.push(start_jobs(state.clone().into_inner(), stop.child_token())?);
        }
        tasks.push(tokio::spawn(housekeeping(
            state.clone(),
            stop.child_token(),
        )));
        Ok(Self {
            server,
            local,
            public_url: state.ctx.public_url.clone(),
            state,
            drain,
            stop,
            tasks,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local
    }

    /// The public base URL.
    #[must_use]
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The shared state (for tests and commands that run beside the server).
    #[must_use]
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM or SIGINT (Ctrl-C), then stops in order: `/readyz` answers 503
    /// `draining` for `LIANMING_DRAIN_SECS` while everything is still served; then the server
    /// stops accepting and finishes the requests in flight (for at most 10 s); then the
    /// background tasks stop. A second signal during the drain cuts it short.
    ///
    /// # Errors
    /// When the server fails, or the signal handlers cannot be installed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);
        let mut signals = StopSignals::new()?;
        let result = tokio::select! {
            r = &mut server => r,
            () = signals.next() => {
                let drain = Duration::from_secs(self.state.ctx.settings.drain_secs);
                self.drain.start();
                tracing::info!(drain_secs = drain.as_secs(), "stop requested: draining");
                if !drain.is_zero() {
                    tokio::select! {
                        () = tokio::time::sleep(drain) => {}
                        () = signals.next() => tracing::info!("second stop signal: drain cut short"),
                    }
                }
                tracing::info!("no longer accepting; finishing requests in flight");
                // Paused first: a graceful stop drops the connections accepted but not yet
                // handed to a worker, unanswered; paused, the workers take those first.
                let ((), r) = tokio::join!(
                    async {
                        handle.pause().await;
                        tokio::time::sleep(HANDOVER).await;
                        handle.stop(true).await;
                    },
                    &mut server
                );
                r
            }
        };
        tracing::info!("HTTP server stopped; stopping the background tasks");
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        tracing::info!("background tasks stopped");
        result
    }
}

/// Time for connections already accepted to reach a worker before the server stops.
const HANDOVER: Duration = Duration::from_millis(100);

/// SIGTERM (what `docker stop`, Kubernetes and systemd send) and SIGINT (Ctrl-C).
pub struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers: from now on these signals no longer end the process by
    /// themselves.
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next stop signal.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The outbox worker for these settings.
///
/// # Errors
/// When the SMTP URL or the sender address is unusable.
pub fn mail_worker(state: &AppState) -> anyhow::Result<MailWorker> {
    let s = &state.ctx.settings;
    let transport = match &s.smtp_url {
        Some(url) => Transport::smtp(url.expose_secret(), s.smtp_pool_size)?,
        None => Transport::Files(s.data_dir.join("mail")),
    };
    let from: Mailbox = s.mail_from.parse().context("LIANMING_MAIL_FROM")?;
    Ok(MailWorker {
        db: state.db.clone(),
        transport,
        from,
        clock: state.ctx.clock.clone(),
        poll: Duration::from_millis(s.outbox_poll_ms),
        batch: 50,
        concurrency: usize::try_from(s.smtp_pool_size).unwrap_or(1),
        wake: state.mail_wake.clone(),
        throttle: Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
            std::num::NonZeroU32::new(s.mail_per_second).unwrap_or(std::num::NonZeroU32::MIN),
        ))),
        fault: None,
        gate: state.write_gate.clone(),
    })
}

/// Jobs one instance runs at once: a dossier build (CPU-bound, on blocking threads) beside the
/// light ones (scheduler passes, fan-outs).
const JOBS_AT_ONCE: usize = 2;

/// Starts this instance's job runner (dossier builds) on its thread. The returned task ends
/// when the runner has stopped; should the task be dropped instead (its runtime shutting down),
/// the runner is stopped too.
///
/// # Errors
/// When the runner's thread cannot be started.
pub fn start_jobs(
    state: Arc<crate::state::AppState>,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let poll = Duration::from_millis(state.ctx.settings.job_poll_ms);
    let (stopped, done) = tokio::sync::oneshot::channel::<()>();
    let guard = stop.clone().drop_guard();
    crate::jobs::Runner::new(state, poll, JOBS_AT_ONCE)
        .spawn(stop, stopped)
        .context("starting the job runner")?;
    Ok(tokio::spawn(async move {
        let _stop_when_dropped = guard;
        let _ = done.await;
    }))
}

async fn housekeeping(state: web::Data<AppState>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    // The join writer leaves SQLite's checkpoints to this task (`db::connect_writer`).
    let mut checkpoint = tokio::time::interval(Duration::from_secs(1));
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = state.limits.shrink(&state.db, state.now()).await {
                    tracing::warn!(error = %e, "could not forget old rate-limit hits");
                }
                if let Err(e) = crate::jobs::prune(&state.db, state.now()).await {
                    tracing::warn!(error = %e, "could not forget finished jobs");
                }
                sweep_uploads(&state).await;
            }
            _ = checkpoint.tick() => {
                if let Err(e) = db::checkpoint(&state.db).await {
                    tracing::debug!(error = %e, "WAL checkpoint skipped");
                }
            }
        }
    }
}

/// An upload's staging file untouched this long is left over from a crash or a dropped
/// request (one in progress is written to all the time).
const STALE_UPLOAD: Duration = Duration::from_secs(600);

async fn sweep_uploads(state: &AppState) {
    let blobs = state.blobs.clone();
    let swept = tokio::task::spawn_blocking(move || blobs.sweep(STALE_UPLOAD))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match swept {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed interrupted uploads"),
        Err(e) => tracing::warn!(error = %e, "could not sweep interrupted uploads"),
    }
}

/// Creates the data directory 0700 (and makes an existing one so: it holds personal data and
/// secrets), and creates a new SQLite file 0600 before SQLite does, so that its `-wal` and
/// `-shm` files, which SQLite creates with the database file's mode, are private too.
///
/// # Errors
/// When the directory or the database file cannot be created.
pub fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    let dir = &settings.data_dir;
    crate::private_fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    if let Err(e) = crate::private_fs::restrict(dir, crate::private_fs::DIR_MODE) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not make the data directory private");
    }
    if let Some(path) = sqlite_path(&settings.database_url())
        && !path.exists()
    {
        crate::private_fs::file_options()
            .truncate(false)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
    }
    Ok(())
}

/// Makes the SQLite file and its `-wal`/`-shm` companions 0600 (those of an older version were
/// created 0644).
fn restrict_sqlite_files(settings: &Settings) {
    let Some(path) = sqlite_path(&settings.database_url()) else {
        return;
    };
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Err(e) = crate::private_fs::restrict(&file, crate::private_fs::FILE_MODE) {
            tracing::warn!(file = %file.display(), error = %e, "could not make a database file private");
        }
    }
}

/// The file of a `sqlite:` URL (none for PostgreSQL or an in-memory database).
#[must_use]
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// Applies the migrations, then what they cannot compute themselves: the search terms of every
/// group that has none yet (all groups, the first time after the search migration).
///
/// # Errors
/// A migration or the indexing failed.
pub async fn migrate(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying migrations")?;
    let indexed = crate::groups::search::index_missing(db)
        .await
        .map_err(|e| anyhow::anyhow!("indexing groups for search: {e}"))?;
    if indexed > 0 {
        tracing::info!(indexed, "groups indexed for search");
    }
    Ok(())
}
