//! The `lianming` command: `serve` (default), `migrate`, `worker`, `user create`, `demo`,
//! `verify`, `backup`, `keys rotate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use lianming::clock::{Clock, SystemClock};
use lianming::{Application, Settings, telemetry};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "lianming",
    version,
    about = "联名 Lianming: collective-complaint coordination server"
)]
struct Cli {
    /// Configuration file (default: ./lianming.toml when present).
    #[arg(long, global = true, env = "LIANMING_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server with its background workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run only the background workers (outbox), for deployments with dedicated workers.
    Worker,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Load fictional providers, groups and participants so a newcomer sees a living site.
    Demo,
    /// Check a dossier bundle: the signature and every file's SHA-256; or, with `--receipt`,
    /// a participant's inclusion receipt against the bundle, or without a bundle against the
    /// root published for its version. Exit status 0 when valid, 1 when not (the report names
    /// what fails), 2 when something cannot be read.
    Verify {
        /// The bundle (zip); optional with `--receipt`.
        #[arg(required_unless_present = "receipt")]
        bundle: Option<PathBuf>,
        /// The JWKS to check against: a file or an `http(s)://` URL (default: the keys in the
        /// data directory).
        #[arg(long)]
        jwks: Option<String>,
        /// A receipt (`lianming-receipt/1` JSON) to check.
        #[arg(long)]
        receipt: Option<PathBuf>,
        /// Without a bundle: the published root to check the receipt against, a file or an
        /// `http(s)://` URL (default: the receipt's `root_url`).
        #[arg(long, requires = "receipt")]
        root: Option<String>,
        /// PEM certificate(s) of the trusted TSA or its CA, to check the bundle's
        /// `manifest.tsr` against (default: LIANMING_TSA_CERT; without any, the timestamp's
        /// signer is reported as not checked).
        #[arg(long)]
        tsa_cert: Option<PathBuf>,
    },
    /// Write an online, consistent copy of the SQLite database to FILE (which must not exist),
    /// while the server runs. On PostgreSQL use `pg_dump -Fc` (exit status 2).
    Backup {
        /// Where the copy goes.
        file: PathBuf,
    },
    /// Manage the Ed25519 keys that sign dossiers.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new current signing key; old keys stay published (retired) so what they signed
    /// keeps verifying.
    Rotate,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a verified account.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name (default: the part before @).
        #[arg(long)]
        name: Option<String>,
        /// Password (default: a random one, printed once).
        #[arg(long, env = "LIANMING_NEW_USER_PASSWORD")]
        password: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lianming: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, settings.log_json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lianming: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Verify {
        bundle,
        jwks,
        receipt,
        root,
        tsa_cert,
    } = &command
    {
        let trust = Trust {
            jwks: jwks.as_deref(),
            tsa_cert: tsa_cert.as_deref(),
        };
        return match (receipt, bundle) {
            (Some(receipt), bundle) => runtime.block_on(verify_receipt(
                &settings,
                receipt,
                bundle.as_deref(),
                trust,
                root.as_deref(),
            )),
            (None, Some(bundle)) => runtime.block_on(verify(&settings, bundle, trust)),
            // clap requires one of them.
            (None, None) => ExitCode::from(2),
        };
    }
    if let Command::Backup { file } = &command {
        return runtime.block_on(backup(&settings, file));
    }
    match runtime.block_on(run(command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lianming: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What `lianming verify` trusts: `--jwks` and `--tsa-cert`.
#[derive(Clone, Copy)]
struct Trust<'a> {
    jwks: Option<&'a str>,
    tsa_cert: Option<&'a Path>,
}

/// The signing keys and the TSA certificates `lianming verify` checks against.
async fn verify_keys(
    settings: &Settings,
    trust: Trust<'_>,
) -> anyhow::Result<(
    lianming::dossier::keys::Jwks,
    Option<lianming::tsa::Anchors>,
)> {
    use lianming::dossier::{keys::KeySource, verify};
    let keys = match trust.jwks {
        Some(source) => verify::load_jwks(source).await?,
        None => KeySource::new(&settings.data_dir, settings.signing_key_file.clone()).jwks()?,
    };
    let anchors = trust
        .tsa_cert
        .or(settings.tsa_cert.as_deref())
        .map(lianming::tsa::load_anchors)
        .transpose()?;
    Ok((keys, anchors))
}

fn open_bundle(bundle: &Path) -> anyhow::Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(bundle)
        .map(std::io::BufReader::new)
        .map_err(|e| anyhow::anyhow!("{}: {e}", bundle.display()))
}

fn verdict(valid: bool, text: &str) -> ExitCode {
    print!("{text}");
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn verify(settings: &Settings, bundle: &Path, trust: Trust<'_>) -> ExitCode {
    let checked = async {
        let (keys, anchors) = verify_keys(settings, trust).await?;
        let file = open_bundle(bundle)?;
        anyhow::Ok(lianming::dossier::verify::verify_with(
            file,
            &keys,
            None,
            anchors.as_ref(),
        ))
    };
    match checked.await {
        Ok(report) => verdict(report.valid, &report.to_text()),
        Err(e) => {
            eprintln!("lianming: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn verify_receipt(
    settings: &Settings,
    receipt: &Path,
    bundle: Option<&Path>,
    trust: Trust<'_>,
    root: Option<&str>,
) -> ExitCode {
    use lianming::dossier::{receipt, verify};
    let checked = async {
        let bytes =
            std::fs::read(receipt).map_err(|e| anyhow::anyhow!("{}: {e}", receipt.display()))?;
        if let Some(bundle) = bundle {
            let (keys, anchors) = verify_keys(settings, trust).await?;
            let file = open_bundle(bundle)?;
            return anyhow::Ok(receipt::against_bundle(
                &bytes,
                file,
                &keys,
                None,
                anchors.as_ref(),
            ));
        }
        let (report, checked) = receipt::check(&bytes);
        let Some(c) = checked else {
            return Ok(report);
        };
        let source = root.unwrap_or(&c.receipt.root_url);
        let published: receipt::PublishedRoot =
            serde_json::from_slice(&verify::load_source(source).await?)
                .map_err(|e| anyhow::anyhow!("{source} is not a published root: {e}"))?;
        Ok(receipt::checked_against_root(report, &c, Some(&published)))
    };
    match checked.await {
        Ok(report) => verdict(report.valid, &report.to_text()),
        Err(e) => {
            eprintln!("lianming: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn backup(settings: &Settings, file: &Path) -> ExitCode {
    let url = settings.database_url();
    let Some(db_file) = lianming::app::sqlite_path(&url) else {
        eprintln!(
            "lianming: backup copies SQLite databases; for PostgreSQL use pg_dump -Fc (with \
             the same DATABASE_URL)"
        );
        return ExitCode::from(2);
    };
    if !db_file.exists() {
        eprintln!("lianming: no database at {}", db_file.display());
        return ExitCode::FAILURE;
    }
    if file.exists() {
        eprintln!("lianming: {} exists; not overwritten", file.display());
        return ExitCode::FAILURE;
    }
    let copied = match lianming::db::connect_with(
        &url,
        std::time::Duration::from_secs(settings.db_acquire_timeout_secs),
    )
    .await
    {
        Ok(db) => lianming::db::backup_into(&db, file).await,
        Err(e) => Err(e.into()),
    };
    match copied {
        Ok(bytes) => {
            println!("backup written to {} ({bytes} bytes)", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lianming: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    match command {
        Command::Serve => {
            let app = Application::build(settings, clock).await?;
            let listening = format!("http://{}", app.local_addr());
            if listening == app.public_url() {
                println!("Lianming is listening on {listening} (API docs at {listening}/docs)");
            } else {
                println!(
                    "Lianming is listening on {listening} (public URL {0}, API docs at {0}/docs)",
                    app.public_url()
                );
            }
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            lianming::app::prepare_data_dir(&settings)?;
            let db = lianming::db::connect_with(
                &settings.database_url(),
                std::time::Duration::from_secs(settings.db_acquire_timeout_secs),
            )
            .await?;
            lianming::app::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Worker => {
            lianming::app::prepare_data_dir(&settings)?;
            let db = lianming::db::connect_with(
                &settings.database_url(),
                std::time::Duration::from_secs(settings.db_acquire_timeout_secs),
            )
            .await?;
            lianming::app::migrate(&db).await?;
            let local = settings.bind_addr()?;
            let every = std::time::Duration::from_millis(settings.scheduler_tick_ms);
            let state =
                std::sync::Arc::new(lianming::state::build_state(settings, clock, db, local)?);
            let worker = lianming::app::mail_worker(&state)?;
            let stop = CancellationToken::new();
            let sender = tokio::spawn(worker.run(stop.clone()));
            let jobs = lianming::app::start_jobs(state.clone(), stop.clone())?;
            let scheduler =
                tokio::spawn(lianming::notify::scheduler::run(state, every, stop.clone()));
            let mut signals = lianming::app::StopSignals::new()?;
            println!(
                "Lianming worker running (outbox, scheduler, jobs); Ctrl-C or SIGTERM stops it"
            );
            signals.next().await;
            stop.cancel();
            sender.await?;
            scheduler.await?;
            jobs.await?;
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    password,
                    admin,
                },
        } => {
            lianming::app::prepare_data_dir(&settings)?;
            let db = lianming::db::connect_with(
                &settings.database_url(),
                std::time::Duration::from_secs(settings.db_acquire_timeout_secs),
            )
            .await?;
            lianming::app::migrate(&db).await?;
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| lianming::domain::random_suffix(16));
            let name =
                name.unwrap_or_else(|| email.split('@').next().unwrap_or("admin").to_owned());
            let id = lianming::accounts::service::create_user_cli(
                &db,
                &email,
                &name,
                password.clone(),
                admin,
                clock.now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created user {id} <{email}>{}",
                if admin { " (admin)" } else { "" }
            );
            if generated {
                println!("password: {password}");
            }
        }
        Command::Demo => {
            lianming::app::prepare_data_dir(&settings)?;
            let db = lianming::db::connect_with(
                &settings.database_url(),
                std::time::Duration::from_secs(settings.db_acquire_timeout_secs),
            )
            .await?;
            lianming::app::migrate(&db).await?;
            let local = settings.bind_addr()?;
            let state = lianming::state::build_state(settings, clock, db, local)?;
            println!("{}", lianming::demo::load(&state).await?);
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let keys = lianming::dossier::keys::KeySource::new(
                &settings.data_dir,
                settings.signing_key_file.clone(),
            );
            let kid = keys.rotate(clock.now())?;
            println!("new current signing key: {kid}");
        }
        Command::Verify { .. } | Command::Backup { .. } => {
            anyhow::bail!("verify and backup are handled before other commands")
        }
    }
    Ok(())
}
