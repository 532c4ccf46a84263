//! One error type for the whole server, answered as RFC 9457 `application/problem+json`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::i18n::Locale;

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
    /// A method the resource does not support; `allow` lists those it does.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    /// A body whose type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Something the server needs is not there (e.g. a font); names what.
    #[error("{1}")]
    ServiceUnavailable(&'static str, String),
    /// The database cannot be reached now; the client may retry after a few seconds.
    #[error("the database is unavailable; retry after {retry_after_secs} s")]
    DatabaseUnavailable { retry_after_secs: u64 },
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
            Self::DatabaseUnavailable { .. } => "database_unavailable",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The kind of problem, naming its title (and its fallback detail) in the locale files.
    fn kind(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized(..) => "unauthorized",
            Self::Forbidden(..) => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict(..) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::ServiceUnavailable(..) | Self::DatabaseUnavailable { .. } => {
                "service_unavailable"
            }
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The detail in `l`. English keeps the specific text services write (clients and tests
    /// read it); other languages use the code's translation, else the kind's.
    fn detail_in(&self, l: Locale) -> String {
        match (self, l) {
            (Self::Internal(_) | Self::NotFound, _) => {
                l.tf(&format!("problem.detail.{}", self.kind()), &[])
            }
            (_, Locale::En) => self.to_string(),
            (Self::Validation(errors), _) => {
                let fields = errors.keys().cloned().collect::<Vec<_>>().join(", ");
                l.tf("problem.detail.validation_failed", &[("fields", &fields)])
            }
            (Self::TooManyRequests { retry_after_secs }, _) => l.tf(
                "problem.detail.rate_limited",
                &[("seconds", &retry_after_secs.to_string())],
            ),
            _ => l
                .try_t(&format!("problem.detail.{}", self.code()))
                .unwrap_or_else(|| l.t(&format!("problem.detail.{}", self.kind())))
                .to_owned(),
        }
    }

    /// The problem document for this error, in the language of the request being answered
    /// (see [`scope_locale`]); English outside a request.
    #[must_use]
    pub fn problem(&self) -> Problem {
        self.problem_in(request_locale().unwrap_or(Locale::En))
    }

    /// The problem document for this error in `l`; the `code` is the same in every language.
    #[must_use]
    pub fn problem_in(&self, l: Locale) -> Problem {
        let status = self.status_code();
        let detail = self.detail_in(l);
        Problem {
            type_: format!("urn:lianming:problem:{}", self.code()),
            title: l.t(&format!("problem.title.{}", self.kind())),
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
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::ServiceUnavailable(..) | Self::DatabaseUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // A database error a service wrapped with context is still an outage, not a fault.
        if let Self::Internal(e) = self
            && e.downcast_ref::<sea_orm::DbErr>()
                .is_some_and(crate::db::is_unavailable)
        {
            tracing::warn!(error = %e, "database unavailable");
            return Self::DatabaseUnavailable {
                retry_after_secs: DB_RETRY_AFTER_SECS,
            }
            .error_response();
        }
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::TooManyRequests { retry_after_secs }
            | Self::DatabaseUnavailable { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized(..) => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    res.insert_header((header::ALLOW, v));
                }
            }
            _ => {}
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// What a client is told to wait when the database is down: about one acquire timeout.
const DB_RETRY_AFTER_SECS: u64 = 5;

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Self::DatabaseUnavailable {
                retry_after_secs: DB_RETRY_AFTER_SECS,
            };
        }
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

tokio::task_local! {
    /// The language of the request being handled, read when an error becomes a response.
    static REQUEST_LOCALE: Locale;
}

fn request_locale() -> Option<Locale> {
    REQUEST_LOCALE.try_with(|l| *l).ok()
}

/// The language the request being handled is answered in (see [`scope_locale`]), for text an
/// API answer carries besides problems (an integrity signal's reason); English outside a
/// request.
#[must_use]
pub fn answer_locale() -> Locale {
    request_locale().unwrap_or(Locale::En)
}

/// The language a request's problems are answered in: what the client states (`?lang=`, the
/// `lang` cookie, `Accept-Language`, as pages read it); without any, pages are zh-CN and the
/// API stays English, as it always answered clients that state no language.
fn locale_of(req: &actix_web::HttpRequest) -> Locale {
    let stated = req.headers().contains_key(header::ACCEPT_LANGUAGE)
        || req.cookie("lang").is_some()
        || url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, _)| k == "lang");
    if !stated && req.path().starts_with("/api/") {
        return Locale::En;
    }
    crate::pages::page_locale(req)
}

/// Middleware: scopes the request's language around its handling, so that `AppError`'s
/// response (made deep inside, from extractors or handlers) is in that language.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn scope_locale(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let locale = locale_of(req.request());
    REQUEST_LOCALE.scope(locale, next.call(req)).await
}
