//! The shared state every handler and background task reads: the database pool, settings,
//! clock, token and link signers, stores and keys. It sits at the bottom of the crate: domain
//! modules import it, never the router or the assembly.

use std::sync::Arc;

use anyhow::Context as _;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use secrecy::ExposeSecret;

use crate::auth::tokens::TokenService;
use crate::blob::BlobStore;
use crate::blob::local::LocalStore;
use crate::blob::s3::S3Store;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db;
use crate::error::AppResult;
use crate::ratelimit::RateLimits;
use crate::secrets;

/// What services need besides a database connection: the time, the settings, the base URL
/// of links, the mail domain and the link signer. Cheap to clone; no pool, no stores.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// The application clock.
    pub clock: SharedClock,
    /// Base URL for links, without trailing slash.
    pub public_url: String,
    /// Domain used in Message-IDs.
    pub mail_domain: String,
    /// Signs and checks the tokens in email links.
    pub links: crate::notify::tokens::LinkSigner,
}

impl Ctx {
    /// The current time from the application clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// Everything a request handler or background task may need.
#[derive(Debug)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// What services need besides the connection.
    pub ctx: Ctx,
    /// Access-token issuer and checker.
    pub tokens: TokenService,
    /// Rate limiters.
    pub limits: RateLimits,
    /// Wakes the outbox worker after mail was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// Where evidence files are kept.
    pub blobs: Arc<dyn BlobStore>,
    /// The object store that also keeps dossier parts, when evidence is in one: an instance
    /// serves a version another instance built from there.
    pub parts: Option<S3Store>,
    /// The keys that sign dossiers.
    pub keys: crate::dossier::keys::KeySource,
    /// The CJK fonts of `letter.pdf`.
    pub pdf_fonts: crate::dossier::letter::PdfFonts,
    /// The writer that commits concurrent joins together.
    pub joins: crate::participation::writer::JoinWriter,
    /// Public group views, shared by every viewer.
    pub views: Arc<crate::groups::cache::ViewCache>,
    /// This instance's identity for background jobs.
    pub jobs: crate::jobs::Jobs,
    /// The time-stamping authority, when one is configured, and the certificates its tokens
    /// are checked against.
    pub tsa: crate::tsa::Tsa,
    /// Turns at SQLite's write lock for the join writer and the outbox worker.
    pub write_gate: db::WriteGate,
}

impl AppState {
    /// Moves the join writer onto `conn`, a connection of its own ([`db::connect_writer`]), so
    /// that under load it never waits behind readers for one of the pool's.
    pub fn write_joins_on(&mut self, conn: DatabaseConnection) {
        self.joins = spawn_join_writer(conn, self);
    }

    /// The current time from the application clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.now()
    }

    /// Who hears of committed joins: the outbox worker and the public view cache.
    #[must_use]
    pub fn wake(&self) -> crate::participation::writer::Wake {
        crate::participation::writer::Wake {
            mail: self.mail_wake.clone(),
            views: self.views.clone(),
        }
    }

    /// Runs `f` in one write transaction that this call begins and commits (`f`'s error rolls
    /// it back), then wakes the outbox worker and the job runner for any mail or job `f`
    /// queued in it.
    ///
    /// # Errors
    /// `f`'s error, or the database's when the transaction cannot begin or commit.
    pub async fn write<T>(
        &self,
        f: impl AsyncFnOnce(&DatabaseTransaction) -> AppResult<T>,
    ) -> AppResult<T> {
        let txn = db::write_txn(&self.db).await?;
        let out = f(&txn).await?;
        txn.commit().await?;
        self.views.invalidate();
        self.mail_wake.notify_one();
        self.jobs.wake.notify_one();
        Ok(out)
    }
}

/// Most joins one transaction of the join writer commits together.
const JOIN_BATCH_MAX: usize = 64;

/// Builds the shared state from settings and an open database; starts the join writer, so it
/// runs inside a Tokio runtime.
///
/// # Errors
/// When the secrets cannot be loaded.
pub fn build_state(
    settings: Settings,
    clock: SharedClock,
    db: DatabaseConnection,
    local: std::net::SocketAddr,
) -> anyhow::Result<AppState> {
    let secret = secrets::load_or_create(
        &settings.data_dir,
        "jwt.key",
        settings.jwt_secret.as_ref().map(|s| s.expose_secret()),
    )?;
    let public_url = settings.public_url(local);
    let mail_domain = url::Url::parse(&public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "lianming.localhost".into());
    let tokens = TokenService::new(
        &secret,
        public_url.clone(),
        chrono::Duration::minutes(settings.access_token_minutes),
    );
    let remote = settings
        .blob_url
        .as_ref()
        .map(|url| S3Store::from_url(url.expose_secret()))
        .transpose()?;
    let blobs: Arc<dyn BlobStore> = match &remote {
        Some(s3) => Arc::new(s3.clone()),
        None => Arc::new(LocalStore::new(settings.data_dir.join("blobs"))),
    };
    let keys =
        crate::dossier::keys::KeySource::new(&settings.data_dir, settings.signing_key_file.clone());
    keys.ensure(clock.now())
        .context("loading or creating the dossier signing key")?;
    let pdf_fonts = crate::dossier::letter::PdfFonts::discover(settings.pdf_font.as_deref());
    if pdf_fonts.available() {
        tracing::debug!(fonts = ?pdf_fonts.paths(), "CJK fonts for dossier letters");
    } else {
        tracing::warn!(
            "no CJK font found (install fonts-noto-cjk or set LIANMING_PDF_FONT): compiling \
             dossiers will answer 503 pdf_font_missing"
        );
    }
    let tsa = crate::tsa::Tsa::from_settings(&settings)?;
    let limits = RateLimits::new(&settings, clock.clone());
    let jobs = crate::jobs::Jobs::new(settings.job_lease_secs);
    let ctx = Ctx {
        links: crate::notify::tokens::LinkSigner::new(&secret),
        settings: Arc::new(settings),
        clock,
        public_url,
        mail_domain,
    };
    let wake = crate::participation::writer::Wake {
        mail: Arc::new(tokio::sync::Notify::new()),
        views: Arc::new(crate::groups::cache::ViewCache::default()),
    };
    let write_gate = db::WriteGate::for_backend(db.get_database_backend());
    let joins = crate::participation::writer::JoinWriter::spawn(
        db.clone(),
        ctx.clone(),
        wake.clone(),
        write_gate.clone(),
        JOIN_BATCH_MAX,
        1,
        None,
    );
    Ok(AppState {
        tsa,
        parts: remote,
        jobs,
        joins,
        keys,
        pdf_fonts,
        blobs,
        db,
        limits,
        ctx,
        tokens,
        mail_wake: wake.mail,
        views: wake.views,
        write_gate,
    })
}

fn spawn_join_writer(
    conn: DatabaseConnection,
    state: &AppState,
) -> crate::participation::writer::JoinWriter {
    let tasks = db::writers(conn.get_database_backend());
    crate::participation::writer::JoinWriter::spawn(
        conn,
        state.ctx.clone(),
        state.wake(),
        state.write_gate.clone(),
        JOIN_BATCH_MAX,
        tasks,
        None,
    )
}
