//! The dossier: an immutable, versioned, signed compilation of a group's joint complaint — a
//! zip of `letter.pdf`, `roster.csv`, the regulator export, evidence files, `manifest.json`
//! and `manifest.jws`, with `manifest.tsr` (a trusted timestamp) when a TSA is configured —
//! disclosed by recipient tier, and verifiable by anyone against the keys
//! published at `/.well-known/jwks.json`.

pub mod api;
pub mod assembly;
pub mod build;
pub mod csv;
pub mod dto;
pub mod jws;
pub mod keys;
pub mod letter;
pub mod manifest;
pub mod merkle;
pub mod pages;
pub mod receipt;
pub mod receipts;
pub mod service;
pub mod timestamp;
pub mod verify;

pub use api::{routes, well_known_routes};

use std::path::{Path, PathBuf};

use dto::Tier;

/// A downloadable part of a dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole zip.
    Bundle,
    /// `letter.pdf`.
    Letter,
    /// `roster.csv`.
    Roster,
    /// `regulator_export.csv` (regulator and court tiers).
    RegulatorExport,
    /// `manifest.json`.
    ManifestJson,
    /// `manifest.jws`.
    ManifestJws,
    /// `manifest.tsr`: the RFC 3161 timestamp of `manifest.json` (when a TSA was configured).
    ManifestTsr,
}

impl Part {
    /// The parts a dossier of `tier` has.
    #[must_use]
    pub fn all(tier: Tier) -> Vec<Self> {
        let mut parts = vec![
            Self::Bundle,
            Self::Letter,
            Self::Roster,
            Self::ManifestJson,
            Self::ManifestJws,
        ];
        if tier.has_regulator_export() {
            parts.push(Self::RegulatorExport);
        }
        parts
    }

    /// The parts of a dossier of `tier`, with `manifest.tsr` when it was `timestamped`.
    #[must_use]
    pub fn of(tier: Tier, timestamped: bool) -> Vec<Self> {
        let mut parts = Self::all(tier);
        if timestamped {
            parts.push(Self::ManifestTsr);
        }
        parts
    }

    /// The file name on disk and in the bundle.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Bundle => "bundle.zip",
            Self::Letter => "letter.pdf",
            Self::Roster => "roster.csv",
            Self::RegulatorExport => "regulator_export.csv",
            Self::ManifestJson => "manifest.json",
            Self::ManifestJws => "manifest.jws",
            Self::ManifestTsr => "manifest.tsr",
        }
    }

    /// The last segment of its download route.
    #[must_use]
    pub fn route(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            other => other.file_name(),
        }
    }

    /// Its media type.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Bundle => "application/zip",
            Self::Letter => "application/pdf",
            Self::Roster | Self::RegulatorExport => "text/csv; charset=utf-8",
            Self::ManifestJson => "application/json",
            Self::ManifestJws => "application/jose",
            Self::ManifestTsr => crate::tsa::REPLY_TYPE,
        }
    }
}

/// The directory holding the parts of one dossier version.
#[must_use]
pub fn version_dir(data_dir: &Path, group_id: i64, version: i32) -> PathBuf {
    data_dir
        .join("dossiers")
        .join(group_id.to_string())
        .join(version.to_string())
}
