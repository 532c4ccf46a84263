//! Request and response bodies of the timeline, submission, status, holiday and scorecard
//! routes.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::deadlines::{Channel, ClockState, DueKind};

pub use crate::entities::enums::UpdateKind;

impl UpdateKind {
    /// Whether an entry of this kind is something the recipient said or did, and so may carry
    /// a response class.
    #[must_use]
    pub fn from_recipient(self) -> bool {
        !matches!(self, Self::Escalation | Self::OrganiserNote)
    }

    /// Whether an entry of this kind is an answer that stops a submission's clock (a stall is
    /// not).
    #[must_use]
    pub fn answers(self) -> bool {
        self.from_recipient() && self != Self::Stall
    }
}

pub use crate::entities::enums::ResponseClass;

pub use crate::entities::enums::UpdateVisibility;

/// `POST /groups/{slug}/updates` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCreate {
    /// What this entry records.
    pub kind: UpdateKind,
    /// Class of a provider's answer (only for entries about what the recipient said or did).
    #[serde(default)]
    pub response_class: Option<ResponseClass>,
    /// The submission this answers, if any.
    #[serde(default)]
    pub submission_id: Option<i64>,
    /// One line.
    #[validate(
        length(min = 2, max = 200, message = "must be 2 to 200 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 2, max_length = 200)]
    pub title: String,
    /// Details.
    #[validate(
        length(max = 10000, message = "must be at most 10000 characters"),
        custom(function = "crate::text::block_or_empty")
    )]
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub body: String,
    /// `public` (default) or `participants`.
    #[serde(default = "public")]
    #[schema(default = "public")]
    pub visibility: UpdateVisibility,
    /// When it happened (default: now; not in the future).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// An entry on a group's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpdateView {
    /// Id.
    pub id: i64,
    /// Kind of entry.
    pub kind: UpdateKind,
    /// Class of a provider's answer.
    pub response_class: Option<ResponseClass>,
    /// The submission it answers.
    pub submission_id: Option<i64>,
    /// One line.
    pub title: String,
    /// Details.
    pub body: String,
    /// `public` or `participants`.
    pub visibility: UpdateVisibility,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// `GET /groups/{slug}/updates` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuery {
    /// Only entries of this visibility; `participants` needs the right to see them.
    pub visibility: Option<UpdateVisibility>,
}

/// `POST /groups/{slug}/submissions` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionCreate {
    /// Where the complaint went.
    pub channel: Channel,
    /// Who received it, e.g. "深圳市消费者委员会".
    #[validate(
        length(min = 2, max = 200, message = "must be 2 to 200 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 2, max_length = 200)]
    pub recipient: String,
    /// The case or acceptance number the recipient gave it, e.g. a 12315 acceptance number.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    #[serde(default)]
    pub reference: Option<String>,
    /// When it was sent (not in the future).
    pub submitted_at: DateTime<Utc>,
    /// The dossier version sent, if one was.
    #[validate(range(min = 1, message = "must be at least 1"))]
    #[serde(default)]
    pub dossier_version: Option<i32>,
    /// Answer period; by default the channel's (provider 15 calendar days, consumer
    /// association 7 working days, regulator 30 calendar days, media and court 30).
    #[validate(range(min = 1, max = 365, message = "must be 1 to 365"))]
    #[serde(default)]
    pub due_days: Option<i32>,
    /// Whether `due_days` are calendar or working days (default: the channel's).
    #[serde(default)]
    pub due_kind: Option<DueKind>,
}

/// `POST /groups/{slug}/submissions/{id}/extend` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Days added, of the submission's kind.
    #[validate(range(min = 1, max = 365, message = "must be 1 to 365"))]
    pub days: i32,
    /// Why, e.g. "the association asked for 15 more working days".
    #[validate(
        length(min = 2, max = 500, message = "must be 2 to 500 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 2, max_length = 500)]
    pub reason: String,
}

/// A submission with its clock as of the time of the request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmissionView {
    /// Id.
    pub id: i64,
    /// Where it went.
    pub channel: Channel,
    /// Who received it.
    pub recipient: String,
    /// The recipient's case or acceptance number, if given.
    pub reference: Option<String>,
    /// When it was sent.
    pub submitted_at: DateTime<Utc>,
    /// The dossier version sent.
    pub dossier_version: Option<i32>,
    /// The period asked for.
    pub due_days: i32,
    /// `calendar` or `working`.
    pub due_kind: DueKind,
    /// Days added by extensions.
    pub extension_days: i32,
    /// Why it was extended.
    pub extension_reason: Option<String>,
    /// Deadline (end of the last counted day, China time).
    pub due_at: DateTime<Utc>,
    /// From then on it is very overdue (twice the period).
    pub very_overdue_at: DateTime<Utc>,
    /// First answer received.
    pub first_response_at: Option<DateTime<Utc>>,
    /// awaiting, answered, overdue or very_overdue.
    pub state: ClockState,
    /// Answered by the deadline (null while awaiting within it).
    pub answered_on_time: Option<bool>,
    /// Counted days since it was sent (until the first answer).
    pub day: i64,
    /// The period in counted days, extensions included.
    pub of: i64,
    /// Where to turn if it stalls.
    pub next_step: Option<Channel>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

pub use crate::entities::enums::GroupOutcome;

/// `POST /groups/{slug}/status` (organisers).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new status.
    pub status: crate::groups::dto::GroupStatus,
    /// Required when closing, refused otherwise.
    #[serde(default)]
    pub outcome: Option<GroupOutcome>,
}

/// One day of the holiday table.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The date.
    pub day: NaiveDate,
    /// What it is, e.g. "国庆节".
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// True for an adjusted working weekend day, false for a day off.
    #[serde(default)]
    pub is_workday: bool,
}

/// `GET /holidays` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HolidayQuery {
    /// Only this year.
    #[validate(range(min = 2000, max = 2100, message = "must be 2000 to 2100"))]
    pub year: Option<i32>,
}

/// `PUT /holidays` (administrators): replaces one year of the table.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayYear {
    /// The year replaced.
    #[validate(range(min = 2000, max = 2100, message = "must be 2000 to 2100"))]
    pub year: i32,
    /// Every listed day of that year.
    #[validate(length(max = 366, message = "at most 366 days"), nested)]
    #[schema(max_items = 366)]
    pub days: Vec<Holiday>,
}

/// A provider's record in answering complaints, over its publicly listed groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scorecard {
    /// Submissions sent to any channel.
    pub submissions: i64,
    /// Of those, answered.
    pub answered: i64,
    /// answered / submissions (null without submissions).
    pub share_answered: Option<f64>,
    /// Median days from sending to the first answer (null without answers).
    pub median_days_to_first_answer: Option<f64>,
    /// Submissions whose deadline passed or that were answered.
    pub decided: i64,
    /// Of those, answered by the deadline.
    pub answered_on_time: i64,
    /// answered_on_time / decided (null when none is decided).
    pub share_answered_on_time: Option<f64>,
    /// Groups by the class of the provider's latest public answer.
    pub response_classes: BTreeMap<ResponseClass, i64>,
    /// Closed groups by outcome.
    pub group_outcomes: BTreeMap<GroupOutcome, i64>,
}

fn public() -> UpdateVisibility {
    UpdateVisibility::Public
}
