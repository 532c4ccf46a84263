//! Who hears about a group: its participants (active or pending) and its organisers, with the
//! digest mode each chose for it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::prefs::{DigestMode, defaults};
use crate::entities::enums::{ParticipationStatus, Role, UpdateVisibility, UserStatus};
use crate::entities::{
    group_roles, notification_overrides, notification_prefs, participations, updates, users,
};
use crate::error::AppResult;

/// One person attached to a group.
#[derive(Debug, Clone)]
pub struct Member {
    /// The account.
    pub user: users::Model,
    /// Their participation, if they joined.
    pub participation: Option<participations::Model>,
    /// Their organiser role, if any (`owner`, `organiser`, `moderator`).
    pub role: Option<Role>,
    /// The mode they chose for this group (override, else their default).
    pub mode: DigestMode,
}

impl Member {
    /// Whether they may read `update` (participants-only entries need an active participation
    /// or a role).
    #[must_use]
    pub fn can_see(&self, update: &updates::Model) -> bool {
        update.visibility == UpdateVisibility::Public
            || self.role.is_some()
            || self
                .participation
                .as_ref()
                .is_some_and(|p| p.status == ParticipationStatus::Active)
    }
}

/// The members of a group who have a verified address.
///
/// # Errors
/// Database failures.
pub async fn of_group(
    conn: &impl ConnectionTrait,
    group_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Vec<Member>> {
    let parts = participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(
            participations::Column::Status
                .is_in([ParticipationStatus::Active, ParticipationStatus::Pending]),
        )
        .all(conn)
        .await?;
    let roles = group_roles::Entity::find()
        .filter(group_roles::Column::GroupId.eq(group_id))
        .all(conn)
        .await?;
    let mut by_user: HashMap<i64, (Option<participations::Model>, Option<Role>)> = HashMap::new();
    for p in parts {
        let user_id = p.user_id;
        by_user.entry(user_id).or_default().0 = Some(p);
    }
    for r in roles {
        by_user.entry(r.user_id).or_default().1 = Some(r.role);
    }
    let ids: Vec<i64> = by_user.keys().copied().collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let accounts = users::Entity::find()
            .filter(users::Column::Id.is_in(chunk.iter().copied()))
            .filter(users::Column::EmailVerifiedAt.is_not_null())
            .filter(users::Column::Status.eq(UserStatus::Active))
            .all(conn)
            .await?;
        let prefs: HashMap<i64, notification_prefs::Model> = notification_prefs::Entity::find()
            .filter(notification_prefs::Column::UserId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.user_id, p))
            .collect();
        let overrides: HashMap<i64, DigestMode> = notification_overrides::Entity::find()
            .filter(notification_overrides::Column::GroupId.eq(group_id))
            .filter(notification_overrides::Column::UserId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.user_id, o.digest))
            .collect();
        for user in accounts {
            let default = prefs
                .get(&user.id)
                .cloned()
                .unwrap_or_else(|| defaults(user.id, now));
            let mode = overrides.get(&user.id).copied().unwrap_or(default.digest);
            let (participation, role) = by_user.remove(&user.id).unwrap_or_default();
            out.push(Member {
                user,
                participation,
                role,
                mode,
            });
        }
    }
    Ok(out)
}
