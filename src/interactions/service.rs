//! Contact-log rules: entries belong to the caller's own participation; times are not in the
//! future.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::dto::{InteractionCreate, InteractionUpdate};
use crate::auth::CurrentUser;
use crate::entities::interactions;
use crate::error::{AppError, AppResult};
use crate::evidence::service::require_open_participation;
use crate::participation::service::require_mine;
use crate::state::{AppState, Ctx};

fn check_when(at: DateTime<Utc>, now: DateTime<Utc>) -> AppResult<()> {
    // A few minutes of slack for clocks of phones that run ahead.
    if at > now + chrono::Duration::minutes(5) {
        return Err(AppError::field("occurred_at", "must not be in the future"));
    }
    if at
        < Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(now)
    {
        return Err(AppError::field("occurred_at", "must be in 2000 or later"));
    }
    Ok(())
}

fn clean(s: Option<String>) -> String {
    s.map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// Logs a contact on the caller's participation in `slug`.
///
/// # Errors
/// 403/404/409 as for uploads; 422 for a bad time.
pub async fn create(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: InteractionCreate,
) -> AppResult<interactions::Model> {
    let now = ctx.now();
    check_when(req.occurred_at, now)?;
    let p = require_open_participation(conn, user, slug).await?;
    let row = interactions::ActiveModel {
        participation_id: Set(p.id),
        occurred_at: Set(req.occurred_at),
        channel: Set(req.channel),
        agent: Set(clean(req.agent)),
        ticket_ref: Set(clean(req.ticket_ref)),
        summary: Set(clean(req.summary)),
        outcome: Set(req.outcome),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row)
}

/// The caller's contact log in `slug`, oldest first.
///
/// # Errors
/// 404 when not joined.
pub async fn list_mine(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<Vec<interactions::Model>> {
    let (_, p) = require_mine(&state.db, slug, user.id).await?;
    Ok(interactions::Entity::find()
        .filter(interactions::Column::ParticipationId.eq(p.id))
        .order_by_asc(interactions::Column::OccurredAt)
        .order_by_asc(interactions::Column::Id)
        .all(&state.db)
        .await?)
}

async fn require_entry(
    txn: &impl sea_orm::ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    id: i64,
) -> AppResult<interactions::Model> {
    let (_, p) = require_mine(txn, slug, user.id).await?;
    interactions::Entity::find_by_id(id)
        .filter(interactions::Column::ParticipationId.eq(p.id))
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Changes one of the caller's entries.
///
/// # Errors
/// 404 unless it is the caller's.
pub async fn update(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    id: i64,
    upd: InteractionUpdate,
) -> AppResult<interactions::Model> {
    let now = ctx.now();
    if let Some(at) = upd.occurred_at {
        check_when(at, now)?;
    }
    let entry = require_entry(conn, user, slug, id).await?;
    let mut active: interactions::ActiveModel = entry.into();
    if let Some(at) = upd.occurred_at {
        active.occurred_at = Set(at);
    }
    if let Some(c) = upd.channel {
        active.channel = Set(c);
    }
    if upd.agent.is_some() {
        active.agent = Set(clean(upd.agent));
    }
    if upd.ticket_ref.is_some() {
        active.ticket_ref = Set(clean(upd.ticket_ref));
    }
    if upd.summary.is_some() {
        active.summary = Set(clean(upd.summary));
    }
    if let Some(o) = upd.outcome {
        active.outcome = Set(o);
    }
    active.updated_at = Set(now);
    let row = active.update(conn).await?;
    Ok(row)
}

/// Deletes one of the caller's entries.
///
/// # Errors
/// 404 unless it is the caller's.
pub async fn delete(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    id: i64,
) -> AppResult<()> {
    let entry = require_entry(conn, user, slug, id).await?;
    interactions::Entity::delete_by_id(entry.id)
        .exec(conn)
        .await?;
    Ok(())
}
