//! A group's status as a state machine: gathering → submitted → responded → closed (with an
//! outcome); `escalated` from submitted or responded when the next channel is tried, and from
//! there back to submitted or responded, or closed. A group may be withdrawn (closed with the
//! outcome `withdrawn`) at any stage before it is closed. Anything else is refused with 409 and
//! changes nothing.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde_json::json;

use super::dto::{GroupOutcome, StatusChange};
use crate::auth::CurrentUser;
use crate::entities::groups;
use crate::error::{AppError, AppResult};
use crate::groups::access::{Role, require_role};
use crate::groups::dto::{GroupStatus, GroupView};
use crate::groups::service::{audit, by_slug, view};
use crate::state::Ctx;

/// Whether a group in status `from` may move to `to` (with `outcome` when closing).
#[must_use]
pub fn allowed(from: GroupStatus, to: GroupStatus, outcome: Option<GroupOutcome>) -> bool {
    use GroupStatus::{Closed, Escalated, Gathering, Responded, Submitted};
    let withdrawing = to == Closed && outcome == Some(GroupOutcome::Withdrawn);
    match from {
        Gathering => to == Submitted || withdrawing,
        Submitted => matches!(to, Responded | Escalated) || withdrawing,
        Responded => matches!(to, Escalated | Closed),
        Escalated => matches!(to, Submitted | Responded | Closed),
        Closed => false,
    }
}

/// Moves a group to another status (organisers); answers the group's public view.
///
/// # Errors
/// 403 unless an organiser; 404 unknown group; 422 when closing without an outcome or giving
/// one otherwise; 409 `illegal_status_transition` for a move the machine does not allow.
pub async fn change(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: StatusChange,
) -> AppResult<GroupView> {
    let closing = req.status == GroupStatus::Closed;
    match (closing, req.outcome) {
        (true, None) => return Err(AppError::field("outcome", "is required when closing")),
        (false, Some(_)) => {
            return Err(AppError::field("outcome", "is given only when closing"));
        }
        _ => {}
    }
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Organiser).await?;
    let group = access.into_group();
    let from = group.status;
    if !allowed(from, req.status, req.outcome) {
        return Err(AppError::conflict(
            "illegal_status_transition",
            format!(
                "a group that is {from} cannot become {}{}",
                req.status.as_str(),
                req.outcome
                    .map(|o| format!(" ({})", o.as_str()))
                    .unwrap_or_default()
            ),
        ));
    }
    let group_id = group.id;
    let mut active: groups::ActiveModel = group.into();
    active.status = Set(req.status);
    active.outcome = Set(req.outcome);
    active.closed_at = Set(closing.then_some(now));
    active.updated_at = Set(now);
    let group = active.update(conn).await?;
    audit(
        conn,
        group_id,
        user.id,
        "group.status",
        None,
        json!({
            "from": from,
            "to": group.status,
            "outcome": group.outcome,
        }),
        now,
    )
    .await?;
    view(conn, group).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use GroupOutcome::{ResolvedMonetary, Withdrawn};
    use GroupStatus::{Closed, Escalated, Gathering, Responded, Submitted};

    #[test]
    fn the_machine_allows_only_its_edges() {
        assert!(allowed(Gathering, Submitted, None));
        assert!(allowed(Submitted, Responded, None));
        assert!(allowed(Responded, Closed, Some(ResolvedMonetary)));
        assert!(allowed(Submitted, Escalated, None));
        assert!(allowed(Escalated, Submitted, None));
        assert!(allowed(Gathering, Closed, Some(Withdrawn)));
        assert!(!allowed(Gathering, Responded, None));
        assert!(!allowed(Gathering, Escalated, None));
        assert!(!allowed(Gathering, Closed, Some(ResolvedMonetary)));
        assert!(!allowed(Submitted, Submitted, None));
        assert!(!allowed(Responded, Submitted, None));
        assert!(!allowed(Closed, Gathering, None));
        assert!(!allowed(Closed, Closed, Some(Withdrawn)));
    }
}
