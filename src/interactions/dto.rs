//! Request and response bodies of the contact-log routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::entities::interactions;

pub use crate::entities::enums::ContactChannel as Channel;

pub use crate::entities::enums::ContactOutcome;

/// `POST /groups/{slug}/participation/interactions`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionCreate {
    /// When the contact happened.
    pub occurred_at: DateTime<Utc>,
    /// How.
    pub channel: Channel,
    /// The agent's name or staff number.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::line_or_empty")
    )]
    #[serde(default)]
    #[schema(max_length = 100)]
    pub agent: Option<String>,
    /// Ticket or case number given.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::line_or_empty")
    )]
    #[serde(default)]
    #[schema(max_length = 100)]
    pub ticket_ref: Option<String>,
    /// What was said.
    #[validate(
        length(max = 5000, message = "must be at most 5000 characters"),
        custom(function = "crate::text::block_or_empty")
    )]
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub summary: Option<String>,
    /// What came of it.
    pub outcome: ContactOutcome,
}

/// `PATCH /groups/{slug}/participation/interactions/{id}`; absent fields are left alone.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionUpdate {
    /// When.
    pub occurred_at: Option<DateTime<Utc>>,
    /// How.
    pub channel: Option<Channel>,
    /// Agent.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::line_or_empty")
    )]
    #[schema(max_length = 100)]
    pub agent: Option<String>,
    /// Ticket.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::line_or_empty")
    )]
    #[schema(max_length = 100)]
    pub ticket_ref: Option<String>,
    /// What was said.
    #[validate(
        length(max = 5000, message = "must be at most 5000 characters"),
        custom(function = "crate::text::block_or_empty")
    )]
    #[schema(max_length = 5000)]
    pub summary: Option<String>,
    /// Outcome.
    pub outcome: Option<ContactOutcome>,
}

/// A logged contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionView {
    /// Entry id.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// How.
    pub channel: Channel,
    /// Agent.
    pub agent: String,
    /// Ticket.
    pub ticket_ref: String,
    /// What was said.
    pub summary: String,
    /// Outcome.
    pub outcome: ContactOutcome,
    /// Logged at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<interactions::Model> for InteractionView {
    fn from(m: interactions::Model) -> Self {
        Self {
            id: m.id,
            occurred_at: m.occurred_at,
            channel: m.channel,
            agent: m.agent,
            ticket_ref: m.ticket_ref,
            summary: m.summary,
            outcome: m.outcome,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
