//! One error type for the whole server, answered as RFC 9457 `application/problem+json`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Messages per field, keyed by the field's path (`email`, `signature.full_name`, `demands[0]`).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input of the right syntax that breaks a rule; names each field.
    #[error("invalid input: {}", describe_fields(.0))]
    Validation(FieldErrors),
    /// Input that cannot be read at all.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// Missing, expired or invalid credentials.
    #[error("{1}")]
    Unauthorized(&'static str, String),
    /// Authenticated, but not allowed.
    #[error("{1}")]
    Forbidden(&'static str, String),
    /// The resource does not exist or is not visible to the caller.
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state.
    #[error("{1}")]
    Conflict(&'static str, String),
    /// A body, file or quota is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A body whose type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Something the server needs is not there (e.g. a font); names what.
    #[error("{1}")]
    ServiceUnavailable(&'static str, String),
    /// A rate limit was hit.
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A fault of the server; logged, answered opaquely.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe_fields(errors: &FieldErrors) -> String {
    errors
        .iter()
        .map(|(field, msgs)| format!("{field}: {}", msgs.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl AppError {
    /// A validation error on one field.
    #[must_use]
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.into(), vec![message.into()]);
        Self::Validation(errors)
    }

    /// A 409 with a stable code.
    #[must_use]
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict(code, detail.into())
    }

    /// A 403 with a stable code.
    #[must_use]
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden(code, detail.into())
    }

    /// The stable, snake_case code of this error, sent as the `code` member.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unauthorized(code, _)
            | Self::Forbidden(code, _)
            | Self::Conflict(code, _)
            | Self::ServiceUnavailable(code, _) => code,
            Self::NotFound => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) => "Invalid input",
            Self::BadRequest { .. } => "Bad request",
            Self::Unauthorized(..) => "Unauthorized",
            Self::Forbidden(..) => "Forbidden",
            Self::NotFound => "Not found",
            Self::Conflict(..) => "Conflict",
            Self::PayloadTooLarge(_) => "Payload too large",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::ServiceUnavailable(..) => "Service unavailable",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Internal(_) => "Internal server error",
        }
    }

    /// The problem document for this error.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::Internal(_) => "An internal error occurred; it has been logged.".to_owned(),
            Self::NotFound => "The resource does not exist or you may not see it.".to_owned(),
            other => other.to_string(),
        };
        Problem {
            type_: format!("urn:lianming:problem:{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }
}

/// An RFC 9457 problem document with Lianming's extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary of the kind.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: &'static str,
    /// Messages per field path, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::TooManyRequests { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized(..) => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl From<validator::ValidationErrors> for AppError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut out = FieldErrors::new();
        flatten_validation(&errors, "", &mut out);
        Self::Validation(out)
    }
}

fn flatten_validation(errors: &validator::ValidationErrors, prefix: &str, out: &mut FieldErrors) {
    use validator::ValidationErrorsKind as Kind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            Kind::Field(list) => {
                let msgs = out.entry(path).or_default();
                for e in list {
                    msgs.push(
                        e.message
                            .as_ref()
                            .map_or_else(|| e.code.to_string(), ToString::to_string),
                    );
                }
            }
            Kind::Struct(inner) => flatten_validation(inner, &path, out),
            Kind::List(items) => {
                for (i, inner) in items {
                    flatten_validation(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

/// Shorthand for results of request handling.
pub type AppResult<T> = Result<T, AppError>;
