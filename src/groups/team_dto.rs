//! Request and response bodies of the organiser routes: roles and invites, the audit log, the
//! joint statement, the roster and the dashboard.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::dto::{Demand, DemandInput};
pub use super::signals::{FlagFilter, SignalCode};
use crate::entities::enums::{GroupOutcome, GroupStatus, ParticipantOutcome, Role};
use crate::participation::dto::Money;
use crate::responses::dto::SubmissionView;

pub use crate::entities::enums::InvitedRole;

impl InvitedRole {
    /// The role granted.
    #[must_use]
    pub fn role(self) -> super::access::Role {
        match self {
            Self::Organiser => super::access::Role::Organiser,
            Self::Moderator => super::access::Role::Moderator,
        }
    }
}

/// `POST /groups/{slug}/organisers` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Where the invitation link goes; accepting needs an account with this address.
    #[validate(
        custom(function = "crate::text::email"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[serde(deserialize_with = "crate::json::trimmed")]
    #[schema(max_length = 254)]
    pub email: String,
    /// The role offered.
    pub role: InvitedRole,
}

/// An invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    /// Id.
    pub id: i64,
    /// The invited address.
    pub email: String,
    /// The role offered.
    pub role: Role,
    /// Sent at.
    pub created_at: DateTime<Utc>,
    /// The link works until then.
    pub expires_at: DateTime<Utc>,
    /// Accepted at.
    pub accepted_at: Option<DateTime<Utc>>,
}

/// Someone holding a role in a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user's id.
    pub user_id: i64,
    /// Their display name.
    pub display_name: String,
    /// owner, organiser or moderator.
    pub role: Role,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// The group's team: roles and open or accepted invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    /// Who holds which role, strongest first.
    pub members: Vec<MemberView>,
    /// Invitations, newest first.
    pub invites: Vec<InviteView>,
}

/// `POST /invites/accept`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    /// The token from the invitation link.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
}

/// The role an accepted invitation gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvite {
    /// The group's slug.
    pub group: String,
    /// The role now held.
    pub role: Role,
}

/// `PATCH /groups/{slug}/organisers/{user_id}` (organisers): the member's new role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The role to hold from now on (ownership is transferred, never set here).
    pub role: InvitedRole,
}

/// `POST /groups/{slug}/transfer` (owner).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The new owner; must already hold a role in the group.
    #[validate(range(min = 1, message = "must be a user id"))]
    pub user_id: i64,
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
    /// Entries per page, 1 to 200 (default 50).
    #[validate(range(min = 1, max = 200, message = "must be 1 to 200"))]
    pub per_page: Option<u64>,
}

/// One organiser action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// What was done, e.g. `roster.reject`.
    pub action: String,
    /// Who did it.
    pub actor_id: Option<i64>,
    /// Their display name.
    pub actor_name: Option<String>,
    /// What it was done to.
    pub target: Option<String>,
    /// Details of the action.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries on this page.
    pub items: Vec<AuditEntry>,
    /// All entries.
    pub total: u64,
}

/// `PUT /groups/{slug}/statement` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementUpdate {
    /// The text every participant signs.
    #[validate(
        length(min = 20, max = 20000, message = "must be 20 to 20000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 20, max_length = 20000)]
    pub joint_statement: String,
    /// What the group asks for (1 to 10).
    #[validate(length(min = 1, max = 10, message = "give 1 to 10 demands"), nested)]
    #[schema(min_items = 1, max_items = 10)]
    pub demands: Vec<DemandInput>,
}

/// The joint statement after an edit.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    /// The current version.
    pub version: i32,
    /// The text.
    pub joint_statement: String,
    /// The demands.
    pub demands: Vec<Demand>,
    /// SHA-256 of the text.
    pub sha256: String,
    /// Whether the edit made a new version (someone had signed the previous one).
    pub new_version: bool,
    /// Active participants asked to re-confirm.
    pub reconfirm_requested: u64,
}

pub use crate::entities::enums::ParticipationStatus;

/// `GET /groups/{slug}/roster` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RosterQuery {
    /// Only this status.
    pub status: Option<ParticipationStatus>,
    /// Only those whose latest signature is of this statement version.
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub signed_version: Option<i32>,
    /// Only those with (true) or without (false) evidence.
    pub has_evidence: Option<bool>,
    /// Only those who agreed (true) or did not agree (false) to be named to the recipients.
    pub consent_share_identity: Option<bool>,
    /// Only those who agreed (true) or did not agree (false) to be contacted by the team.
    pub consent_contact: Option<bool>,
    /// Words each found in the account's name or email, the signed name or the transaction
    /// references (case-insensitive); a number also finds that participation id.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Joined on or after this day (China time).
    pub joined_from: Option<NaiveDate>,
    /// Joined on or before this day (China time).
    pub joined_to: Option<NaiveDate>,
    /// Only those carrying this integrity signal, or `any` signal.
    #[param(inline)]
    pub flag: Option<FlagFilter>,
    /// Page number, from 1 (JSON only; CSV has every match).
    #[validate(range(min = 1, max = 100_000, message = "must be 1 to 100000"))]
    pub page: Option<u64>,
    /// Entries per page, 1 to 500 (default 50).
    #[validate(range(min = 1, max = 500, message = "must be 1 to 500"))]
    pub per_page: Option<u64>,
}

/// One participant as the team sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    /// Participation id.
    pub participation_id: i64,
    /// Participant number in the group (order of joining).
    pub number: i64,
    /// The account.
    pub user_id: i64,
    /// Account display name.
    pub display_name: String,
    /// Account email address.
    pub email: String,
    /// Full name of the latest signature.
    pub full_name: Option<String>,
    /// pending, active, rejected or withdrawn.
    pub status: ParticipationStatus,
    /// Statement version of the latest signature.
    pub signed_statement_version: Option<i32>,
    /// Whether that is the current version.
    pub signature_current: bool,
    /// Amount in dispute.
    pub amount_disputed: Money,
    /// Incident date.
    pub incident_date: NaiveDate,
    /// Transaction references.
    pub transaction_refs: Vec<String>,
    /// Identity may be shared with recipients.
    pub consent_share_identity: bool,
    /// Contact details may go to regulators and courts.
    pub consent_contact: bool,
    /// Evidence items.
    pub evidence_count: i64,
    /// Contacts logged with the provider.
    pub interaction_count: i64,
    /// Own outcome.
    pub outcome: ParticipantOutcome,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// The participation this duplicates.
    pub duplicate_of: Option<i64>,
    /// Joined at.
    pub joined_at: DateTime<Utc>,
    /// Integrity signals for the team (never shown publicly; they reject nobody).
    pub flags: Vec<FlagView>,
}

/// One integrity signal on a participant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagView {
    /// What it says, the same in every language.
    pub code: SignalCode,
    /// Why, naming the evidence (other participants' numbers, the network's label, the time
    /// window), in the request's language.
    pub reason: String,
}

/// Participants carrying one integrity signal.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagCount {
    /// The signal.
    pub code: SignalCode,
    /// Participants carrying it.
    pub participants: i64,
}

/// A page of the roster.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterPage {
    /// Entries on this page, in order of joining.
    pub items: Vec<RosterEntry>,
    /// All matches.
    pub total: u64,
    /// This page.
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

/// What a moderator does with a participation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModerationAction {
    /// Count them (from pending or rejected).
    Approve,
    /// Refuse them, with a reason they are emailed.
    Reject,
    /// Refuse them as a duplicate of another participation.
    Duplicate,
}

/// `PATCH /groups/{slug}/roster/{participation_id}` (moderators).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterAction {
    /// What to do.
    pub action: ModerationAction,
    /// Why (required to reject).
    #[validate(
        length(min = 2, max = 500, message = "must be 2 to 500 characters"),
        custom(function = "crate::text::block")
    )]
    #[serde(default)]
    #[schema(min_length = 2, max_length = 500)]
    pub reason: Option<String>,
    /// The participation this one duplicates (required for `duplicate`).
    #[serde(default)]
    pub duplicate_of: Option<i64>,
}

/// Joins on one day (China time).
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// The day.
    pub day: NaiveDate,
    /// Participations started that day.
    pub joins: i64,
}

/// Disputed money of active participants in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyFigures {
    /// ISO 4217 code.
    pub currency: String,
    /// Active participants claiming in it.
    pub participants: i64,
    /// Sum in minor units.
    pub total_minor: i64,
    /// Median in minor units.
    pub median_minor: f64,
    /// How many claim amounts in each band (0–100, 100–500, 500–1,000, 1,000–5,000,
    /// 5,000–20,000 and from 20,000 in major units), every band listed.
    pub bands: Vec<AmountBand>,
}

/// A band of claimed amounts: from `from_minor` (included) to `to_minor` (excluded).
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountBand {
    /// Lower bound in minor units, included.
    pub from_minor: i64,
    /// Upper bound in minor units, excluded; none for the last band.
    pub to_minor: Option<i64>,
    /// Active participants claiming an amount in the band.
    pub participants: i64,
}

/// Evidence held by active participants.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceCoverage {
    /// Active participants with at least one item.
    pub participants_with_evidence: i64,
    /// Their share of active participants (null without any).
    pub share: Option<f64>,
    /// Per kind: active participants with at least one item of it.
    pub by_kind: BTreeMap<String, KindCoverage>,
}

/// Coverage of one evidence kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindCoverage {
    /// Active participants with an item of this kind.
    pub participants: i64,
    /// Their share of active participants.
    pub share: Option<f64>,
    /// Items of this kind.
    pub items: i64,
}

/// Contacts with the provider logged by active participants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactFigures {
    /// All contacts.
    pub total: i64,
    /// Active participants who logged at least one contact.
    pub participants_contacted: i64,
    /// Median contacts per active participant (null without any).
    pub median_per_participant: Option<f64>,
    /// Contacts per channel.
    pub by_channel: BTreeMap<String, i64>,
}

/// When the incidents happened: the window the group declares and the one its active
/// participants' own incident dates span.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentWindow {
    /// The group's declared first day (null when open).
    pub declared_from: Option<chrono::NaiveDate>,
    /// The group's declared last day (null when open).
    pub declared_to: Option<chrono::NaiveDate>,
    /// The earliest incident date an active participant gave.
    pub earliest: Option<chrono::NaiveDate>,
    /// The latest one.
    pub latest: Option<chrono::NaiveDate>,
    /// Active participants whose incident date lies outside the declared window.
    pub outside_declared: i64,
}

/// The organisers' figures of a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    /// Group status.
    pub status: GroupStatus,
    /// Outcome once closed.
    pub outcome: Option<GroupOutcome>,
    /// Current statement version.
    pub statement_version: i32,
    /// Active participants whose latest signature is of the current version.
    pub signed_current: i64,
    /// Joins per day (China time), oldest first.
    pub joins_per_day: Vec<DayCount>,
    /// Participations per status.
    pub participants_by_status: BTreeMap<String, i64>,
    /// Disputed money per currency (active participants).
    pub disputed: Vec<CurrencyFigures>,
    /// When the incidents happened.
    pub incidents: IncidentWindow,
    /// Evidence coverage (active participants).
    pub evidence: EvidenceCoverage,
    /// Contacts logged (active participants).
    pub contacts: ContactFigures,
    /// Active participants per own outcome.
    pub outcomes: BTreeMap<String, i64>,
    /// Submissions with their clocks, newest first.
    pub submissions: Vec<SubmissionView>,
    /// Participants per integrity signal, every signal listed (the roster's `flag` filter
    /// lists them).
    pub flags: Vec<FlagCount>,
    /// Participants carrying at least one integrity signal.
    pub flagged_participants: i64,
}
