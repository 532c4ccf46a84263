//! Trusted timestamps (RFC 3161) from an outside time-stamping authority, when
//! `LIANMING_TSA_URL` is set: a token over each dossier's `manifest.json` (the bundle's
//! `manifest.tsr`) and over each evidence file's SHA-256 at upload ([`job::TimestampEvidence`],
//! kept in the `timestamps` table). What is stored is the TSA's whole `TimeStampResp` in DER —
//! the `.tsr` that `openssl ts -verify -data FILE -in X.tsr -CAfile CA.pem` reads — and it is
//! checked when obtained (status, nonce, imprint, signature, certificate) and again by
//! verification ([`token::check`]).

pub mod job;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rand::Rng as _;

use crate::config::Settings;
pub use token::{Anchors, Checked, TokenError, Trust};

/// The media type of a request.
const QUERY_TYPE: &str = "application/timestamp-query";
/// The media type of an answer.
pub const REPLY_TYPE: &str = "application/timestamp-reply";
/// Largest answer read from a TSA.
const MAX_REPLY: usize = 256 * 1024;

/// The configured TSA, or none.
#[derive(Debug, Clone)]
pub struct Tsa {
    url: Option<url::Url>,
    anchors: Option<Arc<Anchors>>,
    http: reqwest::Client,
}

/// A timestamp obtained from the TSA and checked.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The `TimeStampResp`, DER: the bytes of a `.tsr` file.
    pub response: Vec<u8>,
    /// The TSA's time.
    pub gen_time: DateTime<Utc>,
    /// The TSA's name (its certificate's subject).
    pub tsa: Option<String>,
}

/// Why no timestamp was obtained.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// No TSA is configured.
    #[error("no TSA is configured (LIANMING_TSA_URL)")]
    NotConfigured,
    /// The TSA could not be reached or answered with an HTTP error.
    #[error("the TSA at {url} did not answer: {detail}")]
    Unreachable {
        /// The TSA's URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The TSA's answer is not an acceptable timestamp.
    #[error("the TSA at {url} answered with no usable timestamp: {detail}")]
    Unusable {
        /// The TSA's URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

impl Tsa {
    /// The TSA of the settings: none without `tsa_url`; the certificates of `tsa_cert` (which
    /// also serve to check bundles without a URL).
    ///
    /// # Errors
    /// When the certificate file cannot be read or holds no certificate.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let anchors = settings
            .tsa_cert
            .as_ref()
            .map(|path| load_anchors(path).map(Arc::new))
            .transpose()
            .context("LIANMING_TSA_CERT")?;
        let url = settings
            .tsa_url
            .as_deref()
            .map(url::Url::parse)
            .transpose()
            .context("LIANMING_TSA_URL")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.tsa_timeout_secs.max(1)))
            .build()
            .context("the TSA's HTTP client")?;
        Ok(Self { url, anchors, http })
    }

    /// No TSA and no certificates.
    #[must_use]
    pub fn none() -> Self {
        Self {
            url: None,
            anchors: None,
            http: reqwest::Client::new(),
        }
    }

    /// Whether timestamps are obtained.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// The certificates timestamps are checked against, when configured.
    #[must_use]
    pub fn anchors(&self) -> Option<&Anchors> {
        self.anchors.as_deref()
    }

    /// Asks the TSA for a timestamp of the data whose SHA-256 is `sha256`, and checks it:
    /// granted, our nonce, our imprint, a valid signature by a certificate that chains to
    /// `LIANMING_TSA_CERT`.
    ///
    /// # Errors
    /// Without a TSA, when it cannot be reached in time, or when its answer is not acceptable.
    pub async fn stamp(&self, sha256: &[u8]) -> Result<Stamp, StampError> {
        let url = self.url.as_ref().ok_or(StampError::NotConfigured)?;
        let shown = url.as_str().to_owned();
        let unusable = |detail: String| StampError::Unusable {
            url: shown.clone(),
            detail,
        };
        let mut nonce = [0u8; 8];
        rand::rng().fill_bytes(&mut nonce);
        // Positive and without a leading zero byte, so its DER is the bytes themselves.
        nonce[0] = (nonce[0] & 0x7f).max(1);
        let body = token::request(sha256, &nonce).map_err(unusable)?;
        let unreachable = |detail: String| StampError::Unreachable {
            url: shown.clone(),
            detail,
        };
        let res = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, QUERY_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        if !res.status().is_success() {
            return Err(unreachable(format!("HTTP {}", res.status())));
        }
        let bytes = res
            .bytes()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        if bytes.len() > MAX_REPLY {
            return Err(unusable("the answer is too large".into()));
        }
        let checked =
            token::check(&bytes, sha256, self.anchors()).map_err(|e| unusable(e.to_string()))?;
        if checked.nonce.as_deref() != Some(nonce.as_slice()) {
            return Err(unusable(
                "the token does not echo the request's nonce".into(),
            ));
        }
        if let Trust::Untrusted(why) = &checked.trust {
            return Err(unusable(format!("{why} (LIANMING_TSA_CERT)")));
        }
        Ok(Stamp {
            response: bytes.to_vec(),
            gen_time: checked.gen_time,
            tsa: checked.tsa,
        })
    }
}

/// An error with its causes, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The certificates of a PEM file.
///
/// # Errors
/// When it cannot be read or holds no certificate.
pub fn load_anchors(path: &std::path::Path) -> anyhow::Result<Anchors> {
    let pem = std::fs::read(path).with_context(|| format!("{} cannot be read", path.display()))?;
    Anchors::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
