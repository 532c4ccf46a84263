//! `lianming serve` as a separate process beside a test's own server: the scaled set-up.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use super::app::TestApp;
use super::team::expect_json;

/// One server process.
pub struct Instance {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address `lianming serve` names in its first line of output (its stdout piped).
pub fn listening_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in the start-up line: {line:?}"))
        .to_owned()
}

impl Instance {
    /// Starts `lianming serve` on `app`'s database and public URL with `data_dir` (`app`'s own
    /// to share its secrets, keys and evidence as a set on one volume does) and `env` on top:
    /// jobs leased for 3 s, every dossier built in the background.
    pub fn start(app: &TestApp, data_dir: &Path, env: &[(&str, &str)]) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lianming"));
        child
            .current_dir(data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.database_url)
            .env("LIANMING_DATA_DIR", data_dir)
            .env("LIANMING_PUBLIC_URL", &app.address)
            .env("LIANMING_BIND", "127.0.0.1:0")
            .env("LIANMING_SMTP_URL", app.mail.url())
            .env("LIANMING_JOB_LEASE_SECS", "3")
            .env("LIANMING_JOB_POLL_MS", "100")
            .env("LIANMING_DOSSIER_INLINE_MAX", "0")
            .env("LIANMING_JOIN_PER_MINUTE", "10000")
            .env("LIANMING_SCHEDULER_TICK_MS", "3600000")
            .env("LIANMING_LOG", "error");
        for (k, v) in env {
            child.env(k, v);
        }
        let mut child = child
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lianming");
        let url = listening_url(&mut child);
        Instance { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        token: &str,
        body: Value,
    ) -> reqwest::Response {
        app.client
            .post(format!("{}/api/v1{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn count(&self, app: &TestApp, slug: &str) -> i64 {
        let res = app
            .client
            .get(format!("{}/api/v1/groups/{slug}", self.url))
            .send()
            .await
            .expect("group");
        expect_json(res, StatusCode::OK).await["participant_count"]
            .as_i64()
            .expect("count")
    }
}
