//! How mail leaves the server: SMTP through lettre (pooled, TLS as the URL says) when configured,
//! otherwise `.eml` files under `DATA_DIR/mail` so the embedded default needs no mail server.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::entities::outbox;

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    /// The relay refused for good (5xx): retrying cannot help.
    pub permanent: bool,
    /// What happened.
    pub message: String,
}

/// The configured way out.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// A directory receiving one `.eml` file per email.
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Transport::Smtp"),
            Self::Files(p) => write!(f, "Transport::Files({})", p.display()),
        }
    }
}

impl Transport {
    /// SMTP from a `smtp://` or `smtps://` URL, with a pool of `pool_size` connections.
    ///
    /// # Errors
    /// When the URL is not one lettre understands.
    pub fn smtp(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(Duration::from_secs(20)))
            .pool_config(PoolConfig::new().max_size(pool_size))
            .build();
        Ok(Self::Smtp(transport))
    }

    /// Sends one outbox row.
    ///
    /// # Errors
    /// A [`SendError`] saying whether the failure is permanent.
    pub async fn send(&self, from: &Mailbox, row: &outbox::Model) -> Result<(), SendError> {
        let message = build_message(from, row).map_err(|e| SendError {
            permanent: true,
            message: format!("unbuildable: {e}"),
        })?;
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
            Self::Files(dir) => {
                let transient = |e: std::io::Error| SendError {
                    permanent: false,
                    message: e.to_string(),
                };
                crate::private_fs::create_dir_all_async(dir)
                    .await
                    .map_err(transient)?;
                // Named by outbox id: a resend after a crash overwrites, never duplicates.
                let path = dir.join(format!("{:08}-{}.eml", row.id, row.kind));
                let tmp = path.with_extension("eml.tmp");
                crate::private_fs::write_async(&tmp, &message.formatted())
                    .await
                    .map_err(transient)?;
                tokio::fs::rename(&tmp, &path).await.map_err(transient)
            }
        }
    }
}

/// Builds the MIME message of an outbox row: multipart text + HTML, its stable Message-ID and
/// any extra headers.
///
/// # Errors
/// When an address or header in the row is malformed.
pub fn build_message(from: &Mailbox, row: &outbox::Model) -> anyhow::Result<Message> {
    let to: Mailbox = row.recipient.parse()?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()));
    let headers: Vec<(String, String)> = serde_json::from_str(&row.headers).unwrap_or_default();
    for (name, value) in headers {
        builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii(name)?, value));
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(
        row.body_text.clone(),
        row.body_html.clone(),
    ))?)
}
