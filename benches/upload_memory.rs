//! Peak memory of the server while 20 clients upload 20 MiB evidence files at once.
//!
//! Run: `cargo bench --bench upload_memory`. It starts the release binary on a fresh data
//! directory, prepares 20 verified participants, measures the server's resident memory at
//! rest (the baseline), then its peak (`VmHWM`) across the concurrent uploads, and prints both
//! and the growth, as a ratio to the baseline and to the bytes uploaded. Linux only (/proc).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

const CLIENTS: usize = 20;
const FILE_BYTES: usize = 20 * 1024 * 1024 - 4096;

fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak(pid: u32) {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn png(seed: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    v.extend((0..FILE_BYTES).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 ^ seed as u8));
    v
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_lianming");
    let env = |cmd: &mut Command| {
        cmd.current_dir(dir.path())
            .env("LIANMING_LOG", "error")
            .env("LIANMING_JOIN_PER_MINUTE", "1000")
            .env("LIANMING_LOGIN_PER_MINUTE", "1000");
    };
    let mut passwords = Vec::new();
    for i in 0..=CLIENTS {
        let mut cmd = Command::new(bin);
        env(&mut cmd);
        let out = cmd
            .args(["user", "create", "--email", &format!("u{i}@bench.invalid")])
            .output()
            .expect("user create");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        passwords.push(
            text.lines()
                .find_map(|l| l.strip_prefix("password: "))
                .expect("password")
                .to_owned(),
        );
    }
    let mut cmd = Command::new(bin);
    env(&mut cmd);
    let mut server = cmd
        .env("LIANMING_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let pid = server.id();
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("start line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .to_owned();
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
    let group: Value = client
        .post(format!("{url}/api/v1/groups"))
        .bearer_auth(&tokens[0])
        .json(&json!({"provider": null, "provider_name": "基准钱包", "title": "基准测试投诉组",
            "summary": "用于测量上传时内存占用的投诉组。", "category": "other", "demands": ["refund"],
            "joint_statement": "这是基准测试使用的联合声明文本，没有实际意义。"}))
        .send().await.expect("group").json().await.expect("json");
    let slug = group["slug"].as_str().expect("slug").to_owned();
    for t in &tokens[1..] {
        let res = client
            .post(format!("{url}/api/v1/groups/{slug}/participation"))
            .bearer_auth(t)
            .json(&json!({"statement": "基准测试参与者的陈述。", "amount_disputed": {"amount_minor": 100, "currency": "CNY"},
                "incident_date": "2026-01-01", "consent_share_identity": false,
                "signature": {"full_name": "基准", "statement_version": 1, "agree": true}}))
            .send().await.expect("join");
        assert_eq!(res.status(), 201);
    }
    let files: Vec<Vec<u8>> = (0..CLIENTS).map(png).collect();

    // Warm up one small upload so lazily built state is in the baseline.
    let warm = reqwest::multipart::Form::new()
        .text("kind", "screenshot")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png(99)[..4096].to_vec())
                .file_name("w.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    client
        .post(format!("{url}/api/v1/groups/{slug}/participation/evidence"))
        .bearer_auth(&tokens[1])
        .multipart(warm)
        .send()
        .await
        .expect("warm");

    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let baseline = status_kib(pid, "VmRSS:");
    reset_peak(pid);
    let started = Instant::now();
    let uploads = files.iter().zip(&tokens[1..]).map(|(f, t)| {
        let form = reqwest::multipart::Form::new()
            .text("kind", "screenshot")
            .part(
                "file",
                reqwest::multipart::Part::bytes(f.clone())
                    .file_name("big.png")
                    .mime_str("image/png")
                    .expect("mime"),
            );
        client
            .post(format!("{url}/api/v1/groups/{slug}/participation/evidence"))
            .bearer_auth(t)
            .multipart(form)
            .send()
    });
    let results = futures_util::future::join_all(uploads).await;
    let elapsed = started.elapsed();
    let peak = status_kib(pid, "VmHWM:");
    let ok = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 201))
        .count();
    let _ = server.kill();
    let _ = server.wait();

    let growth = peak.saturating_sub(baseline);
    let uploaded_kib = (CLIENTS * FILE_BYTES / 1024) as u64;
    println!(
        "upload_memory: {ok}/{CLIENTS} uploads of {} MiB accepted in {:.2} s",
        FILE_BYTES / 1024 / 1024,
        elapsed.as_secs_f64()
    );
    println!("  baseline RSS      {:>8} KiB", baseline);
    println!("  peak RSS (VmHWM)  {:>8} KiB", peak);
    println!(
        "  growth            {:>8} KiB  ({:.2}x baseline; {:.3} of the {} MiB uploaded)",
        growth,
        peak as f64 / baseline.max(1) as f64,
        growth as f64 / uploaded_kib as f64,
        uploaded_kib / 1024
    );
    println!(
        "  limit             {:>8} KiB  -> {}",
        64 * 1024,
        if growth < 64 * 1024 { "PASS" } else { "FAIL" }
    );
}
