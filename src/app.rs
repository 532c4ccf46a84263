//! Application assembly: state, routes, the HTTP server and its background tasks. Shared by
//! `main` and the integration tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use lettre::message::Mailbox;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::tokens::TokenService;
use crate::blob::BlobStore;
use crate::blob::local::LocalStore;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::error::AppError;
use crate::json::JsonLimit;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::ratelimit::RateLimits;
use crate::{
    accounts, db, evidence, groups, interactions, ops, pages, participation, providers, responses,
    secrets,
};

/// Everything a request handler may need.
#[derive(Debug)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// The application clock.
    pub clock: SharedClock,
    /// Access-token issuer and checker.
    pub tokens: TokenService,
    /// Rate limiters.
    pub limits: RateLimits,
    /// Base URL for links, without trailing slash.
    pub public_url: String,
    /// Domain used in Message-IDs.
    pub mail_domain: String,
    /// Wakes the outbox worker after mail was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// Where evidence files are kept.
    pub blobs: Arc<dyn BlobStore>,
    /// Signs and checks the tokens in email links.
    pub links: crate::notify::tokens::LinkSigner,
    /// The keys that sign dossiers.
    pub keys: crate::dossier::keys::KeySource,
    /// The CJK fonts of `letter.pdf`.
    pub pdf_fonts: crate::dossier::letter::PdfFonts,
}

impl AppState {
    /// The current time from the application clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lianming API",
        description = "Collective complaints: find and join groups, bring evidence, sign jointly.",
        version = "1"
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document as JSON, computed once at start-up and served from inside the API scope.
#[derive(Debug, Default)]
pub struct OpenApiJson(String);

async fn openapi_json(spec: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.0.clone())
}

/// Registers every route and returns the app with the OpenAPI document collected from them.
fn routes(
    state: web::Data<AppState>,
    spec: web::Data<OpenApiJson>,
) -> (
    App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let json_limit = JsonLimit(state.settings.json_limit_bytes);
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(spec)
        .app_data(json_limit)
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| AppError::field("path", e.to_string()).into()),
        )
        .service(
            utoipa_actix_web::scope::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi_json))
                .configure(accounts::routes)
                .configure(providers::routes)
                .configure(groups::routes)
                .configure(participation::routes)
                .configure(evidence::routes)
                .configure(interactions::routes)
                .configure(crate::notify::routes)
                .configure(groups::team_routes)
                .configure(responses::routes)
                .configure(crate::dossier::routes),
        )
        .configure(ops::routes)
        .configure(crate::dossier::well_known_routes)
        .split_for_parts();
    let app = app
        .configure(pages::routes)
        .configure(crate::notify::api::page_routes);
    let app = app
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY")),
        )
        .wrap(actix_web::middleware::from_fn(crate::error::scope_locale))
        .wrap(tracing_actix_web::TracingLogger::default());
    (app, api)
}

/// A built server, bound and ready to run.
pub struct Application {
    server: Server,
    port: u16,
    public_url: String,
    state: web::Data<AppState>,
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
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        let db = db::connect(&settings.database_url())
            .await
            .context("connecting to the database")?;
        Migrator::up(&db, None)
            .await
            .context("applying migrations")?;
        let listener = TcpListener::bind(settings.bind_addr()?)
            .with_context(|| format!("binding {}", settings.bind))?;
        let local = listener.local_addr()?;
        let state = web::Data::new(build_state(settings, clock, db, local)?);
        crate::dossier::service::recover_interrupted(&state)
            .await
            .context("recovering interrupted dossier builds")?;

        // Collect the OpenAPI document once from the same registrations the server uses.
        let (_, api) = routes(state.clone(), web::Data::new(OpenApiJson::default()));
        let spec = web::Data::new(OpenApiJson(api.to_json().context("serialising OpenAPI")?));
        let server_state = state.clone();
        let server = HttpServer::new(move || routes(server_state.clone(), spec.clone()).0)
            .listen(listener)?
            .shutdown_timeout(10)
            .run();

        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if state.settings.run_worker {
            let worker = mail_worker(&state)?;
            tasks.push(tokio::spawn(worker.run(stop.child_token())));
            let every = Duration::from_millis(state.settings.scheduler_tick_ms);
            tasks.push(tokio::spawn(crate::notify::scheduler::run(
                state.clone(),
                every,
                stop.child_token(),
            )));
        }
        tasks.push(tokio::spawn(housekeeping(
            state.clone(),
            stop.child_token(),
        )));
        Ok(Self {
            server,
            port: local.port(),
            public_url: state.public_url.clone(),
            state,
            stop,
            tasks,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
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

    /// Serves until the server is stopped (Ctrl-C or SIGTERM), then stops the background tasks.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        result
    }
}

/// Builds the shared state from settings and an open database.
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
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalStore::new(settings.data_dir.join("blobs")));
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
    Ok(AppState {
        links: crate::notify::tokens::LinkSigner::new(&secret),
        keys,
        pdf_fonts,
        blobs,
        db,
        limits: RateLimits::new(&settings),
        settings: Arc::new(settings),
        clock,
        tokens,
        public_url,
        mail_domain,
        mail_wake: Arc::new(tokio::sync::Notify::new()),
    })
}

/// The outbox worker for these settings.
///
/// # Errors
/// When the SMTP URL or the sender address is unusable.
pub fn mail_worker(state: &AppState) -> anyhow::Result<MailWorker> {
    let s = &state.settings;
    let transport = match &s.smtp_url {
        Some(url) => Transport::smtp(url.expose_secret(), s.smtp_pool_size)?,
        None => Transport::Files(s.data_dir.join("mail")),
    };
    let from: Mailbox = s.mail_from.parse().context("LIANMING_MAIL_FROM")?;
    Ok(MailWorker {
        db: state.db.clone(),
        transport,
        from,
        clock: state.clock.clone(),
        poll: Duration::from_millis(s.outbox_poll_ms),
        batch: 50,
        wake: state.mail_wake.clone(),
        throttle: Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
            std::num::NonZeroU32::new(s.mail_per_second).unwrap_or(std::num::NonZeroU32::MIN),
        ))),
        fault: None,
    })
}

async fn housekeeping(state: web::Data<AppState>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => state.limits.shrink(),
        }
    }
}
