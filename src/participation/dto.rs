//! Request and response bodies of the participation routes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::entities::enums::ParticipationStatus;

pub use crate::domain::Money;

fn must_agree(agree: &bool) -> Result<(), ValidationError> {
    if *agree {
        Ok(())
    } else {
        Err(ValidationError::new("agree").with_message("must be true to sign".into()))
    }
}

fn refs_ok(refs: &[String]) -> Result<(), ValidationError> {
    if refs.iter().any(|r| r.chars().count() > 100) {
        return Err(
            ValidationError::new("refs").with_message("each must be 1 to 100 characters".into())
        );
    }
    refs.iter().try_for_each(|r| crate::text::line(r))
}

/// The participant's signature of the joint statement.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureInput {
    /// Full legal name as typed by the participant.
    #[validate(
        length(min = 2, max = 100, message = "must be 2 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 2, max_length = 100)]
    pub full_name: String,
    /// The joint-statement version being signed (must be the current one).
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub statement_version: i32,
    /// Must be true.
    #[validate(custom(function = "must_agree"))]
    pub agree: bool,
}

/// `POST /groups/{slug}/participation`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// What happened to you.
    #[validate(
        length(min = 10, max = 5000, message = "must be 10 to 5000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 10, max_length = 5000)]
    pub statement: String,
    /// The amount in dispute.
    #[validate(nested)]
    pub amount_disputed: Money,
    /// When it happened.
    pub incident_date: NaiveDate,
    /// Order or transaction numbers.
    #[validate(
        length(max = 50, message = "at most 50 references"),
        custom(function = "refs_ok")
    )]
    #[serde(default)]
    #[schema(max_items = 50)]
    pub transaction_refs: Vec<String>,
    /// Show your name to recipients (otherwise "participant #n").
    pub consent_share_identity: bool,
    /// Let regulators or courts receive your contact details.
    #[serde(default)]
    pub consent_contact: bool,
    /// Your signature.
    #[validate(nested)]
    pub signature: SignatureInput,
}

pub use crate::entities::enums::ParticipantOutcome;

/// `PATCH /groups/{slug}/participation`. Absent fields are left alone.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipationUpdate {
    /// New statement.
    #[validate(
        length(min = 10, max = 5000, message = "must be 10 to 5000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 10, max_length = 5000)]
    pub statement: Option<String>,
    /// New amount.
    #[validate(nested)]
    pub amount_disputed: Option<Money>,
    /// New incident date.
    pub incident_date: Option<NaiveDate>,
    /// New references (replaces the list).
    #[validate(
        length(max = 50, message = "at most 50 references"),
        custom(function = "refs_ok")
    )]
    #[schema(max_items = 50)]
    pub transaction_refs: Option<Vec<String>>,
    /// Change identity consent.
    pub consent_share_identity: Option<bool>,
    /// Change contact consent.
    pub consent_contact: Option<bool>,
    /// Your own outcome.
    pub outcome: Option<ParticipantOutcome>,
}

/// A signature record.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    /// Name as typed.
    pub full_name: String,
    /// Statement version signed.
    pub statement_version: i32,
    /// SHA-256 of that statement.
    pub statement_sha256: String,
    /// When.
    pub signed_at: DateTime<Utc>,
}

/// The caller's own participation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipationView {
    /// Participation id.
    pub id: i64,
    /// The group's slug.
    pub group: String,
    /// pending, active, rejected or withdrawn.
    pub status: ParticipationStatus,
    /// Own statement.
    pub statement: String,
    /// Amount in dispute.
    pub amount_disputed: Money,
    /// Incident date.
    pub incident_date: NaiveDate,
    /// Transaction references.
    pub transaction_refs: Vec<String>,
    /// Identity shared with recipients.
    pub consent_share_identity: bool,
    /// Contact details shared with regulators and courts.
    pub consent_contact: bool,
    /// Latest signature.
    pub signature: Option<SignatureView>,
    /// Whether the latest signature is of the group's current statement.
    pub signature_current: bool,
    /// Own outcome.
    pub outcome: ParticipantOutcome,
    /// Why an organiser rejected it.
    pub rejection_reason: Option<String>,
    /// Joined at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
