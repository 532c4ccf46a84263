//! Submissions: the complaint sent to a recipient through a channel, with its answer period,
//! extensions and a clock read at the time of each request.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use super::deadlines::{Calendar, Channel, clock};
use super::dto::{ExtendRequest, SubmissionCreate, SubmissionView};
use crate::auth::CurrentUser;
use crate::entities::{dossiers, submissions};
use crate::error::{AppError, AppResult};
use crate::groups::access::{Role, require_role};
use crate::groups::service::{audit, by_slug};
use crate::state::{AppState, Ctx};

/// Longest total extension of one submission, in counted days.
const MAX_EXTENSION_DAYS: i32 = 730;

/// The view of a submission with its clock read at `now`.
///
/// # Errors
/// 500 for a corrupt stored channel.
pub fn view(
    cal: &Calendar,
    s: submissions::Model,
    now: DateTime<Utc>,
) -> AppResult<SubmissionView> {
    let c = clock(cal, &s, now)?;
    Ok(SubmissionView {
        next_step: Some(s.channel).and_then(Channel::next),
        id: s.id,
        channel: s.channel,
        recipient: s.recipient,
        reference: s.reference,
        submitted_at: s.submitted_at,
        dossier_version: s.dossier_version,
        due_days: s.due_days,
        due_kind: s.due_kind,
        extension_days: s.extension_days,
        extension_reason: s.extension_reason,
        due_at: c.due_at,
        very_overdue_at: c.very_overdue_at,
        first_response_at: s.first_response_at,
        state: c.state,
        answered_on_time: c.on_time,
        day: c.day,
        of: c.period,
        created_at: s.created_at,
    })
}

/// Every submission of a group, newest first, with clocks read at `now`.
///
/// # Errors
/// Database failures.
pub async fn views_for_group(
    conn: &impl ConnectionTrait,
    group_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Vec<SubmissionView>> {
    let rows = submissions::Entity::find()
        .filter(submissions::Column::GroupId.eq(group_id))
        .order_by_desc(submissions::Column::SubmittedAt)
        .order_by_desc(submissions::Column::Id)
        .all(conn)
        .await?;
    let cal = Calendar::load(conn).await?;
    rows.into_iter().map(|s| view(&cal, s, now)).collect()
}

/// Records a submission (organisers); the period defaults to the channel's.
///
/// # Errors
/// 403 unless an organiser; 404 unknown group; 422 for a time in the future or an unknown
/// dossier version.
pub async fn create(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: SubmissionCreate,
) -> AppResult<SubmissionView> {
    let now = ctx.now();
    if req.submitted_at > now {
        return Err(AppError::field("submitted_at", "must not be in the future"));
    }
    let (default_days, default_kind) = req.channel.default_period();
    let due_days = req.due_days.unwrap_or(default_days);
    let due_kind = req.due_kind.unwrap_or(default_kind);
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Organiser).await?;
    let group_id = access.group().id;
    if let Some(version) = req.dossier_version {
        let exists = dossiers::Entity::find()
            .filter(dossiers::Column::GroupId.eq(group_id))
            .filter(dossiers::Column::Version.eq(version))
            .count(conn)
            .await?
            > 0;
        if !exists {
            return Err(AppError::field(
                "dossier_version",
                "this group has no dossier of this version",
            ));
        }
    }
    let cal = Calendar::load(conn).await?;
    let model = submissions::ActiveModel {
        group_id: Set(group_id),
        dossier_version: Set(req.dossier_version),
        channel: Set(req.channel),
        recipient: Set(req.recipient.trim().to_owned()),
        reference: Set(req
            .reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)),
        submitted_at: Set(req.submitted_at),
        due_days: Set(due_days),
        due_kind: Set(due_kind),
        due_at: Set(cal.due_at(req.submitted_at, i64::from(due_days), due_kind)),
        extension_days: Set(0),
        extension_reason: Set(None),
        first_response_at: Set(None),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    audit(
        conn,
        group_id,
        user.id,
        "submission.create",
        Some(model.id.to_string()),
        json!({
            "channel": model.channel,
            "recipient": model.recipient,
            "reference": model.reference,
            "due_days": due_days,
            "due_kind": model.due_kind,
        }),
        now,
    )
    .await?;
    view(&cal, model, now)
}

/// Every submission of the group `slug`, with clocks (anyone may read them).
///
/// # Errors
/// 404 unknown group.
pub async fn list(state: &AppState, slug: &str) -> AppResult<Vec<SubmissionView>> {
    let group = by_slug(&state.db, slug).await?;
    views_for_group(&state.db, group.id, state.now()).await
}

/// Extends a submission's period by `days` of its kind (organisers).
///
/// # Errors
/// 403 unless an organiser; 404 unknown group or submission; 409 once answered; 422 past
/// the longest extension.
pub async fn extend(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    id: i64,
    req: ExtendRequest,
) -> AppResult<SubmissionView> {
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Organiser).await?;
    let group_id = access.group().id;
    let s = submissions::Entity::find_by_id(id)
        .filter(submissions::Column::GroupId.eq(group_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if s.first_response_at.is_some() {
        return Err(AppError::conflict(
            "submission_answered",
            "the recipient already answered; nothing is left to extend",
        ));
    }
    let total = s.extension_days + req.days;
    if total > MAX_EXTENSION_DAYS {
        return Err(AppError::field(
            "days",
            format!("extensions may add at most {MAX_EXTENSION_DAYS} days in all"),
        ));
    }
    let reason = req.reason.trim().to_owned();
    let reasons = match &s.extension_reason {
        Some(before) => format!("{before}\n{reason}"),
        None => reason.clone(),
    };
    let cal = Calendar::load(conn).await?;
    let kind = s.due_kind;
    let due_at = cal.due_at(s.submitted_at, i64::from(s.due_days + total), kind);
    let mut active: submissions::ActiveModel = s.into();
    active.extension_days = Set(total);
    active.extension_reason = Set(Some(reasons));
    active.due_at = Set(due_at);
    let model = active.update(conn).await?;
    audit(
        conn,
        group_id,
        user.id,
        "submission.extend",
        Some(model.id.to_string()),
        json!({"days": req.days, "reason": reason, "due_at": due_at}),
        now,
    )
    .await?;
    view(&cal, model, now)
}
