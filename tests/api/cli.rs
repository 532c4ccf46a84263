//! The `lianming` binary as an operator uses it: embedded defaults, bad settings, `demo`,
//! `user create`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lianming(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lianming"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LIANMING_LOG", "error")
        .stdin(Stdio::null());
    cmd
}

/// Starts `lianming` (no arguments: `serve`) and returns it with the URL from its first line.
fn serve(dir: &Path) -> (Running, String) {
    serve_with(dir, &[])
}

#[tokio::test]
async fn serve_runs_on_embedded_defaults_and_prints_its_url() {
    let dir = tempfile::tempdir().expect("dir");
    let (_server, url) = serve(dir.path());

    let health = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{url}/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 200);
    // Embedded defaults: SQLite file and a generated secret under ./data.
    assert!(dir.path().join("data/lianming.db").exists());
    assert!(dir.path().join("data/secrets/jwt.key").exists());
}

#[test]
fn a_bad_setting_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        ("LIANMING_BIND", "not an address", "LIANMING_BIND"),
        ("DATABASE_URL", "mysql://localhost/x", "DATABASE_URL"),
        (
            "LIANMING_PUBLIC_URL",
            "ftp://example.com",
            "LIANMING_PUBLIC_URL",
        ),
        ("LIANMING_SMTP_URL", "not a url", "LIANMING_SMTP_URL"),
        ("LIANMING_LOGIN_PER_MINUTE", "many", "login_per_minute"),
        ("LIANMING_NO_SUCH_SETTING", "1", "no_such_setting"),
        (
            "LIANMING_TSA_URL",
            "http://127.0.0.1:9/tsa",
            "LIANMING_TSA_CERT",
        ),
    ];
    for (var, value, mentioned) in cases {
        let out = lianming(dir.path()).env(var, value).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}={value} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line for {var}: {stderr}"
        );
        assert!(
            stderr.to_lowercase().contains(&mentioned.to_lowercase()),
            "{var}: {stderr}"
        );
    }
}

#[tokio::test]
async fn demo_data_and_an_admin_account_make_a_living_site() {
    let dir = tempfile::tempdir().expect("dir");
    let demo = lianming(dir.path()).arg("demo").output().expect("demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(String::from_utf8_lossy(&demo.stdout).contains("demo data loaded"));
    let again = lianming(dir.path())
        .arg("demo")
        .output()
        .expect("demo again");
    assert!(String::from_utf8_lossy(&again.stdout).contains("already loaded"));

    let created = lianming(dir.path())
        .args(["user", "create", "--email", "admin@example.com", "--admin"])
        .output()
        .expect("user create");
    assert!(created.status.success());
    let stdout = String::from_utf8_lossy(&created.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password")
        .to_owned();

    let (_server, url) = serve(dir.path());
    let client = reqwest::Client::new();
    let groups: Value = client
        .get(format!("{url}/api/v1/groups"))
        .send()
        .await
        .expect("groups")
        .json()
        .await
        .expect("json");
    assert_eq!(groups["total"], 3);
    assert!(
        groups["items"][0]["participant_count"]
            .as_i64()
            .is_some_and(|n| n > 0)
    );
    let found: Value = client
        .get(format!("{url}/api/v1/groups?q=KuaiPay"))
        .send()
        .await
        .expect("search by alias")
        .json()
        .await
        .expect("json");
    assert_eq!(
        found["total"], 1,
        "an English provider name finds the group"
    );

    let login = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me: Value = client
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["is_admin"], true);
    assert_eq!(me["email_verified"], true);
    // No mail for the invented accounts.
    assert!(
        !dir.path().join("data/mail").exists()
            || std::fs::read_dir(dir.path().join("data/mail"))
                .expect("dir")
                .count()
                == 0
    );
}

/// `serve` with extra environment variables; the URL from its first line.
fn serve_with(dir: &Path, env: &[(&str, &str)]) -> (Running, String) {
    let mut cmd = lianming(dir);
    cmd.env("LIANMING_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start lianming");
    let url = crate::helpers::instance::listening_url(&mut child);
    (Running(child), url)
}

fn sigterm(server: &Running) {
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits at most `within` for the process to end; its exit code.
async fn exit_code(server: &mut Running, within: std::time::Duration) -> Option<i32> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            return status.code();
        }
        assert!(
            started.elapsed() < within,
            "still running {within:?} after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What became of one request of the stream.
#[derive(Debug)]
enum Outcome {
    /// A response, with its status and whether its body was complete, well-formed JSON.
    Answered { status: u16, complete: bool },
    /// The connection was refused (no request was sent).
    Refused,
    /// The connection was reset before any answer: it was still in the closed listener's
    /// backlog, never accepted by the server.
    Reset,
    /// Anything else: a reset, a truncated response, a timeout.
    Broken(String),
}

/// Whether `e` is a reset connection (ECONNRESET) with no answer.
fn is_reset(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        source = s.source();
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_refuses_and_exits_cleanly() {
    use std::time::{Duration, Instant};
    // Arrange: demo data gives the list a body of some size.
    let dir = tempfile::tempdir().expect("dir");
    let demo = lianming(dir.path()).arg("demo").output().expect("demo");
    assert!(demo.status.success());
    let (mut server, url) = serve(dir.path());
    // A new connection per request: after the stop, each one tries the closed listener.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let started = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..6 {
        let client = client.clone();
        let url = format!("{url}/api/v1/groups");
        streams.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut refused = 0;
            while refused < 3 && started.elapsed() < Duration::from_secs(12) {
                let sent = Instant::now();
                let outcome = match client.get(&url).send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let complete = match res.bytes().await {
                            Ok(body) => serde_json::from_slice::<Value>(&body)
                                .is_ok_and(|v| v["items"].is_array()),
                            Err(_) => false,
                        };
                        Outcome::Answered { status, complete }
                    }
                    Err(e) if e.is_connect() => {
                        refused += 1;
                        Outcome::Refused
                    }
                    Err(e) if is_reset(&e) => Outcome::Reset,
                    Err(e) => Outcome::Broken(format!("{e:?}")),
                };
                seen.push((sent, outcome));
            }
            seen
        }));
    }

    // Act: SIGTERM in the middle of the stream.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stopped_at = Instant::now();
    sigterm(&server);
    let code = exit_code(&mut server, Duration::from_secs(10)).await;

    // Assert
    assert_eq!(code, Some(0), "exit status");
    let mut answered = 0;
    for stream in streams {
        for (at, outcome) in stream.await.expect("stream") {
            match outcome {
                Outcome::Answered { status, complete } => {
                    answered += 1;
                    assert!(status < 500, "a {status} answer");
                    assert!(complete, "a truncated or malformed body ({status})");
                }
                Outcome::Refused | Outcome::Reset => {
                    assert!(at >= stopped_at, "{outcome:?} before the stop");
                }
                Outcome::Broken(e) => panic!("a request broke: {e}"),
            }
        }
    }
    assert!(answered > 10, "only {answered} answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_draining_readiness_fails_but_everything_is_still_served() {
    use std::time::{Duration, Instant};
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let (mut server, url) = serve_with(dir.path(), &[("LIANMING_DRAIN_SECS", "2")]);
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );

    // Act
    let stopped_at = Instant::now();
    sigterm(&server);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Assert: out of the load balancer, still serving.
    let ready = client
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.expect("body"), "draining");
    let health = client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let groups = client
        .get(format!("{url}/api/v1/groups"))
        .send()
        .await
        .expect("groups");
    assert_eq!(groups.status(), 200);
    assert!(
        stopped_at.elapsed() < Duration::from_secs(2),
        "checked within the drain"
    );
    assert_eq!(
        exit_code(&mut server, Duration::from_secs(10)).await,
        Some(0)
    );
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(2),
        "the drain was cut short"
    );
}

#[tokio::test]
async fn an_idle_server_exits_within_two_seconds_of_sigterm() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("dir");
    let (mut server, url) = serve(dir.path());
    let res = reqwest::get(format!("{url}/readyz")).await.expect("readyz");
    assert_eq!(res.status(), 200);
    drop(res);

    let stopped_at = Instant::now();
    sigterm(&server);

    assert_eq!(
        exit_code(&mut server, Duration::from_secs(10)).await,
        Some(0)
    );
    assert!(
        stopped_at.elapsed() < Duration::from_secs(2),
        "took {:?}",
        stopped_at.elapsed()
    );
}

#[tokio::test]
async fn backup_copies_the_running_servers_database_and_refuses_to_overwrite() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    // Arrange: a server with data, and an account made while it runs.
    let dir = tempfile::tempdir().expect("dir");
    assert!(
        lianming(dir.path())
            .arg("demo")
            .output()
            .expect("demo")
            .status
            .success()
    );
    let (_server, url) = serve(dir.path());
    let created = lianming(dir.path())
        .args(["user", "create", "--email", "kept@example.com"])
        .output()
        .expect("user create");
    assert!(created.status.success());
    assert_eq!(
        reqwest::get(format!("{url}/readyz"))
            .await
            .expect("readyz")
            .status(),
        200
    );

    // Act
    let out = lianming(dir.path())
        .args(["backup", "copy.db"])
        .output()
        .expect("backup");
    let again = lianming(dir.path())
        .args(["backup", "copy.db"])
        .output()
        .expect("backup again");
    let postgres = lianming(dir.path())
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .args(["backup", "pg.db"])
        .output()
        .expect("backup on postgres");

    // Assert
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = dir.path().join("copy.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let db = Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .expect("open the copy");
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("query")
                .expect("row")
                .try_get::<i64>("", "n")
                .expect("n")
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM users WHERE email = 'kept@example.com'").await,
        1
    );
    assert_eq!(count("SELECT COUNT(*) AS n FROM groups").await, 3);
    assert!(!again.status.success(), "an existing file was overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(postgres.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump -Fc"));
    assert!(!dir.path().join("pg.db").exists());
}

#[tokio::test]
async fn json_logs_name_the_request_id_each_response_carries() {
    use std::time::Duration;
    // Arrange: JSON logs to a file.
    let dir = tempfile::tempdir().expect("dir");
    let log_path = dir.path().join("log.jsonl");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = lianming(dir.path())
        .env("LIANMING_BIND", "127.0.0.1:0")
        .env("LIANMING_LOG_JSON", "true")
        .env("LIANMING_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start lianming");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .to_owned();

    // Act: two requests; the second fails, which is logged (a warning, in its span).
    let ok = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("healthz");
    let missing = reqwest::get(format!("{url}/api/v1/groups/no-such-group"))
        .await
        .expect("missing");

    // Assert: each answer has its own id, and the failure's log line names it.
    let id = |res: &reqwest::Response| {
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("X-Request-Id")
            .to_owned()
    };
    let (ok_id, missing_id) = (id(&ok), id(&missing));
    assert_ne!(ok_id, missing_id);
    assert_eq!(missing.status(), 404);
    let mut found = None;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&log_path).expect("log");
        found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["span"]["request_id"] == missing_id.as_str());
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let entry = found.unwrap_or_else(|| {
        panic!(
            "no JSON log line with request_id {missing_id}: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        )
    });
    assert_eq!(entry["level"], "WARN");
}
