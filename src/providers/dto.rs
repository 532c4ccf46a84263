//! Request and response bodies of the provider routes.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::entities::providers;

pub use crate::entities::enums::ProviderKind;

/// A provider as shown to anyone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// URL name.
    pub slug: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: Option<String>,
    /// Other names people use.
    pub aliases: Vec<String>,
    /// Kind of business.
    pub kind: ProviderKind,
    /// Official website.
    pub website: Option<String>,
    /// Curated by an administrator (false for names proposed with a new group).
    pub reviewed: bool,
}

impl From<providers::Model> for ProviderView {
    fn from(p: providers::Model) -> Self {
        Self {
            aliases: serde_json::from_str(&p.aliases).unwrap_or_default(),
            slug: p.slug,
            name_zh: p.name_zh,
            name_en: p.name_en,
            kind: p.kind,
            website: p.website,
            reviewed: p.reviewed,
        }
    }
}

/// A provider with its public figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDetail {
    /// The provider.
    #[serde(flatten)]
    pub provider: ProviderView,
    /// Publicly listed groups against it.
    pub groups: i64,
    /// Active participants across those groups.
    pub participants: i64,
    /// How the provider answers the complaints sent to it from those groups.
    pub scorecard: crate::responses::dto::Scorecard,
}

/// `GET /providers` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProviderQuery {
    /// Words to find in names and aliases (any language).
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "crate::text::search")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Page number, from 1.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    pub per_page: Option<u64>,
}

/// A page of providers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderPage {
    /// The providers on this page.
    pub items: Vec<ProviderView>,
    /// All matches.
    pub total: u64,
}

/// `POST /providers` (administrators).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderCreate {
    /// URL name: lower-case letters, digits and dashes.
    #[validate(
        length(min = 2, max = 80, message = "must be 2 to 80 characters"),
        custom(function = "slug_chars")
    )]
    #[schema(min_length = 2, max_length = 80)]
    pub slug: String,
    /// Chinese name.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub name_zh: String,
    /// English name.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub name_en: Option<String>,
    /// Other names.
    #[validate(
        length(max = 20, message = "at most 20 aliases"),
        custom(function = "crate::text::lines")
    )]
    #[serde(default)]
    #[schema(max_items = 20)]
    pub aliases: Vec<String>,
    /// Kind of business.
    pub kind: ProviderKind,
    /// Official website.
    #[validate(
        url(message = "must be a URL"),
        length(max = 500, message = "must be at most 500 characters")
    )]
    #[schema(max_length = 500)]
    pub website: Option<String>,
}

/// `PATCH /providers/{slug}` (administrators). Absent fields are left alone.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdate {
    /// Chinese name.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub name_zh: Option<String>,
    /// English name.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub name_en: Option<String>,
    /// Other names (replaces the list).
    #[validate(
        length(max = 20, message = "at most 20 aliases"),
        custom(function = "crate::text::lines")
    )]
    #[schema(max_items = 20)]
    pub aliases: Option<Vec<String>>,
}

fn slug_chars(s: &str) -> Result<(), validator::ValidationError> {
    let ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("slug")
            .with_message("lower-case letters, digits and inner dashes only".into()))
    }
}
