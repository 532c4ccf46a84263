//! A group's team: one owner, co-organisers and moderators. Organisers invite by email (the
//! link goes through the outbox; accepting needs a verified account with that address), remove
//! members, and the owner hands the group over. Every action is written to the audit log,
//! which the team may read.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::access::{Role, require_role, role_of};
use super::service::{audit, by_slug};
use super::team_dto::{
    AcceptedInvite, AuditEntry, AuditPage, AuditQuery, InviteRequest, InviteView, MemberView,
    RoleChange, TeamView, TransferRequest,
};
use crate::auth::CurrentUser;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::domain::normalize_email;
use crate::entities::{audit_log, group_invites, group_roles, groups, users};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::state::Ctx;

/// How long an invitation link works.
const INVITE_TTL_DAYS: i64 = 7;

impl From<group_invites::Model> for InviteView {
    fn from(i: group_invites::Model) -> Self {
        Self {
            id: i.id,
            email: i.email,
            role: i.role,
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
        }
    }
}

/// Invites `req.email` to take a role in the group (organisers) and queues the email with
/// the link.
///
/// # Errors
/// 403 unless an organiser; 404 unknown group; 409 when that address already has a role.
pub async fn invite(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: InviteRequest,
) -> AppResult<InviteView> {
    let now = ctx.now();
    let normalized = normalize_email(&req.email);
    let group = by_slug(conn, slug).await?;
    let group = require_role(conn, group, user.id, Role::Organiser)
        .await?
        .into_group();
    let invitee = users::Entity::find()
        .filter(users::Column::EmailNormalized.eq(&normalized))
        .one(conn)
        .await?;
    if let Some(u) = &invitee
        && role_of(conn, group.id, u.id).await?.is_some()
    {
        return Err(AppError::conflict(
            "already_in_team",
            "this person already holds a role in the group",
        ));
    }
    let (token, hash) = random_token();
    let invite = group_invites::ActiveModel {
        group_id: Set(group.id),
        email: Set(req.email.clone()),
        email_normalized: Set(normalized),
        role: Set(req.role.role()),
        token_hash: Set(hash),
        invited_by: Set(Some(user.id)),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(INVITE_TTL_DAYS)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let locale = Locale::parse_lenient(invitee.as_ref().map_or(&user.locale, |u| &u.locale));
    let name = invitee
        .as_ref()
        .map_or_else(|| req.email.clone(), |u| u.display_name.clone());
    let accept_url = format!("{}/invites/accept?token={token}", ctx.public_url);
    let invited = kinds::Invited {
        inviter: &user.display_name,
        title: &group.title,
        role: invite.role.as_str(),
        days: INVITE_TTL_DAYS,
        accept_url: &accept_url,
    };
    let content = kinds::invitation(locale, &name, invited);
    let email = NewEmail {
        kind: "organiser_invite",
        recipient: req.email.clone(),
        user_id: invitee.as_ref().map(|u| u.id),
        content,
        idempotency_key: format!("organiser_invite:{}", invite.id),
        headers: Vec::new(),
    };
    enqueue(conn, email, now, &ctx.mail_domain).await?;
    audit(
        conn,
        group.id,
        user.id,
        "team.invite",
        Some(invite.email.clone()),
        json!({"invite_id": invite.id, "role": invite.role}),
        now,
    )
    .await?;
    Ok(invite.into())
}

/// Accepts an invitation: the caller (verified, with the invited address) gets the role, or
/// keeps a stronger one already held.
///
/// # Errors
/// 403 unverified or another address; 422 naming `token` when unknown, used or expired.
pub async fn accept(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    token: &str,
) -> AppResult<AcceptedInvite> {
    user.require_verified()?;
    let invalid = || AppError::field("token", "is invalid or has expired");
    let now = ctx.now();
    let invite = group_invites::Entity::find()
        .filter(group_invites::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(conn)
        .await?
        .ok_or_else(invalid)?;
    if invite.accepted_at.is_some() || invite.expires_at <= now {
        return Err(invalid());
    }
    if normalize_email(&user.email) != invite.email_normalized {
        return Err(AppError::forbidden(
            "invite_for_another_address",
            "this invitation was sent to another email address; log in with that one",
        ));
    }
    let offered = invite.role;
    let group = groups::Entity::find_by_id(invite.group_id)
        .one(conn)
        .await?
        .ok_or_else(invalid)?;
    let held = role_of(conn, group.id, user.id).await?;
    let role = match held {
        Some(r) if r >= offered => r,
        Some(_) => {
            set_role(conn, group.id, user.id, offered).await?;
            offered
        }
        None => {
            group_roles::ActiveModel {
                group_id: Set(group.id),
                user_id: Set(user.id),
                role: Set(offered),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(conn)
            .await?;
            offered
        }
    };
    let taken = group_invites::Entity::update_many()
        .filter(group_invites::Column::Id.eq(invite.id))
        .filter(group_invites::Column::AcceptedAt.is_null())
        .col_expr(group_invites::Column::AcceptedAt, Some(now).into())
        .col_expr(group_invites::Column::AcceptedBy, Some(user.id).into())
        .exec(conn)
        .await?;
    if taken.rows_affected != 1 {
        return Err(invalid());
    }
    audit(
        conn,
        group.id,
        user.id,
        "team.accept",
        Some(user.id.to_string()),
        json!({"invite_id": invite.id, "role": role.as_str()}),
        now,
    )
    .await?;
    Ok(AcceptedInvite {
        group: group.slug,
        role,
    })
}

async fn set_role(
    conn: &impl ConnectionTrait,
    group_id: i64,
    user_id: i64,
    role: Role,
) -> AppResult<()> {
    group_roles::Entity::update_many()
        .filter(group_roles::Column::GroupId.eq(group_id))
        .filter(group_roles::Column::UserId.eq(user_id))
        .col_expr(group_roles::Column::Role, role.into())
        .exec(conn)
        .await?;
    Ok(())
}

async fn team_of(conn: &impl ConnectionTrait, group_id: i64) -> AppResult<TeamView> {
    let mut members: Vec<(Role, MemberView)> = group_roles::Entity::find()
        .filter(group_roles::Column::GroupId.eq(group_id))
        .find_also_related(users::Entity)
        .all(conn)
        .await?
        .into_iter()
        .map(|(r, u)| {
            (
                r.role,
                MemberView {
                    user_id: r.user_id,
                    display_name: u.map(|u| u.display_name).unwrap_or_default(),
                    role: r.role,
                    since: r.created_at,
                },
            )
        })
        .collect();
    members.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.since.cmp(&b.1.since)));
    let invites = group_invites::Entity::find()
        .filter(group_invites::Column::GroupId.eq(group_id))
        .order_by_desc(group_invites::Column::Id)
        .all(conn)
        .await?;
    Ok(TeamView {
        members: members.into_iter().map(|(_, m)| m).collect(),
        invites: invites.into_iter().map(InviteView::from).collect(),
    })
}

/// The group's team and invitations (any team member).
///
/// # Errors
/// 403 outside the team; 404 unknown group.
pub async fn team(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<TeamView> {
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Moderator).await?;
    team_of(conn, access.group().id).await
}

/// Removes someone's role: organisers remove others, anyone but the owner may leave; the
/// owner is never removed (they hand the group over first).
///
/// # Errors
/// 403 for a moderator removing someone else, or for removing the owner; 404 unknown group or
/// nobody with a role of that id.
pub async fn remove(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    target: i64,
) -> AppResult<()> {
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let min = if target == user.id {
        Role::Moderator
    } else {
        Role::Organiser
    };
    let group_id = require_role(conn, group, user.id, min).await?.group().id;
    let role = role_of(conn, group_id, target)
        .await?
        .ok_or(AppError::NotFound)?;
    if role == Role::Owner {
        return Err(AppError::forbidden(
            "owner_cannot_be_removed",
            "the owner cannot be removed; the owner may hand the group over first",
        ));
    }
    group_roles::Entity::delete_many()
        .filter(group_roles::Column::GroupId.eq(group_id))
        .filter(group_roles::Column::UserId.eq(target))
        .exec(conn)
        .await?;
    audit(
        conn,
        group_id,
        user.id,
        "team.remove",
        Some(target.to_string()),
        json!({"role": role.as_str()}),
        now,
    )
    .await?;
    Ok(())
}

/// Changes a team member's role between organiser and moderator (organisers); the owner's
/// role is never changed here (the owner hands the group over instead).
///
/// # Errors
/// 403 unless an organiser, or for the owner; 404 unknown group or nobody with a role of that
/// id.
pub async fn change_role(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    target: i64,
    req: RoleChange,
) -> AppResult<TeamView> {
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let group_id = require_role(conn, group, user.id, Role::Organiser)
        .await?
        .into_group()
        .id;
    let before = role_of(conn, group_id, target)
        .await?
        .ok_or(AppError::NotFound)?;
    if before == Role::Owner {
        return Err(AppError::forbidden(
            "owner_role_fixed",
            "the owner's role cannot be changed; the owner may hand the group over instead",
        ));
    }
    let role = req.role.role();
    if role != before {
        set_role(conn, group_id, target, role).await?;
        audit(
            conn,
            group_id,
            user.id,
            "team.role",
            Some(target.to_string()),
            json!({"previous_role": before.as_str(), "role": role.as_str()}),
            now,
        )
        .await?;
    }
    team_of(conn, group_id).await
}

/// Hands the group to another member of its team (owner only); the old owner stays on as an
/// organiser.
///
/// # Errors
/// 403 unless the owner; 404 unknown group; 422 when the new owner holds no role yet.
pub async fn transfer(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: TransferRequest,
) -> AppResult<TeamView> {
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let group_id = require_role(conn, group, user.id, Role::Owner)
        .await?
        .into_group()
        .id;
    if req.user_id == user.id {
        return Err(AppError::field("user_id", "you already own the group"));
    }
    let before = role_of(conn, group_id, req.user_id)
        .await?
        .ok_or_else(|| AppError::field("user_id", "must already hold a role in the group"))?;
    set_role(conn, group_id, req.user_id, Role::Owner).await?;
    set_role(conn, group_id, user.id, Role::Organiser).await?;
    audit(
        conn,
        group_id,
        user.id,
        "team.transfer",
        Some(req.user_id.to_string()),
        json!({"previous_role": before.as_str()}),
        now,
    )
    .await?;
    let out = team_of(conn, group_id).await?;
    Ok(out)
}

/// The group's audit log, newest first (any team member).
///
/// # Errors
/// 403 outside the team; 404 unknown group.
pub async fn audit_page(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    q: &AuditQuery,
) -> AppResult<AuditPage> {
    let group = by_slug(conn, slug).await?;
    let group_id = require_role(conn, group, user.id, Role::Moderator)
        .await?
        .into_group()
        .id;
    let query = audit_log::Entity::find().filter(audit_log::Column::GroupId.eq(group_id));
    let total = query.clone().count(conn).await?;
    let per_page = q.per_page.unwrap_or(50);
    let page = q.page.unwrap_or(1);
    let rows = query
        .order_by_desc(audit_log::Column::CreatedAt)
        .order_by_desc(audit_log::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .find_also_related(users::Entity)
        .all(conn)
        .await?;
    Ok(AuditPage {
        items: rows
            .into_iter()
            .map(|(a, u)| AuditEntry {
                id: a.id,
                details: serde_json::from_str(&a.details).unwrap_or_default(),
                action: a.action,
                actor_id: a.actor_id,
                actor_name: u.map(|u| u.display_name),
                target: a.target,
                created_at: a.created_at,
            })
            .collect(),
        total,
    })
}
