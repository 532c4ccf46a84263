//! The administrators' rules: the provider directory (review, merge duplicates), suspending
//! users and groups, re-queueing failed mail. Every function starts with
//! [`CurrentUser::require_admin`], so a page or an API handler never decides access itself;
//! every change is written to the audit log in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::dto::{
    AdminGroupView, AdminProviderQuery, AdminProviderRow, AdminSearchQuery, AdminUserView,
    MergeRequest, MergeResult, SuspendRequest,
};
use crate::auth::CurrentUser;
use crate::entities::enums::{JobStatus, OutboxStatus, UserStatus};
use crate::entities::{audit_log, email_suppressions, groups, outbox, providers, users};
use crate::error::{AppError, AppResult};
use crate::providers::dto::{ProviderUpdate, ProviderView};
use crate::providers::service::{search_text, terms_condition};

/// Rows on one page of each administrators' list.
pub const PER_PAGE: u64 = 25;

/// Writes one administrator's action to the audit log (`group_id` when it concerns a group).
///
/// # Errors
/// Database failures.
pub async fn audit(
    conn: &impl ConnectionTrait,
    actor: &CurrentUser,
    group_id: Option<i64>,
    action: &str,
    target: String,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    audit_log::ActiveModel {
        group_id: Set(group_id),
        actor_id: Set(Some(actor.id)),
        action: Set(action.to_owned()),
        target: Set(Some(target)),
        details: Set(details.to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn offset(page: Option<u64>) -> u64 {
    (Ord::max(page.unwrap_or(1), 1) - 1) * PER_PAGE
}

fn aliases_of(p: &providers::Model) -> Vec<String> {
    serde_json::from_str(&p.aliases).unwrap_or_default()
}

/// The provider directory for review: newest first, with who proposed each one and how many
/// groups use it; merged providers are left out.
///
/// # Errors
/// 403 for non-administrators.
pub async fn providers(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    q: &AdminProviderQuery,
) -> AppResult<(Vec<AdminProviderRow>, u64)> {
    user.require_admin()?;
    let mut query = providers::Entity::find().filter(providers::Column::MergedInto.is_null());
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        query = query.filter(terms_condition(
            &[
                Expr::col(providers::Column::SearchText),
                Expr::col(providers::Column::Slug),
            ],
            text,
        ));
    }
    if q.unreviewed == Some(true) {
        query = query.filter(providers::Column::Reviewed.eq(false));
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_desc(providers::Column::CreatedAt)
        .order_by_desc(providers::Column::Id)
        .offset(offset(q.page))
        .limit(PER_PAGE)
        .find_also_related(users::Entity)
        .all(conn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|(p, _)| p.id).collect();
    let counts: HashMap<i64, i64> = groups::Entity::find()
        .select_only()
        .column(groups::Column::ProviderId)
        .column_as(groups::Column::Id.count(), "n")
        .filter(groups::Column::ProviderId.is_in(ids))
        .group_by(groups::Column::ProviderId)
        .into_tuple::<(i64, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let items = rows
        .into_iter()
        .map(|(p, u)| AdminProviderRow {
            groups: counts
                .get(&p.id)
                .copied()
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            created_at: p.created_at,
            created_by: u.as_ref().map(|u| u.display_name.clone()),
            created_by_email: u.map(|u| u.email),
            provider: p.into(),
        })
        .collect();
    Ok((items, total))
}

/// A provider that has not been merged away, by slug.
async fn live_provider(conn: &impl ConnectionTrait, slug: &str) -> AppResult<providers::Model> {
    providers::Entity::find()
        .filter(providers::Column::Slug.eq(slug))
        .filter(providers::Column::MergedInto.is_null())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// One provider for the edit page (not a merged one).
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown or merged slug.
pub async fn provider(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<AdminProviderRow> {
    user.require_admin()?;
    let p = live_provider(conn, slug).await?;
    let creator = match p.created_by {
        Some(id) => users::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let groups = groups::Entity::find()
        .filter(groups::Column::ProviderId.eq(p.id))
        .count(conn)
        .await?;
    Ok(AdminProviderRow {
        groups,
        created_at: p.created_at,
        created_by: creator.as_ref().map(|u| u.display_name.clone()),
        created_by_email: creator.map(|u| u.email),
        provider: p.into(),
    })
}

/// Changes a provider's names or aliases through the directory's own service (so its groups
/// are re-indexed), and writes the audit entry.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown or merged slug.
pub async fn edit_provider(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    req: ProviderUpdate,
    now: DateTime<Utc>,
) -> AppResult<providers::Model> {
    user.require_admin()?;
    live_provider(conn, slug).await?;
    let details = json!({"name_zh": req.name_zh, "name_en": req.name_en, "aliases": req.aliases});
    let model = crate::providers::service::update(conn, user, slug, req).await?;
    audit(
        conn,
        user,
        None,
        "provider.edit",
        slug.to_owned(),
        details,
        now,
    )
    .await?;
    Ok(model)
}

/// Marks a proposed provider as reviewed by an administrator.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown or merged slug.
pub async fn review_provider(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    now: DateTime<Utc>,
) -> AppResult<providers::Model> {
    user.require_admin()?;
    let p = live_provider(conn, slug).await?;
    let mut active: providers::ActiveModel = p.into();
    active.reviewed = Set(true);
    let model = active.update(conn).await?;
    audit(
        conn,
        user,
        None,
        "provider.review",
        slug.to_owned(),
        json!({}),
        now,
    )
    .await?;
    Ok(model)
}

/// Merges provider `slug` (a duplicate) into `req.into`: its groups move over (and are
/// re-indexed, so they are found by every name), its names become aliases of the one that
/// stays, and its row stays behind pointing there, so its slug keeps resolving. Providers
/// merged into it earlier now point at the one that stays too.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown or merged `slug`; 422 on `into` when it is
/// the same provider, unknown, or itself merged.
pub async fn merge_provider(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    req: MergeRequest,
    now: DateTime<Utc>,
) -> AppResult<MergeResult> {
    user.require_admin()?;
    let source = live_provider(conn, slug).await?;
    let into = req.into.trim();
    if into.is_empty() {
        return Err(AppError::field("into", "name the provider to merge into"));
    }
    if into == source.slug {
        return Err(AppError::field(
            "into",
            "a provider cannot be merged into itself",
        ));
    }
    let target = providers::Entity::find()
        .filter(providers::Column::Slug.eq(into))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::field("into", "no provider has this slug"))?;
    if target.merged_into.is_some() {
        return Err(AppError::field(
            "into",
            "this provider was itself merged into another; merge into that one",
        ));
    }
    let moved = groups::Entity::update_many()
        .col_expr(groups::Column::ProviderId, Expr::value(target.id))
        .filter(groups::Column::ProviderId.eq(source.id))
        .exec(conn)
        .await?
        .rows_affected;

    let mut aliases = aliases_of(&target);
    let mut known: Vec<String> = std::iter::once(target.name_zh.clone())
        .chain(target.name_en.clone())
        .chain(aliases.iter().cloned())
        .map(|n| n.to_lowercase())
        .collect();
    let mut added = Vec::new();
    let names = std::iter::once(source.name_zh.clone())
        .chain(source.name_en.clone())
        .chain(aliases_of(&source));
    for name in names {
        let name = name.trim().to_owned();
        if name.is_empty() || known.contains(&name.to_lowercase()) {
            continue;
        }
        known.push(name.to_lowercase());
        aliases.push(name.clone());
        added.push(name);
    }
    let mut active: providers::ActiveModel = target.clone().into();
    active.search_text = Set(search_text(
        &target.name_zh,
        target.name_en.as_deref(),
        &aliases,
    ));
    active.aliases = Set(serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into()));
    let target = active.update(conn).await?;

    providers::Entity::update_many()
        .col_expr(providers::Column::MergedInto, Expr::value(target.id))
        .filter(
            providers::Column::Id
                .eq(source.id)
                .or(providers::Column::MergedInto.eq(source.id)),
        )
        .exec(conn)
        .await?;
    crate::groups::search::reindex_provider(conn, &target).await?;
    audit(
        conn,
        user,
        None,
        "provider.merge",
        source.slug.clone(),
        json!({"into": target.slug, "groups_moved": moved, "aliases_added": added}),
        now,
    )
    .await?;
    Ok(MergeResult {
        provider: ProviderView::from(target),
        merged: source.slug,
        groups_moved: moved,
        aliases_added: added,
    })
}

fn user_view(u: users::Model) -> AdminUserView {
    AdminUserView {
        id: u.id,
        email: u.email,
        display_name: u.display_name,
        status: u.status,
        suspension_reason: u.suspension_reason,
        is_admin: u.is_admin,
        email_verified: u.email_verified_at.is_some(),
        created_at: u.created_at,
    }
}

/// Users whose email address contains `q`, newest first.
///
/// # Errors
/// 403 for non-administrators.
pub async fn users(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    q: &AdminSearchQuery,
) -> AppResult<(Vec<AdminUserView>, u64)> {
    user.require_admin()?;
    let mut query = users::Entity::find();
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        query = query.filter(terms_condition(
            &[
                Expr::col(users::Column::EmailNormalized),
                Expr::expr(Func::lower(Expr::col(users::Column::Email))),
            ],
            text,
        ));
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_desc(users::Column::Id)
        .offset(offset(q.page))
        .limit(PER_PAGE)
        .all(conn)
        .await?;
    Ok((rows.into_iter().map(user_view).collect(), total))
}

/// Suspends (with `Some(reason)`) or reinstates (`None`) an account. A suspended user cannot
/// sign in, and their tokens and page sessions stop working at once (authentication accepts
/// active accounts only); reinstating lets the same sessions work again.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown user; 409 `own_account` for oneself.
pub async fn set_user_suspension(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
    reason: Option<&SuspendRequest>,
    now: DateTime<Utc>,
) -> AppResult<AdminUserView> {
    user.require_admin()?;
    let target = users::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if target.id == user.id {
        return Err(AppError::conflict(
            "own_account",
            "administrators cannot suspend their own account",
        ));
    }
    let reason = reason.map(|r| r.reason.trim().to_owned());
    let mut active: users::ActiveModel = target.into();
    active.status = Set(if reason.is_some() {
        UserStatus::Suspended
    } else {
        UserStatus::Active
    });
    active.suspension_reason = Set(reason.clone());
    active.updated_at = Set(now);
    let model = active.update(conn).await?;
    let action = if reason.is_some() {
        "user.suspend"
    } else {
        "user.unsuspend"
    };
    audit(
        conn,
        user,
        None,
        action,
        format!("user:{id}"),
        json!({"reason": reason}),
        now,
    )
    .await?;
    Ok(user_view(model))
}

fn group_view(g: groups::Model, provider: Option<providers::Model>) -> AdminGroupView {
    AdminGroupView {
        slug: g.slug,
        title: g.title,
        provider: provider.map(|p| p.slug).unwrap_or_default(),
        status: g.status,
        suspended_at: g.suspended_at,
        suspension_reason: g.suspension_reason,
        created_at: g.created_at,
    }
}

/// Groups whose title or slug contains the words of `q`, newest first (of any visibility,
/// suspended ones included).
///
/// # Errors
/// 403 for non-administrators.
pub async fn groups(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    q: &AdminSearchQuery,
) -> AppResult<(Vec<AdminGroupView>, u64)> {
    user.require_admin()?;
    let mut query = groups::Entity::find();
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        query = query.filter(terms_condition(
            &[
                Expr::col((groups::Entity, groups::Column::SearchText)),
                Expr::col((groups::Entity, groups::Column::Slug)),
            ],
            text,
        ));
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_desc(groups::Column::Id)
        .offset(offset(q.page))
        .limit(PER_PAGE)
        .find_also_related(providers::Entity)
        .all(conn)
        .await?;
    Ok((
        rows.into_iter().map(|(g, p)| group_view(g, p)).collect(),
        total,
    ))
}

/// Suspends (with `Some(reason)`) or reinstates (`None`) a group. A suspended group keeps its
/// status, roster and page, but is hidden from search and suggestions and takes no joins.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown group.
pub async fn set_group_suspension(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    reason: Option<&SuspendRequest>,
    now: DateTime<Utc>,
) -> AppResult<AdminGroupView> {
    user.require_admin()?;
    let (group, provider) = groups::Entity::find()
        .filter(groups::Column::Slug.eq(slug))
        .find_also_related(providers::Entity)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let reason = reason.map(|r| r.reason.trim().to_owned());
    let group_id = group.id;
    let mut active: groups::ActiveModel = group.into();
    active.suspended_at = Set(reason.is_some().then_some(now));
    active.suspension_reason = Set(reason.clone());
    active.updated_at = Set(now);
    let model = active.update(conn).await?;
    let action = if reason.is_some() {
        "group.suspend"
    } else {
        "group.unsuspend"
    };
    audit(
        conn,
        user,
        Some(group_id),
        action,
        slug.to_owned(),
        json!({"reason": reason}),
        now,
    )
    .await?;
    Ok(group_view(model, provider))
}

/// Outbox rows with `status` (failed by default), newest first.
///
/// # Errors
/// 403 for non-administrators.
pub async fn outbox(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    status: Option<OutboxStatus>,
    page: Option<u64>,
    per_page: u64,
) -> AppResult<(Vec<outbox::Model>, u64)> {
    user.require_admin()?;
    let query = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(status.unwrap_or(OutboxStatus::Failed)));
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_desc(outbox::Column::Id)
        .offset((Ord::max(page.unwrap_or(1), 1) - 1) * per_page)
        .limit(per_page)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Puts a failed email back in the queue, to be tried at once with a fresh count of
/// attempts; a relay's earlier permanent refusal of the address is lifted, since an
/// administrator asked for this email to go.
///
/// # Errors
/// 403 for non-administrators; 404 unknown row; 409 `not_failed` for a row that did not fail.
pub async fn retry_mail(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<outbox::Model> {
    user.require_admin()?;
    let row = outbox::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.status != OutboxStatus::Failed {
        return Err(AppError::conflict(
            "not_failed",
            "only an email that failed can be sent again",
        ));
    }
    email_suppressions::Entity::delete_by_id(row.recipient.trim().to_lowercase())
        .exec(conn)
        .await?;
    let mut active: outbox::ActiveModel = row.into();
    active.status = Set(OutboxStatus::Pending);
    active.attempts = Set(0);
    active.next_attempt_at = Set(now);
    active.lease_until = Set(None);
    let model = active.update(conn).await?;
    audit(
        conn,
        user,
        None,
        "mail.retry",
        format!("outbox:{id}"),
        json!({"kind": model.kind, "recipient": model.recipient}),
        now,
    )
    .await?;
    Ok(model)
}

/// The newest 200 background jobs, of `status` when given (administrators).
///
/// # Errors
/// 403 unless an administrator.
pub async fn jobs(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    status: Option<JobStatus>,
) -> AppResult<Vec<crate::entities::jobs::Model>> {
    user.require_admin()?;
    Ok(crate::jobs::list(conn, status, 200).await?)
}

/// Queues a failed job again with fresh attempts (administrators, after fixing its cause).
///
/// # Errors
/// 403 unless an administrator; 404 unknown job; 409 `not_failed` unless it failed.
pub async fn retry_job(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<crate::entities::jobs::Model> {
    user.require_admin()?;
    if !crate::jobs::retry(conn, id, now).await? {
        crate::entities::jobs::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or(AppError::NotFound)?;
        return Err(AppError::conflict(
            "not_failed",
            "only a job that failed can be run again",
        ));
    }
    crate::entities::jobs::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}
