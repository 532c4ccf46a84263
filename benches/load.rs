//! The server under load, driven by wrk (Debian's `wrk`, with Lua scripts), every figure
//! printed beside a baseline measured in the same run:
//! - joins per second at 64 connections, against raw single-row commits of the same database
//!   with the same durability (SQLite: WAL, `synchronous=NORMAL`; PostgreSQL: one INSERT per
//!   commit from as many connections as the server's pool);
//! - the public group page (HTML and JSON) and search, against `/healthz`;
//! - the group page's p99 and the server's resident memory during 64 concurrent wrong-password
//!   logins, against the same page without them;
//! - SIGTERM to exit, idle and under load.
//!
//! Run: `cargo bench --bench load` (embedded SQLite), or with
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test` for PostgreSQL (a fresh database
//! of its own is created there). `BENCH_SECONDS` sets each wrk run's length (default 10).
//! Linux only (/proc, SIGTERM through `kill`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

const CONNECTIONS: usize = 64;
/// Participants who join: each joins every group once, so users × groups joins are possible.
const USERS: usize = 64;
const GROUPS: usize = 400;

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the time until the process has exited.
    fn terminate(mut self) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        started.elapsed()
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak(pid: u32) {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn command(bin: &str, dir: &Path, db: Option<&str>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("LIANMING_LOG", "error")
        .env("LIANMING_JOIN_PER_MINUTE", "1000000")
        .env("LIANMING_LOGIN_PER_MINUTE", "1000000")
        .env("LIANMING_LOGIN_FAILURES_PER_HOUR", "1000000")
        .env("LIANMING_REGISTER_PER_HOUR", "1000000");
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

fn start(bin: &str, dir: &Path, db: Option<&str>) -> Server {
    let mut child = command(bin, dir, db)
        .env("LIANMING_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("start line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .to_owned();
    Server { child, url }
}

/// What wrk measured, from the JSON line the scripts' `done` prints.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    requests: f64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    non_2xx: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests / self.seconds.max(1e-9)
    }
}

/// The `done` callback every script ends with: one JSON line.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

fn wrk(dir: &Path, name: &str, url: &str, connections: usize, secs: u64, lua: &str) -> Run {
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(&script, format!("{lua}\n{DONE}")).expect("write script");
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("{\"requests\""))
        .unwrap_or_else(|| panic!("wrk printed no summary: {text}"));
    let v: Value = serde_json::from_str(line).expect("summary");
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    Run {
        requests: f("requests"),
        seconds: f("duration_us") / 1e6,
        p50_ms: f("p50_us") / 1e3,
        p99_ms: f("p99_us") / 1e3,
        errors: v["errors"].as_u64().unwrap_or(0),
        non_2xx: v["non_2xx"].as_u64().unwrap_or(0),
    }
}

fn get_script(path: &str) -> String {
    format!("wrk.method = 'GET'\nwrk.path = '{path}'\n")
}

fn lua_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("{{{}}}", quoted.join(","))
}

fn row(name: &str, figure: String, baseline_name: &str, baseline: String, ratio: f64) {
    println!("| {name} | {figure} | {baseline_name}: {baseline} | {ratio:.3} |");
}

/// Raw single-row commits on the same kind of database with the same durability: SQLite on one
/// connection (it has one writer), PostgreSQL from 20 tasks on 20 connections, the server's
/// pool size.
async fn raw_commits(dir: &Path, db: Option<&str>, secs: u64) -> f64 {
    let (url, tasks) = match db {
        Some(u) => (u.to_owned(), 20),
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("raw.db").display()),
            1,
        ),
    };
    // SQLite: one connection, WAL and `synchronous=NORMAL` set on that connection (a pragma run
    // on a pool holds on one of its connections only), SQLite's own automatic checkpoints.
    let conn = if db.is_none() {
        let mut opts = sea_orm::ConnectOptions::new(url.clone());
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .create_if_missing(true)
            });
        Database::connect(opts).await
    } else {
        Database::connect(&url).await
    }
    .expect("raw database");
    conn.execute_unprepared("CREATE TABLE IF NOT EXISTS raw_commits (id BIGINT, note TEXT)")
        .await
        .expect("table");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers = (0..tasks).map(|t| {
        let conn = conn.clone();
        async move {
            let mut n = 0_u64;
            while Instant::now() < deadline {
                conn.execute_unprepared(&format!(
                    "INSERT INTO raw_commits (id, note) VALUES ({}, 'one row, one commit')",
                    t * 1_000_000 + n
                ))
                .await
                .expect("insert");
                n += 1;
            }
            n
        }
    });
    let total: u64 = futures_util::future::join_all(workers).await.iter().sum();
    total as f64 / started.elapsed().as_secs_f64()
}

async fn count_joins(db_url: &str) -> i64 {
    let conn = Database::connect(db_url).await.expect("count");
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM participations",
        ))
        .await
        .expect("query")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let bin = env!("CARGO_BIN_EXE_lianming");
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = std::env::var("BENCH_DATABASE_URL").ok();
    let db_url = match &pg {
        Some(base) => {
            let name = format!("lianming_bench_{}", std::process::id());
            let admin = Database::connect(base).await.expect("postgres");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            let (root, _) = base.rsplit_once('/').expect("database in the URL");
            Some(format!("{root}/{name}"))
        }
        None => None,
    };
    let count_url = db_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("data/lianming.db").display()));
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };

    // Accounts: an owner and the participants, verified, through the CLI.
    let mut passwords = Vec::new();
    for i in 0..=USERS {
        let out = command(bin, dir.path(), db_url.as_deref())
            .args(["user", "create", "--email", &format!("u{i}@bench.invalid")])
            .output()
            .expect("user create");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        passwords.push(
            text.lines()
                .find_map(|l| l.strip_prefix("password: "))
                .unwrap_or_else(|| panic!("user create: {text}"))
                .to_owned(),
        );
    }
    let server = start(bin, dir.path(), db_url.as_deref());
    let url = server.url.clone();
    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for (i, pw) in passwords.iter().enumerate() {
        let res: Value = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"email": format!("u{i}@bench.invalid"), "password": pw}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        tokens.push(res["access_token"].as_str().expect("token").to_owned());
    }
    let mut slugs = Vec::new();
    let mut provider = Value::Null;
    for g in 0..GROUPS {
        let group: Value = client
            .post(format!("{url}/api/v1/groups"))
            .bearer_auth(&tokens[0])
            .json(&json!({"provider": provider,
                "provider_name": if g == 0 { json!("快付钱包") } else { Value::Null }, "title": format!("快付钱包退款超过30天未到账（第{g}批）"),
                "summary": "申请退款后超过三十天仍未到账，客服一再推诿，要求平台立即退款。", "category": "refund_delay",
                "demands": ["refund"], "joint_statement": "我们是快付钱包的用户，申请退款后长期未到账，要求平台立即退款并赔偿损失。"}))
            .send().await.expect("group").json().await.expect("json");
        provider = group["provider"]["slug"].clone();
        slugs.push(
            group["slug"]
                .as_str()
                .unwrap_or_else(|| panic!("group: {group}"))
                .to_owned(),
        );
    }

    println!(
        "load benchmark: {backend}, {CONNECTIONS} connections, {secs} s per run, release build"
    );
    println!();
    println!("| figure | measured | baseline in the same run | ratio |");
    println!("| --- | --- | --- | --- |");

    // Joins: each wrk thread has its own half of the participants and walks the groups, so
    // every request is a new (user, group) pair.
    let half = USERS / 2;
    let join_lua = format!(
        r#"local tokens = {tokens}
local slugs = {slugs}
local k = 0
local body = '{{"statement":"我在三月申请退款，至今没有到账，客服一直推诿。","amount_disputed":{{"amount_minor":26800,"currency":"CNY"}},"incident_date":"2026-03-02","transaction_refs":["T2026030200001"],"consent_share_identity":false,"signature":{{"full_name":"基准参与者","statement_version":1,"agree":true}}}}'
local threads = 0
-- `offset` is a global of each thread's Lua state, set from the main state.
function setup(thread) thread:set("offset", threads * {half}); threads = threads + 1 end
function request()
  local u = offset + (k % {half}) + 1
  local g = math.floor(k / {half}) % #slugs + 1
  k = k + 1
  return wrk.format('POST', '/api/v1/groups/' .. slugs[g] .. '/participation',
    {{['Content-Type'] = 'application/json', ['Authorization'] = 'Bearer ' .. tokens[u]}}, body)
end
"#,
        tokens = lua_list(&tokens[1..]),
        slugs = lua_list(&slugs),
    );
    let before = count_joins(&count_url).await;
    let joins = wrk(dir.path(), "joins", &url, CONNECTIONS, secs, &join_lua);
    let joined = count_joins(&count_url).await - before;
    let join_rate = joined as f64 / joins.seconds;
    let raw = raw_commits(dir.path(), pg.as_deref(), 3).await;
    row(
        "joins (201)",
        format!(
            "{join_rate:.0}/s ({joined} joined, {} other answers), p50 {:.1} ms, p99 {:.1} ms",
            joins.non_2xx, joins.p50_ms, joins.p99_ms
        ),
        &format!("raw {backend} single-row commits"),
        format!("{raw:.0}/s"),
        join_rate / raw,
    );

    // Reads, against /healthz.
    let health = wrk(
        dir.path(),
        "healthz",
        &url,
        CONNECTIONS,
        secs,
        &get_script("/healthz"),
    );
    let slug = &slugs[0];
    for (name, path) in [
        ("public group page, HTML", format!("/groups/{slug}")),
        ("public group page, JSON", format!("/api/v1/groups/{slug}")),
        (
            "search `?q=退款`",
            "/api/v1/groups?q=%E9%80%80%E6%AC%BE".to_owned(),
        ),
        (
            "search page `/groups?q=退款未到账`",
            "/groups?q=%E9%80%80%E6%AC%BE%E6%9C%AA%E5%88%B0%E8%B4%A6".to_owned(),
        ),
    ] {
        let r = wrk(
            dir.path(),
            "read",
            &url,
            CONNECTIONS,
            secs,
            &get_script(&path),
        );
        row(
            name,
            format!(
                "{:.0}/s, p99 {:.1} ms, {} errors",
                r.rate(),
                r.p99_ms,
                r.errors + r.non_2xx
            ),
            "`/healthz`",
            format!("{:.0}/s", health.rate()),
            r.rate() / health.rate(),
        );
    }

    // A login flood beside page views.
    let page = get_script(&format!("/groups/{slug}"));
    let quiet = wrk(dir.path(), "quiet", &url, 8, secs, &page);
    let flood_lua = r#"local n = 0
function request()
  n = n + 1
  return wrk.format('POST', '/api/v1/auth/login', {['Content-Type'] = 'application/json'},
    '{"email":"nobody' .. n .. '@bench.invalid","password":"wrong password ' .. n .. '"}')
end
"#;
    let pid = server.pid();
    let idle_rss = status_kib(pid, "VmRSS:");
    reset_peak(pid);
    let (dir_path, flood_url) = (dir.path().to_owned(), url.clone());
    let flood = std::thread::spawn(move || {
        wrk(
            &dir_path,
            "flood",
            &flood_url,
            CONNECTIONS,
            secs + 2,
            flood_lua,
        )
    });
    std::thread::sleep(Duration::from_secs(1));
    let busy = wrk(dir.path(), "busy", &url, 8, secs, &page);
    let flood = flood.join().expect("flood");
    let peak = status_kib(pid, "VmHWM:");
    row(
        "group page p99 during 64 concurrent wrong-password logins",
        format!("{:.1} ms ({:.0} req/s)", busy.p99_ms, busy.rate()),
        "without the logins",
        format!("{:.1} ms ({:.0} req/s)", quiet.p99_ms, quiet.rate()),
        busy.p99_ms / quiet.p99_ms.max(0.001),
    );
    row(
        "resident memory during that login flood",
        format!(
            "{} MiB peak ({:.0} logins/s answered, {} refused or failed)",
            peak / 1024,
            flood.rate(),
            flood.non_2xx
        ),
        "before the flood",
        format!("{} MiB", idle_rss / 1024),
        peak as f64 / idle_rss.max(1) as f64,
    );

    // Shutdown: idle, then under load.
    let idle = server.terminate();
    let server = start(bin, dir.path(), db_url.as_deref());
    let loaded_url = server.url.clone();
    let (dir_path, page_lua) = (dir.path().to_owned(), page.clone());
    let load = std::thread::spawn(move || {
        wrk(
            &dir_path,
            "shutdown",
            &loaded_url,
            CONNECTIONS,
            6,
            &page_lua,
        )
    });
    std::thread::sleep(Duration::from_secs(2));
    let loaded = server.terminate();
    let _ = load.join();
    row(
        "SIGTERM to exit",
        format!("idle {:.2} s", idle.as_secs_f64()),
        "under load (64 connections)",
        format!("{:.2} s", loaded.as_secs_f64()),
        loaded.as_secs_f64() / idle.as_secs_f64().max(0.001),
    );
}
