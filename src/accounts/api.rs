//! JSON handlers of the account routes.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    Accepted, DeleteMeRequest, LoginRequest, MeUpdate, MeView, RefreshRequest, RegisterRequest,
    ResetConfirmRequest, ResetRequest, TokenRequest, TokenResponse,
};
use super::service;
use crate::auth::CurrentUser;
use crate::entities::users;
use crate::error::{AppResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(verify_email)
        .service(resend_verification)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(password_reset)
        .service(password_reset_confirm)
        .service(get_me)
        .service(patch_me)
        .service(delete_me)
        .service(export_me);
}

impl From<users::Model> for MeView {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            locale: u.locale,
            email_verified: u.email_verified_at.is_some(),
            is_admin: u.is_admin,
            created_at: u.created_at,
        }
    }
}

const CHECK_MAIL: Accepted = Accepted {
    message: "check your mailbox for a link to continue",
};

/// Register an account; a verification email follows.
#[utoipa::path(tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, body = Accepted), (status = 422, body = Problem), (status = 429, body = Problem)))]
#[post("/auth/register")]
async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<RegisterRequest>,
) -> AppResult<HttpResponse> {
    let client = state.limits.client_key(&req);
    service::register(&state, body.0, &client, None).await?;
    Ok(HttpResponse::Created().json(CHECK_MAIL))
}

/// Verify an email address with the token from the verification email.
#[utoipa::path(tag = "auth", request_body = TokenRequest, responses(
    (status = 204), (status = 422, body = Problem)))]
#[post("/auth/verify-email")]
async fn verify_email(
    state: web::Data<AppState>,
    body: ApiJson<TokenRequest>,
) -> AppResult<HttpResponse> {
    state
        .write(async |txn| service::verify_email(txn, &state.ctx, &body.0.token).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a new verification email to the logged-in user.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses(
    (status = 202, body = Accepted), (status = 409, body = Problem)))]
#[post("/auth/verify-email/resend")]
async fn resend_verification(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    service::resend_verification(&state, &user).await?;
    Ok(HttpResponse::Accepted().json(CHECK_MAIL))
}

/// Log in with email and password.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> AppResult<web::Json<TokenResponse>> {
    let client = state.limits.client_key(&req);
    let body = body.0;
    Ok(web::Json(
        service::login(&state, &body.email, body.password, &client).await?,
    ))
}

/// Exchange a refresh token for a new access and refresh token.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse), (status = 401, body = Problem)))]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<web::Json<TokenResponse>> {
    Ok(web::Json(
        service::refresh(&state, &body.0.refresh_token).await?,
    ))
}

/// End the session of a refresh token.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    state
        .write(async |txn| service::logout(txn, &state.ctx, &body.0.refresh_token).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password-reset email. The answer is the same whether or not the address exists.
#[utoipa::path(tag = "auth", request_body = ResetRequest, responses(
    (status = 202, body = Accepted), (status = 429, body = Problem)))]
#[post("/auth/password-reset")]
async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<ResetRequest>,
) -> AppResult<HttpResponse> {
    let client = state.limits.client_key(&req);
    service::request_password_reset(&state, &body.0.email, &client).await?;
    Ok(HttpResponse::Accepted().json(CHECK_MAIL))
}

/// Set a new password with the token from the reset email; ends all sessions.
#[utoipa::path(tag = "auth", request_body = ResetConfirmRequest, responses(
    (status = 204), (status = 422, body = Problem)))]
#[post("/auth/password-reset/confirm")]
async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: ApiJson<ResetConfirmRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    service::confirm_password_reset(&state, &body.token, body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The current user.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = MeView), (status = 401, body = Problem)))]
#[get("/me")]
async fn get_me(state: web::Data<AppState>, user: CurrentUser) -> AppResult<web::Json<MeView>> {
    Ok(web::Json(service::me(&state, &user).await?.into()))
}

/// Change display name or language.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = MeUpdate, responses(
    (status = 200, body = MeView), (status = 422, body = Problem)))]
#[patch("/me")]
async fn patch_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<MeUpdate>,
) -> AppResult<web::Json<MeView>> {
    Ok(web::Json(
        state
            .write(async |txn| service::update_me(txn, &state.ctx, &user, body.0).await)
            .await?
            .into(),
    ))
}

/// Delete the account (confirm with the password).
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = DeleteMeRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 409, body = Problem)))]
#[delete("/me")]
async fn delete_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<DeleteMeRequest>,
) -> AppResult<HttpResponse> {
    service::delete_me(&state, &user, body.0.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything held about the current user, as JSON.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses((status = 200, body = Object)))]
#[get("/me/export")]
async fn export_me(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    let doc = service::export(&state, &user).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"lianming-export.json\"",
        ))
        .json(doc))
}
