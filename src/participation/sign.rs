//! Re-signing: after the joint statement changed, a participant signs the new version. Each
//! signature is kept with the version it signed.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

use super::dto::{ParticipationView, SignatureInput};
use super::service::{require_mine, view};
use crate::auth::CurrentUser;
use crate::entities::enums::ParticipationStatus;
use crate::entities::{participations, signatures};
use crate::error::{AppError, AppResult};
use crate::groups::service::current_statement;
use crate::state::Ctx;

/// Signs the group's current statement again (pending or active participants).
///
/// # Errors
/// 404 when not joined; 409 when withdrawn or rejected, when the version is not the current
/// one, or when the current version is already signed.
pub async fn sign(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: SignatureInput,
) -> AppResult<ParticipationView> {
    let now = ctx.now();
    let (group, p) = require_mine(conn, slug, user.id).await?;
    if !matches!(
        p.status,
        ParticipationStatus::Pending | ParticipationStatus::Active
    ) {
        return Err(AppError::conflict(
            "participation_inactive",
            format!("the participation is {}", p.status),
        ));
    }
    let statement = current_statement(conn, &group).await?;
    if req.statement_version != statement.version {
        return Err(AppError::conflict(
            "statement_version_stale",
            format!(
                "the joint statement is now at version {}; read it and sign that version",
                statement.version
            ),
        ));
    }
    if p.signed_statement_version == Some(statement.version) {
        return Err(AppError::conflict(
            "already_signed",
            "you already signed the current version",
        ));
    }
    signatures::ActiveModel {
        participation_id: Set(p.id),
        statement_version: Set(statement.version),
        statement_sha256: Set(statement.sha256.clone()),
        full_name: Set(req.full_name.trim().to_owned()),
        consent_share_identity: Set(p.consent_share_identity),
        signed_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let mut active: participations::ActiveModel = p.into();
    active.signed_statement_version = Set(Some(statement.version));
    active.updated_at = Set(now);
    let p = active.update(conn).await?;
    let out = view(conn, &group, p).await?;
    Ok(out)
}
