//! Request and response bodies of the group routes.

use crate::entities::enums::{GroupOutcome, ResponseClass, UpdateKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

pub use crate::entities::enums::Category;

/// What the group asks of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DemandKind {
    /// Give the money back.
    Refund,
    /// Pay for the harm done.
    Compensation,
    /// Apologise.
    Apology,
    /// Fix the service.
    ServiceFix,
    /// Delete personal data.
    DataDeletion,
    /// Something else (say what in `text`).
    Other,
}

impl DemandKind {
    /// The stored value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refund => "refund",
            Self::Compensation => "compensation",
            Self::Apology => "apology",
            Self::ServiceFix => "service_fix",
            Self::DataDeletion => "data_deletion",
            Self::Other => "other",
        }
    }
}

/// One demand: a kind and optional free text.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// The kind of demand.
    pub kind: DemandKind,
    /// Details, e.g. the amount or deadline asked for.
    #[validate(
        length(max = 500, message = "must be at most 500 characters"),
        custom(function = "crate::text::block_or_empty")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub text: Option<String>,
}

/// A demand given either as a bare kind (`"refund"`) or as `{"kind", "text"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DemandInput {
    /// Just the kind.
    Kind(DemandKind),
    /// Kind with details.
    Detailed(Demand),
}

impl DemandInput {
    /// The demand this input stands for.
    #[must_use]
    pub fn into_demand(self) -> Demand {
        match self {
            Self::Kind(kind) => Demand { kind, text: None },
            Self::Detailed(d) => d,
        }
    }
}

impl Validate for DemandInput {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        match self {
            Self::Kind(_) => Ok(()),
            Self::Detailed(d) => d.validate(),
        }
    }
}

/// `POST /groups`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    /// Slug of an existing provider, or null to propose one with `provider_name`.
    #[validate(
        length(min = 1, max = 80, message = "must be 1 to 80 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 80)]
    pub provider: Option<String>,
    /// Name of a provider not yet in the directory.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub provider_name: Option<String>,
    /// Short title, e.g. "提现三个月未到账".
    #[validate(
        length(min = 4, max = 120, message = "must be 4 to 120 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 4, max_length = 120)]
    pub title: String,
    /// What happened, for people deciding whether to join.
    #[validate(
        length(min = 10, max = 4000, message = "must be 10 to 4000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 10, max_length = 4000)]
    pub summary: String,
    /// Problem category.
    pub category: Category,
    /// What the group asks for (1 to 10).
    #[validate(length(min = 1, max = 10, message = "give 1 to 10 demands"), nested)]
    #[schema(min_items = 1, max_items = 10)]
    pub demands: Vec<DemandInput>,
    /// The text every participant signs.
    #[validate(
        length(min = 20, max = 20000, message = "must be 20 to 20000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 20, max_length = 20000)]
    pub joint_statement: String,
    /// First day of the incidents.
    #[serde(default)]
    pub incident_from: Option<NaiveDate>,
    /// Last day of the incidents.
    #[serde(default)]
    pub incident_to: Option<NaiveDate>,
    /// New participants wait for an organiser's approval.
    #[serde(default)]
    pub requires_moderation: bool,
}

/// `PATCH /groups/{slug}` (organisers). Absent fields are left alone.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    /// New title.
    #[validate(
        length(min = 4, max = 120, message = "must be 4 to 120 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 4, max_length = 120)]
    pub title: Option<String>,
    /// New summary.
    #[validate(
        length(min = 10, max = 4000, message = "must be 10 to 4000 characters"),
        custom(function = "crate::text::block")
    )]
    #[schema(min_length = 10, max_length = 4000)]
    pub summary: Option<String>,
    /// New category.
    pub category: Option<Category>,
    /// New first incident day.
    pub incident_from: Option<NaiveDate>,
    /// New last incident day.
    pub incident_to: Option<NaiveDate>,
    /// Turn moderation of new participants on or off.
    pub requires_moderation: Option<bool>,
    /// `public` (listed) or `unlisted` (reachable by link only).
    pub visibility: Option<Visibility>,
}

pub use crate::entities::enums::Visibility;

/// The provider as shown on a group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderRef {
    /// URL name.
    pub slug: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: Option<String>,
    /// Curated by an administrator.
    pub reviewed: bool,
}

/// Disputed money in one currency, shown only when at least 5 people share it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputedTotal {
    /// ISO 4217 code, or `other` for merged small cells.
    pub currency: String,
    /// Sum in minor units (absent for the merged `other` cell).
    pub amount_minor: Option<i64>,
    /// People in this cell.
    pub participants: i64,
}

/// A count of people in one cell of a public breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CountCell {
    /// The cell, or `other` for merged small cells.
    pub key: String,
    /// People in it (never fewer than 5).
    pub participants: i64,
}

/// What the provider claims, as recorded on the public timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderClaim {
    /// in_progress, closed_monetary_relief, closed_non_monetary_relief, closed_explanation,
    /// denied or untimely.
    pub response_class: ResponseClass,
    /// The kind of timeline entry, e.g. `response`.
    pub kind: UpdateKind,
    /// Its title.
    pub title: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// A group as anyone sees it: no personal data, only counts and aggregates.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Category.
    pub category: Category,
    /// Demands.
    pub demands: Vec<Demand>,
    /// The provider.
    pub provider: ProviderRef,
    /// First incident day.
    pub incident_from: Option<NaiveDate>,
    /// Last incident day.
    pub incident_to: Option<NaiveDate>,
    /// gathering, submitted, responded, escalated or closed.
    pub status: GroupStatus,
    /// Outcome once closed.
    pub outcome: Option<GroupOutcome>,
    /// public or unlisted.
    pub visibility: Visibility,
    /// Whether joins wait for approval.
    pub requires_moderation: bool,
    /// Active participants.
    pub participant_count: i64,
    /// Current joint-statement version.
    pub statement_version: i32,
    /// The joint statement participants sign.
    pub joint_statement: String,
    /// SHA-256 of the current joint statement.
    pub statement_sha256: String,
    /// Disputed totals per currency (cells under 5 people merged into `other`).
    pub disputed_totals: Vec<DisputedTotal>,
    /// Active participants by their own outcome (unresolved, partially_resolved, resolved);
    /// cells under 5 people are merged into `other`, and no cell under 5 is shown.
    pub outcomes: Vec<CountCell>,
    /// How many active participants confirm their own case resolved ("N of
    /// `participant_count` confirm"); null when that cell is not shown.
    pub confirmed_resolved: Option<i64>,
    /// What the provider last said: its latest public answer with a response class.
    pub provider_claim: Option<ProviderClaim>,
    /// The latest public timeline entries, newest first.
    pub timeline: Vec<crate::responses::dto::UpdateView>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A group in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSummary {
    /// URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Category.
    pub category: Category,
    /// The provider.
    pub provider: ProviderRef,
    /// Status.
    pub status: GroupStatus,
    /// Active participants.
    pub participant_count: i64,
    /// First incident day.
    pub incident_from: Option<NaiveDate>,
    /// Last incident day.
    pub incident_to: Option<NaiveDate>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A page of groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    /// The groups on this page.
    pub items: Vec<GroupSummary>,
    /// All matches.
    pub total: u64,
}

/// Ordering of group lists.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Most participants first.
    #[default]
    Popular,
    /// Newest first.
    Newest,
}

pub use crate::entities::enums::GroupStatus;

/// `GET /groups` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// Words to find in title, summary and the provider's names and aliases.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Provider slug.
    #[validate(
        length(max = 80, message = "must be at most 80 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 80)]
    pub provider: Option<String>,
    /// Problem category.
    pub category: Option<Category>,
    /// Group status.
    pub status: Option<GroupStatus>,
    /// `popular` (default) or `newest`.
    #[param(inline)]
    pub sort: Option<Sort>,
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    pub per_page: Option<u64>,
}

/// `GET /groups/suggest` query: what a user is about to start a group about.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    /// Provider slug.
    #[validate(
        length(max = 80, message = "must be at most 80 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 80)]
    pub provider: Option<String>,
    /// Problem category.
    pub category: Option<Category>,
    /// Words describing the problem.
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Incident day, to prefer groups whose window covers it.
    pub incident_date: Option<NaiveDate>,
}
