//! Typed settings: built-in defaults, then an optional `lianming.toml`, then the environment
//! (`LIANMING_*`, plus `DATABASE_URL`). Validated once at start-up.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Every setting of the server. Each field is documented in README.md's table.
///
/// Secrets (the database URL, which may hold a password, the SMTP URL, the token key and the
/// metrics token) are never serialised (so the figment defaults cannot carry them) and are redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address the HTTP server listens on (`LIANMING_BIND`).
    pub bind: String,
    /// Directory for the SQLite file, evidence, generated keys and `.eml` mail.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means SQLite in the data directory.
    #[serde(skip_serializing)]
    pub database_url: Option<String>,
    /// Longest a request waits for a database connection before it is answered 503, in seconds.
    pub db_acquire_timeout_secs: u64,
    /// Public base URL used in links in emails and pages.
    pub public_url: Option<String>,
    /// `smtp://user:pass@host:port` (`smtps://` for implicit TLS, `?tls=required` for STARTTLS);
    /// unset means emails are written as `.eml` files under `DATA_DIR/mail`.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// The `From:` header of every email.
    pub mail_from: String,
    /// HMAC key for access tokens; unset means one generated into the data directory.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// Where evidence is kept: unset means `DATA_DIR/blobs`; `s3://bucket[/prefix]` an
    /// S3-compatible store (its query may carry settings, credentials too, so it is a secret).
    #[serde(skip_serializing)]
    pub blob_url: Option<SecretString>,
    /// Lifetime of an access token, in minutes.
    pub access_token_minutes: i64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_days: i64,
    /// Largest JSON request body, in bytes.
    pub json_limit_bytes: usize,
    /// Login attempts allowed per minute per account and client address (ten times as many per
    /// address over all accounts).
    pub login_per_minute: u32,
    /// Failed logins on one account, from all addresses, within an hour before further wrong
    /// passwords answer 429 (a right password from an address without failures still works).
    pub login_failures_per_hour: u32,
    /// Registrations allowed per hour per client address.
    pub register_per_hour: u32,
    /// Password-reset and verification-mail requests per hour, per address and per account.
    pub reset_per_hour: u32,
    /// Joins allowed per minute per user.
    pub join_per_minute: u32,
    /// Largest evidence file, in bytes.
    pub evidence_max_file_bytes: u64,
    /// Evidence storage per participant, in bytes.
    pub evidence_quota_bytes: u64,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How often the outbox worker looks for due mail, in milliseconds.
    pub outbox_poll_ms: u64,
    /// Run the outbox worker and the scheduler inside `serve` (turn off when dedicated
    /// workers run).
    pub run_worker: bool,
    /// How often the scheduler looks for digests, alerts and reminders that are due, in ms.
    pub scheduler_tick_ms: u64,
    /// Most emails sent per second (a throttle for the relay).
    pub mail_per_second: u32,
    /// SMTP connections kept open at most; the outbox worker sends this many emails at once.
    pub smtp_pool_size: u32,
    /// Days after a resolution before participants are asked whether their own case was
    /// resolved.
    pub outcome_check_days: i64,
    /// `tracing` filter, e.g. `info` or `lianming=debug,info`.
    pub log: String,
    /// Log as JSON lines instead of human-readable text.
    pub log_json: bool,
    /// PKCS#8 PEM file of the Ed25519 key that signs dossiers; unset means keys generated into
    /// `DATA_DIR/keys` (`lianming keys rotate` makes a new one).
    pub signing_key_file: Option<PathBuf>,
    /// A CJK font file (or a directory of them) for `letter.pdf`; unset means Noto CJK (or
    /// WenQuanYi) found under `/usr/share/fonts`.
    pub pdf_font: Option<PathBuf>,
    /// Dossiers of at most this many participants are built inside the compile request;
    /// larger ones in the background.
    pub dossier_inline_max: u32,
    /// How long an instance holds a background job (a dossier build) without renewing its
    /// lease, in seconds; when it dies, another instance takes the job over this long after.
    pub job_lease_secs: u64,
    /// How often the job runner looks for due jobs, in milliseconds (a new job on the same
    /// instance wakes it at once).
    pub job_poll_ms: u64,
    /// Days after a group closes before its evidence is deleted and its participants
    /// anonymised (they are told 30 days before).
    pub retention_days: i64,
    /// Largest bundle accepted for verification, in bytes.
    pub dossier_verify_max_bytes: u64,
    /// The IANA time zone in which days are shown and compared ("today" for incident dates,
    /// dates in emails), e.g. `Asia/Shanghai`.
    pub timezone: String,
    /// Seconds between a stop signal (SIGTERM, SIGINT) and the server's stop, while `/readyz`
    /// answers 503 `draining` and everything else is still served, so a load balancer takes
    /// the instance out before it stops accepting.
    pub drain_secs: u64,
    /// Bearer token `/metrics` requires; unset means `/metrics` is open (keep it off the
    /// public network then).
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// `http(s)://` URL of an RFC 3161 time-stamping authority; unset means no trusted
    /// timestamps (dossiers and evidence are as before, and their letters say so).
    pub tsa_url: Option<String>,
    /// PEM file of the TSA's certificate or of the CA certificate(s) that issued it: tokens
    /// from the TSA, and bundles' `manifest.tsr`, are checked against it. Required with
    /// `tsa_url`.
    pub tsa_cert: Option<PathBuf>,
    /// Longest wait for the TSA's answer, in seconds.
    pub tsa_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            db_acquire_timeout_secs: 5,
            public_url: None,
            smtp_url: None,
            mail_from: "联名 Lianming <noreply@lianming.localhost>".into(),
            jwt_secret: None,
            blob_url: None,
            access_token_minutes: 15,
            refresh_token_days: 30,
            json_limit_bytes: 64 * 1024,
            login_per_minute: 10,
            login_failures_per_hour: 100,
            register_per_hour: 20,
            reset_per_hour: 5,
            join_per_minute: 30,
            evidence_max_file_bytes: 20 * 1024 * 1024,
            evidence_quota_bytes: 200 * 1024 * 1024,
            trust_forwarded_for: false,
            outbox_poll_ms: 1000,
            run_worker: true,
            scheduler_tick_ms: 30_000,
            mail_per_second: 20,
            smtp_pool_size: 4,
            outcome_check_days: 14,
            log: "info".into(),
            log_json: false,
            signing_key_file: None,
            pdf_font: None,
            dossier_inline_max: 200,
            job_lease_secs: 60,
            job_poll_ms: 2000,
            retention_days: 365,
            dossier_verify_max_bytes: 512 * 1024 * 1024,
            timezone: DEFAULT_TIMEZONE.into(),
            drain_secs: 0,
            metrics_token: None,
            tsa_url: None,
            tsa_cert: None,
            tsa_timeout_secs: 10,
        }
    }
}

/// Where most users of a Chinese complaint service live.
const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// What `Debug` shows for a secret that is set.
const REDACTED: &str = "[REDACTED]";

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |v: bool| if v { Some(REDACTED) } else { None };
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("db_acquire_timeout_secs", &self.db_acquire_timeout_secs)
            .field("public_url", &self.public_url)
            .field("smtp_url", &secret(self.smtp_url.is_some()))
            .field("mail_from", &self.mail_from)
            .field("jwt_secret", &secret(self.jwt_secret.is_some()))
            .field("blob_url", &secret(self.blob_url.is_some()))
            .field("access_token_minutes", &self.access_token_minutes)
            .field("refresh_token_days", &self.refresh_token_days)
            .field("json_limit_bytes", &self.json_limit_bytes)
            .field("login_per_minute", &self.login_per_minute)
            .field("login_failures_per_hour", &self.login_failures_per_hour)
            .field("register_per_hour", &self.register_per_hour)
            .field("reset_per_hour", &self.reset_per_hour)
            .field("join_per_minute", &self.join_per_minute)
            .field("evidence_max_file_bytes", &self.evidence_max_file_bytes)
            .field("evidence_quota_bytes", &self.evidence_quota_bytes)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("outbox_poll_ms", &self.outbox_poll_ms)
            .field("run_worker", &self.run_worker)
            .field("scheduler_tick_ms", &self.scheduler_tick_ms)
            .field("mail_per_second", &self.mail_per_second)
            .field("smtp_pool_size", &self.smtp_pool_size)
            .field("outcome_check_days", &self.outcome_check_days)
            .field("log", &self.log)
            .field("log_json", &self.log_json)
            .field("signing_key_file", &self.signing_key_file)
            .field("pdf_font", &self.pdf_font)
            .field("dossier_inline_max", &self.dossier_inline_max)
            .field("job_lease_secs", &self.job_lease_secs)
            .field("job_poll_ms", &self.job_poll_ms)
            .field("retention_days", &self.retention_days)
            .field("dossier_verify_max_bytes", &self.dossier_verify_max_bytes)
            .field("timezone", &self.timezone)
            .field("drain_secs", &self.drain_secs)
            .field("metrics_token", &secret(self.metrics_token.is_some()))
            .field("tsa_url", &self.tsa_url)
            .field("tsa_cert", &self.tsa_cert)
            .field("tsa_timeout_secs", &self.tsa_timeout_secs)
            .finish()
    }
}

/// A database URL as it may be shown: scheme, host and database, never the user's password
/// (an unparsable URL is hidden whole, since it may still hold one).
fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            if u.set_password(Some(REDACTED)).is_err() {
                return REDACTED.into();
            }
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => REDACTED.into(),
    }
}

/// A setting that cannot be used, with a message fit for one line on the terminal.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Defaults, then the TOML file (`path`, or `./lianming.toml` when it exists), then the
    /// environment.
    ///
    /// # Errors
    /// A malformed file, an unknown key or a value of the wrong type or form.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(p) if !p.exists() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    p.display()
                )));
            }
            Some(p) => figment = figment.merge(Toml::file(p)),
            None => figment = figment.merge(Toml::file("lianming.toml")),
        }
        let figment = figment
            .merge(Env::prefixed("LIANMING_").ignore(&["config"]))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let mut settings: Settings = figment.extract().map_err(|e| {
            let first = e
                .into_iter()
                .next()
                .map(|e| e.to_string())
                .unwrap_or_default();
            ConfigError(first)
        })?;
        // An empty variable (as compose files write for "unset") means unset.
        settings.smtp_url = settings
            .smtp_url
            .filter(|u| !u.expose_secret().trim().is_empty());
        settings.blob_url = settings
            .blob_url
            .filter(|u| !u.expose_secret().trim().is_empty());
        settings.metrics_token = settings
            .metrics_token
            .filter(|t| !t.expose_secret().trim().is_empty());
        settings.public_url = settings.public_url.filter(|u| !u.trim().is_empty());
        settings.database_url = settings.database_url.filter(|u| !u.trim().is_empty());
        settings.tsa_url = settings.tsa_url.filter(|u| !u.trim().is_empty());
        settings.tsa_cert = settings.tsa_cert.filter(|p| !p.as_os_str().is_empty());
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the values that serde cannot.
    ///
    /// # Errors
    /// The first setting that is unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        if let Some(url) = &self.public_url {
            let parsed = Url::parse(url)
                .map_err(|e| ConfigError(format!("LIANMING_PUBLIC_URL {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError(format!(
                    "LIANMING_PUBLIC_URL {url:?} must be http(s)"
                )));
            }
        }
        if let Some(url) = &self.smtp_url {
            let parsed = Url::parse(url.expose_secret())
                .map_err(|e| ConfigError(format!("LIANMING_SMTP_URL is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host_str().is_none() {
                return Err(ConfigError(
                    "LIANMING_SMTP_URL must look like smtp://host:port or smtps://host".into(),
                ));
            }
        }
        if let Some(url) = &self.blob_url
            && !url.expose_secret().starts_with("s3://")
        {
            return Err(ConfigError(
                "LIANMING_BLOB_URL must look like s3://bucket[/prefix]".into(),
            ));
        }
        let db = self.database_url();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "LIANMING_MAIL_FROM {:?} is not a mailbox",
                self.mail_from
            )));
        }
        if self.timezone.parse::<Tz>().is_err() {
            return Err(ConfigError(format!(
                "LIANMING_TIMEZONE {:?} is not an IANA time zone such as Asia/Shanghai",
                self.timezone
            )));
        }
        if self.db_acquire_timeout_secs == 0 {
            return Err(ConfigError(
                "LIANMING_DB_ACQUIRE_TIMEOUT_SECS must be at least 1".into(),
            ));
        }
        if self.retention_days <= crate::retention::NOTICE_DAYS {
            return Err(ConfigError(format!(
                "LIANMING_RETENTION_DAYS must be more than {} (the notice comes that many days \
                 before the deletion)",
                crate::retention::NOTICE_DAYS
            )));
        }
        if self.job_lease_secs < 3 || self.job_poll_ms == 0 {
            return Err(ConfigError(
                "LIANMING_JOB_LEASE_SECS must be at least 3 and LIANMING_JOB_POLL_MS at least 1"
                    .into(),
            ));
        }
        if self.access_token_minutes < 1 || self.refresh_token_days < 1 {
            return Err(ConfigError("token lifetimes must be at least 1".into()));
        }
        if self.login_per_minute == 0
            || self.login_failures_per_hour == 0
            || self.register_per_hour == 0
            || self.reset_per_hour == 0
            || self.join_per_minute == 0
            || self.mail_per_second == 0
            || self.smtp_pool_size == 0
        {
            return Err(ConfigError("rate limits must be at least 1".into()));
        }
        if let Some(path) = &self.signing_key_file
            && !path.is_file()
        {
            return Err(ConfigError(format!(
                "LIANMING_SIGNING_KEY_FILE {} is not a file",
                path.display()
            )));
        }
        self.validate_tsa()?;
        if let Some(path) = &self.pdf_font
            && !path.exists()
        {
            return Err(ConfigError(format!(
                "LIANMING_PDF_FONT {} does not exist",
                path.display()
            )));
        }
        Ok(())
    }

    /// The TSA settings: an `http(s)` URL, and with it a readable certificate file.
    fn validate_tsa(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.tsa_url {
            let parsed = Url::parse(url)
                .map_err(|e| ConfigError(format!("LIANMING_TSA_URL {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ConfigError(format!(
                    "LIANMING_TSA_URL {url:?} must be an http(s) URL"
                )));
            }
            if self.tsa_cert.is_none() {
                return Err(ConfigError(
                    "LIANMING_TSA_URL is set but LIANMING_TSA_CERT is not: name the PEM file of \
                     the TSA's certificate (or its CA's), so its timestamps can be checked"
                        .into(),
                ));
            }
        }
        if let Some(path) = &self.tsa_cert
            && let Err(e) = std::fs::read(path)
        {
            return Err(ConfigError(format!(
                "LIANMING_TSA_CERT {} cannot be read: {e}",
                path.display()
            )));
        }
        if self.tsa_timeout_secs == 0 {
            return Err(ConfigError(
                "LIANMING_TSA_TIMEOUT_SECS must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The socket address to bind.
    ///
    /// # Errors
    /// When `bind` does not resolve.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ConfigError(format!("LIANMING_BIND {:?} is not host:port", self.bind)))
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    #[must_use]
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("lianming.db").display()
            )
        })
    }

    /// The time zone in which days are shown and compared (validated at start-up; the default
    /// zone should a caller build settings by hand with a bad name).
    #[must_use]
    pub fn time_zone(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::Asia__Shanghai)
    }

    /// The calendar day at `t` in the configured time zone: what "today" means for the user.
    #[must_use]
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.time_zone()).date_naive()
    }

    /// The public base URL without a trailing slash.
    #[must_use]
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_database_password_is_hidden_and_the_rest_of_the_url_kept() {
        let shown = redact_url("postgres://app:hunter2@db:5432/lianming");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("app:") && shown.contains("@db:5432/lianming"),
            "{shown}"
        );
        assert_eq!(redact_url("not a url with:secret@"), REDACTED);
        assert_eq!(
            redact_url("sqlite://./data/lianming.db?mode=rwc"),
            "sqlite://./data/lianming.db?mode=rwc"
        );
    }

    #[test]
    fn an_unknown_time_zone_is_refused_at_start_up() {
        let settings = Settings {
            timezone: "Mars/Olympus".into(),
            ..Settings::default()
        };
        let err = settings.validate().expect_err("refused");
        assert!(err.0.contains("LIANMING_TIMEZONE"), "{err}");
    }

    #[test]
    fn a_tsa_url_needs_an_http_url_and_a_readable_certificate() {
        let with = |url: &str, cert: Option<&str>| Settings {
            tsa_url: Some(url.into()),
            tsa_cert: cert.map(PathBuf::from),
            ..Settings::default()
        };
        let err = with("http://tsa.example/", None)
            .validate()
            .expect_err("refused");
        assert!(err.0.contains("LIANMING_TSA_CERT is not"), "{err}");
        let err = with("http://tsa.example/", Some("/no/such/tsa.pem"))
            .validate()
            .expect_err("refused");
        assert!(err.0.contains("cannot be read"), "{err}");
        let err = with("ftp://tsa.example/", Some("/no/such/tsa.pem"))
            .validate()
            .expect_err("refused");
        assert!(err.0.contains("http(s)"), "{err}");
    }

    #[test]
    fn the_local_date_is_the_day_in_the_configured_zone() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 1, 21, 42, 0)
            .single()
            .expect("time");
        let shanghai = Settings::default();
        let london = Settings {
            timezone: "Europe/London".into(),
            ..Settings::default()
        };
        assert_eq!(shanghai.local_date(t).to_string(), "2026-12-02");
        assert_eq!(london.local_date(t).to_string(), "2026-12-01");
    }
}
