//! Request and response bodies of the evidence routes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::entities::enums::EvidenceStatus;
use crate::entities::evidence;

pub use crate::entities::enums::EvidenceKind;

impl EvidenceKind {
    /// Parses a form value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).ok()
    }
}

/// The multipart form of an upload (documentation only; the body is streamed).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct EvidenceUpload {
    /// The file (at most 20 MiB by default).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What the file is.
    kind: EvidenceKind,
    /// What it shows.
    description: Option<String>,
    /// When it was captured (RFC 3339).
    captured_at: Option<DateTime<Utc>>,
}

/// A stored evidence item.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceView {
    /// Evidence id.
    pub id: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Type judged from the content.
    pub content_type: String,
    /// What it is.
    pub kind: EvidenceKind,
    /// What it shows.
    pub description: String,
    /// The uploaded file name, made safe.
    pub original_name: String,
    /// When it was captured.
    pub captured_at: Option<DateTime<Utc>>,
    /// active, or withdrawn (kept because an issued dossier holds it).
    pub status: EvidenceStatus,
    /// Uploaded at.
    pub created_at: DateTime<Utc>,
    /// Where the bytes are.
    pub content_url: String,
    /// When the trusted timestamp (RFC 3161) of the content was made, once the TSA gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamped_at: Option<DateTime<Utc>>,
}

impl EvidenceView {
    /// The view with the time of its content's trusted timestamp, from `times` (by SHA-256).
    #[must_use]
    pub fn with_timestamp(
        mut self,
        times: &std::collections::HashMap<String, DateTime<Utc>>,
    ) -> Self {
        self.timestamped_at = times.get(&self.sha256).copied();
        self
    }
}

impl From<evidence::Model> for EvidenceView {
    fn from(e: evidence::Model) -> Self {
        Self {
            content_url: format!("/api/v1/evidence/{}/content", e.id),
            id: e.id,
            sha256: e.sha256,
            size: e.size,
            content_type: e.content_type,
            kind: e.kind,
            description: e.description,
            original_name: e.original_name,
            captured_at: e.captured_at,
            status: e.status,
            created_at: e.created_at,
            timestamped_at: None,
        }
    }
}
