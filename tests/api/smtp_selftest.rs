//! Self-tests of the test SMTP server in `helpers::smtp`, driven by a real lettre client.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::helpers::smtp::MailServer;

const WAIT: Duration = Duration::from_secs(10);
const SUBJECT: &str =
    "联名投诉：请验证您的邮箱地址（这是一个足够长的中文主题，用来测试 RFC 2047 编码与折行）";
const LINK: &str = "https://x.test/verify?token=abc%2Bdef";

fn transport(server: &MailServer) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .build()
}

fn mailbox(addr: &str) -> Mailbox {
    addr.parse().expect("valid mailbox")
}

fn simple(to: &str, subject: &str) -> Message {
    Message::builder()
        .from(mailbox("noreply@lianming.test"))
        .to(mailbox(to))
        .subject(subject)
        .body(format!("你好，{to}！"))
        .expect("message builds")
}

async fn send(server: &MailServer, message: Message) -> Result<Response, SmtpError> {
    transport(server).send(message).await
}

#[tokio::test]
async fn smtp_multipart_chinese_message_is_received_and_decoded() {
    let server = MailServer::start();
    assert_eq!(server.url(), format!("smtp://127.0.0.1:{}", server.port()));
    assert!(server.messages().is_empty());

    let text = format!("您好！\n\n请点击下面的链接验证您的邮箱：\n{LINK}。\n\n联名平台");
    let html =
        format!("<p>您好！</p><p>请点击<a href=\"{LINK}&amp;lang=zh\">这里</a>验证您的邮箱。</p>");
    let message = Message::builder()
        .from("联名平台 <noreply@lianming.test>".parse().expect("from"))
        .to("张三 <alice@example.test>".parse().expect("to"))
        .subject(SUBJECT)
        .message_id(Some("<selftest-1@lianming.test>".to_owned()))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .header(ContentTransferEncoding::Base64)
                        .body(html.clone()),
                ),
        )
        .expect("message builds");
    send(&server, message).await.expect("send succeeds");

    let all = server.wait_for_count(1, WAIT).await;
    assert_eq!(all.len(), 1);
    let mail = &all[0];
    assert_eq!(server.messages(), all);

    // Envelope.
    assert_eq!(mail.envelope_from, "noreply@lianming.test");
    assert_eq!(mail.envelope_to, vec!["alice@example.test".to_owned()]);

    // The wire format really was encoded; the fields are decoded.
    let raw = String::from_utf8(mail.raw.clone()).expect("lettre sends 7-bit/UTF-8 data");
    assert!(
        raw.contains("Subject: =?utf-8?"),
        "subject not RFC 2047 encoded:\n{raw}"
    );
    assert!(
        !raw.contains("联名投诉"),
        "expected an encoded subject and body:\n{raw}"
    );
    assert!(raw.contains("quoted-printable"), "{raw}");
    assert!(raw.contains("base64"), "{raw}");
    assert_eq!(mail.subject, SUBJECT);
    assert_eq!(mail.header("SUBJECT").as_deref(), Some(SUBJECT));
    assert_eq!(mail.message_id.as_deref(), Some("selftest-1@lianming.test"));
    assert_eq!(
        mail.header("message-id").as_deref(),
        Some("<selftest-1@lianming.test>")
    );
    let from = mail.header("From").expect("From header");
    assert!(
        from.contains("联名平台") && from.contains("<noreply@lianming.test>"),
        "{from}"
    );
    assert!(mail.header("To").expect("To header").contains("张三"));
    assert!(mail.header("X-Not-There").is_none());
    assert!(mail.headers.iter().any(|(name, _)| name == "Content-Type"));

    // Bodies, decoded from quoted-printable and base64.
    assert_eq!(mail.text.replace("\r\n", "\n").trim_end(), text);
    assert_eq!(mail.html.as_deref().map(str::trim_end), Some(html.as_str()));

    // Links.
    assert_eq!(mail.find_link_token("token").as_deref(), Some("abc+def"));
    assert_eq!(
        mail.find_link_token("lang").as_deref(),
        Some("zh"),
        "falls back to HTML"
    );
    assert_eq!(mail.find_link_token("missing"), None);
    assert!(format!("{mail:?}").contains("selftest-1@lianming.test"));
}

#[tokio::test]
async fn smtp_plain_base64_message_and_several_recipients() {
    let server = MailServer::start();
    let body = "第一行：中文正文\n第二行 https://x.test/reset?a=1&reset_token=%E4%BD%A0%E5%A5%BD&b=2 谢谢\n";
    let message = Message::builder()
        .from(mailbox("noreply@lianming.test"))
        .to(mailbox("Bob@Example.test"))
        .cc(mailbox("carol@example.test"))
        .subject("重置密码")
        .message_id(None)
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::Base64)
                .body(body.to_owned()),
        )
        .expect("message builds");
    send(&server, message).await.expect("send succeeds");

    let mail = server.wait_for_mail_to("bob@example.TEST", WAIT).await;
    assert_eq!(mail.envelope_to.len(), 2);
    assert!(mail.envelope_to.contains(&"carol@example.test".to_owned()));
    assert_eq!(mail.subject, "重置密码");
    assert_eq!(mail.text.replace("\r\n", "\n"), body);
    assert_eq!(mail.html, None);
    let id = mail
        .message_id
        .clone()
        .expect("lettre generated a Message-ID");
    assert_eq!(mail.header("Message-Id"), Some(format!("<{id}>")));
    assert_eq!(mail.find_link_token("reset_token").as_deref(), Some("你好"));
    assert_eq!(mail.find_link_token("b").as_deref(), Some("2"));

    let same = server.wait_for_mail_to("carol@example.test", WAIT).await;
    assert_eq!(same, mail);
}

#[tokio::test]
async fn smtp_rejected_recipient_gets_permanent_error() {
    let server = MailServer::start();
    server.reject_recipient("Blocked@Example.test");

    let err = send(&server, simple("blocked@example.test", "不会送达"))
        .await
        .expect_err("rejected recipient");
    assert!(
        err.is_permanent(),
        "expected a permanent error, got {err:?}"
    );
    assert_eq!(
        err.status().map(|code| code.to_string()).as_deref(),
        Some("550")
    );

    send(&server, simple("dave@example.test", "会送达"))
        .await
        .expect("other recipients still accepted");
    let all = server.wait_for_count(1, WAIT).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].envelope_to, vec!["dave@example.test".to_owned()]);
    assert_eq!(all[0].subject, "会送达");
}

#[tokio::test]
async fn smtp_down_server_fails_transiently_then_recovers() {
    let server = MailServer::start();

    // New connections are refused while down.
    server.set_down(true);
    let err = send(&server, simple("erin@example.test", "第一次"))
        .await
        .expect_err("server is down");
    assert!(
        err.is_transient(),
        "expected a transient error, got {err:?}"
    );
    assert!(server.messages().is_empty());

    // Back up.
    server.set_down(false);
    send(&server, simple("erin@example.test", "第二次"))
        .await
        .expect("server is back up");
    assert_eq!(server.wait_for_count(1, WAIT).await[0].subject, "第二次");

    assert_eq!(server.messages().len(), 1);
}

/// Reads one (possibly multi-line) SMTP reply and returns its last line.
async fn reply(reader: &mut BufReader<OwnedReadHalf>) -> String {
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(WAIT, reader.read_line(&mut line))
            .await
            .expect("SMTP reply in time")
            .expect("read SMTP reply");
        assert!(read > 0, "connection closed while waiting for a reply");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_owned();
        }
    }
}

async fn command(
    reader: &mut BufReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    line: &str,
) -> String {
    writer
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .expect("write SMTP command");
    reply(reader).await
}

#[tokio::test]
async fn smtp_down_server_refuses_open_connections_with_451() {
    let server = MailServer::start();
    let stream = TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .expect("connect");
    let (read, mut w) = stream.into_split();
    let mut r = BufReader::new(read);
    assert!(reply(&mut r).await.starts_with("220"));
    assert!(
        command(&mut r, &mut w, "EHLO client.test")
            .await
            .starts_with("250")
    );

    server.set_down(true);
    let mail_from = "MAIL FROM:<noreply@lianming.test>";
    assert!(command(&mut r, &mut w, mail_from).await.starts_with("451"));
    server.set_down(false);
    assert!(command(&mut r, &mut w, mail_from).await.starts_with("250"));
    server.set_down(true);
    let rcpt_to = "RCPT TO:<henry@example.test>";
    assert!(command(&mut r, &mut w, rcpt_to).await.starts_with("451"));
    server.set_down(false);
    assert!(command(&mut r, &mut w, rcpt_to).await.starts_with("250"));
    server.set_down(true);
    assert!(command(&mut r, &mut w, "DATA").await.starts_with("451"));
    server.set_down(false);
    assert!(command(&mut r, &mut w, "DATA").await.starts_with("354"));
    w.write_all(b"Subject: lost\r\n\r\nbody\r\n")
        .await
        .expect("write data");
    // Going down in the middle of DATA: the end of data is refused and nothing is stored.
    server.set_down(true);
    assert!(command(&mut r, &mut w, ".").await.starts_with("421"));
    assert!(server.messages().is_empty());
    drop((r, w));

    // A fresh connection works again once the relay is back.
    server.set_down(false);
    send(&server, simple("henry@example.test", "恢复了"))
        .await
        .expect("server is back up");
    let all = server.wait_for_count(1, WAIT).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].subject, "恢复了");
}

#[tokio::test]
async fn smtp_wait_helpers_panic_listing_what_arrived() {
    let server = MailServer::start();
    send(&server, simple("gina@example.test", "只有一封"))
        .await
        .expect("send succeeds");

    let waiting = server.clone();
    let joined =
        tokio::spawn(async move { waiting.wait_for_count(2, Duration::from_millis(300)).await })
            .await;
    let message = panic_message(joined.expect_err("must panic"));
    assert!(
        message.contains("expected at least 2 message(s)"),
        "{message}"
    );
    assert!(
        message.contains("gina@example.test") && message.contains("只有一封"),
        "{message}"
    );

    let waiting = server.clone();
    let joined = tokio::spawn(async move {
        waiting
            .wait_for_mail_to("nobody@example.test", Duration::from_millis(300))
            .await
    })
    .await;
    let message = panic_message(joined.expect_err("must panic"));
    assert!(
        message.contains("no message to <nobody@example.test>"),
        "{message}"
    );
    assert!(message.contains("只有一封"), "{message}");
}

fn panic_message(err: tokio::task::JoinError) -> String {
    let payload = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}
