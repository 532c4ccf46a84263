//! Inclusion receipts: proof, for one participant, that their signature record is in a dossier
//! version — checkable against the bundle or against the root the server publishes for that
//! version, without revealing anything about any other participant.
//!
//! Each participant of a version gets a *leaf*: the compact JSON of [`Leaf`] (format
//! [`LEAF_FORMAT`]) holding the group, the version, their number, their signature record as the
//! manifest lists it and a random 128-bit salt. The manifest lists each participant's leaf hash
//! and the root of the [`merkle`](super::merkle) tree over the leaves, in the order of its
//! `participants`; the JWS signs both. A [`Receipt`] carries one leaf verbatim (as a string, so
//! its exact bytes hash the same everywhere) and its inclusion proof. The salt makes every
//! other hash in a proof useless for guessing anyone else's record.

use std::io::{Read, Seek, SeekFrom};

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::Jwks;
use super::manifest::{Merkle, SignatureRecord};
use super::merkle::{self, CONSTRUCTION, Hash};
use super::verify::{self, Finding};

/// The format of a leaf.
pub const LEAF_FORMAT: &str = "lianming-leaf/1";
/// The format of a receipt.
pub const RECEIPT_FORMAT: &str = "lianming-receipt/1";
/// Largest receipt read.
pub const MAX_RECEIPT: usize = 64 * 1024;

/// One participant's record in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaf {
    /// [`LEAF_FORMAT`].
    pub format: String,
    /// The group's slug.
    pub group: String,
    /// The dossier version.
    pub version: i32,
    /// Their number in the group.
    pub number: i64,
    /// 16 random bytes (hex), different in every leaf.
    pub salt: String,
    /// Their signature record, exactly as the manifest lists it.
    pub signature: SignatureRecord,
}

/// A participant's receipt, the JSON document they download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// The group's slug.
    pub group: String,
    /// The dossier version.
    pub version: i32,
    /// Its recipient tier.
    pub tier: String,
    /// SHA-256 of the version's `manifest.json` (hex).
    pub manifest_sha256: String,
    /// [`CONSTRUCTION`].
    pub construction: String,
    /// The tree's root (hex), as in the manifest and as published.
    pub root: String,
    /// Leaves in the tree.
    pub tree_size: u64,
    /// This leaf's place, from 0.
    pub leaf_index: u64,
    /// The leaf's exact bytes (compact JSON of a `lianming-leaf/1` record).
    pub leaf: String,
    /// The inclusion proof, nearest sibling first (hex).
    pub proof: Vec<String>,
    /// Where the server publishes the root of this version.
    pub root_url: String,
    /// Where anyone can check this receipt.
    pub verify_url: String,
}

/// The root the server publishes for a dossier version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedRoot {
    /// The group's slug.
    pub group: String,
    /// The dossier version.
    pub version: i32,
    /// The root (hex).
    pub root: String,
    /// Leaves in the tree.
    pub tree_size: u64,
    /// SHA-256 of the version's `manifest.json`.
    pub manifest_sha256: String,
}

/// The leaves of one version and the tree over them.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Each participant's leaf bytes, in manifest order.
    pub leaves: Vec<String>,
    /// Their hashes.
    pub hashes: Vec<Hash>,
    /// The root.
    pub root: Hash,
}

impl Tree {
    /// Makes the leaves (with fresh salts) of `records` (number, signature) of `group`'s
    /// `version`.
    ///
    /// # Errors
    /// Never in practice (JSON serialisation).
    pub fn new(
        group: &str,
        version: i32,
        records: impl Iterator<Item = (i64, SignatureRecord)>,
    ) -> Result<Self, serde_json::Error> {
        let mut rng = rand::rng();
        let mut leaves = Vec::new();
        for (number, signature) in records {
            let mut salt = [0u8; 16];
            rng.fill_bytes(&mut salt);
            leaves.push(serde_json::to_string(&Leaf {
                format: LEAF_FORMAT.into(),
                group: group.into(),
                version,
                number,
                salt: hex::encode(salt),
                signature,
            })?);
        }
        let hashes: Vec<Hash> = leaves
            .iter()
            .map(|l| merkle::leaf_hash(l.as_bytes()))
            .collect();
        let root = merkle::root(&hashes);
        Ok(Self {
            leaves,
            hashes,
            root,
        })
    }

    /// What the manifest says about the tree.
    #[must_use]
    pub fn manifest_member(&self) -> Merkle {
        Merkle {
            construction: CONSTRUCTION.into(),
            leaf_format: LEAF_FORMAT.into(),
            root: hex::encode(self.root),
            tree_size: self.leaves.len() as u64,
        }
    }

    /// Every participant's receipt, in manifest order. `base` is the server's public URL.
    #[must_use]
    pub fn receipts(
        &self,
        group: &str,
        version: i32,
        tier: &str,
        manifest_sha256: &str,
        base: &str,
    ) -> Vec<Receipt> {
        let root = hex::encode(self.root);
        merkle::all_proofs(&self.hashes)
            .into_iter()
            .zip(&self.leaves)
            .enumerate()
            .map(|(i, (proof, leaf))| Receipt {
                format: RECEIPT_FORMAT.into(),
                group: group.into(),
                version,
                tier: tier.into(),
                manifest_sha256: manifest_sha256.into(),
                construction: CONSTRUCTION.into(),
                root: root.clone(),
                tree_size: self.leaves.len() as u64,
                leaf_index: i as u64,
                leaf: leaf.clone(),
                proof: proof.iter().map(hex::encode).collect(),
                root_url: format!("{base}/api/v1/groups/{group}/dossiers/{version}/root"),
                verify_url: format!("{base}/verify"),
            })
            .collect()
    }
}

/// The result of checking a receipt: about the receipt's own participant only.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReceiptReport {
    /// True only when the proof holds and leads to the root of the bundle or the published one.
    pub valid: bool,
    /// `bundle` or `published_root`: what the receipt was checked against.
    pub checked_against: Option<String>,
    /// The group's slug.
    pub group: Option<String>,
    /// The dossier version.
    pub version: Option<i32>,
    /// Its tier.
    pub tier: Option<String>,
    /// The participant's number in the group.
    pub number: Option<i64>,
    /// The statement version they signed.
    pub statement_version: Option<i32>,
    /// When they signed.
    pub signed_at: Option<DateTime<Utc>>,
    /// Everything that failed: `receipt_malformed`, `proof_invalid`, `leaf_mismatch`,
    /// `bundle_invalid`, `other_manifest`, `not_in_bundle` or `root_not_published`.
    pub problems: Vec<Finding>,
}

impl ReceiptReport {
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
        let what = match (&self.group, self.version, self.number) {
            (Some(g), Some(v), Some(n)) => format!(" ({g} v{v}, participant #{n})"),
            _ => String::new(),
        };
        let mut out = if self.valid {
            format!(
                "VALID RECEIPT{what}: the signature record is in the tree whose root {}\n",
                match self.checked_against.as_deref() {
                    Some("bundle") => "the bundle's signed manifest holds",
                    _ => "the server publishes",
                }
            )
        } else {
            format!("INVALID RECEIPT{what}\n")
        };
        for p in &self.problems {
            out.push_str(&format!("  {}: {} — {}\n", p.target, p.code, p.detail));
        }
        out
    }
}

/// A receipt whose proof holds.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The receipt.
    pub receipt: Receipt,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

fn hash_of(hex_str: &str) -> Option<Hash> {
    hex::decode(hex_str).ok()?.try_into().ok()
}

/// Parses a receipt and checks that its leaf belongs to it and its proof leads to its root.
/// The report names the receipt's own record either way.
#[must_use]
pub fn check(bytes: &[u8]) -> (ReceiptReport, Option<Checked>) {
    let mut report = ReceiptReport::default();
    if bytes.len() > MAX_RECEIPT {
        report.fail("receipt", "receipt_malformed", "larger than 64 KiB");
        return (report, None);
    }
    let receipt: Receipt = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            report.fail("receipt", "receipt_malformed", e.to_string());
            return (report, None);
        }
    };
    report.group = Some(receipt.group.clone());
    report.version = Some(receipt.version);
    report.tier = Some(receipt.tier.clone());
    if receipt.format != RECEIPT_FORMAT {
        report.fail(
            "receipt",
            "receipt_malformed",
            format!("unknown format {:?}", receipt.format),
        );
        return (report, None);
    }
    match serde_json::from_str::<Leaf>(&receipt.leaf) {
        Ok(leaf) => {
            report.number = Some(leaf.number);
            report.statement_version = Some(leaf.signature.statement_version);
            report.signed_at = Some(leaf.signature.signed_at);
            if leaf.format != LEAF_FORMAT
                || leaf.group != receipt.group
                || leaf.version != receipt.version
            {
                report.fail(
                    "receipt.leaf",
                    "leaf_mismatch",
                    "the leaf is not a record of this group's version",
                );
            }
        }
        Err(e) => report.fail("receipt.leaf", "receipt_malformed", e.to_string()),
    }
    let proof: Option<Vec<Hash>> = receipt.proof.iter().map(|p| hash_of(p)).collect();
    let (Some(proof), Some(root)) = (proof, hash_of(&receipt.root)) else {
        report.fail(
            "receipt",
            "receipt_malformed",
            "the root and every proof entry must be 64 hex digits",
        );
        return (report, None);
    };
    let leaf_hash = merkle::leaf_hash(receipt.leaf.as_bytes());
    if merkle::root_from_proof(&leaf_hash, receipt.leaf_index, receipt.tree_size, &proof)
        != Some(root)
    {
        report.fail(
            "receipt.proof",
            "proof_invalid",
            "the inclusion proof does not lead from the leaf to the root",
        );
    }
    if !report.problems.is_empty() {
        return (report, None);
    }
    (report, Some(Checked { receipt, leaf_hash }))
}

/// Checks a receipt against the root published for its version (`None`: nothing published).
#[must_use]
pub fn against_root(bytes: &[u8], published: Option<&PublishedRoot>) -> ReceiptReport {
    match check(bytes) {
        (report, Some(c)) => checked_against_root(report, &c, published),
        (report, None) => report,
    }
}

/// [`against_root`] for a receipt [`check`] already passed, with its report.
#[must_use]
pub fn checked_against_root(
    mut report: ReceiptReport,
    c: &Checked,
    published: Option<&PublishedRoot>,
) -> ReceiptReport {
    report.checked_against = Some("published_root".into());
    let r = &c.receipt;
    match published {
        Some(p)
            if p.group == r.group
                && p.version == r.version
                && p.root == r.root
                && p.tree_size == r.tree_size
                && p.manifest_sha256 == r.manifest_sha256 =>
        {
            report.valid = true;
        }
        _ => report.fail(
            "receipt.root",
            "root_not_published",
            "no dossier version with this root is published",
        ),
    }
    report
}

/// The part of a manifest a receipt is checked against.
#[derive(Deserialize)]
struct ManifestTree {
    merkle: Option<Merkle>,
    #[serde(default)]
    participants: Vec<EntryLeaf>,
}

#[derive(Deserialize)]
struct EntryLeaf {
    number: i64,
    signature: SignatureRecord,
    leaf: Option<String>,
}

/// Checks a receipt against a bundle: the bundle must verify (signature and files), its
/// manifest be the receipt's, its tree have the receipt's root, and the entry at the receipt's
/// place be this leaf. `tsa`: the trusted timestamp authorities, as for [`verify::verify_with`].
#[must_use]
pub fn against_bundle<R: Read + Seek>(
    bytes: &[u8],
    mut bundle: R,
    keys: &Jwks,
    max_total: Option<u64>,
    tsa: Option<&crate::tsa::Anchors>,
) -> ReceiptReport {
    let (mut report, checked) = check(bytes);
    let Some(c) = checked else {
        return report;
    };
    report.checked_against = Some("bundle".into());
    let bundle_report = verify::verify_with(&mut bundle, keys, max_total, tsa);
    if !bundle_report.valid {
        let named: Vec<String> = bundle_report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.target, p.code))
            .collect();
        report.fail(
            "bundle",
            "bundle_invalid",
            format!("the bundle does not verify ({})", named.join(", ")),
        );
        return report;
    }
    let manifest = bundle
        .seek(SeekFrom::Start(0))
        .map_err(|e| e.to_string())
        .and_then(|_| zip::ZipArchive::new(&mut bundle).map_err(|e| e.to_string()))
        .and_then(|mut zip| {
            let entry = zip
                .by_name(super::Part::ManifestJson.file_name())
                .map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            entry
                .take(64 * 1024 * 1024)
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            Ok(buf)
        });
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            report.fail("manifest.json", "bundle_invalid", e);
            return report;
        }
    };
    let r = &c.receipt;
    if hex::encode(Sha256::digest(&manifest)) != r.manifest_sha256 {
        report.fail(
            "manifest.json",
            "other_manifest",
            "the bundle holds another manifest than the receipt's (another group or version?)",
        );
        return report;
    }
    let tree: ManifestTree = match serde_json::from_slice(&manifest) {
        Ok(t) => t,
        Err(e) => {
            report.fail("manifest.json", "bundle_invalid", e.to_string());
            return report;
        }
    };
    let entry = usize::try_from(r.leaf_index)
        .ok()
        .and_then(|i| tree.participants.get(i));
    let leaf: Option<Leaf> = serde_json::from_str(&r.leaf).ok();
    let holds = tree
        .merkle
        .is_some_and(|m| m.root == r.root && m.tree_size == r.tree_size)
        && entry.zip(leaf.as_ref()).is_some_and(|(e, l)| {
            e.leaf.as_deref() == Some(hex::encode(c.leaf_hash).as_str())
                && e.number == l.number
                && e.signature == l.signature
        });
    if holds {
        report.valid = true;
    } else {
        report.fail(
            "manifest.json",
            "not_in_bundle",
            "the bundle's manifest does not list this record at this place",
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: i64) -> Tree {
        let at = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        Tree::new(
            "g",
            2,
            (1..=n).map(|number| {
                (
                    number,
                    SignatureRecord {
                        statement_version: 1,
                        statement_sha256: "ab".repeat(32),
                        signed_at: at,
                        full_name: None,
                    },
                )
            }),
        )
        .expect("a tree")
    }

    fn root_of(t: &Tree, r: &Receipt) -> PublishedRoot {
        PublishedRoot {
            group: "g".into(),
            version: 2,
            root: hex::encode(t.root),
            tree_size: t.leaves.len() as u64,
            manifest_sha256: r.manifest_sha256.clone(),
        }
    }

    #[test]
    fn each_receipt_checks_against_the_published_root() {
        let t = tree(5);
        let receipts = t.receipts("g", 2, "provider", &"cd".repeat(32), "http://x");
        for r in &receipts {
            let bytes = serde_json::to_vec(r).expect("json");
            let report = against_root(&bytes, Some(&root_of(&t, r)));
            assert!(report.valid, "{report:?}");
            assert!(!against_root(&bytes, None).valid);
        }
    }

    #[test]
    fn a_moved_or_altered_leaf_fails() {
        let t = tree(6);
        let receipts = t.receipts("g", 2, "provider", &"cd".repeat(32), "http://x");
        let published = root_of(&t, &receipts[0]);
        // Another participant's leaf with this one's proof.
        let mut other = receipts[2].clone();
        other.leaf.clone_from(&receipts[3].leaf);
        let report = against_root(&serde_json::to_vec(&other).expect("json"), Some(&published));
        assert!(!report.valid);
        assert_eq!(report.problems[0].code, "proof_invalid");
        // A changed number in the leaf.
        let mut renumbered = receipts[1].clone();
        renumbered.leaf = renumbered.leaf.replace("\"number\":2", "\"number\":9");
        let report = against_root(
            &serde_json::to_vec(&renumbered).expect("json"),
            Some(&published),
        );
        assert_eq!(report.problems[0].code, "proof_invalid");
        // Not JSON.
        let (report, _) = check(b"{");
        assert_eq!(report.problems[0].code, "receipt_malformed");
    }

    #[test]
    fn salts_differ() {
        let t = tree(2);
        let a: Leaf = serde_json::from_str(&t.leaves[0]).expect("a leaf");
        let b: Leaf = serde_json::from_str(&t.leaves[1]).expect("a leaf");
        assert_ne!(a.salt, b.salt);
        assert_eq!(a.salt.len(), 32);
    }
}
