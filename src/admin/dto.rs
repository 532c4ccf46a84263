//! Request and response bodies of the administrators' routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::entities::enums::{GroupStatus, JobStatus, UserStatus};
use crate::providers::dto::ProviderView;

/// `GET /admin/providers` query.
#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminProviderQuery {
    /// Words to find in names, aliases or the slug.
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Only providers no administrator has reviewed yet (proposed with a new group).
    pub unreviewed: Option<bool>,
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
}

/// A provider as an administrator reviews it: newest first, who proposed it, how many groups
/// use it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProviderRow {
    /// The provider.
    #[serde(flatten)]
    pub provider: ProviderView,
    /// Display name of the user who added or proposed it.
    pub created_by: Option<String>,
    /// Email of that user.
    pub created_by_email: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Groups (of any visibility) against it.
    pub groups: u64,
}

/// A page of providers for review.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProviderPage {
    /// The providers on this page, newest first.
    pub items: Vec<AdminProviderRow>,
    /// All matches.
    pub total: u64,
}

/// `POST /admin/providers/{slug}/merge`: merge the provider of the path into `into`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The slug of the provider that stays and takes the groups and names.
    #[validate(length(min = 1, max = 80, message = "must be 1 to 80 characters"))]
    #[schema(min_length = 1, max_length = 80)]
    pub into: String,
}

/// What a merge did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    /// The provider that stays, with its new aliases.
    pub provider: ProviderView,
    /// The merged provider's slug (it now redirects).
    pub merged: String,
    /// Groups moved over.
    pub groups_moved: u64,
    /// Names added to the aliases.
    pub aliases_added: Vec<String>,
}

/// `GET /admin/users` and `GET /admin/groups` query.
#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminSearchQuery {
    /// Part of an email address (users) or of a title or slug (groups).
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
}

/// `POST /admin/users/{id}/suspend` and `POST /admin/groups/{slug}/suspend`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Why (kept for administrators, written to the audit log).
    #[validate(
        length(min = 2, max = 500, message = "must be 2 to 500 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 2, max_length = 500)]
    pub reason: String,
}

/// A user account as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    /// User id.
    pub id: i64,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// active or suspended.
    pub status: UserStatus,
    /// Why it was suspended.
    pub suspension_reason: Option<String>,
    /// Site administrator.
    pub is_admin: bool,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Registered at.
    pub created_at: DateTime<Utc>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    /// Users, newest first.
    pub items: Vec<AdminUserView>,
    /// All matches.
    pub total: u64,
}

/// A group as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminGroupView {
    /// URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// The provider's slug.
    pub provider: String,
    /// Lifecycle status (kept while suspended).
    pub status: GroupStatus,
    /// When an administrator suspended it.
    pub suspended_at: Option<DateTime<Utc>>,
    /// Why.
    pub suspension_reason: Option<String>,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

/// A page of groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminGroupPage {
    /// Groups, newest first.
    pub items: Vec<AdminGroupView>,
    /// All matches.
    pub total: u64,
}

/// `GET /admin/jobs` query.
#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminJobQuery {
    /// Only jobs in this state (e.g. `failed`).
    pub status: Option<JobStatus>,
}

/// A background job as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminJobView {
    /// Row id.
    pub id: i64,
    /// The kind, e.g. `dossier.build`.
    pub kind: String,
    /// What it is about (unique per kind and subject), e.g. `dossier.build:12`.
    pub subject: String,
    /// queued, running, done or failed.
    pub status: JobStatus,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// When it may run (next attempt, for a queued job).
    pub run_at: DateTime<Utc>,
    /// The instance holding it, while running.
    pub locked_by: Option<String>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// Done or given up at.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<crate::entities::jobs::Model> for AdminJobView {
    fn from(m: crate::entities::jobs::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            subject: m.dedupe_key,
            status: m.status,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            run_at: m.run_at,
            locked_by: m.locked_by,
            last_error: m.last_error,
            created_at: m.created_at,
            finished_at: m.finished_at,
        }
    }
}

/// The newest 200 jobs matching the query.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminJobPage {
    /// Jobs, newest first.
    pub items: Vec<AdminJobView>,
}
