//! Verification of a dossier bundle, shared by `lianming verify`, `POST /api/v1/dossiers/verify`
//! and the public `/verify` page: check the JWS against the published keys, compare
//! `manifest.json` with the signed payload, recompute every listed file's SHA-256 and size, the
//! letter's from the signed header, and name every file that is missing, altered or unexpected;
//! and check `manifest.tsr`, the manifest's trusted timestamp, when there is one.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::jws;
use super::keys::Jwks;
use super::manifest::{FORMAT, ManifestFiles};
use super::timestamp::{MANIFEST_TSR, check_bundle};

/// Largest `manifest.json` or `manifest.jws` read.
const MAX_MANIFEST: u64 = 64 * 1024 * 1024;

/// What is wrong with one part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// The file (path in the bundle), or `bundle` for the archive itself.
    pub target: String,
    /// `not_a_zip`, `missing`, `hash_mismatch`, `unexpected_file`, `unreadable`,
    /// `manifest_mismatch`, `manifest_malformed`, `signature_invalid`, `unknown_kid`,
    /// `jws_malformed`, `too_large`, `timestamp_invalid` (`manifest.tsr` is for other data or
    /// its signature fails) or `timestamp_untrusted` (its signer does not chain to the
    /// configured TSA certificates).
    pub code: &'static str,
    /// What was found.
    pub detail: String,
}

/// The result of a verification.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// True only when the signature is good and every file matches.
    pub valid: bool,
    /// The signing key named by the JWS.
    pub kid: Option<String>,
    /// The group's slug, from the manifest.
    pub group: Option<String>,
    /// The dossier version, from the manifest.
    pub version: Option<i32>,
    /// The recipient tier, from the manifest.
    pub tier: Option<String>,
    /// How many files were hashed and found matching.
    pub files_ok: usize,
    /// Everything that failed; empty when valid.
    pub problems: Vec<Finding>,
    /// The trusted timestamp of the manifest (`manifest.tsr`), when the bundle has one.
    pub timestamp: super::timestamp::TimestampReport,
}

impl Report {
    fn fail(&mut self, target: &str, code: &'static str, detail: impl Into<String>) {
        self.problems.push(Finding {
            target: target.to_owned(),
            code,
            detail: detail.into(),
        });
    }

    /// One line per problem, for the terminal.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let what = match (&self.group, self.version) {
            (Some(g), Some(v)) => {
                format!(" ({g} v{v}, tier {})", self.tier.as_deref().unwrap_or("?"))
            }
            _ => String::new(),
        };
        if self.valid {
            out.push_str(&format!(
                "VALID{what}: signature by key {} and {} files match\n",
                self.kid.as_deref().unwrap_or("?"),
                self.files_ok
            ));
        } else {
            out.push_str(&format!("INVALID{what}\n"));
            for p in &self.problems {
                out.push_str(&format!("  {}: {} — {}\n", p.target, p.code, p.detail));
            }
        }
        out.push_str(&format!("  {}\n", self.timestamp.to_text()));
        out
    }
}

/// Reads at most `limit` bytes of an entry.
fn read_limited(entry: &mut impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    entry.take(limit + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// SHA-256 and size of at most `limit + 1` bytes of an entry.
fn hash_limited(entry: &mut impl Read, limit: u64) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut limited = entry.take(limit.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Verifies the bundle read from `source` against `keys`. `max_total` caps the bytes
/// decompressed (for uploads from strangers). A `manifest.tsr` is checked, but whom it is
/// from is not (see [`verify_with`]).
#[must_use]
pub fn verify<R: Read + Seek>(source: R, keys: &Jwks, max_total: Option<u64>) -> Report {
    verify_with(source, keys, max_total, None)
}

/// [`verify`], with the certificates a `manifest.tsr` signer must be, or be issued by.
#[must_use]
pub fn verify_with<R: Read + Seek>(
    source: R,
    keys: &Jwks,
    max_total: Option<u64>,
    tsa: Option<&crate::tsa::Anchors>,
) -> Report {
    let mut report = Report::default();
    let mut zip = match zip::ZipArchive::new(source) {
        Ok(z) => z,
        Err(e) => {
            report.fail(
                "bundle",
                "not_a_zip",
                format!("not a readable zip archive: {e}"),
            );
            return report;
        }
    };
    let names: BTreeSet<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| !n.ends_with('/'))
        .map(std::borrow::Cow::into_owned)
        .collect();
    let mut read_small = |name: &str, report: &mut Report| -> Option<Vec<u8>> {
        let result = zip.by_name(name);
        match result {
            Ok(mut entry) => match read_limited(&mut entry, MAX_MANIFEST) {
                Ok(bytes) if bytes.len() as u64 > MAX_MANIFEST => {
                    report.fail(name, "too_large", "larger than 64 MiB");
                    None
                }
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    report.fail(name, "unreadable", e.to_string());
                    None
                }
            },
            Err(_) => {
                report.fail(name, "missing", "not in the bundle");
                None
            }
        }
    };
    let jws_bytes = read_small("manifest.jws", &mut report);
    let manifest_bytes = read_small("manifest.json", &mut report);
    let tsr_bytes = names
        .contains(MANIFEST_TSR)
        .then(|| read_small(MANIFEST_TSR, &mut report))
        .flatten();

    let decoded = jws_bytes.and_then(|b| {
        let text = String::from_utf8(b).unwrap_or_default();
        match jws::decode(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                report.fail("manifest.jws", "jws_malformed", e.0);
                None
            }
        }
    });
    let mut signed = false;
    if let Some(d) = &decoded {
        report.kid.clone_from(&d.header.kid);
        match d.header.kid.as_deref().and_then(|kid| keys.find(kid)) {
            Some(key) if d.verify(&key) => signed = true,
            Some(_) => report.fail(
                "manifest.jws",
                "signature_invalid",
                "the signature does not match the signed manifest and header",
            ),
            None => report.fail(
                "manifest.jws",
                "unknown_kid",
                format!(
                    "no published key has kid {:?}",
                    d.header.kid.as_deref().unwrap_or("")
                ),
            ),
        }
        if let Some(m) = &manifest_bytes
            && *m != d.payload
        {
            report.fail(
                "manifest.json",
                "manifest_mismatch",
                "differs from the manifest the JWS signs",
            );
        }
    }

    // The file list comes from the signed payload when the signature holds; otherwise from
    // whatever is there, so the report still names altered files.
    let listing = match (&decoded, &manifest_bytes) {
        (Some(d), _) if signed => Some(d.payload.clone()),
        (_, Some(m)) => Some(m.clone()),
        (Some(d), None) => Some(d.payload.clone()),
        (None, None) => None,
    };
    let (stamp, problem) = check_bundle(tsr_bytes.as_deref(), listing.as_deref(), tsa);
    report.timestamp = stamp;
    if let Some((code, detail)) = problem {
        report.fail(MANIFEST_TSR, code, detail);
    }
    let manifest: Option<ManifestFiles> =
        listing.and_then(
            |bytes| match serde_json::from_slice::<ManifestFiles>(&bytes) {
                Ok(m) if m.format == FORMAT => Some(m),
                Ok(m) => {
                    report.fail(
                        "manifest.json",
                        "manifest_malformed",
                        format!("unknown format {:?}", m.format),
                    );
                    None
                }
                Err(e) => {
                    report.fail("manifest.json", "manifest_malformed", e.to_string());
                    None
                }
            },
        );

    let mut expected: Vec<(String, String, u64)> = Vec::new();
    if let Some(m) = &manifest {
        report.group = m.group.as_ref().map(|g| g.slug.clone());
        report.version = m.version;
        report.tier.clone_from(&m.tier);
        expected.extend(
            m.files
                .iter()
                .map(|f| (f.path.clone(), f.sha256.clone(), f.size)),
        );
    }
    match decoded.as_ref().map(|d| d.header.letter.clone()) {
        Some(Some(letter)) => expected.push((letter.path, letter.sha256, letter.size)),
        Some(None) => report.fail(
            "manifest.jws",
            "jws_malformed",
            "the protected header does not name the letter",
        ),
        None => {}
    }

    let mut budget = max_total.unwrap_or(u64::MAX);
    let mut listed: BTreeSet<String> = ["manifest.json", "manifest.jws", MANIFEST_TSR]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for (path, sha, size) in expected {
        listed.insert(path.clone());
        if !names.contains(&path) {
            report.fail(
                &path,
                "missing",
                "listed in the manifest but not in the bundle",
            );
            continue;
        }
        if size > budget {
            report.fail(
                &path,
                "too_large",
                "the bundle is larger than this verifier accepts",
            );
            continue;
        }
        let result = zip
            .by_name(&path)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|mut entry| hash_limited(&mut entry, size));
        match result {
            Ok((got, got_size)) => {
                budget = budget.saturating_sub(got_size);
                if got == sha && got_size == size {
                    report.files_ok += 1;
                } else {
                    report.fail(
                        &path,
                        "hash_mismatch",
                        format!("SHA-256 or size differs from the manifest (expected {sha}, {size} bytes)"),
                    );
                }
            }
            Err(e) => report.fail(&path, "unreadable", e.to_string()),
        }
    }
    for name in names.difference(&listed) {
        report.fail(
            name,
            "unexpected_file",
            "in the bundle but not in the manifest",
        );
    }
    report.valid = signed && manifest.is_some() && report.problems.is_empty();
    report
}

/// Reads a file, or fetches an `http://` or `https://` URL.
///
/// # Errors
/// When it cannot be read or fetched.
pub async fn load_source(source: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    if source.starts_with("http://") || source.starts_with("https://") {
        let res = reqwest::get(source)
            .await
            .with_context(|| format!("fetching {source}"))?;
        anyhow::ensure!(
            res.status().is_success(),
            "fetching {source}: HTTP {}",
            res.status()
        );
        Ok(res.bytes().await?.to_vec())
    } else {
        std::fs::read(source).with_context(|| format!("reading {source}"))
    }
}

/// Reads a JWKS from a file, or fetches it from a URL ([`load_source`]).
///
/// # Errors
/// When it cannot be read or is not a JWKS.
pub async fn load_jwks(source: &str) -> anyhow::Result<Jwks> {
    use anyhow::Context as _;
    let bytes = load_source(source).await?;
    serde_json::from_slice(&bytes).with_context(|| format!("{source} is not a JWKS"))
}
