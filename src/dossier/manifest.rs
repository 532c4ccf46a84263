//! `manifest.json`: what a dossier holds and who signed what. Written once, pretty-printed; its
//! exact bytes are the JWS payload. `letter.pdf` is not listed (it prints this manifest's hash);
//! the JWS header binds it, as the `letter` member says.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The format identifier of this manifest layout.
pub const FORMAT: &str = "lianming-dossier/1";
/// What the manifest says about the letter.
pub const LETTER_NOTE: &str = "hash in the signed JWS header";

/// A file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the bundle, `/`-separated.
    pub path: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The group the dossier is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRef {
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: String,
    /// The provider complained about.
    pub provider: ProviderNames,
}

/// The provider's names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderNames {
    /// Chinese name.
    pub name_zh: String,
    /// English name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
}

/// The joint statement version the dossier carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementRef {
    /// Version number.
    pub version: i32,
    /// SHA-256 of its text (the bytes of `statement.txt`).
    pub sha256: String,
}

/// A participant's signature record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureRecord {
    /// The statement version signed.
    pub statement_version: i32,
    /// Its SHA-256.
    pub statement_sha256: String,
    /// When.
    pub signed_at: DateTime<Utc>,
    /// The typed full name, only when the participant shares their identity at this tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
}

/// One participant of the dossier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParticipantEntry {
    /// Their stable number in the group.
    pub number: i64,
    /// Their name, only when shared at this tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The signature.
    pub signature: SignatureRecord,
    /// Paths of their evidence files in the bundle.
    pub evidence: Vec<String>,
    /// The hash of their leaf in the [`Merkle`] tree (hex); the leaf itself, with its salt, is
    /// in their receipt only.
    pub leaf: String,
}

/// The Merkle tree over the participants' signature records, whose inclusion proofs are the
/// participants' receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merkle {
    /// [`super::merkle::CONSTRUCTION`].
    pub construction: String,
    /// The format of a leaf, [`super::receipt::LEAF_FORMAT`].
    pub leaf_format: String,
    /// The root (hex).
    pub root: String,
    /// The number of leaves: one per participant, in the order of `participants`.
    pub tree_size: u64,
}

/// The whole manifest, in the order it is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The group.
    pub group: GroupRef,
    /// Dossier version.
    pub version: i32,
    /// Recipient tier.
    pub tier: String,
    /// When the dossier was compiled.
    pub created_at: DateTime<Utc>,
    /// Who compiled it (display name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The joint statement.
    pub statement: StatementRef,
    /// [`LETTER_NOTE`].
    pub letter: String,
    /// Every file of the bundle except `letter.pdf`, `manifest.json` and `manifest.jws`.
    pub files: Vec<FileEntry>,
    /// Participants with their signatures.
    pub participants: Vec<ParticipantEntry>,
    /// The Merkle tree over their signature records.
    pub merkle: Merkle,
    /// Where anyone can verify a bundle.
    pub verify_url: String,
    /// Where the signing keys are published.
    pub jwks_url: String,
}

impl Manifest {
    /// The bytes written to `manifest.json` (pretty JSON and a final newline).
    ///
    /// # Errors
    /// Never in practice.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// The part of a manifest verification needs; the rest may be anything.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestFiles {
    /// Must be [`FORMAT`].
    pub format: String,
    /// Listed files.
    pub files: Vec<FileEntry>,
    /// Dossier version, when present.
    #[serde(default)]
    pub version: Option<i32>,
    /// Tier, when present.
    #[serde(default)]
    pub tier: Option<String>,
    /// Group slug, when present.
    #[serde(default)]
    pub group: Option<GroupSlug>,
}

/// Just the slug of the group.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupSlug {
    /// The slug.
    pub slug: String,
}
