//! Account rules: registration, verification, sessions, password reset, export and deletion.
//! Answers never reveal whether an address has an account.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use super::dto::{MeUpdate, RegisterRequest, TokenResponse};
use crate::auth::CurrentUser;
use crate::auth::password;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::db;
use crate::domain::{LocalPath, normalize_email};
use crate::entities::enums::{ParticipationStatus, Role, TokenPurpose, UserStatus};
use crate::entities::{
    email_tokens, evidence, group_roles, interactions, outbox, participations, refresh_tokens,
    signatures, users,
};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::ratelimit::Bucket;
use crate::state::{AppState, Ctx};

const VERIFY_TTL_HOURS: i64 = 48;
const RESET_TTL_MINUTES: i64 = 60;

fn invalid_credentials() -> AppError {
    AppError::Unauthorized(
        "invalid_credentials",
        "the email or password is wrong".into(),
    )
}

/// Registers an account and queues the verification email, whose link carries `next` (where
/// the person was going) through to the verification page. An address that already has an
/// account gets a notice instead; the answer is the same either way.
///
/// # Errors
/// 429 when rate limited; database failures.
pub async fn register(
    state: &AppState,
    req: RegisterRequest,
    client: &str,
    next: Option<&LocalPath>,
) -> AppResult<()> {
    state
        .limits
        .check(&state.db, Bucket::Register, client, state.now())
        .await?;
    let normalized = normalize_email(&req.email);
    state
        .limits
        .check(
            &state.db,
            Bucket::Register,
            &format!("email:{normalized}"),
            state.now(),
        )
        .await?;
    // Hash before looking up, so both paths take the same time.
    let hash = password::hash(req.password).await?;
    let now = state.now();
    let locale = req.locale.unwrap_or_default();
    let txn = db::write_txn(&state.db).await?;
    let existing = users::Entity::find()
        .filter(users::Column::EmailNormalized.eq(&normalized))
        .one(&txn)
        .await?;
    if let Some(user) = existing {
        let hour = now.format("%Y%m%d%H");
        let user_locale = Locale::parse_lenient(&user.locale);
        let content = kinds::account_exists(
            user_locale,
            &user.display_name,
            format!("{}/reset-password", state.ctx.public_url),
        );
        let email = NewEmail {
            kind: "account_exists",
            recipient: user.email.clone(),
            user_id: Some(user.id),
            content,
            idempotency_key: format!("account_exists:{}:{hour}", user.id),
            headers: Vec::new(),
        };
        enqueue(&txn, email, now, &state.ctx.mail_domain).await?;
        txn.commit().await?;
        state.mail_wake.notify_one();
        return Ok(());
    }
    let user = users::ActiveModel {
        email: Set(req.email.trim().to_owned()),
        email_normalized: Set(normalized),
        display_name: Set(req.display_name.trim().to_owned()),
        password_hash: Set(hash),
        locale: Set(locale.as_str().into()),
        is_admin: Set(false),
        status: Set(UserStatus::Active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let user = match user.insert(&txn).await {
        Ok(u) => u,
        // A concurrent registration of the same address won; answer as for an existing one.
        Err(e) if db::is_unique_violation(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    queue_verification(state, &txn, &user, now, next).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

async fn create_email_token(
    txn: &impl ConnectionTrait,
    user_id: i64,
    purpose: TokenPurpose,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let (plain, hash) = random_token();
    email_tokens::ActiveModel {
        user_id: Set(user_id),
        purpose: Set(purpose),
        token_hash: Set(hash),
        expires_at: Set(expires_at),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(plain)
}

async fn queue_verification(
    state: &AppState,
    txn: &impl ConnectionTrait,
    user: &users::Model,
    now: DateTime<Utc>,
    next: Option<&LocalPath>,
) -> AppResult<()> {
    let token = create_email_token(
        txn,
        user.id,
        TokenPurpose::VerifyEmail,
        now + Duration::hours(VERIFY_TTL_HOURS),
        now,
    )
    .await?;
    let locale = Locale::parse_lenient(&user.locale);
    let mut link = format!("{}/verify-email?token={token}", state.ctx.public_url);
    if let Some(next) = next {
        link.push_str("&next=");
        link.extend(url::form_urlencoded::byte_serialize(
            next.as_str().as_bytes(),
        ));
    }
    let content = kinds::verification(locale, &user.display_name, link, VERIFY_TTL_HOURS);
    let email = NewEmail {
        kind: "verify_email",
        recipient: user.email.clone(),
        user_id: Some(user.id),
        content,
        idempotency_key: format!("verify_email:{}:{}", user.id, sha256_hex(token.as_bytes())),
        headers: Vec::new(),
    };
    enqueue(txn, email, now, &state.ctx.mail_domain).await?;
    Ok(())
}

/// Takes a single-use email token: marks it used and returns its user id.
async fn consume_email_token(
    txn: &impl ConnectionTrait,
    token: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let invalid = || AppError::field("token", "is invalid or has expired");
    let row = email_tokens::Entity::find()
        .filter(email_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .one(txn)
        .await?
        .ok_or_else(invalid)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    let taken = email_tokens::Entity::update_many()
        .filter(email_tokens::Column::Id.eq(row.id))
        .filter(email_tokens::Column::UsedAt.is_null())
        .col_expr(email_tokens::Column::UsedAt, Some(now).into())
        .exec(txn)
        .await?;
    if taken.rows_affected != 1 {
        return Err(invalid());
    }
    Ok(row.user_id)
}

/// Verifies the address the token was mailed to and returns the user's id.
///
/// # Errors
/// 422 naming `token` when it is unknown, used or expired.
pub async fn verify_email(conn: &impl ConnectionTrait, ctx: &Ctx, token: &str) -> AppResult<i64> {
    let now = ctx.now();
    let user_id = consume_email_token(conn, token, TokenPurpose::VerifyEmail, now).await?;
    users::Entity::update_many()
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .col_expr(users::Column::EmailVerifiedAt, Some(now).into())
        .col_expr(users::Column::UpdatedAt, now.into())
        .exec(conn)
        .await?;
    Ok(user_id)
}

/// Verifies the address and opens a session for its user: the page behind the verification
/// link signs the person in, since opening the mailed single-use link proves the address just
/// as a reset link does, and a newcomer then continues where they were going.
///
/// # Errors
/// 422 naming `token` when it is unknown, used or expired; 401 for a closed account.
pub async fn verify_email_and_sign_in(
    state: &AppState,
    conn: &impl ConnectionTrait,
    token: &str,
) -> AppResult<TokenResponse> {
    let user_id = verify_email(conn, &state.ctx, token).await?;
    let active = users::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .is_some_and(|u| u.status == UserStatus::Active);
    if !active {
        return Err(invalid_credentials());
    }
    let family = uuid::Uuid::new_v4().to_string();
    issue_session(state, conn, user_id, family, state.now()).await
}

/// The user a page session (a refresh token kept in a cookie) belongs to, while the session
/// is neither revoked (log-out, password reset), expired, nor its account closed. Pages never
/// rotate the token, so this is a lookup only.
///
/// # Errors
/// Database failures only.
pub async fn session_user(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    token: &str,
) -> AppResult<Option<users::Model>> {
    let now = ctx.now();
    let row = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(conn)
        .await?;
    let Some(row) =
        row.filter(|r| r.revoked_at.is_none() && r.used_at.is_none() && r.expires_at > now)
    else {
        return Ok(None);
    };
    Ok(users::Entity::find_by_id(row.user_id)
        .one(conn)
        .await?
        .filter(|u| u.status == UserStatus::Active))
}

/// Sends a new verification email to a logged-in, unverified user.
///
/// # Errors
/// 409 when already verified; 429 when rate limited.
pub async fn resend_verification(state: &AppState, user: &CurrentUser) -> AppResult<()> {
    if user.email_verified {
        return Err(AppError::conflict(
            "already_verified",
            "the email address is already verified",
        ));
    }
    state
        .limits
        .check(
            &state.db,
            Bucket::Reset,
            &format!("user:{}", user.id),
            state.now(),
        )
        .await?;
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let model = users::Entity::find_by_id(user.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    queue_verification(state, &txn, &model, now, None).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

async fn issue_session(
    state: &AppState,
    txn: &impl ConnectionTrait,
    user_id: i64,
    family: String,
    now: DateTime<Utc>,
) -> AppResult<TokenResponse> {
    let (plain, hash) = random_token();
    let access_token = state.tokens.issue(user_id, &family, now)?;
    refresh_tokens::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family),
        token_hash: Set(hash),
        expires_at: Set(now + Duration::days(state.ctx.settings.refresh_token_days)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs(),
        refresh_token: plain,
    })
}

/// Checks the password and opens a session (a new refresh-token family).
///
/// # Errors
/// 401 `invalid_credentials` for an unknown address or a wrong password alike; 429.
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    client: &str,
) -> AppResult<TokenResponse> {
    let user = authenticate(state, email, password, client).await?;
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let tokens = issue_session(state, &txn, user.id, uuid::Uuid::new_v4().to_string(), now).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// Checks email and password (rate limited like login) without opening a session; for pages
/// that act once on the user's behalf.
///
/// # Errors
/// 401 `invalid_credentials` for an unknown address or a wrong password alike; 429.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    client: &str,
) -> AppResult<users::Model> {
    let normalized = normalize_email(email);
    state
        .limits
        .login_attempt(&state.db, &normalized, client, state.now())
        .await?;
    let user = users::Entity::find()
        .filter(users::Column::EmailNormalized.eq(&normalized))
        .one(&state.db)
        .await?;
    let ok = password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(u) if ok && u.status == UserStatus::Active => Ok(u),
        // Unknown addresses count like known ones, so the answers stay alike.
        _ => {
            state
                .limits
                .login_failed(&state.db, &normalized, client, state.now())
                .await?;
            Err(invalid_credentials())
        }
    }
}

async fn revoke_family(
    txn: &impl ConnectionTrait,
    family: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .col_expr(refresh_tokens::Column::RevokedAt, Some(now).into())
        .exec(txn)
        .await?;
    Ok(())
}

/// Exchanges a refresh token for a new pair. Presenting a spent token again is treated as
/// theft: the whole family is revoked.
///
/// # Errors
/// 401 `invalid_refresh_token` or `refresh_token_reused`.
pub async fn refresh(state: &AppState, token: &str) -> AppResult<TokenResponse> {
    let invalid = || {
        AppError::Unauthorized(
            "invalid_refresh_token",
            "the refresh token is invalid or expired".into(),
        )
    };
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let row = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    let taken = refresh_tokens::Entity::update_many()
        .filter(refresh_tokens::Column::Id.eq(row.id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .col_expr(refresh_tokens::Column::UsedAt, Some(now).into())
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        revoke_family(&txn, &row.family_id, now).await?;
        txn.commit().await?;
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reused; session family revoked"
        );
        return Err(AppError::Unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; the session has been ended".into(),
        ));
    }
    let active = users::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .is_some_and(|u| u.status == UserStatus::Active);
    if !active {
        return Err(invalid());
    }
    let tokens = issue_session(state, &txn, row.user_id, row.family_id, now).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// Ends the session the refresh token belongs to. Unknown tokens are ignored.
///
/// # Errors
/// Database failures only.
pub async fn logout(conn: &impl ConnectionTrait, ctx: &Ctx, token: &str) -> AppResult<()> {
    let now = ctx.now();
    let row = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(conn)
        .await?;
    if let Some(row) = row {
        revoke_family(conn, &row.family_id, now).await?;
    }
    Ok(())
}

/// Mails a reset link when the address has an account; answers the same either way.
///
/// # Errors
/// 429 when rate limited.
pub async fn request_password_reset(state: &AppState, email: &str, client: &str) -> AppResult<()> {
    let normalized = normalize_email(email);
    state
        .limits
        .check(&state.db, Bucket::Reset, client, state.now())
        .await?;
    state
        .limits
        .check(
            &state.db,
            Bucket::Reset,
            &format!("email:{normalized}"),
            state.now(),
        )
        .await?;
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let user = users::Entity::find()
        .filter(users::Column::EmailNormalized.eq(&normalized))
        .filter(users::Column::Status.eq(UserStatus::Active))
        .one(&txn)
        .await?;
    if let Some(user) = user {
        let token = create_email_token(
            &txn,
            user.id,
            TokenPurpose::PasswordReset,
            now + Duration::minutes(RESET_TTL_MINUTES),
            now,
        )
        .await?;
        let locale = Locale::parse_lenient(&user.locale);
        let link = format!("{}/reset-password?token={token}", state.ctx.public_url);
        let content = kinds::reset(locale, &user.display_name, link, RESET_TTL_MINUTES);
        let email = NewEmail {
            kind: "password_reset",
            recipient: user.email.clone(),
            user_id: Some(user.id),
            content,
            idempotency_key: format!(
                "password_reset:{}:{}",
                user.id,
                sha256_hex(token.as_bytes())
            ),
            headers: Vec::new(),
        };
        enqueue(&txn, email, now, &state.ctx.mail_domain).await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Sets a new password from a reset token and ends every session of the account. Receiving
/// the email also proves the address.
///
/// # Errors
/// 422 naming `token` when it is unknown, used or expired.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    new_password: String,
) -> AppResult<()> {
    // Hashed before the write transaction begins, so no lock is held while argon2 runs.
    let hash = password::hash(new_password).await?;
    state
        .write(async |txn| set_password_by_token(txn, &state.ctx, token, hash).await)
        .await
}

/// Consumes a reset token and sets the (already hashed) password, ending every session.
///
/// # Errors
/// 404 for an unknown, used or expired token.
pub async fn set_password_by_token(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    token: &str,
    hash: String,
) -> AppResult<()> {
    let now = ctx.now();
    let user_id = consume_email_token(conn, token, TokenPurpose::PasswordReset, now).await?;
    let user = users::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let verified = user.email_verified_at.or(Some(now));
    let mut active: users::ActiveModel = user.into();
    active.password_hash = Set(hash);
    active.email_verified_at = Set(verified);
    active.updated_at = Set(now);
    active.update(conn).await?;
    refresh_tokens::Entity::update_many()
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .col_expr(refresh_tokens::Column::RevokedAt, Some(now).into())
        .exec(conn)
        .await?;
    Ok(())
}

/// The user's account row.
///
/// # Errors
/// 404 when the account vanished meanwhile.
pub async fn me(state: &AppState, user: &CurrentUser) -> AppResult<users::Model> {
    users::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Changes display name or language.
///
/// # Errors
/// Database failures.
pub async fn update_me(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    update: MeUpdate,
) -> AppResult<users::Model> {
    let model = users::Entity::find_by_id(user.id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut active: users::ActiveModel = model.into();
    if let Some(name) = update.display_name {
        active.display_name = Set(name.trim().to_owned());
    }
    if let Some(locale) = update.locale {
        active.locale = Set(locale.as_str().into());
    }
    active.updated_at = Set(ctx.now());
    let model = active.update(conn).await?;
    Ok(model)
}

/// Everything held about the user, as one JSON document.
///
/// # Errors
/// Database failures.
pub async fn export(state: &AppState, user: &CurrentUser) -> AppResult<serde_json::Value> {
    let account = me(state, user).await?;
    let parts = participations::Entity::find()
        .filter(participations::Column::UserId.eq(user.id))
        .find_with_related(signatures::Entity)
        .all(&state.db)
        .await?;
    let roles = group_roles::Entity::find()
        .filter(group_roles::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?;
    let emails = outbox::Entity::find()
        .filter(outbox::Column::UserId.eq(user.id))
        .order_by_asc(outbox::Column::Id)
        .all(&state.db)
        .await?;
    let evidence = evidence::Entity::find()
        .filter(evidence::Column::UserId.eq(user.id))
        .order_by_asc(evidence::Column::Id)
        .all(&state.db)
        .await?;
    let part_ids: Vec<i64> = parts.iter().map(|(p, _)| p.id).collect();
    let contacts = interactions::Entity::find()
        .filter(interactions::Column::ParticipationId.is_in(part_ids))
        .order_by_asc(interactions::Column::OccurredAt)
        .all(&state.db)
        .await?;
    let sessions = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?;
    let receipts = crate::dossier::receipts::mine(state, user).await?;
    Ok(json!({
        "exported_at": state.now(),
        "account": {
            "id": account.id, "email": account.email, "display_name": account.display_name,
            "locale": account.locale, "email_verified_at": account.email_verified_at,
            "created_at": account.created_at,
        },
        "participations": parts.into_iter().map(|(p, sigs)| json!({
            "participation": p,
            "signatures": sigs,
        })).collect::<Vec<_>>(),
        "group_roles": roles,
        "evidence": evidence.into_iter().map(crate::evidence::dto::EvidenceView::from).collect::<Vec<_>>(),
        "interactions": contacts.into_iter().map(crate::interactions::dto::InteractionView::from).collect::<Vec<_>>(),
        "emails": emails.into_iter().map(|e| json!({
            "kind": e.kind, "subject": e.subject, "status": e.status,
            "created_at": e.created_at, "sent_at": e.sent_at,
        })).collect::<Vec<_>>(),
        "receipts": receipts,
        "sessions": sessions.into_iter().map(|s| json!({
            "created_at": s.created_at, "expires_at": s.expires_at,
            "used_at": s.used_at, "revoked_at": s.revoked_at,
        })).collect::<Vec<_>>(),
    }))
}

/// Deletes the account and what belongs only to it, after checking the password. A user who
/// owns a group that others have joined must hand it over first.
///
/// # Errors
/// 401 on a wrong password; 409 `owner_must_transfer`.
pub async fn delete_me(state: &AppState, user: &CurrentUser, password: String) -> AppResult<()> {
    let account = me(state, user).await?;
    if !password::verify(password, Some(account.password_hash.clone())).await? {
        return Err(invalid_credentials());
    }
    let txn = db::write_txn(&state.db).await?;
    let owned = group_roles::Entity::find()
        .filter(group_roles::Column::UserId.eq(user.id))
        .filter(group_roles::Column::Role.eq(Role::Owner))
        .all(&txn)
        .await?;
    for role in &owned {
        let others = participations::Entity::find()
            .filter(participations::Column::GroupId.eq(role.group_id))
            .filter(participations::Column::UserId.ne(user.id))
            .filter(
                participations::Column::Status
                    .is_in([ParticipationStatus::Active, ParticipationStatus::Pending]),
            )
            .one(&txn)
            .await?;
        if others.is_some() {
            return Err(AppError::conflict(
                "owner_must_transfer",
                "you own a group that others have joined; transfer ownership first",
            ));
        }
        crate::entities::groups::Entity::delete_by_id(role.group_id)
            .exec(&txn)
            .await?;
    }
    let released = crate::evidence::service::delete_all_of_user(&txn, user.id).await?;
    users::Entity::delete_by_id(user.id).exec(&txn).await?;
    txn.commit().await?;
    state.views.invalidate();
    crate::blob::refs::collect(&state.db, state.blobs.as_ref(), &released).await?;
    Ok(())
}

/// Creates an account from the command line (already verified), returning its id.
///
/// # Errors
/// 409 when the address is taken.
pub async fn create_user_cli(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    display_name: &str,
    password: String,
    admin: bool,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let hash = password::hash(password).await?;
    let txn = db.begin().await?;
    let user = users::ActiveModel {
        email: Set(email.trim().to_owned()),
        email_normalized: Set(normalize_email(email)),
        display_name: Set(display_name.to_owned()),
        password_hash: Set(hash),
        locale: Set(Locale::ZhCn.as_str().to_owned()),
        is_admin: Set(admin),
        status: Set(UserStatus::Active),
        email_verified_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::conflict("email_taken", "an account with this email exists")
        } else {
            e.into()
        }
    })?;
    txn.commit().await?;
    Ok(user.id)
}
