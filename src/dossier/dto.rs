//! Request and response bodies of the dossier routes, and the recipient tiers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::entities::dossiers;

pub use crate::entities::enums::Tier;

impl Tier {
    /// Whether names of consenting participants are shown.
    #[must_use]
    pub fn shares_names(self) -> bool {
        self != Self::Public
    }

    /// Whether email addresses of consenting participants are shown.
    #[must_use]
    pub fn shares_contacts(self) -> bool {
        matches!(self, Self::Regulator | Self::Court)
    }

    /// Whether evidence files and per-participant facts are included.
    #[must_use]
    pub fn includes_evidence(self) -> bool {
        self != Self::Public
    }

    /// Whether the bundle carries `regulator_export.csv`.
    #[must_use]
    pub fn has_regulator_export(self) -> bool {
        self.shares_contacts()
    }

    /// The addressee line of the letter.
    #[must_use]
    pub fn recipient_zh(self) -> &'static str {
        match self {
            Self::Provider => "投诉处理部门",
            Self::ConsumerAssociation => "消费者协会",
            Self::Regulator => "主管监管部门",
            Self::Court => "人民法院",
            Self::Public => "公众（公开版本）",
        }
    }
}

/// Compile a new dossier version.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompileRequest {
    /// The recipient tier.
    pub tier: Tier,
}

pub use crate::entities::enums::DossierStatus;

/// A dossier version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DossierView {
    /// Version number, 1, 2, … per group.
    pub version: i32,
    /// Recipient tier.
    pub tier: Tier,
    /// Build status.
    pub status: DossierStatus,
    /// Why the build failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The joint statement version it carries.
    pub statement_version: i32,
    /// SHA-256 of `manifest.json` (printed in the letter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// SHA-256 of the zip bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    /// Size of the zip bundle in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_size: Option<i64>,
    /// When compiling started.
    pub created_at: DateTime<Utc>,
    /// When the build finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<DateTime<Utc>>,
    /// The trusted time the TSA gave `manifest.json` (its token is `manifest.tsr`), when a TSA
    /// was configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamped_at: Option<DateTime<Utc>>,
    /// Download links of the bundle and its parts (when ready).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

impl DossierView {
    /// The view of a row, with links under `base` (`/api/v1/groups/{slug}/dossiers`).
    #[must_use]
    pub fn new(row: dossiers::Model, base: &str) -> Self {
        let status = row.status;
        let tier = row.tier;
        let links = if status == DossierStatus::Ready {
            super::Part::of(tier, row.timestamped_at.is_some())
                .into_iter()
                .map(|p| format!("{base}/{}/{}", row.version, p.route()))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            version: row.version,
            tier,
            status,
            failure_reason: row.failure_reason,
            statement_version: row.statement_version,
            manifest_sha256: row.manifest_sha256,
            bundle_sha256: row.bundle_sha256,
            bundle_size: row.bundle_size,
            created_at: row.created_at,
            ready_at: row.ready_at,
            timestamped_at: row.timestamped_at,
            links,
        }
    }
}
