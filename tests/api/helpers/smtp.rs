//! A real SMTP server for integration tests.
//!
//! [`MailServer::start`] binds `127.0.0.1:0` and serves SMTP (no TLS, no AUTH) from a
//! background thread using `mailin-embedded`. Every accepted message is parsed with
//! `mail-parser` and kept in memory, in arrival order, as a [`ReceivedMail`].
//!
//! Failure simulation:
//! * [`MailServer::reject_recipient`]: `RCPT TO` for that address gets a permanent `550`.
//! * [`MailServer::set_down`]: while down, `HELO`/`EHLO` of a new connection is answered with
//!   `421` (and the connection is closed), `MAIL`/`RCPT`/`DATA` on an already open connection
//!   (e.g. one pooled by lettre) are answered with a temporary `451`, and a message whose
//!   end-of-data arrives while down is discarded with `421` (connection closed). Nothing is
//!   stored while down. (mailin-embedded always sends its own `220` greeting, so refusing right at
//!   connect is not possible.)
//!
//! The server thread runs until the test process exits; the listener is never closed.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mail_parser::{HeaderName, MessageParser, MessagePart, PartType};
use mailin_embedded::{Handler, Response, Server, SslConfig};

/// Maximum number of concurrent SMTP sessions per server (mailin uses one thread per session,
/// created up front).
const SESSION_THREADS: u32 = 16;

/// How often the `wait_for_*` helpers look at the mailbox.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// One message accepted by the [`MailServer`].
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`), without angle brackets; empty for the null sender.
    pub envelope_from: String,
    /// Envelope recipients (`RCPT TO`), without angle brackets, in the order given.
    pub envelope_to: Vec<String>,
    /// The message exactly as received after dot-unstuffing (headers + body, CRLF line endings).
    pub raw: Vec<u8>,
    /// Decoded `Subject` (RFC 2047 words decoded); empty when absent.
    pub subject: String,
    /// `Message-ID` without the angle brackets.
    pub message_id: Option<String>,
    /// Decoded `text/plain` body (transfer encoding and charset decoded). When the message has
    /// no `text/plain` part this is mail-parser's text rendering of the HTML part.
    pub text: String,
    /// Decoded `text/html` part, if there is one.
    pub html: Option<String>,
    /// All top-level headers in order, as (name, decoded unfolded value).
    pub headers: Vec<(String, String)>,
}

impl ReceivedMail {
    fn parse(envelope_from: String, envelope_to: Vec<String>, raw: Vec<u8>) -> ReceivedMail {
        let mut mail = ReceivedMail {
            envelope_from,
            envelope_to,
            raw: Vec::new(),
            subject: String::new(),
            message_id: None,
            text: String::new(),
            html: None,
            headers: Vec::new(),
        };

        // Every header as decoded unstructured text (RFC 2047 decoded, unfolded), so that
        // `header()` gives back something readable for any header, including unknown ones.
        // (A non-empty header map makes the parser use the default function for the rest.)
        let header_parser = MessageParser::new()
            .header_text(HeaderName::Subject)
            .default_header_text();
        if let Some(parsed) = header_parser.parse_headers(&raw) {
            mail.headers = parsed
                .headers()
                .iter()
                .map(|h| {
                    let value = h.value().as_text().unwrap_or_default().trim().to_owned();
                    (h.name().to_owned(), value)
                })
                .collect();
        }

        if let Some(message) = MessageParser::default().parse(&raw) {
            mail.subject = message.subject().unwrap_or_default().to_owned();
            mail.message_id = message.message_id().map(str::to_owned);
            mail.text = message
                .text_bodies()
                .find(|part| matches!(part.body, PartType::Text(_)))
                .and_then(MessagePart::text_contents)
                .map(str::to_owned)
                .or_else(|| message.body_text(0).map(|text| text.into_owned()))
                .unwrap_or_default();
            mail.html = message
                .html_bodies()
                .find(|part| part.is_text_html())
                .and_then(MessagePart::text_contents)
                .map(str::to_owned);
        }
        mail.raw = raw;
        mail
    }

    /// Decoded value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// Value of query parameter `param` (form-url-decoded) in the first URL of the text body
    /// that has it; falls back to the `href`s / URLs of the HTML part.
    pub fn find_link_token(&self, param: &str) -> Option<String> {
        std::iter::once(self.text.as_str())
            .chain(self.html.as_deref())
            .flat_map(urls_in)
            .find_map(|candidate| {
                let url = url::Url::parse(&candidate).ok()?;
                url.query_pairs()
                    .find(|(key, _)| key == param)
                    .map(|(_, value)| value.into_owned())
            })
    }

    /// One-line summary used in panic messages.
    fn summary(&self) -> String {
        format!(
            "from=<{}> to={:?} subject={:?} message-id={:?}",
            self.envelope_from, self.envelope_to, self.subject, self.message_id
        )
    }
}

impl fmt::Debug for ReceivedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMail")
            .field("envelope_from", &self.envelope_from)
            .field("envelope_to", &self.envelope_to)
            .field("subject", &self.subject)
            .field("message_id", &self.message_id)
            .field("headers", &self.headers)
            .field("text", &self.text)
            .field("html", &self.html)
            .field("raw", &String::from_utf8_lossy(&self.raw))
            .finish()
    }
}

/// Every `http://` / `https://` URL in `text`, in order. A URL ends at whitespace, at a quote,
/// angle bracket or closing bracket, or at the first non-ASCII character (e.g. Chinese
/// punctuation right after a link); trailing sentence punctuation is dropped. HTML-escaped
/// ampersands (`&amp;`) are turned back into `&`.
fn urls_in(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| {
                !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | '`')
            })
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        urls.push(url.replace("&amp;", "&"));
        rest = &candidate[end..];
    }
    urls
}

fn find_url_start(text: &str) -> Option<usize> {
    match (text.find("https://"), text.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct Shared {
    port: u16,
    messages: Mutex<Vec<ReceivedMail>>,
    rejected: Mutex<HashSet<String>>,
    down: AtomicBool,
    /// While true, every message waits after its data, before the server answers it; the
    /// number waiting.
    held: Mutex<(bool, usize)>,
    released: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take every other user of the server down with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A real SMTP server on `127.0.0.1:<random port>`. Cheap to clone; clones share the mailbox.
#[derive(Clone)]
pub struct MailServer {
    shared: Arc<Shared>,
}

impl fmt::Debug for MailServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailServer")
            .field("port", &self.shared.port)
            .field("messages", &lock(&self.shared.messages).len())
            .field("down", &self.shared.down.load(Ordering::SeqCst))
            .finish()
    }
}

impl MailServer {
    /// Bind `127.0.0.1:0` and serve SMTP from a background thread. The port is bound before
    /// this returns, so clients may connect immediately.
    pub fn start() -> MailServer {
        let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .expect("test SMTP server: cannot bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("test SMTP server: no local address")
            .port();
        let shared = Arc::new(Shared {
            port,
            messages: Mutex::new(Vec::new()),
            rejected: Mutex::new(HashSet::new()),
            down: AtomicBool::new(false),
            held: Mutex::new((false, 0)),
            released: Condvar::new(),
        });
        let handler = SmtpHandler::new(Arc::clone(&shared));
        std::thread::Builder::new()
            .name(format!("test-smtp-{port}"))
            .spawn(move || {
                let mut server = Server::new(handler);
                server
                    .with_name("smtp.lianming.test")
                    .with_num_threads(SESSION_THREADS)
                    .with_tcp_listener(listener);
                if let Err(err) = server.with_ssl(SslConfig::None) {
                    panic!("test SMTP server on port {port}: cannot configure: {err}");
                }
                if let Err(err) = server.serve() {
                    panic!("test SMTP server on port {port} stopped: {err}");
                }
            })
            .expect("test SMTP server: cannot spawn thread");
        MailServer { shared }
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `smtp://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.shared.port)
    }

    /// All messages accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.messages).clone()
    }

    /// Wait until at least `n` messages have been accepted and return all of them. Panics,
    /// listing what did arrive, if there are fewer than `n` after `timeout`.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "test SMTP server {}: expected at least {n} message(s) within {timeout:?}, \
                     got {}:{}",
                    self.url(),
                    messages.len(),
                    listing(&messages)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Wait for the first message whose envelope recipients include `recipient`
    /// (case-insensitive). Panics, listing what did arrive, after `timeout`.
    pub async fn wait_for_mail_to(&self, recipient: &str, timeout: Duration) -> ReceivedMail {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if let Some(found) = messages.iter().find(|m| {
                m.envelope_to
                    .iter()
                    .any(|to| to.eq_ignore_ascii_case(recipient))
            }) {
                return found.clone();
            }
            if Instant::now() >= deadline {
                panic!(
                    "test SMTP server {}: no message to <{recipient}> within {timeout:?}; \
                     {} message(s) arrived:{}",
                    self.url(),
                    messages.len(),
                    listing(&messages)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// From now on, `RCPT TO:<addr>` (case-insensitive) is answered with a permanent `550`.
    pub fn reject_recipient(&self, addr: &str) {
        lock(&self.shared.rejected).insert(addr.to_ascii_lowercase());
    }

    /// Undoes [`Self::reject_recipient`]: `RCPT TO:<addr>` is accepted again.
    pub fn accept_recipient(&self, addr: &str) {
        lock(&self.shared.rejected).remove(&addr.to_ascii_lowercase());
    }

    /// While held, every message waits, fully received, for its answer until [`Self::hold`]
    /// is called with false (the server has enough session threads for the waits).
    pub fn hold(&self, on: bool) {
        lock(&self.shared.held).0 = on;
        self.shared.released.notify_all();
    }

    /// Wait until `n` messages are waiting for their answer at once (see [`Self::hold`]).
    /// Panics, saying how many were, after `timeout`.
    pub async fn wait_for_held(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let waiting = lock(&self.shared.held).1;
            if waiting >= n {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "test SMTP server {}: expected {n} message(s) waiting at once within \
                     {timeout:?}, {waiting} were",
                    self.url()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// While down, new sessions get `421` at HELO/EHLO, open sessions get `451` at
    /// MAIL/RCPT/DATA (`421` at end of data); nothing is stored.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }
}

fn listing(messages: &[ReceivedMail]) -> String {
    if messages.is_empty() {
        return " (none)".to_owned();
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("\n  #{i}: {}", m.summary()))
        .collect()
}

/// Per-connection state (mailin clones the handler for every connection).
#[derive(Clone)]
struct SmtpHandler {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl SmtpHandler {
    fn new(shared: Arc<Shared>) -> SmtpHandler {
        SmtpHandler {
            shared,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        }
    }

    fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }
}

fn temporarily_unavailable() -> Response {
    Response::custom(
        451,
        "4.3.0 Test relay temporarily unavailable, try again later".to_owned(),
    )
}

impl Handler for SmtpHandler {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        if self.is_down() {
            // 421 makes mailin close the connection after replying.
            Response::custom(
                421,
                "4.3.2 Test relay temporarily unavailable, closing connection".to_owned(),
            )
        } else {
            mailin_embedded::response::OK
        }
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        if self.is_down() {
            temporarily_unavailable()
        } else {
            mailin_embedded::response::OK
        }
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self.is_down() {
            return temporarily_unavailable();
        }
        if lock(&self.shared.rejected).contains(&to.to_ascii_lowercase()) {
            return Response::custom(550, format!("5.1.1 <{to}>: Recipient address rejected"));
        }
        mailin_embedded::response::OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.is_down() {
            return temporarily_unavailable();
        }
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        {
            let mut held = lock(&self.shared.held);
            held.1 += 1;
            while held.0 {
                held = self
                    .shared
                    .released
                    .wait(held)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            held.1 -= 1;
        }
        let raw = std::mem::take(&mut self.data);
        let from = std::mem::take(&mut self.from);
        let to = std::mem::take(&mut self.to);
        if self.is_down() {
            // Not 451: after a failed end-of-data mailin stays in the DATA state, so the
            // connection is closed instead (421) and the client has to start over.
            return Response::custom(
                421,
                "4.3.2 Test relay went down during DATA, message discarded, closing connection"
                    .to_owned(),
            );
        }
        let mail = ReceivedMail::parse(from, to, raw);
        let mut messages = lock(&self.shared.messages);
        messages.push(mail);
        Response::custom(250, format!("2.0.0 OK queued as {}", messages.len()))
    }
}
