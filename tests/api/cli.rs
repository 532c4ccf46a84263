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
    let mut child = lianming(dir)
        .env("LIANMING_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lianming");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in the start-up line: {line:?}"))
        .to_owned();
    (running, url)
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
