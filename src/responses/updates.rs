//! The group timeline: what the provider and other recipients said and did, escalations and
//! organiser notes, each public or for participants only. An answer tied to a submission stops
//! that submission's clock.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::dto::{UpdateCreate, UpdateView, UpdateVisibility};
use crate::auth::CurrentUser;
use crate::entities::{submissions, updates};
use crate::error::{AppError, AppResult};
use crate::groups::access::{Role, Viewer, require_role};
use crate::groups::service::{audit, by_slug};
use crate::state::Ctx;

/// Most entries a timeline answers at once.
const TIMELINE_LIMIT: u64 = 500;

impl From<updates::Model> for UpdateView {
    fn from(u: updates::Model) -> Self {
        Self {
            id: u.id,
            kind: u.kind,
            response_class: u.response_class,
            submission_id: u.submission_id,
            title: u.title,
            body: u.body,
            visibility: u.visibility,
            occurred_at: u.occurred_at,
            created_at: u.created_at,
        }
    }
}

/// Records a timeline entry (organisers). An answer linked to a submission that had none
/// sets the submission's first answer time.
///
/// # Errors
/// 403 unless an organiser; 404 unknown group; 422 for a response class on an organiser's own
/// entry, a time in the future, or a submission of another group.
pub async fn create(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: UpdateCreate,
) -> AppResult<UpdateView> {
    let now = ctx.now();
    if req.response_class.is_some() && !req.kind.from_recipient() {
        return Err(AppError::field(
            "response_class",
            "only entries about what a recipient said or did carry a response class",
        ));
    }
    let occurred_at = req.occurred_at.unwrap_or(now);
    if occurred_at > now {
        return Err(AppError::field("occurred_at", "must not be in the future"));
    }
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Organiser).await?;
    let group_id = access.group().id;
    if let Some(id) = req.submission_id {
        let submission = submissions::Entity::find_by_id(id)
            .filter(submissions::Column::GroupId.eq(group_id))
            .one(conn)
            .await?
            .ok_or_else(|| {
                AppError::field("submission_id", "no submission of this group has this id")
            })?;
        if occurred_at < submission.submitted_at {
            return Err(AppError::field(
                "occurred_at",
                "must not be before the submission was sent",
            ));
        }
        if req.kind.answers() && submission.first_response_at.is_none() {
            let mut active: submissions::ActiveModel = submission.into();
            active.first_response_at = Set(Some(occurred_at));
            active.update(conn).await?;
        }
    }
    let update = updates::ActiveModel {
        group_id: Set(group_id),
        submission_id: Set(req.submission_id),
        kind: Set(req.kind),
        response_class: Set(req.response_class),
        title: Set(req.title.trim().to_owned()),
        body: Set(req.body.trim().to_owned()),
        visibility: Set(req.visibility),
        author_id: Set(Some(user.id)),
        occurred_at: Set(occurred_at),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    audit(
        conn,
        group_id,
        user.id,
        "update.create",
        Some(update.id.to_string()),
        json!({
            "kind": update.kind,
            "response_class": update.response_class,
            "submission_id": update.submission_id,
            "visibility": update.visibility,
        }),
        now,
    )
    .await?;
    Ok(update.into())
}

/// The timeline, newest first: everyone sees public entries; active participants and the
/// team also see participants-only ones. Asking for participants-only entries without that
/// right is refused.
///
/// # Errors
/// 404 unknown group; 403 `participants_only` for a refused `visibility=participants`.
pub async fn list(
    conn: &impl ConnectionTrait,
    viewer: Option<&CurrentUser>,
    slug: &str,
    visibility: Option<UpdateVisibility>,
) -> AppResult<Vec<UpdateView>> {
    let group = by_slug(conn, slug).await?;
    let private = Viewer::of(conn, group.id, viewer)
        .await?
        .sees_participant_entries();
    if visibility == Some(UpdateVisibility::Participants) && !private {
        return Err(AppError::forbidden(
            "participants_only",
            "these entries are for the group's active participants and organisers",
        ));
    }
    let mut query = updates::Entity::find().filter(updates::Column::GroupId.eq(group.id));
    match visibility {
        Some(v) => query = query.filter(updates::Column::Visibility.eq(v)),
        None if !private => {
            query = query.filter(updates::Column::Visibility.eq(UpdateVisibility::Public));
        }
        None => {}
    }
    Ok(query
        .order_by_desc(updates::Column::OccurredAt)
        .order_by_desc(updates::Column::Id)
        .limit(TIMELINE_LIMIT)
        .all(conn)
        .await?
        .into_iter()
        .map(UpdateView::from)
        .collect())
}

/// The latest `limit` public entries of a group, for its public view.
///
/// # Errors
/// Database failures.
pub async fn public_timeline(
    conn: &impl ConnectionTrait,
    group_id: i64,
    limit: u64,
) -> AppResult<Vec<UpdateView>> {
    Ok(updates::Entity::find()
        .filter(updates::Column::GroupId.eq(group_id))
        .filter(updates::Column::Visibility.eq(UpdateVisibility::Public))
        .order_by_desc(updates::Column::OccurredAt)
        .order_by_desc(updates::Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(UpdateView::from)
        .collect())
}
