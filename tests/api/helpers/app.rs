//! `TestApp`: the real server on port 0 with a fresh database (a SQLite file, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set), a real SMTP server on loopback and a
//! clock the test controls.

use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use lianming::clock::{Clock as _, ManualClock};
use lianming::{Application, Settings};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

use super::smtp::MailServer;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file in the test's data directory.
    Sqlite,
    /// A new database on the PostgreSQL server of this URL.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set.
    pub fn postgres() -> Option<Backend> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }
}

/// Generates `name::sqlite` and `name::postgres` tests from `async fn name(backend: Backend)`;
/// the PostgreSQL one runs when `TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::app::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::app::Backend::postgres() {
                    Some(b) => super::$name(b).await,
                    None => eprintln!("TEST_DATABASE_URL unset: PostgreSQL variant not run"),
                }
            }
        }
    )+};
}

/// A running server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// HTTP client without cookies.
    pub client: reqwest::Client,
    /// The SMTP server receiving the server's mail.
    pub mail: MailServer,
    /// The server's clock.
    pub clock: ManualClock,
    /// A separate connection to the server's database, for assertions.
    pub db: DatabaseConnection,
    /// The server's shared state (to run the scheduler or a mail worker by hand).
    pub state: actix_web::web::Data<lianming::AppState>,
    /// The server's data directory.
    pub data_dir: tempfile::TempDir,
    /// The server's database (for more instances on it).
    pub database_url: String,
    pg: Option<(String, String)>,
}

/// A verified, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// A server on SQLite with default test settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Backend::Sqlite, |_| {}).await
    }

    /// A server on `backend` with default test settings.
    pub async fn on(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server on `backend`, with `tweak` applied to the test settings.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mail = MailServer::start();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.path().join("test.db").display()
                ),
                None,
            ),
            Backend::Postgres(admin_url) => {
                let name = format!("lm_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                (url.to_string(), Some((admin_url, name)))
            }
        };
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database_url.clone()),
            smtp_url: Some(mail.url().into()),
            outbox_poll_ms: 50,
            job_poll_ms: 50,
            // Tests run the scheduler by hand (`scheduler::tick`), at the clock time they set.
            scheduler_tick_ms: 3_600_000,
            mail_per_second: 1000,
            login_per_minute: 10_000,
            register_per_hour: 10_000,
            reset_per_hour: 10_000,
            join_per_minute: 10_000,
            log: "error".into(),
            ..Settings::default()
        };
        tweak(&mut settings);
        lianming::telemetry::init(&settings.log, false);
        let clock = ManualClock::new(
            Utc::now()
                .duration_trunc(chrono::Duration::seconds(1))
                .expect("truncate"),
        );
        let app = Application::build(settings, std::sync::Arc::new(clock.clone()))
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let db = lianming::db::connect(&database_url)
            .await
            .expect("test db connection");
        TestApp {
            state,
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Drop idle connections before the server's 5 s keep-alive does, so a request
                // never goes out on a connection the server is just closing.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
            mail,
            clock,
            db,
            data_dir,
            database_url,
            pg,
        }
    }

    /// The absolute URL of an API path (`/groups` → `http://…/api/v1/groups`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address)
    }

    /// Sends a JSON request to an API path, with a bearer token when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.api(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request failed")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Registers `email` and waits for the verification email; returns its token.
    pub async fn register(&self, email: &str, name: &str, password: &str) -> String {
        let res = self
            .post(
                "/auth/register",
                None,
                json!({"email": email, "password": password, "display_name": name}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "register {email}: {}",
            res.text().await.unwrap_or_default()
        );
        let mail = self
            .mail
            .wait_for_mail_to(email, Duration::from_secs(15))
            .await;
        mail.find_link_token("token")
            .expect("verification link with token")
    }

    /// Logs in and returns (access, refresh).
    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let res = self
            .post(
                "/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login {email}");
        let body: Value = res.json().await.expect("json");
        (
            body["access_token"].as_str().expect("access").into(),
            body["refresh_token"].as_str().expect("refresh").into(),
        )
    }

    /// A verified, logged-in user in one line, made the quick way: the account is created
    /// through the service behind `lianming user create` ([`create_account`]), then logged in
    /// over HTTP for a real access and refresh token pair. No email is sent. Tests about
    /// registration and verification themselves use [`TestApp::registered_user`].
    pub async fn verified_user(&self, email: &str, name: &str) -> TestUser {
        let password = TEST_PASSWORD.to_owned();
        create_account(self, email, name, &password, false).await;
        let (access_token, refresh_token) = self.login(email, &password).await;
        TestUser {
            email: email.into(),
            password,
            access_token,
            refresh_token,
        }
    }

    /// A user registered over HTTP, verified through the emailed link and logged in: the way a
    /// person does it, for the tests about that way (three requests and a wait for the email).
    pub async fn registered_user(&self, email: &str, name: &str) -> TestUser {
        let password = TEST_PASSWORD.to_owned();
        let token = self.register(email, name, &password).await;
        let res = self
            .post("/auth/verify-email", None, json!({"token": token}))
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "verify {email}");
        let (access_token, refresh_token) = self.login(email, &password).await;
        TestUser {
            email: email.into(),
            password,
            access_token,
            refresh_token,
        }
    }

    /// A group created by `owner` against a proposed provider; returns the 201 body.
    pub async fn create_group(&self, owner: &TestUser, overrides: Value) -> Value {
        let mut body = json!({
            "provider": null,
            "provider_name": "快付钱包",
            "title": "退款迟迟未到账",
            "summary": "申请退款后超过三十天仍未收到款项，客服一直说在处理中。",
            "category": "refund_delay",
            "demands": ["refund", {"kind": "compensation", "text": "按日支付利息"}],
            "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。",
        });
        if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
            for (k, v) in o {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = self.post("/groups", Some(&owner.access_token), body).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "create group: {}",
            res.text().await.unwrap_or_default()
        );
        res.json().await.expect("json")
    }

    /// A valid join body signing `version`.
    pub fn join_body(full_name: &str, version: i64) -> Value {
        json!({
            "statement": "我在三月申请退款，至今没有到账。",
            "amount_disputed": {"amount_minor": 12800, "currency": "CNY"},
            "incident_date": "2026-03-02",
            "transaction_refs": ["T2026030200001"],
            "consent_share_identity": true,
            "signature": {"full_name": full_name, "statement_version": version, "agree": true}
        })
    }

    /// Waits until no job is due or running and the outbox holds no email that is due and
    /// unsent: everything the server has queued so far has reached the SMTP server (or failed
    /// for good). Email is queued in the transaction of the request that causes it, or by a
    /// job queued in it (re-confirmations), so after the answer this is a complete wait, for
    /// "no email was sent" checks too. Needs the server's own workers (the default).
    pub async fn outbox_sent(&self) {
        use lianming::entities::{jobs, outbox};
        use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = self.clock.now();
            let working = jobs::Entity::find()
                .filter(
                    Condition::any()
                        .add(jobs::Column::Status.eq("running"))
                        .add(
                            Condition::all()
                                .add(jobs::Column::Status.eq("queued"))
                                .add(jobs::Column::RunAt.lte(now)),
                        ),
                )
                .count(&self.db)
                .await
                .expect("count jobs");
            let due = outbox::Entity::find()
                .filter(outbox::Column::Status.eq("pending"))
                .filter(outbox::Column::NextAttemptAt.lte(now))
                .count(&self.db)
                .await
                .expect("count due email");
            if working == 0 && due == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{working} job(s) and {due} due email(s) still unfinished after 15 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Counts rows of a table, for "nothing was written" checks.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM \"{table}\""),
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop the test database from a separate runtime: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = Database::connect(&admin_url).await.ok()?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .ok()?;
                    admin.close().await.ok()
                })
            })
            .join();
        }
    }
}

/// The password of the users the builders make.
const TEST_PASSWORD: &str = "correct horse battery staple";

/// Creates an active account whose address is verified, directly through the service layer as
/// `lianming user create` does; returns its id. The one place to change when that service's
/// signature changes.
pub async fn create_account(
    app: &TestApp,
    email: &str,
    name: &str,
    password: &str,
    admin: bool,
) -> i64 {
    lianming::accounts::service::create_user_cli(
        &app.db,
        email,
        name,
        password.to_owned(),
        admin,
        app.clock.now(),
    )
    .await
    .unwrap_or_else(|e| panic!("create account {email}: {e}"))
}

/// Reads a JSON body, failing with the text when it is not JSON.
pub async fn json_body(res: reqwest::Response) -> Value {
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Unix seconds of the manual clock.
pub trait ClockExt {
    fn now_ts(&self) -> i64;
}

impl ClockExt for ManualClock {
    fn now_ts(&self) -> i64 {
        lianming::clock::Clock::now(self).timestamp()
    }
}
