//! Who may do what to a group: the one place organiser rights are checked.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::{group_roles, groups};
use crate::error::{AppError, AppResult};

/// A role in a group, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Moderates the roster.
    Moderator,
    /// Runs the group: statement, updates, submissions, dossiers.
    Organiser,
    /// Created or was handed the group; may transfer it.
    Owner,
}

impl Role {
    /// Reads a stored role.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "moderator" => Some(Self::Moderator),
            "organiser" => Some(Self::Organiser),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// The stored value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::Organiser => "organiser",
            Self::Owner => "owner",
        }
    }
}

/// Proof that a user holds at least some role in a group; only [`require_role`] makes one.
#[derive(Debug, Clone)]
pub struct GroupAccess {
    /// The group.
    pub group: groups::Model,
    /// The user.
    pub user_id: i64,
    /// The role actually held.
    pub role: Role,
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
        .and_then(|r| Role::parse(&r.role)))
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
