//! The [`CurrentUser`] extractor: authenticates a bearer token. Authorisation happens in the
//! services, never here.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entities::enums::UserStatus;
use crate::entities::{refresh_tokens, users};
use crate::error::AppError;
use crate::state::AppState;

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The user's id.
    pub id: i64,
    /// The user's address as they gave it.
    pub email: String,
    /// The name shown to organisers.
    pub display_name: String,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// Site administrator.
    pub is_admin: bool,
    /// Whether the email address has been verified.
    pub email_verified: bool,
}

impl CurrentUser {
    /// Fails with 403 unless the user has verified their email address.
    ///
    /// # Errors
    /// 403 `email_not_verified`.
    pub fn require_verified(&self) -> Result<(), AppError> {
        if self.email_verified {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "email_not_verified",
                "verify your email address first (see the email we sent you)",
            ))
        }
    }

    /// Fails with 403 unless the user is an administrator.
    ///
    /// # Errors
    /// 403 `admin_only`.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AppError::forbidden("admin_only", "administrators only"))
        }
    }
}

impl From<users::Model> for CurrentUser {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            locale: u.locale,
            is_admin: u.is_admin,
            email_verified: u.email_verified_at.is_some(),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no app state")))?;
            let token = token.ok_or_else(|| {
                AppError::Unauthorized(
                    "missing_token",
                    "send an access token as `Authorization: Bearer …`".into(),
                )
            })?;
            let access = state.tokens.verify(&token, state.ctx.clock.now())?;
            // The session check rides on the user lookup every request already made: one
            // round trip, an indexed subquery (`idx_refresh_tokens_family_id`), and the
            // database is the only truth, so a session ended by logout, reuse revocation,
            // a password reset or account deletion ends its access tokens at once, on every
            // instance — no cache that could be stale.
            let open_session = Query::select()
                .column(refresh_tokens::Column::UserId)
                .from(refresh_tokens::Entity)
                .and_where(refresh_tokens::Column::FamilyId.eq(access.session_id.as_str()))
                .and_where(refresh_tokens::Column::RevokedAt.is_null())
                .to_owned();
            let user = users::Entity::find_by_id(access.user_id)
                .filter(users::Column::Id.in_subquery(open_session))
                .one(&state.db)
                .await?
                .filter(|u| u.status == UserStatus::Active)
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "invalid_token",
                        "the session has ended or the account no longer exists".into(),
                    )
                })?;
            Ok(user.into())
        })
    }
}
