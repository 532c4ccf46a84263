//! Joining, reading, changing and withdrawing one's own participation.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::dto::{JoinRequest, Money, ParticipationUpdate, ParticipationView, SignatureView};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::JoinNetwork;
use crate::entities::enums::{GroupStatus, ParticipantOutcome, ParticipationStatus};
use crate::entities::{groups, participations, providers, signatures, statement_versions};
use crate::error::{AppError, AppResult};
pub use crate::groups::access::{find_mine, require_mine};
use crate::groups::service::{by_slug, current_statement};
use crate::i18n::Locale;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::ratelimit::Bucket;
use crate::state::{AppState, Ctx};

/// `today` is the user's local date (`Settings::local_date`): at 01:00 in Beijing an incident of
/// that day is not in the future even though the UTC date is still the day before.
pub(super) fn check_incident_date(
    date: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> AppResult<()> {
    if date > today {
        return Err(AppError::field(
            "incident_date",
            "must not be in the future",
        ));
    }
    if date < chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() {
        return Err(AppError::field("incident_date", "must be in 2000 or later"));
    }
    Ok(())
}

/// A join as written: the group, the participation and its new signature — all the 201
/// answer needs, so it is built without reading them back.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The group joined.
    pub group: groups::Model,
    /// The participation (new, or a withdrawn one re-activated).
    pub participation: participations::Model,
    /// The signature made with the join.
    pub signature: signatures::Model,
}

/// Joins a group with a signature of its current statement. One per user per group: a second
/// join answers 409; after a withdrawal, joining again re-activates the same record.
/// `network` is the client network of the request, kept with a new participation for the
/// organisers' integrity signals (a re-join keeps the first join's, as it keeps its time).
///
/// # Errors
/// 403 unverified; 404 unknown group; 409 already joined, closed group or stale statement
/// version; 422 invalid input; 429 rate limited.
pub async fn join(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    req: JoinRequest,
    network: Option<JoinNetwork>,
) -> AppResult<Joined> {
    user.require_verified()?;
    state
        .limits
        .check(
            &state.db,
            Bucket::Join,
            &format!("user:{}", user.id),
            state.now(),
        )
        .await?;
    state
        .joins
        .join(super::writer::JoinJob {
            user: user.clone(),
            slug: slug.to_owned(),
            req,
            network,
        })
        .await
}

/// [`join`] inside the caller's transaction (which commits it), for a writer that batches
/// joins; the caller has checked verification and the rate limit. This is the one-join path;
/// the writer's batch path (`super::batch`) makes the same decisions with [`admit`].
///
/// # Errors
/// As [`join`], except 403 and 429.
pub async fn join_in(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: JoinRequest,
    network: Option<JoinNetwork>,
) -> AppResult<Joined> {
    let now = ctx.now();
    check_incident_date(req.incident_date, ctx.settings.local_date(now))?;
    let group = by_slug(conn, slug).await?;
    check_open(&group)?;
    let statement = current_statement(conn, &group).await?;
    let existing = find_mine(conn, group.id, user.id).await?;
    let row = admit(now, &group, &statement, existing, user.id, &req, network)?;
    let participation = if row.id.is_not_set() {
        match row.insert(conn).await {
            Ok(p) => p,
            Err(e) if db::is_unique_violation(&e) => return Err(already_joined()),
            Err(e) => return Err(e.into()),
        }
    } else {
        row.update(conn).await?
    };
    let signature = signature_row(participation.id, &statement, &req, now)
        .insert(conn)
        .await?;
    let provider = providers::Entity::find_by_id(group.provider_id)
        .one(conn)
        .await?;
    let email = join_confirmation(
        ctx,
        user,
        &group,
        provider.as_ref(),
        &participation,
        &signature,
    );
    enqueue(conn, email, now, &ctx.mail_domain).await?;
    Ok(Joined {
        group,
        participation,
        signature,
    })
}

/// 409 unless the group takes new participants.
pub(super) fn check_open(group: &groups::Model) -> AppResult<()> {
    if group.suspended_at.is_some() {
        return Err(AppError::conflict(
            "group_suspended",
            "this group was suspended by an administrator and takes no new participants",
        ));
    }
    if group.status == GroupStatus::Closed {
        return Err(AppError::conflict(
            "group_closed",
            "this group is closed and takes no new participants",
        ));
    }
    Ok(())
}

/// Decides a join of `user_id` to an open `group` against its current `statement` and the
/// user's `existing` participation: the row to write — new (no id, with the join's client
/// `network`), or the withdrawn one re-activated (id set; its first join's network kept).
///
/// # Errors
/// 409 stale statement version or already joined.
pub(super) fn admit(
    now: DateTime<Utc>,
    group: &groups::Model,
    statement: &statement_versions::Model,
    existing: Option<participations::Model>,
    user_id: i64,
    req: &JoinRequest,
    network: Option<JoinNetwork>,
) -> AppResult<participations::ActiveModel> {
    if req.signature.statement_version != statement.version {
        return Err(AppError::conflict(
            "statement_version_stale",
            format!(
                "the joint statement is now at version {}; read it and sign that version",
                statement.version
            ),
        ));
    }
    let status = if group.requires_moderation {
        ParticipationStatus::Pending
    } else {
        ParticipationStatus::Active
    };
    let refs =
        serde_json::to_string(&clean_refs(&req.transaction_refs)).map_err(anyhow::Error::from)?;
    let mut row = match existing {
        Some(p) if p.status == ParticipationStatus::Withdrawn => {
            let mut active: participations::ActiveModel = p.into();
            active.withdrawn_at = Set(None);
            active
        }
        Some(_) => return Err(already_joined()),
        None => participations::ActiveModel {
            group_id: Set(group.id),
            user_id: Set(user_id),
            outcome: Set(ParticipantOutcome::Unresolved),
            created_at: Set(now),
            join_network: Set(network.map(JoinNetwork::into_inner)),
            ..Default::default()
        },
    };
    row.status = Set(status);
    row.statement = Set(req.statement.trim().to_owned());
    row.amount_minor = Set(req.amount_disputed.amount_minor);
    row.currency = Set(req.amount_disputed.currency.to_string());
    row.incident_date = Set(req.incident_date);
    row.transaction_refs = Set(refs);
    row.consent_share_identity = Set(req.consent_share_identity);
    row.consent_contact = Set(req.consent_contact);
    row.signed_statement_version = Set(Some(statement.version));
    row.updated_at = Set(now);
    Ok(row)
}

/// The signature row a join writes.
pub(super) fn signature_row(
    participation_id: i64,
    statement: &statement_versions::Model,
    req: &JoinRequest,
    now: DateTime<Utc>,
) -> signatures::ActiveModel {
    signatures::ActiveModel {
        participation_id: Set(participation_id),
        statement_version: Set(statement.version),
        statement_sha256: Set(statement.sha256.clone()),
        full_name: Set(req.signature.full_name.trim().to_owned()),
        consent_share_identity: Set(req.consent_share_identity),
        signed_at: Set(now),
        ..Default::default()
    }
}

pub(super) fn already_joined() -> AppError {
    AppError::conflict("already_joined", "you have already joined this group")
}

/// Trimmed, non-empty references, each once, in the order first given (a reference pasted twice,
/// anywhere in the list, is one transaction).
fn clean_refs(refs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(refs.len());
    for r in refs {
        let r = r.trim();
        if !r.is_empty() && !out.iter().any(|seen| seen == r) {
            out.push(r.to_owned());
        }
    }
    out
}

/// The confirmation email of a join, in the joiner's language.
pub(super) fn join_confirmation(
    ctx: &Ctx,
    user: &CurrentUser,
    group: &groups::Model,
    provider: Option<&providers::Model>,
    participation: &participations::Model,
    signature: &signatures::Model,
) -> NewEmail {
    let locale = Locale::parse_lenient(&user.locale);
    let provider_name = provider.map_or("", |p| match locale {
        Locale::En => p.name_en.as_deref().unwrap_or(&p.name_zh),
        Locale::ZhCn => &p.name_zh,
    });
    let group_url = format!("{}/groups/{}", ctx.public_url, group.slug);
    let joined = kinds::Joined {
        title: &group.title,
        provider: provider_name,
        version: group.statement_version,
        pending: participation.status == ParticipationStatus::Pending,
        group_url: &group_url,
    };
    NewEmail {
        kind: "join_confirmation",
        recipient: user.email.clone(),
        user_id: Some(user.id),
        content: kinds::join_confirmation(locale, &user.display_name, joined),
        idempotency_key: format!("join_confirmation:{}:{}", participation.id, signature.id),
        headers: Vec::new(),
    }
}

/// The view of a participation with its latest signature.
///
/// # Errors
/// Database failures.
pub async fn view(
    conn: &impl ConnectionTrait,
    group: &groups::Model,
    p: participations::Model,
) -> AppResult<ParticipationView> {
    let sig = signatures::Entity::find()
        .filter(signatures::Column::ParticipationId.eq(p.id))
        .order_by_desc(signatures::Column::Id)
        .one(conn)
        .await?;
    Ok(view_with(group, p, sig))
}

/// The view of a participation whose latest signature is `sig`.
#[must_use]
pub fn view_with(
    group: &groups::Model,
    p: participations::Model,
    sig: Option<signatures::Model>,
) -> ParticipationView {
    ParticipationView {
        id: p.id,
        group: group.slug.clone(),
        status: p.status,
        statement: p.statement,
        amount_disputed: Money::from_stored(p.amount_minor, &p.currency),
        incident_date: p.incident_date,
        transaction_refs: serde_json::from_str(&p.transaction_refs).unwrap_or_default(),
        consent_share_identity: p.consent_share_identity,
        consent_contact: p.consent_contact,
        signature_current: sig
            .as_ref()
            .is_some_and(|s| s.statement_version == group.statement_version),
        signature: sig.map(|s| SignatureView {
            full_name: s.full_name,
            statement_version: s.statement_version,
            statement_sha256: s.statement_sha256,
            signed_at: s.signed_at,
        }),
        outcome: p.outcome,
        rejection_reason: p.rejection_reason,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// The caller's own participation in the group `slug`.
///
/// # Errors
/// 404 when the group is unknown or the caller has not joined.
pub async fn get_mine(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<ParticipationView> {
    let (group, p) = require_mine(&state.db, slug, user.id).await?;
    view(&state.db, &group, p).await
}

/// Every participation of `user_id` with its group, newest first (the account page's list).
///
/// # Errors
/// Database failures.
pub async fn list_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> AppResult<Vec<(groups::Model, participations::Model)>> {
    let rows = participations::Entity::find()
        .filter(participations::Column::UserId.eq(user_id))
        .find_also_related(groups::Entity)
        .order_by_desc(participations::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, g)| Some((g?, p)))
        .collect())
}

/// Whether the participant still has to sign the group's current joint statement: pending or
/// active, and their latest signature is of an earlier version.
#[must_use]
pub fn needs_resign(group: &groups::Model, p: &participations::Model) -> bool {
    matches!(
        p.status,
        ParticipationStatus::Pending | ParticipationStatus::Active
    ) && p.signed_statement_version != Some(group.statement_version)
}

/// Changes the caller's own participation.
///
/// # Errors
/// 404 when not joined; 409 when withdrawn or rejected; 422 invalid input.
pub async fn update_mine(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    upd: ParticipationUpdate,
) -> AppResult<ParticipationView> {
    let now = ctx.now();
    if let Some(d) = upd.incident_date {
        check_incident_date(d, ctx.settings.local_date(now))?;
    }
    let (group, p) = require_mine(conn, slug, user.id).await?;
    if matches!(
        p.status,
        ParticipationStatus::Withdrawn | ParticipationStatus::Rejected
    ) {
        return Err(AppError::conflict(
            "participation_inactive",
            format!("the participation is {}", p.status),
        ));
    }
    let mut active: participations::ActiveModel = p.into();
    if let Some(s) = upd.statement {
        active.statement = Set(s.trim().to_owned());
    }
    if let Some(m) = upd.amount_disputed {
        active.amount_minor = Set(m.amount_minor);
        active.currency = Set(m.currency.to_string());
    }
    if let Some(d) = upd.incident_date {
        active.incident_date = Set(d);
    }
    if let Some(r) = upd.transaction_refs {
        active.transaction_refs =
            Set(serde_json::to_string(&clean_refs(&r)).map_err(anyhow::Error::from)?);
    }
    if let Some(c) = upd.consent_share_identity {
        active.consent_share_identity = Set(c);
    }
    if let Some(c) = upd.consent_contact {
        active.consent_contact = Set(c);
    }
    if let Some(o) = upd.outcome {
        active.outcome = Set(o);
    }
    active.updated_at = Set(now);
    let p = active.update(conn).await?;
    let out = view(conn, &group, p).await?;
    Ok(out)
}

/// Withdraws the caller from the group; they stop counting at once.
///
/// # Errors
/// 404 when not joined or already withdrawn.
pub async fn withdraw(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<()> {
    let now = ctx.now();
    let (_, p) = require_mine(conn, slug, user.id).await?;
    if p.status == ParticipationStatus::Withdrawn {
        return Err(AppError::NotFound);
    }
    let mut active: participations::ActiveModel = p.into();
    active.status = Set(ParticipationStatus::Withdrawn);
    active.withdrawn_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clean_refs;

    #[test]
    fn references_are_trimmed_deduplicated_in_first_seen_order_and_empty_ones_dropped() {
        let refs = ["A1", " B2", "A1", "", "  ", "B2 ", "C3", "A1"]
            .map(String::from)
            .to_vec();
        assert_eq!(clean_refs(&refs), ["A1", "B2", "C3"]);
    }
}
