//! Who may see or change a group's resources: the one place that decides. Every service that
//! serves a group's roster, evidence, timeline, dossiers, team or a participant's own record
//! asks here and gets either a proof (a type only this module can make) or a refusal.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::CurrentUser;
use crate::entities::enums::ParticipationStatus;
use crate::entities::{group_roles, groups, participations};
use crate::error::{AppError, AppResult};
use crate::groups::service::by_slug;

pub use crate::entities::enums::Role;

/// Proof that a user holds at least some role in a group; only [`require_role`] makes one.
#[derive(Debug, Clone)]
pub struct GroupAccess {
    group: groups::Model,
    user_id: i64,
    role: Role,
}

impl GroupAccess {
    /// The group.
    #[must_use]
    pub fn group(&self) -> &groups::Model {
        &self.group
    }

    /// The group, giving up the proof.
    #[must_use]
    pub fn into_group(self) -> groups::Model {
        self.group
    }

    /// The user who holds the role.
    #[must_use]
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The role actually held (at least the one required).
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }
}

/// Who is looking at a group: the public, a participant, a team member (or both). Made only
/// by [`Viewer::of`]; what each may see is answered by its methods, nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    user_id: Option<i64>,
    role: Option<Role>,
    participation: Option<ParticipationStatus>,
}

impl Viewer {
    /// Someone who is not logged in.
    pub const PUBLIC: Self = Self {
        user_id: None,
        role: None,
        participation: None,
    };

    /// Who `user` is in the group `group_id`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn of(
        conn: &impl ConnectionTrait,
        group_id: i64,
        user: Option<&CurrentUser>,
    ) -> AppResult<Self> {
        let Some(user) = user else {
            return Ok(Self::PUBLIC);
        };
        Ok(Self {
            user_id: Some(user.id),
            role: role_of(conn, group_id, user.id).await?,
            participation: find_mine(conn, group_id, user.id).await?.map(|p| p.status),
        })
    }

    /// The team role held, if any.
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Whether the viewer is on the group's team (any role).
    #[must_use]
    pub fn is_team(&self) -> bool {
        self.role.is_some()
    }

    /// Whether the viewer may read participants-only timeline entries: the team and active
    /// participants.
    #[must_use]
    pub fn sees_participant_entries(&self) -> bool {
        self.is_team() || self.participation == Some(ParticipationStatus::Active)
    }

    /// Whether the viewer may read the files and contact log of the participant `owner`:
    /// that participant and the group's team.
    #[must_use]
    pub fn may_read_files_of(&self, owner: i64) -> bool {
        self.user_id == Some(owner) || self.is_team()
    }
}

/// The role `user_id` holds in `group_id`, if any.
///
/// # Errors
/// Database failures.
pub async fn role_of(
    conn: &impl ConnectionTrait,
    group_id: i64,
    user_id: i64,
) -> AppResult<Option<Role>> {
    Ok(group_roles::Entity::find()
        .filter(group_roles::Column::GroupId.eq(group_id))
        .filter(group_roles::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .map(|r| r.role))
}

/// Checks that `user_id` holds at least `min` in `group`.
///
/// # Errors
/// 403 `not_an_organiser` otherwise.
pub async fn require_role(
    conn: &impl ConnectionTrait,
    group: groups::Model,
    user_id: i64,
    min: Role,
) -> AppResult<GroupAccess> {
    match role_of(conn, group.id, user_id).await? {
        Some(role) if role >= min => Ok(GroupAccess {
            group,
            user_id,
            role,
        }),
        _ => Err(AppError::forbidden(
            "not_an_organiser",
            format!("this needs the {} role in the group", min.as_str()),
        )),
    }
}

/// The caller's participation in `group`, if any.
///
/// # Errors
/// Database failures.
pub async fn find_mine(
    conn: &impl ConnectionTrait,
    group_id: i64,
    user_id: i64,
) -> AppResult<Option<participations::Model>> {
    Ok(participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(participations::Column::UserId.eq(user_id))
        .one(conn)
        .await?)
}

/// The caller's participation in the group `slug`, with the group — the one place that grants
/// a participant access to their own record; anyone else gets 404.
///
/// # Errors
/// 404 when the group is unknown or the caller has not joined.
pub async fn require_mine(
    conn: &impl ConnectionTrait,
    slug: &str,
    user_id: i64,
) -> AppResult<(groups::Model, participations::Model)> {
    let group = by_slug(conn, slug).await?;
    let p = find_mine(conn, group.id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((group, p))
}
