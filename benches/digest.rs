//! Digests at scale (issue 12, deliverable 6): `BENCH_RECIPIENTS` (default 100,000) members of
//! one group, each due a daily digest, with an SMTP server on loopback. In one process, release
//! build, with every figure beside a baseline from the same run:
//! - per-message latency on one SMTP connection: lettre against a raw client that writes the
//!   body and its terminating `.` as two writes like lettre does, with Nagle on and with
//!   `TCP_NODELAY` (which of client and sink the ~40 ms belong to);
//! - enqueue: the scheduler's own `tick` on a stopped clock at 10:00 in Shanghai, repeated
//!   until it queues nothing more; emails per second;
//! - send: the app's outbox worker (`app::mail_worker`, its SMTP pool and concurrency) into the
//!   sink, against the sink's acceptance rate from plain lettre over a pool of the same size;
//!   when the whole backlog cannot be sent within `BENCH_SEND_SECS` (default 60) the rate is
//!   measured over that window, and the output says so;
//! - joins through the app's real join path (`participation::service::join`, the join writer)
//!   from 64 tasks for `BENCH_JOIN_SECS` (default 10), without and during the send.
//!
//! The sink is a minimal SMTP server (EHLO, MAIL, RCPT, DATA, QUIT) that counts messages and
//! distinct Message-IDs; it sets `TCP_NODELAY` on its connections.
//!
//! Run: `cargo bench --bench digest`. Linux or any Unix with loopback.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use lianming::auth::CurrentUser;
use lianming::clock::ManualClock;
use lianming::entities::enums::{OutboxStatus, UpdateKind, UpdateVisibility};
use lianming::entities::{outbox, updates};
use lianming::state::AppState;
use lianming::{Settings, notify, participation};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Tasks that join at once.
const JOINERS: usize = 64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the sink has accepted.
#[derive(Clone, Default)]
struct Sink {
    addr: Option<SocketAddr>,
    accepted: Arc<AtomicU64>,
    ids: Arc<Mutex<HashSet<String>>>,
}

impl Sink {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let sink = Self {
            addr: Some(listener.local_addr().expect("addr")),
            ..Self::default()
        };
        let counts = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let counts = counts.clone();
                tokio::spawn(async move {
                    let _ = counts.session(stream).await;
                });
            }
        });
        sink
    }

    fn addr(&self) -> SocketAddr {
        self.addr.expect("started")
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    fn distinct_ids(&self) -> usize {
        self.ids.lock().expect("ids").len()
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        write.write_all(b"220 sink ESMTP\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => {
                    write
                        .write_all(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n")
                        .await?;
                }
                "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => {
                    write.write_all(b"250 OK\r\n").await?
                }
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    let mut id = None;
                    let mut in_headers = true;
                    loop {
                        line.clear();
                        if read.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        if in_headers {
                            if line == "\r\n" {
                                in_headers = false;
                            } else if line.len() > 11
                                && line[..11].eq_ignore_ascii_case("message-id:")
                            {
                                id = Some(line[11..].trim().to_owned());
                            }
                        }
                    }
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = id {
                        self.ids.lock().expect("ids").insert(id);
                    }
                    write.write_all(b"250 OK queued\r\n").await?;
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"500 what\r\n").await?,
            }
        }
    }
}

fn lettre_pool(sink: &Sink, size: u32) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&format!("smtp://{}", sink.addr()))
        .expect("url")
        .timeout(Some(Duration::from_secs(20)))
        .pool_config(PoolConfig::new().max_size(size))
        .build()
}

/// A sample message as the worker sends it, with a Message-ID of its own.
fn sample(row: &outbox::Model, n: u64) -> lettre::Message {
    let mut row = row.clone();
    row.message_id = format!("<raw-{n}@bench.invalid>");
    let from = "联名 Lianming <noreply@lianming.localhost>"
        .parse()
        .expect("from");
    lianming::mail::transport::build_message(&from, &row).expect("message")
}

/// Mean time per message on one lettre connection (the first send, which connects, excluded).
async fn lettre_latency(sink: &Sink, row: &outbox::Model, n: u64) -> Duration {
    let smtp = lettre_pool(sink, 1);
    smtp.send(sample(row, 0)).await.expect("send");
    let started = Instant::now();
    for i in 1..=n {
        smtp.send(sample(row, i)).await.expect("send");
    }
    started.elapsed() / u32::try_from(n).expect("n")
}

/// Mean time per message of a raw client on one connection that, like lettre, writes the
/// body and the terminating `.` in two writes, with or without `TCP_NODELAY`.
async fn raw_latency(sink: &Sink, row: &outbox::Model, nodelay: bool, n: u32) -> Duration {
    async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) {
        let mut line = String::new();
        loop {
            line.clear();
            read.read_line(&mut line).await.expect("reply");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }
    let stream = TcpStream::connect(sink.addr()).await.expect("connect");
    stream.set_nodelay(nodelay).expect("nodelay");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    reply(&mut read).await;
    write.write_all(b"EHLO bench\r\n").await.expect("ehlo");
    reply(&mut read).await;
    let body = sample(row, 0).formatted();
    let mut started = Instant::now();
    for i in 0..=n {
        if i == 1 {
            started = Instant::now();
        }
        for command in [
            &b"MAIL FROM:<noreply@lianming.localhost>\r\n"[..],
            b"RCPT TO:<p0@bench.invalid>\r\n",
            b"DATA\r\n",
        ] {
            write.write_all(command).await.expect("command");
            reply(&mut read).await;
        }
        write.write_all(&body).await.expect("body");
        write.write_all(b"\r\n.\r\n").await.expect("end");
        reply(&mut read).await;
    }
    started.elapsed() / n
}

/// Messages per second the sink accepts from plain lettre over `pool` connections, each with
/// one sender, for `secs`.
async fn raw_rate(sink: &Sink, row: &outbox::Model, pool: u32, secs: u64) -> f64 {
    let smtp = lettre_pool(sink, pool);
    let next = Arc::new(AtomicU64::new(1_000_000));
    let before = sink.accepted();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let senders: Vec<_> = (0..pool)
        .map(|_| {
            let (smtp, next, row) = (smtp.clone(), next.clone(), row.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let message = sample(&row, next.fetch_add(1, Ordering::Relaxed));
                    smtp.send(message).await.expect("raw send");
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender");
    }
    (sink.accepted() - before) as f64 / started.elapsed().as_secs_f64()
}

/// Joins per second through the app's join path: `JOINERS` tasks, each taking the next of
/// `users` (ids from `first_user`) into group `slug`, for `secs` (or until the users run out).
async fn joins(
    state: &Arc<AppState>,
    slug: &str,
    first_user: i64,
    users: usize,
    secs: u64,
) -> (f64, usize, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..JOINERS)
        .map(|_| {
            let (state, next, failed, slug) =
                (state.clone(), next.clone(), failed.clone(), slug.to_owned());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= users {
                        break;
                    }
                    let user = CurrentUser {
                        id: first_user + i as i64,
                        email: format!("j{i}@bench.invalid"),
                        display_name: format!("参与者{i}"),
                        locale: "zh-CN".into(),
                        is_admin: false,
                        email_verified: true,
                    };
                    let req = serde_json::from_value(serde_json::json!({
                        "statement": "我在三月申请退款，至今没有到账，客服一直推诿。",
                        "amount_disputed": {"amount_minor": 26800, "currency": "CNY"},
                        "incident_date": "2026-03-02",
                        "transaction_refs": [format!("T2026{i:08}")],
                        "consent_share_identity": false,
                        "signature": {"full_name": "基准参与者", "statement_version": 1, "agree": true}
                    }))
                    .expect("join request");
                    if participation::service::join(&state, &user, &slug, req, None)
                        .await
                        .is_err()
                    {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("joiner");
    }
    let secs = started.elapsed().as_secs_f64();
    let tried = next.load(Ordering::Relaxed).min(users);
    let failed = failed.load(Ordering::Relaxed);
    ((tried - failed) as f64 / secs, tried - failed, failed)
}

async fn pending(state: &AppState) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .count(&state.db)
        .await
        .expect("count")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

#[expect(clippy::too_many_lines, reason = "one benchmark, read top to bottom")]
async fn run() {
    let n: usize = env_or("BENCH_RECIPIENTS", 100_000);
    let join_secs: u64 = env_or("BENCH_JOIN_SECS", 10);
    let send_secs: u64 = env_or("BENCH_SEND_SECS", 60);
    let raw_secs: u64 = env_or("BENCH_RAW_SECS", 10);
    // Enough joiners for either window at up to 10,000 joins a second.
    let joiners: usize = env_or("BENCH_JOINERS", 100_000);

    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(url.clone()),
        smtp_url: Some(SecretString::from(format!("smtp://{}", sink.addr()))),
        mail_per_second: 1_000_000,
        join_per_minute: 1_000_000,
        log: "error".into(),
        ..Settings::default()
    };
    let pool = settings.smtp_pool_size;
    let db = lianming::db::connect(&url).await.expect("db");
    Migrator::up(&db, None).await.expect("migrate");
    // 10:00 in Shanghai: past the default send hour (9) of everyone's daily digest.
    let now = Utc
        .with_ymd_and_hms(2026, 12, 3, 2, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(now);
    let addr = "127.0.0.1:0".parse().expect("addr");
    let state =
        Arc::new(lianming::state::build_state(settings, Arc::new(clock), db, addr).expect("state"));

    // Members of one group with a new timeline entry since their last (never sent) digest,
    // and people who have not joined yet, for the join windows.
    let prep = Instant::now();
    let (owner, provider) = common::owner_and_provider(&state.db, now).await;
    let digest_group = common::group(
        &state.db,
        &owner,
        &provider,
        "bench-digest",
        "退款迟迟未到账（十万人）",
        now,
    )
    .await
    .0;
    let quiet = common::group(
        &state.db,
        &owner,
        &provider,
        "bench-joins-quiet",
        "基准：无发送时加入",
        now,
    )
    .await
    .0;
    let busy = common::group(
        &state.db,
        &owner,
        &provider,
        "bench-joins-busy",
        "基准：发送时加入",
        now,
    )
    .await
    .0;
    let members = owner.id + 1;
    common::users(&state.db, members, n, "p", now).await;
    common::participations(&state.db, digest_group.id, 1, members, n, now).await;
    let first_joiner = members + n as i64;
    common::users(&state.db, first_joiner, joiners, "j", now).await;
    updates::ActiveModel {
        group_id: Set(digest_group.id),
        kind: Set(UpdateKind::Response),
        title: Set("平台回复：将在十五个工作日内处理退款".into()),
        body: Set("客服书面答复，承诺在十五个工作日内完成退款。".into()),
        visibility: Set(UpdateVisibility::Public),
        author_id: Set(Some(owner.id)),
        occurred_at: Set(now),
        created_at: Set(now),
        alerts_queued: Set(true),
        outcome_checks_queued: Set(true),
        ..Default::default()
    }
    .insert(&state.db)
    .await
    .expect("update");
    println!(
        "digest: {n} recipients in group {} and {joiners} people yet to join, prepared in {:.1} s \
         (SQLite, SMTP pool {pool}, 2 runtime threads on {} cores)",
        digest_group.slug,
        prep.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    // (a) Enqueue: the scheduler's ticks until one queues nothing.
    let started = Instant::now();
    let mut queued = 0;
    let mut ticks = 0;
    loop {
        let report = notify::scheduler::tick(&state).await.expect("tick");
        ticks += 1;
        if report.digests == 0 {
            break;
        }
        queued += report.digests;
    }
    let enqueue_secs = started.elapsed().as_secs_f64();
    println!(
        "  enqueue                 {queued} digests in {enqueue_secs:.1} s over {ticks} ticks: \
         {:.0} emails/s",
        queued as f64 / enqueue_secs
    );
    let row = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("digest_daily"))
        .one(&state.db)
        .await
        .expect("row")
        .expect("a digest");
    println!(
        "  one digest              {} bytes as sent",
        sample(&row, 0).formatted().len()
    );

    // Where the per-message time goes on one connection.
    let lettre = lettre_latency(&sink, &row, 50).await;
    let nagle = raw_latency(&sink, &row, false, 50).await;
    let nodelay = raw_latency(&sink, &row, true, 200).await;
    println!(
        "  one connection          lettre {:.2} ms/message | raw client, body and '.' in two \
         writes: Nagle on {:.2} ms, TCP_NODELAY {:.3} ms",
        lettre.as_secs_f64() * 1e3,
        nagle.as_secs_f64() * 1e3,
        nodelay.as_secs_f64() * 1e3,
    );

    // (b) The sink's acceptance rate from plain lettre over the same pool size.
    let raw = raw_rate(&sink, &row, pool, raw_secs).await;
    println!("  raw lettre, pool {pool}      {raw:.0} messages/s over {raw_secs} s");

    // (d, baseline) Joins with nothing being sent.
    let (quiet_rate, quiet_ok, quiet_failed) =
        joins(&state, &quiet.slug, first_joiner, joiners, join_secs).await;

    // (c) The app's outbox worker, with (d) joins during the first seconds of the send.
    let backlog = pending(&state).await;
    let before = sink.accepted();
    let ids_before = sink.distinct_ids();
    let stop = CancellationToken::new();
    let worker = lianming::app::mail_worker(&state).expect("worker");
    let started = Instant::now();
    let sending = tokio::spawn(worker.run(stop.clone()));
    let (busy_rate, busy_ok, busy_failed) =
        joins(&state, &busy.slug, first_joiner, joiners, join_secs).await;
    let during_joins = sink.accepted() - before;
    let joins_secs = started.elapsed().as_secs_f64();
    let target = backlog + busy_ok as u64;
    let until = started + Duration::from_secs(send_secs);
    while sink.accepted() - before < target && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let send_secs_taken = started.elapsed().as_secs_f64();
    let sent = sink.accepted() - before;
    stop.cancel();
    sending.await.expect("worker");
    let rate = sent as f64 / send_secs_taken;
    let distinct = sink.distinct_ids() - ids_before;
    let marked = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Sent))
        .count(&state.db)
        .await
        .expect("count");
    let scope = if sent >= target {
        format!("all {target} queued (digests and join confirmations) in {send_secs_taken:.1} s")
    } else {
        format!(
            "{sent} of {target} queued in a fixed window of {send_secs_taken:.0} s \
             (the backlog would take {:.0} s at this rate)",
            target as f64 / rate.max(1e-9)
        )
    };
    println!(
        "  send (outbox worker)    {rate:.0} messages/s: {scope}; {distinct} distinct Message-IDs, \
         {marked} rows marked sent | raw lettre, pool {pool}: {raw:.0}/s | ratio {:.3} (target ≥ 0.8)",
        rate / raw.max(1e-9)
    );
    println!(
        "  send during the joins   {:.0} messages/s over {joins_secs:.1} s | after them: {:.0}/s \
         over {:.1} s",
        during_joins as f64 / joins_secs,
        (sent - during_joins) as f64 / (send_secs_taken - joins_secs).max(1e-9),
        send_secs_taken - joins_secs,
    );
    println!(
        "  joins during the send   {busy_rate:.0}/s ({busy_ok} joined, {busy_failed} failed) | \
         without: {quiet_rate:.0}/s ({quiet_ok} joined, {quiet_failed} failed) | ratio {:.3} \
         (target ≥ 0.9)",
        busy_rate / quiet_rate.max(1e-9)
    );
}
