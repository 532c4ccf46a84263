//! A test RFC 3161 time-stamping authority on loopback: a CA and a TSA certificate made with
//! the `openssl` command (extendedKeyUsage critical timeStamping), and a tiny HTTP server that
//! answers each posted `TimeStampReq` with `openssl ts -reply`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The key type of the TSA's certificate.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Rsa,
    EcP256,
}

/// A running test TSA.
pub struct TestTsa {
    /// `http://127.0.0.1:<port>/tsa`.
    pub url: String,
    /// Its directory: keys, certificates, config, requests.
    pub dir: tempfile::TempDir,
    /// Requests answered.
    pub answered: Arc<AtomicUsize>,
    /// The media types the requests came with.
    pub content_types: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (Debian's openssl package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const TSA_CONFIG: &str = "\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = .
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
";

/// Makes a CA (`ca.pem`, EC P-256) and a TSA certificate it issues (`tsa.pem`, with `key`) in
/// `dir`, and the `openssl ts` configuration.
pub fn make_authority(dir: &Path, name: &str, key: Key) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            &format!("/O={name}/CN={name} Root CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let newkey: &[&str] = match key {
        Key::Rsa => &["-newkey", "rsa:2048"],
        Key::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    let mut args = vec!["req", "-new"];
    args.extend_from_slice(newkey);
    let subj = format!("/O={name}/CN={name} TSA");
    args.extend_from_slice(&[
        "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", &subj,
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("ext.cnf"),
        "extendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\n",
    )
    .expect("ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "3650",
            "-extfile",
            "ext.cnf",
        ],
    );
    std::fs::write(dir.join("tsa.cnf"), TSA_CONFIG).expect("tsa.cnf");
    std::fs::write(dir.join("tsaserial"), "01\n").expect("serial");
}

/// `openssl ts -reply` to the request file `query` in `dir`; returns the response (DER).
pub fn reply(dir: &Path, query: &str) -> Vec<u8> {
    let out = format!("{query}.tsr");
    let res = Command::new("openssl")
        .current_dir(dir)
        .args([
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            query,
            "-out",
            &out,
        ])
        .output()
        .expect("openssl ts -reply");
    assert!(
        res.status.success(),
        "openssl ts -reply: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    std::fs::read(dir.join(&out)).expect("the reply")
}

impl TestTsa {
    /// A TSA whose certificate has a key of `key`, issued by its own CA.
    pub async fn spawn(key: Key) -> TestTsa {
        let dir = tempfile::tempdir().expect("dir");
        make_authority(dir.path(), "Lianming Test", key);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/tsa", listener.local_addr().expect("addr"));
        let answered = Arc::new(AtomicUsize::new(0));
        let content_types = Arc::new(std::sync::Mutex::new(Vec::new()));
        let root = dir.path().to_path_buf();
        // `openssl ts -reply` counts in one serial file: one answer at a time.
        let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
        let (count, types) = (answered.clone(), content_types.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (root, lock, count, types) = (
                    root.clone(),
                    one_at_a_time.clone(),
                    count.clone(),
                    types.clone(),
                );
                tokio::spawn(async move {
                    let Some((content_type, body)) = read_request(&mut conn).await else {
                        return;
                    };
                    types.lock().expect("lock").push(content_type);
                    let _guard = lock.lock().await;
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let name = format!("req-{n}.tsq");
                    std::fs::write(root.join(&name), &body).expect("write request");
                    let answer = tokio::task::spawn_blocking(move || reply(&root, &name))
                        .await
                        .expect("reply");
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.len()
                    );
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(&answer).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        TestTsa {
            url,
            dir,
            answered,
            content_types,
            task,
        }
    }

    /// The CA certificate (what `LIANMING_TSA_CERT` names).
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The TSA's own certificate.
    pub fn tsa_pem(&self) -> PathBuf {
        self.dir.path().join("tsa.pem")
    }

    /// A response for `data`, asked of this TSA directly with `openssl ts -query`.
    pub fn stamp_of(&self, data: &[u8]) -> Vec<u8> {
        let n = self.answered.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.path();
        let file = format!("data-{n}");
        std::fs::write(dir.join(&file), data).expect("data");
        let query = format!("direct-{n}.tsq");
        openssl(
            dir,
            &[
                "ts", "-query", "-data", &file, "-sha256", "-cert", "-out", &query,
            ],
        );
        reply(dir, &query)
    }

    /// `openssl ts -verify` of `tsr` with `subject` (`-data FILE` or `-digest HEX`) against
    /// the CA; returns (accepted, its output).
    pub fn openssl_verify(&self, tsr: &[u8], subject: (&str, &str)) -> (bool, String) {
        let n = self.answered.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.path();
        let path = dir.join(format!("check-{n}.tsr"));
        std::fs::write(&path, tsr).expect("tsr");
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(["ts", "-verify", subject.0, subject.1, "-in"])
            .arg(&path)
            .arg("-CAfile")
            .arg(self.ca_pem())
            .output()
            .expect("openssl ts -verify");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.success() && text.contains("Verification: OK"),
            text,
        )
    }
}

/// A URL on loopback where nothing listens.
pub async fn down_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/tsa")
}

/// Reads one HTTP request: its `Content-Type` and body (by `Content-Length`).
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().ok()?;
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((header("content-type"), body))
}
