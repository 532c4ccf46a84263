//! Trusted timestamps in a dossier: `manifest.tsr`, the TSA's token over `manifest.json`
//! (obtained after the manifest is written and before the letter, which prints its time; it
//! cannot be listed in the manifest it is over), and `evidence/<file>.tsr`, the token each
//! evidence file got at upload, listed in the manifest like the file itself.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Part;
use super::assembly::Assembly;
use crate::state::AppState;
use crate::tsa::{Stamp, StampError, Trust};

/// Obtains the timestamp of `manifest.json` (whose SHA-256 is `manifest_sha256`) and writes it
/// to `dir` as `manifest.tsr`; `None` without a TSA.
///
/// # Errors
/// When the TSA gives none ([`StampError`]: the build is retried), or the file cannot be
/// written.
pub async fn stamp_manifest(
    state: &AppState,
    dir: &Path,
    manifest_sha256: &str,
) -> anyhow::Result<Option<Stamp>> {
    if !state.tsa.enabled() {
        return Ok(None);
    }
    let digest = hex::decode(manifest_sha256).context("the manifest's hash")?;
    let stamp = state
        .tsa
        .stamp(&digest)
        .await
        .context("obtaining the trusted timestamp of manifest.json")?;
    let path = dir.join(Part::ManifestTsr.file_name());
    let bytes = stamp.response.clone();
    tokio::task::spawn_blocking(move || crate::private_fs::write(&path, &bytes))
        .await
        .context("a build thread panicked")?
        .context("writing manifest.tsr")?;
    Ok(Some(stamp))
}

/// Whether a build failure is worth another attempt: the TSA was down or answered badly.
#[must_use]
pub fn is_retryable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<StampError>())
}

/// The letter's line about the timestamp, in both of its languages.
#[must_use]
pub fn letter_line(stamp: Option<&Stamp>) -> String {
    match stamp {
        Some(s) => {
            let when = s.gen_time.format("%Y-%m-%d %H:%M:%S UTC");
            let tsa = s.tsa.as_deref().unwrap_or("?");
            format!(
                "可信时间戳：{when}（TSA {tsa}），令牌见 manifest.tsr。\
                 Trusted timestamp: {when} by the TSA {tsa}; its token is manifest.tsr."
            )
        }
        None => "未取得可信时间戳（未配置时间戳机构）。No trusted timestamp was obtained (no \
                 time-stamping authority is configured)."
            .into(),
    }
}

/// The path of an evidence file's token in the bundle.
#[must_use]
pub fn evidence_token_path(evidence_path: &str) -> String {
    format!("{evidence_path}.tsr")
}

/// The tokens of the assembly's evidence (by content SHA-256) that were obtained at upload.
///
/// # Errors
/// On a database error.
pub async fn evidence_tokens(
    state: &AppState,
    a: &Assembly,
) -> anyhow::Result<HashMap<String, Vec<u8>>> {
    let mut hashes: Vec<String> = a
        .participants
        .iter()
        .flat_map(|p| p.evidence.iter().map(|e| e.sha256.clone()))
        .collect();
    hashes.sort();
    hashes.dedup();
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(crate::tsa::job::find_all(&state.db, &hashes)
        .await?
        .into_iter()
        .map(|(sha, row)| (sha, row.token))
        .collect())
}

/// The bundle entry of the manifest's timestamp.
pub const MANIFEST_TSR: &str = "manifest.tsr";

/// What verification found of `manifest.tsr`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimestampReport {
    /// Whether the bundle holds `manifest.tsr`.
    pub present: bool,
    /// `absent`; `valid` (for this manifest, signed by a TSA certificate that is, or is issued
    /// by, a configured one); `invalid` (for other data, or a bad signature); `untrusted` (a
    /// good signature by a certificate that does not chain to the configured ones);
    /// `not_checked` (imprint and signature hold, but no TSA certificate was configured to
    /// say whom to trust).
    pub status: &'static str,
    /// The TSA's time, when the token could be read.
    pub gen_time: Option<DateTime<Utc>>,
    /// The TSA (its certificate's subject).
    pub tsa: Option<String>,
    /// True when `valid`, false when `invalid` or `untrusted`, absent otherwise.
    pub valid: Option<bool>,
}

impl Default for TimestampReport {
    fn default() -> Self {
        Self {
            present: false,
            status: "absent",
            gen_time: None,
            tsa: None,
            valid: None,
        }
    }
}

impl TimestampReport {
    /// One line for the terminal.
    #[must_use]
    pub fn to_text(&self) -> String {
        let by = match (&self.gen_time, &self.tsa) {
            (Some(t), Some(tsa)) => format!(" {} by {tsa}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            (Some(t), None) => format!(" {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            _ => String::new(),
        };
        match self.status {
            "absent" => "no trusted timestamp".into(),
            "valid" => format!("trusted timestamp{by}: valid"),
            "not_checked" => format!(
                "trusted timestamp{by}: signature holds, TSA not checked (no TSA certificate \
                 given: --tsa-cert or LIANMING_TSA_CERT)"
            ),
            other => format!("trusted timestamp{by}: {other}"),
        }
    }
}

/// A problem verification reports.
pub type Problem = (&'static str, String);

/// Checks the bundle's `manifest.tsr` (`tsr`, when present) as a timestamp of `manifest`
/// (the signed manifest bytes), trusting `anchors` when given.
#[must_use]
pub fn check_bundle(
    tsr: Option<&[u8]>,
    manifest: Option<&[u8]>,
    anchors: Option<&crate::tsa::Anchors>,
) -> (TimestampReport, Option<Problem>) {
    use sha2::Digest as _;
    let Some(tsr) = tsr else {
        return (TimestampReport::default(), None);
    };
    let mut report = TimestampReport {
        present: true,
        status: "not_checked",
        ..TimestampReport::default()
    };
    let Some(manifest) = manifest else {
        return (report, None);
    };
    let digest = sha2::Sha256::digest(manifest);
    match crate::tsa::token::check(tsr, &digest, anchors) {
        Ok(checked) => {
            report.gen_time = Some(checked.gen_time);
            report.tsa = checked.tsa;
            match checked.trust {
                Trust::Trusted => {
                    report.status = "valid";
                    report.valid = Some(true);
                    (report, None)
                }
                Trust::NotChecked => (report, None),
                Trust::Untrusted(why) => {
                    report.status = "untrusted";
                    report.valid = Some(false);
                    (report, Some(("timestamp_untrusted", why)))
                }
            }
        }
        Err(e) => {
            report.status = "invalid";
            report.valid = Some(false);
            (report, Some(("timestamp_invalid", e.to_string())))
        }
    }
}
