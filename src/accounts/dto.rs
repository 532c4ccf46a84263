//! Request and response bodies of the account routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::i18n::Locale;

/// `POST /auth/register`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The address to verify and log in with.
    #[validate(
        custom(function = "crate::text::email"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[serde(deserialize_with = "crate::json::trimmed")]
    #[schema(max_length = 254)]
    pub email: String,
    /// At least 8 characters.
    #[validate(length(min = 8, max = 256, message = "must be 8 to 256 characters"))]
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// Shown to the organisers of groups you join.
    #[validate(
        length(min = 1, max = 80, message = "must be 1 to 80 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 80)]
    pub display_name: String,
    /// `zh-CN` (default) or `en`.
    pub locale: Option<Locale>,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's email address.
    #[validate(
        length(min = 1, max = 254, message = "must be 1 to 254 characters"),
        custom(function = "crate::text::search")
    )]
    #[serde(deserialize_with = "crate::json::trimmed")]
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
    /// The password.
    #[validate(length(min = 1, max = 256, message = "must be 1 to 256 characters"))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// Tokens answered by login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single-use token for `POST /auth/refresh`.
    pub refresh_token: String,
}

/// A body holding a single-use token from an email or a refresh token.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token last received.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// `POST /auth/password-reset`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's email address.
    #[validate(
        custom(function = "crate::text::email"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[serde(deserialize_with = "crate::json::trimmed")]
    #[schema(max_length = 254)]
    pub email: String,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    /// The token from the reset email.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// The new password.
    #[validate(length(min = 8, max = 256, message = "must be 8 to 256 characters"))]
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

/// `PATCH /me`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    /// New display name.
    #[validate(
        length(min = 1, max = 80, message = "must be 1 to 80 characters"),
        custom(function = "crate::text::line")
    )]
    #[schema(min_length = 1, max_length = 80)]
    pub display_name: Option<String>,
    /// New language.
    pub locale: Option<Locale>,
}

/// `DELETE /me`: the password confirms the deletion.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    /// The current password.
    #[validate(length(min = 1, max = 256, message = "must be 1 to 256 characters"))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// The current user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// Account id.
    pub id: i64,
    /// Email as given.
    #[serde(deserialize_with = "crate::json::trimmed")]
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Language.
    pub locale: String,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Site administrator.
    pub is_admin: bool,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

/// A short confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next.
    pub message: &'static str,
}
