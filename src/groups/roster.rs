//! The roster: every participation of a group as its team sees it, filtered and paged, as JSON
//! or as CSV for spreadsheets (UTF-8 with BOM, formula-like cells neutralised); and
//! moderation: approve, reject with a reason the participant is emailed, mark as duplicate.
//! Each entry carries its integrity signals ([`signals`]), for the team only.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Days, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoIden, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::access::{Role, require_role};
use super::service::{audit, by_slug};
use super::signals::{self, Signals};
use super::team_dto::{
    FlagView, ModerationAction, RosterAction, RosterEntry, RosterPage, RosterQuery,
};
use crate::auth::CurrentUser;
use crate::db::like_escape;
use crate::entities::enums::{EvidenceStatus, ParticipationStatus};
use crate::entities::{evidence, groups, interactions, participations, signatures, users};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::participation::dto::Money;
use crate::responses::deadlines::start_of_local_day;
use crate::state::Ctx;

/// Rows per `IN (…)` list, well under every database's parameter limit.
const CHUNK: usize = 500;
/// Most rows one CSV export holds.
const CSV_MAX_ROWS: u64 = 100_000;

/// `LOWER(column) LIKE pattern ESCAPE '\\'`.
fn lower_like(column: (impl IntoIden, impl IntoIden), pattern: &str) -> Expr {
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

/// A participation one search word finds: in the account's display name or email, in a
/// signed name, in the transaction references, or (a number) as the participation id.
fn search_term(term: &str) -> Condition {
    let pattern = format!("%{}%", like_escape(&term.to_lowercase()));
    let account = Query::select()
        .expr(Expr::val(1))
        .from(users::Entity)
        .and_where(
            Expr::col((users::Entity, users::Column::Id))
                .equals((participations::Entity, participations::Column::UserId)),
        )
        .cond_where(
            Condition::any()
                .add(lower_like(
                    (users::Entity, users::Column::DisplayName),
                    &pattern,
                ))
                .add(lower_like((users::Entity, users::Column::Email), &pattern)),
        )
        .to_owned();
    let signed = Query::select()
        .expr(Expr::val(1))
        .from(signatures::Entity)
        .and_where(
            Expr::col((signatures::Entity, signatures::Column::ParticipationId))
                .equals((participations::Entity, participations::Column::Id)),
        )
        .and_where(lower_like(
            (signatures::Entity, signatures::Column::FullName),
            &pattern,
        ))
        .to_owned();
    let mut any = Condition::any()
        .add(Expr::exists(account))
        .add(Expr::exists(signed))
        .add(lower_like(
            (
                participations::Entity,
                participations::Column::TransactionRefs,
            ),
            &pattern,
        ));
    if let Ok(id) = term.parse::<i64>() {
        any = any.add(participations::Column::Id.eq(id));
    }
    any
}

fn has_evidence() -> Expr {
    Expr::cust(
        "EXISTS (SELECT 1 FROM evidence e WHERE e.participation_id = \"participations\".\"id\" \
         AND e.status = 'active')",
    )
}

/// The roster of the group `slug` (any team member), each entry with its integrity signals,
/// their reasons in `l`. With `everything`, all matches on one page (for CSV).
///
/// # Errors
/// 403 outside the team; 404 unknown group.
pub async fn roster(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    q: &RosterQuery,
    everything: bool,
    l: Locale,
) -> AppResult<RosterPage> {
    let group = by_slug(conn, slug).await?;
    let group = require_role(conn, group, user.id, Role::Moderator)
        .await?
        .into_group();
    let signals = signals::of_group(conn, &group).await?;
    let mut cond = Condition::all().add(participations::Column::GroupId.eq(group.id));
    if let Some(s) = q.status {
        cond = cond.add(participations::Column::Status.eq(s));
    }
    if let Some(v) = q.signed_version {
        cond = cond.add(participations::Column::SignedStatementVersion.eq(v));
    }
    match q.has_evidence {
        Some(true) => cond = cond.add(has_evidence()),
        Some(false) => cond = cond.add(Condition::all().not().add(has_evidence())),
        None => {}
    }
    if let Some(c) = q.consent_share_identity {
        cond = cond.add(participations::Column::ConsentShareIdentity.eq(c));
    }
    if let Some(c) = q.consent_contact {
        cond = cond.add(participations::Column::ConsentContact.eq(c));
    }
    for term in q.q.as_deref().unwrap_or("").split_whitespace().take(8) {
        cond = cond.add(search_term(term));
    }
    if let Some(d) = q.joined_from {
        cond = cond.add(participations::Column::CreatedAt.gte(start_of_local_day(d)));
    }
    if let Some(d) = q.joined_to {
        let next = d.checked_add_days(Days::new(1)).unwrap_or(d);
        cond = cond.add(participations::Column::CreatedAt.lt(start_of_local_day(next)));
    }
    let (page, per_page) = if everything {
        (1, CSV_MAX_ROWS)
    } else {
        (q.page.unwrap_or(1), q.per_page.unwrap_or(50))
    };
    let query = participations::Entity::find().filter(cond);
    let (total, rows) = if let Some(flag) = q.flag {
        // Signals are computed, not stored: the other filters select ids, the flag filter
        // keeps those that carry it, and only the page's rows are read.
        let ids: Vec<i64> = query
            .select_only()
            .column(participations::Column::Id)
            .order_by_asc(participations::Column::Id)
            .into_tuple()
            .all(conn)
            .await?;
        let flagged: Vec<i64> = ids
            .into_iter()
            .filter(|id| signals.matches(*id, flag))
            .collect();
        let skip = usize::try_from((page - 1) * per_page).unwrap_or(usize::MAX);
        let take = usize::try_from(per_page).unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        for chunk in flagged
            .iter()
            .copied()
            .skip(skip)
            .take(take)
            .collect::<Vec<_>>()
            .chunks(CHUNK)
        {
            rows.extend(
                participations::Entity::find()
                    .filter(participations::Column::Id.is_in(chunk.iter().copied()))
                    .order_by_asc(participations::Column::Id)
                    .find_also_related(users::Entity)
                    .all(conn)
                    .await?,
            );
        }
        (u64::try_from(flagged.len()).unwrap_or(u64::MAX), rows)
    } else {
        let total = query.clone().count(conn).await?;
        let rows = query
            .order_by_asc(participations::Column::Id)
            .offset((page - 1) * per_page)
            .limit(per_page)
            .find_also_related(users::Entity)
            .all(conn)
            .await?;
        (total, rows)
    };
    Ok(RosterPage {
        items: entries(conn, &group, rows, &signals, l).await?,
        total,
        page,
        per_page,
    })
}

/// Builds roster entries with their numbers, signatures, counts and flags (reasons in `l`).
async fn entries(
    conn: &impl ConnectionTrait,
    group: &groups::Model,
    rows: Vec<(participations::Model, Option<users::Model>)>,
    signals: &Signals,
    l: Locale,
) -> AppResult<Vec<RosterEntry>> {
    let numbers: HashMap<i64, i64> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Id)
        .filter(participations::Column::GroupId.eq(group.id))
        .order_by_asc(participations::Column::Id)
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .into_iter()
        .zip(1..)
        .collect();
    let ids: Vec<i64> = rows.iter().map(|(p, _)| p.id).collect();
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut evidence_counts: HashMap<i64, i64> = HashMap::new();
    let mut contact_counts: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sigs = signatures::Entity::find()
            .filter(signatures::Column::ParticipationId.is_in(chunk.iter().copied()))
            .order_by_asc(signatures::Column::Id)
            .all(conn)
            .await?;
        names.extend(sigs.into_iter().map(|s| (s.participation_id, s.full_name)));
        let ev: Vec<(i64, i64)> = evidence::Entity::find()
            .select_only()
            .column(evidence::Column::ParticipationId)
            .column_as(evidence::Column::Id.count(), "n")
            .filter(evidence::Column::ParticipationId.is_in(chunk.iter().copied()))
            .filter(evidence::Column::Status.eq(EvidenceStatus::Active))
            .group_by(evidence::Column::ParticipationId)
            .into_tuple()
            .all(conn)
            .await?;
        evidence_counts.extend(ev);
        let contacts: Vec<(i64, i64)> = interactions::Entity::find()
            .select_only()
            .column(interactions::Column::ParticipationId)
            .column_as(interactions::Column::Id.count(), "n")
            .filter(interactions::Column::ParticipationId.is_in(chunk.iter().copied()))
            .group_by(interactions::Column::ParticipationId)
            .into_tuple()
            .all(conn)
            .await?;
        contact_counts.extend(contacts);
    }
    Ok(rows
        .into_iter()
        .map(|(p, u)| {
            let number = numbers.get(&p.id).copied().unwrap_or(0);
            let (display_name, email) = if group.anonymised_at.is_some() {
                let n = usize::try_from(number).unwrap_or(0);
                (crate::retention::anonymous_name(n), String::new())
            } else {
                u.map(|u| (u.display_name, u.email)).unwrap_or_default()
            };
            RosterEntry {
                number,
                user_id: p.user_id,
                display_name,
                email,
                full_name: names.remove(&p.id),
                signature_current: p.signed_statement_version == Some(group.statement_version),
                signed_statement_version: p.signed_statement_version,
                amount_disputed: Money::from_stored(p.amount_minor, &p.currency),
                incident_date: p.incident_date,
                transaction_refs: serde_json::from_str(&p.transaction_refs).unwrap_or_default(),
                consent_share_identity: p.consent_share_identity,
                consent_contact: p.consent_contact,
                evidence_count: evidence_counts.get(&p.id).copied().unwrap_or(0),
                interaction_count: contact_counts.get(&p.id).copied().unwrap_or(0),
                status: p.status,
                outcome: p.outcome,
                rejection_reason: p.rejection_reason,
                duplicate_of: p.duplicate_of,
                joined_at: p.created_at,
                flags: signals
                    .of(p.id)
                    .iter()
                    .map(|f| FlagView {
                        code: f.code,
                        reason: f.reason(l),
                    })
                    .collect(),
                participation_id: p.id,
            }
        })
        .collect())
}

/// A cell that a spreadsheet would run as a formula gets a leading apostrophe; cells with
/// separators, quotes or line breaks are quoted.
#[must_use]
pub fn csv_cell(raw: &str) -> String {
    let mut cell = String::with_capacity(raw.len() + 3);
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(raw);
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

fn csv_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The roster as CSV: UTF-8 with a byte-order mark so spreadsheet programs read Chinese
/// correctly, CRLF line ends, formula-like cells neutralised.
#[must_use]
pub fn to_csv(page: &RosterPage) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(
        "number,participation_id,status,full_name,display_name,email,amount_minor,currency,\
         incident_date,transaction_refs,signed_statement_version,signature_current,\
         consent_share_identity,consent_contact,evidence_count,interaction_count,outcome,\
         rejection_reason,duplicate_of,joined_at\r\n",
    );
    for e in &page.items {
        let cells = [
            e.number.to_string(),
            e.participation_id.to_string(),
            e.status.to_string(),
            e.full_name.clone().unwrap_or_default(),
            e.display_name.clone(),
            e.email.clone(),
            e.amount_disputed.amount_minor.to_string(),
            e.amount_disputed.currency.to_string(),
            e.incident_date.to_string(),
            e.transaction_refs.join(" "),
            e.signed_statement_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            e.signature_current.to_string(),
            e.consent_share_identity.to_string(),
            e.consent_contact.to_string(),
            e.evidence_count.to_string(),
            e.interaction_count.to_string(),
            e.outcome.to_string(),
            e.rejection_reason.clone().unwrap_or_default(),
            e.duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
            csv_time(e.joined_at),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        let _ = write!(out, "{}\r\n", line.join(","));
    }
    out
}

/// Approves, rejects or marks a participation as a duplicate (any team member), and answers
/// its roster entry (flags' reasons in `l`). The participant is emailed the decision (with
/// the reason, when rejected).
///
/// # Errors
/// As [`apply_moderation`].
pub async fn moderate(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    participation_id: i64,
    req: RosterAction,
    l: Locale,
) -> AppResult<RosterEntry> {
    let (group, p, participant) =
        apply_moderation(conn, ctx, user, slug, participation_id, req).await?;
    let signals = signals::of_group(conn, &group).await?;
    let mut entry = entries(conn, &group, vec![(p, participant)], &signals, l).await?;
    entry.pop().ok_or(AppError::NotFound)
}

/// [`moderate`] without reading the entry back (the pages, which redirect; the bulk form,
/// which moderates many in one transaction): the group, the participation as changed and
/// its account.
///
/// # Errors
/// 403 outside the team; 404 unknown group or participation; 409 when the action does not
/// apply to the participation's status; 422 for a missing reason or a bad `duplicate_of`.
pub async fn apply_moderation(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    participation_id: i64,
    req: RosterAction,
) -> AppResult<(groups::Model, participations::Model, Option<users::Model>)> {
    let now = ctx.now();
    let reason = req.reason.as_deref().map(str::trim).map(str::to_owned);
    let (group, p) = team_participation(conn, user, slug, participation_id).await?;
    let from = p.status;
    let applies = match req.action {
        ModerationAction::Approve => matches!(
            from,
            ParticipationStatus::Pending | ParticipationStatus::Rejected
        ),
        ModerationAction::Reject | ModerationAction::Duplicate => {
            matches!(
                from,
                ParticipationStatus::Pending | ParticipationStatus::Active
            )
        }
    };
    if !applies {
        return Err(AppError::conflict(
            "moderation_not_applicable",
            format!("a participation that is {from} cannot be changed this way"),
        ));
    }
    let mut active: participations::ActiveModel = p.clone().into();
    match req.action {
        ModerationAction::Approve => {
            active.status = Set(ParticipationStatus::Active);
            active.rejection_reason = Set(None);
            active.duplicate_of = Set(None);
        }
        ModerationAction::Reject => {
            let reason = reason
                .clone()
                .ok_or_else(|| AppError::field("reason", "is required to reject"))?;
            active.status = Set(ParticipationStatus::Rejected);
            active.rejection_reason = Set(Some(reason));
        }
        ModerationAction::Duplicate => {
            let original = req.duplicate_of.ok_or_else(|| {
                AppError::field("duplicate_of", "name the participation this one duplicates")
            })?;
            let same_group = original != p.id
                && participations::Entity::find_by_id(original)
                    .filter(participations::Column::GroupId.eq(group.id))
                    .count(conn)
                    .await?
                    > 0;
            if !same_group {
                return Err(AppError::field(
                    "duplicate_of",
                    "must be another participation of this group",
                ));
            }
            active.status = Set(ParticipationStatus::Rejected);
            active.duplicate_of = Set(Some(original));
            active.rejection_reason = Set(reason.clone());
        }
    }
    active.updated_at = Set(now);
    let p = active.update(conn).await?;
    let action = match req.action {
        ModerationAction::Approve => "roster.approve",
        ModerationAction::Reject => "roster.reject",
        ModerationAction::Duplicate => "roster.duplicate",
    };
    audit(
        conn,
        group.id,
        user.id,
        action,
        Some(p.id.to_string()),
        json!({"from": from, "reason": reason, "duplicate_of": p.duplicate_of}),
        now,
    )
    .await?;
    let participant = users::Entity::find_by_id(p.user_id).one(conn).await?;
    // The participant hears of every decision, in the same transaction as the decision.
    if let Some(u) = &participant {
        let approved = req.action == ModerationAction::Approve;
        queue_decision(ctx, conn, &group, &p, u, approved, now).await?;
    }
    Ok((group, p, participant))
}

/// One participant's file as the group's team reads it: their roster entry, their own
/// statement, their evidence (withdrawn items included, marked) and their contact log.
#[derive(Debug)]
pub struct ParticipantFile {
    /// The group.
    pub group: groups::Model,
    /// The roster entry (number, names, email, status, amount, signature, counts).
    pub entry: RosterEntry,
    /// The participant's own statement.
    pub statement: String,
    /// Their evidence, oldest first.
    pub evidence: Vec<evidence::Model>,
    /// Their logged contacts with the provider, oldest first.
    pub contacts: Vec<interactions::Model>,
}

/// The group `slug` for a team member (moderator and up) and its participation `id`: the one
/// access rule of a participant's file and of its evidence downloads.
///
/// # Errors
/// 403 outside the team; 404 unknown group, or a participation of another group.
async fn team_participation(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    participation_id: i64,
) -> AppResult<(groups::Model, participations::Model)> {
    let group = by_slug(conn, slug).await?;
    let group = require_role(conn, group, user.id, Role::Moderator)
        .await?
        .into_group();
    let p = participations::Entity::find_by_id(participation_id)
        .filter(participations::Column::GroupId.eq(group.id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((group, p))
}

/// The file of the participation `participation_id` of the group `slug` (any team member),
/// with its flags' reasons in `l`.
///
/// # Errors
/// 403 outside the team; 404 unknown group or participation.
pub async fn participant(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    participation_id: i64,
    l: Locale,
) -> AppResult<ParticipantFile> {
    let (group, p) = team_participation(conn, user, slug, participation_id).await?;
    let statement = p.statement.clone();
    let evidence = evidence::Entity::find()
        .filter(evidence::Column::ParticipationId.eq(p.id))
        .order_by_asc(evidence::Column::Id)
        .all(conn)
        .await?;
    let contacts = interactions::Entity::find()
        .filter(interactions::Column::ParticipationId.eq(p.id))
        .order_by_asc(interactions::Column::OccurredAt)
        .order_by_asc(interactions::Column::Id)
        .all(conn)
        .await?;
    let participant = users::Entity::find_by_id(p.user_id).one(conn).await?;
    let signals = signals::of_group(conn, &group).await?;
    let entry = entries(conn, &group, vec![(p, participant)], &signals, l)
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    Ok(ParticipantFile {
        group,
        entry,
        statement,
        evidence,
        contacts,
    })
}

/// The evidence item `evidence_id` of the participation `participation_id` of the group
/// `slug`, for a team member (moderator and up) to download.
///
/// # Errors
/// 403 outside the team; 404 when the item is not that participant's in that group.
pub async fn participant_evidence(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    participation_id: i64,
    evidence_id: i64,
) -> AppResult<evidence::Model> {
    let (group, p) = team_participation(conn, user, slug, participation_id).await?;
    evidence::Entity::find_by_id(evidence_id)
        .filter(evidence::Column::ParticipationId.eq(p.id))
        .filter(evidence::Column::GroupId.eq(group.id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Emails the participant the moderation decision, in the caller's transaction.
async fn queue_decision(
    ctx: &Ctx,
    txn: &impl ConnectionTrait,
    group: &groups::Model,
    p: &participations::Model,
    u: &users::Model,
    approved: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let locale = Locale::parse_lenient(&u.locale);
    let group_url = format!("{}/groups/{}", ctx.public_url, group.slug);
    let (kind, content) = if approved {
        (
            "roster_approved",
            kinds::approval(locale, &u.display_name, &group.title, &group_url),
        )
    } else {
        let rejected = kinds::Rejected {
            title: &group.title,
            reason: p.rejection_reason.as_deref(),
            duplicate: p.duplicate_of.is_some(),
            group_url: &group_url,
        };
        (
            "roster_rejected",
            kinds::rejection(locale, &u.display_name, rejected),
        )
    };
    let email = NewEmail {
        kind,
        recipient: u.email.clone(),
        user_id: Some(u.id),
        content,
        idempotency_key: format!("{kind}:{}:{}", p.id, now.timestamp_millis()),
        headers: Vec::new(),
    };
    enqueue(txn, email, now, &ctx.mail_domain).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn formula_like_cells_are_neutralised_and_separators_quoted() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("王芳"), "王芳");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
