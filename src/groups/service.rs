//! Group rules and queries: creation, the public view, organiser edits, search and suggestions.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::access::{Role, require_role};
use super::dto::{
    Demand, DisputedTotal, GroupCreate, GroupPage, GroupQuery, GroupSummary, GroupUpdate,
    GroupView, ProviderRef, SuggestQuery,
};
use crate::auth::CurrentUser;
use crate::auth::tokens::sha256_hex;
use crate::domain::{random_suffix, slugify};
use crate::entities::enums::{GroupStatus, ParticipationStatus, Visibility};
use crate::entities::{
    audit_log, group_roles, groups, participations, providers, statement_versions,
};
use crate::error::{AppError, AppResult};
use crate::providers::service::{resolve_for_group, terms_condition};
use crate::state::Ctx;

/// Writes one organiser action to the group's audit log.
///
/// # Errors
/// Database failures.
pub async fn audit(
    conn: &impl ConnectionTrait,
    group_id: i64,
    actor_id: i64,
    action: &str,
    target: Option<String>,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    audit_log::ActiveModel {
        group_id: Set(Some(group_id)),
        actor_id: Set(Some(actor_id)),
        action: Set(action.to_owned()),
        target: Set(target),
        details: Set(details.to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn check_window(from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> AppResult<()> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(AppError::field(
            "incident_to",
            "must not be before incident_from",
        ));
    }
    for (name, day) in [("incident_from", from), ("incident_to", to)] {
        if day.is_some_and(|d| d > today) {
            return Err(AppError::field(name, "must not be in the future"));
        }
        // As for a participant's incident date: nothing of these services happened before.
        if day.is_some_and(|d| d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()) {
            return Err(AppError::field(name, "must be in 2000 or later"));
        }
    }
    Ok(())
}

fn group_search_text(title: &str, summary: &str) -> String {
    format!("{title} \u{1f} {summary}").to_lowercase()
}

/// The rules of a new group that need no database: the incident window, one way of naming the
/// provider. [`create`] checks them; a form checks them before showing similar groups.
///
/// # Errors
/// 422 naming the field.
pub fn check_create(ctx: &Ctx, req: &GroupCreate) -> AppResult<()> {
    check_window(
        req.incident_from,
        req.incident_to,
        ctx.settings.local_date(ctx.now()),
    )?;
    if req.provider.is_some() && req.provider_name.is_some() {
        return Err(AppError::field(
            "provider_name",
            "give either provider or provider_name, not both",
        ));
    }
    Ok(())
}

/// Creates a group; the creator becomes its owner and the statement its version 1.
///
/// # Errors
/// 403 for an unverified user; 422 for a bad provider or window.
pub async fn create(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    req: GroupCreate,
) -> AppResult<groups::Model> {
    user.require_verified()?;
    let now = ctx.now();
    check_create(ctx, &req)?;
    let demands: Vec<Demand> = req.demands.into_iter().map(|d| d.into_demand()).collect();
    let demands_json = serde_json::to_string(&demands).map_err(anyhow::Error::from)?;
    let provider = resolve_for_group(
        conn,
        req.provider.as_deref(),
        req.provider_name.as_deref(),
        user.id,
        now,
    )
    .await?;
    let base = slugify(provider.name_en.as_deref().unwrap_or(&provider.slug), 30);
    let prefix = if base.is_empty() {
        String::new()
    } else {
        format!("{base}-")
    };
    let slug = format!(
        "{prefix}{}-{}",
        req.category.as_str().replace('_', "-"),
        random_suffix(6)
    );
    let title = req.title.trim().to_owned();
    let summary = req.summary.trim().to_owned();
    let group = groups::ActiveModel {
        slug: Set(slug),
        provider_id: Set(provider.id),
        search_text: Set(group_search_text(&title, &summary)),
        title: Set(title),
        summary: Set(summary),
        category: Set(req.category),
        demands: Set(demands_json.clone()),
        incident_from: Set(req.incident_from),
        incident_to: Set(req.incident_to),
        status: Set(GroupStatus::Gathering),
        visibility: Set(Visibility::Public),
        requires_moderation: Set(req.requires_moderation),
        statement_version: Set(1),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    super::search::index_group(conn, &group, &provider).await?;
    group_roles::ActiveModel {
        group_id: Set(group.id),
        user_id: Set(user.id),
        role: Set(Role::Owner),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    statement_versions::ActiveModel {
        group_id: Set(group.id),
        version: Set(1),
        sha256: Set(sha256_hex(req.joint_statement.as_bytes())),
        joint_statement: Set(req.joint_statement),
        demands: Set(demands_json),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    audit(
        conn,
        group.id,
        user.id,
        "group.create",
        Some(group.slug.clone()),
        json!({"provider": provider.slug}),
        now,
    )
    .await?;
    Ok(group)
}

/// The group with this slug.
///
/// # Errors
/// 404 when there is none.
pub async fn by_slug(conn: &impl ConnectionTrait, slug: &str) -> AppResult<groups::Model> {
    groups::Entity::find()
        .filter(groups::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// The current statement version row of a group.
///
/// # Errors
/// Database failures; 404 when missing.
pub async fn current_statement(
    conn: &impl ConnectionTrait,
    group: &groups::Model,
) -> AppResult<statement_versions::Model> {
    statement_versions::Entity::find()
        .filter(statement_versions::Column::GroupId.eq(group.id))
        .filter(statement_versions::Column::Version.eq(group.statement_version))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Active participants per group, counted from the (group_id, status) index; no counter row.
///
/// # Errors
/// Database failures.
pub async fn active_counts(
    conn: &impl ConnectionTrait,
    group_ids: &[i64],
) -> AppResult<HashMap<i64, i64>> {
    if group_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64)> = participations::Entity::find()
        .select_only()
        .column(participations::Column::GroupId)
        .column_as(participations::Column::Id.count(), "n")
        .filter(participations::Column::GroupId.is_in(group_ids.iter().copied()))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .group_by(participations::Column::GroupId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

async fn disputed_totals(
    conn: &impl ConnectionTrait,
    group_id: i64,
) -> AppResult<Vec<DisputedTotal>> {
    let rows: Vec<(String, i64, i64)> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Currency)
        .column_as(participations::Column::Id.count(), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS BIGINT)"), "total")
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .group_by(participations::Column::Currency)
        .order_by_asc(participations::Column::Currency)
        .into_tuple()
        .all(conn)
        .await?;
    let (shown, other) = super::cells::merge_small_cells(
        rows.into_iter()
            .map(|(currency, n, total)| ((currency, total), n))
            .collect(),
    );
    Ok(shown
        .into_iter()
        .map(|((currency, total), participants)| DisputedTotal {
            currency,
            amount_minor: Some(total),
            participants,
        })
        .chain(other.map(|participants| DisputedTotal {
            currency: "other".into(),
            amount_minor: None,
            participants,
        }))
        .collect())
}

impl From<&providers::Model> for ProviderRef {
    fn from(p: &providers::Model) -> Self {
        Self {
            slug: p.slug.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            reviewed: p.reviewed,
        }
    }
}

/// The public view of a group.
///
/// # Errors
/// Database failures.
pub async fn view(conn: &impl ConnectionTrait, group: groups::Model) -> AppResult<GroupView> {
    let provider = providers::Entity::find_by_id(group.provider_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = active_counts(conn, &[group.id])
        .await?
        .get(&group.id)
        .copied()
        .unwrap_or(0);
    let statement = current_statement(conn, &group).await?;
    let totals = disputed_totals(conn, group.id).await?;
    let figures = super::dashboard::public_figures(conn, group.id).await?;
    let timeline = crate::responses::updates::public_timeline(conn, group.id, 20).await?;
    Ok(GroupView {
        outcomes: figures.outcomes,
        confirmed_resolved: figures.confirmed_resolved,
        provider_claim: figures.provider_claim,
        timeline,
        demands: serde_json::from_str(&group.demands).unwrap_or_default(),
        provider: (&provider).into(),
        participant_count: count,
        statement_version: group.statement_version,
        joint_statement: statement.joint_statement,
        statement_sha256: statement.sha256,
        disputed_totals: totals,
        slug: group.slug,
        title: group.title,
        summary: group.summary,
        category: group.category,
        incident_from: group.incident_from,
        incident_to: group.incident_to,
        status: group.status,
        outcome: group.outcome,
        visibility: group.visibility,
        requires_moderation: group.requires_moderation,
        created_at: group.created_at,
    })
}

/// Applies an organiser's edit.
///
/// # Errors
/// 403 unless the user is an organiser of the group; 422 for a bad window.
pub async fn update(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    upd: GroupUpdate,
) -> AppResult<groups::Model> {
    let now = ctx.now();
    let group = by_slug(conn, slug).await?;
    let access = require_role(conn, group, user.id, Role::Organiser).await?;
    let group = access.into_group();
    let from = upd.incident_from.or(group.incident_from);
    let to = upd.incident_to.or(group.incident_to);
    check_window(from, to, ctx.settings.local_date(now))?;
    let changed: Vec<&str> = [
        ("title", upd.title.is_some()),
        ("summary", upd.summary.is_some()),
        ("category", upd.category.is_some()),
        ("incident_from", upd.incident_from.is_some()),
        ("incident_to", upd.incident_to.is_some()),
        ("requires_moderation", upd.requires_moderation.is_some()),
        ("visibility", upd.visibility.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let title = upd
        .title
        .map_or_else(|| group.title.clone(), |t| t.trim().to_owned());
    let summary = upd
        .summary
        .map_or_else(|| group.summary.clone(), |s| s.trim().to_owned());
    let group_id = group.id;
    let mut active: groups::ActiveModel = group.into();
    active.search_text = Set(group_search_text(&title, &summary));
    active.title = Set(title);
    active.summary = Set(summary);
    if let Some(c) = upd.category {
        active.category = Set(c);
    }
    active.incident_from = Set(from);
    active.incident_to = Set(to);
    if let Some(m) = upd.requires_moderation {
        active.requires_moderation = Set(m);
    }
    if let Some(v) = upd.visibility {
        active.visibility = Set(v);
    }
    active.updated_at = Set(now);
    let group = active.update(conn).await?;
    let provider = providers::Entity::find_by_id(group.provider_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    super::search::index_group(conn, &group, &provider).await?;
    audit(
        conn,
        group_id,
        user.id,
        "group.update",
        None,
        json!({ "fields": changed }),
        now,
    )
    .await?;
    Ok(group)
}

/// Searches public groups (the one search of the API and the pages).
///
/// # Errors
/// Database failures.
pub async fn list(conn: &impl ConnectionTrait, q: &GroupQuery) -> AppResult<GroupPage> {
    super::search::search(conn, q).await
}

/// [`list`] through the public view cache: the same query again, within a second and with no
/// write committed since, is answered from memory (search results are public, the same for
/// everyone).
///
/// # Errors
/// Database failures.
pub async fn list_cached(
    state: &crate::state::AppState,
    q: &GroupQuery,
) -> AppResult<std::sync::Arc<GroupPage>> {
    state
        .views
        .cached(&format!("{q:?}"), list(&state.db, q))
        .await
}

pub(crate) async fn summaries(
    conn: &impl ConnectionTrait,
    rows: Vec<(groups::Model, Option<providers::Model>)>,
) -> AppResult<Vec<GroupSummary>> {
    let ids: Vec<i64> = rows.iter().map(|(g, _)| g.id).collect();
    let counts = active_counts(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(g, p)| {
            let p = p?;
            Some(GroupSummary {
                participant_count: counts.get(&g.id).copied().unwrap_or(0),
                provider: (&p).into(),
                slug: g.slug,
                title: g.title,
                summary: g.summary,
                category: g.category,
                status: g.status,
                incident_from: g.incident_from,
                incident_to: g.incident_to,
                created_at: g.created_at,
            })
        })
        .collect())
}

/// Words of a text for matching: ASCII words and overlapping pairs of CJK characters.
fn match_terms(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut terms = Vec::new();
    let mut word = String::new();
    let cjk: Vec<char> = lower
        .chars()
        .filter(|c| !c.is_ascii() && c.is_alphanumeric())
        .collect();
    for c in lower.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            if word.len() > 2 {
                terms.push(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    if word.len() > 2 {
        terms.push(word);
    }
    terms.extend(cjk.windows(2).map(|w| w.iter().collect::<String>()));
    terms.sort();
    terms.dedup();
    terms
}

/// Open public groups that match what a user is about to complain about, best first, so they
/// join rather than split.
///
/// # Errors
/// Database failures.
pub async fn suggest(
    conn: &impl ConnectionTrait,
    q: &SuggestQuery,
    exclude: Option<i64>,
) -> AppResult<Vec<GroupSummary>> {
    let provider = match &q.provider {
        Some(slug) => {
            providers::Entity::find()
                .filter(providers::Column::Slug.eq(slug.as_str()))
                .one(conn)
                .await?
        }
        None => None,
    };
    let mut candidates = groups::Entity::find()
        .filter(groups::Column::Visibility.eq(Visibility::Public))
        .filter(groups::Column::SuspendedAt.is_null())
        .filter(groups::Column::Status.ne(GroupStatus::Closed));
    if let Some(id) = exclude {
        candidates = candidates.filter(groups::Column::Id.ne(id));
    }
    let mut any = Condition::any();
    if let Some(p) = &provider {
        any = any.add(groups::Column::ProviderId.eq(p.id));
    }
    if let Some(c) = q.category {
        any = any.add(groups::Column::Category.eq(c));
    }
    let terms = q.q.as_deref().map(match_terms).unwrap_or_default();
    for t in terms.iter().take(12) {
        any = any.add(terms_condition(
            &[Expr::col((groups::Entity, groups::Column::SearchText))],
            t,
        ));
    }
    if any.is_empty() {
        return Ok(Vec::new());
    }
    let rows = candidates
        .filter(any)
        .order_by_desc(groups::Column::Id)
        .limit(200)
        .find_also_related(providers::Entity)
        .all(conn)
        .await?;
    let mut scored: Vec<(i64, (groups::Model, Option<providers::Model>))> = rows
        .into_iter()
        .map(|(g, p)| {
            let mut score = 0;
            if provider.as_ref().is_some_and(|pr| pr.id == g.provider_id) {
                score += 5;
            }
            if q.category == Some(g.category) {
                score += 3;
            }
            if let Some(d) = q.incident_date
                && g.incident_from.is_none_or(|f| f <= d)
                && g.incident_to.is_none_or(|t| d <= t)
            {
                score += 1;
            }
            score += i64::try_from(
                terms
                    .iter()
                    .filter(|t| g.search_text.contains(t.as_str()))
                    .count(),
            )
            .unwrap_or(0);
            (score, (g, p))
        })
        .filter(|(score, _)| *score >= 3)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.0.id.cmp(&a.1.0.id)));
    scored.truncate(10);
    summaries(conn, scored.into_iter().map(|(_, row)| row).collect()).await
}

/// Groups like this one (same provider, category or words).
///
/// # Errors
/// Database failures.
pub async fn similar(
    conn: &impl ConnectionTrait,
    group: &groups::Model,
) -> AppResult<Vec<GroupSummary>> {
    let provider = providers::Entity::find_by_id(group.provider_id)
        .one(conn)
        .await?;
    let q = SuggestQuery {
        provider: provider.map(|p| p.slug),
        category: Some(group.category),
        q: Some(group.title.clone()),
        incident_date: group.incident_from,
    };
    suggest(conn, &q, Some(group.id)).await
}
