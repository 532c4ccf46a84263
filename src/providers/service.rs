//! Provider directory rules and queries.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::dto::{ProviderCreate, ProviderDetail, ProviderQuery, ProviderUpdate};
use super::slug::{first_free, provider_slug};
use crate::auth::CurrentUser;
use crate::db::{self, like_escape};
use crate::domain::random_suffix;
use crate::entities::enums::{ParticipationStatus, ProviderKind, Visibility};
use crate::entities::{groups, participations, providers};
use crate::error::{AppError, AppResult};

/// Lower-cased text that search matches against.
#[must_use]
pub fn search_text(name_zh: &str, name_en: Option<&str>, aliases: &[String]) -> String {
    let mut parts = vec![name_zh.to_owned()];
    parts.extend(name_en.map(str::to_owned));
    parts.extend(aliases.iter().cloned());
    parts.join(" \u{1f} ").to_lowercase()
}

/// A condition matching every whitespace-separated term of `q` as a substring of `column`.
pub fn terms_condition(columns: &[Expr], q: &str) -> Condition {
    let mut all = Condition::all();
    for term in q.split_whitespace().take(8) {
        let pattern = format!("%{}%", like_escape(&term.to_lowercase()));
        let mut any = Condition::any();
        for c in columns {
            any = any.add(c.clone().like(LikeExpr::new(pattern.clone()).escape('\\')));
        }
        all = all.add(any);
    }
    all
}

/// Searches providers by name or alias.
///
/// # Errors
/// Database failures.
pub async fn search(
    conn: &impl ConnectionTrait,
    q: &ProviderQuery,
) -> AppResult<(Vec<providers::Model>, u64)> {
    let mut query = providers::Entity::find().filter(providers::Column::MergedInto.is_null());
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        query = query.filter(terms_condition(
            &[Expr::col(providers::Column::SearchText)],
            text,
        ));
    }
    let total = query.clone().count(conn).await?;
    let per_page = q.per_page.unwrap_or(20);
    let page = q.page.unwrap_or(1);
    let items = query
        .order_by_desc(providers::Column::Reviewed)
        .order_by_asc(providers::Column::Slug)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .all(conn)
        .await?;
    Ok((items, total))
}

/// The provider `slug` names: itself, or the one it was merged into (merges keep the chain
/// one step long).
///
/// # Errors
/// 404 for an unknown slug.
pub async fn by_slug_following_merge(
    conn: &impl ConnectionTrait,
    slug: &str,
) -> AppResult<providers::Model> {
    let provider = providers::Entity::find()
        .filter(providers::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    match provider.merged_into {
        Some(id) => providers::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or(AppError::NotFound),
        None => Ok(provider),
    }
}

/// One provider with its public figures and scorecard, read at `now`. A merged provider's
/// slug answers the provider it was merged into (whose slug the answer carries).
///
/// # Errors
/// 404 for an unknown slug.
pub async fn detail(
    conn: &impl ConnectionTrait,
    slug: &str,
    now: DateTime<Utc>,
) -> AppResult<ProviderDetail> {
    let provider = by_slug_following_merge(conn, slug).await?;
    let group_filter = groups::Column::ProviderId
        .eq(provider.id)
        .and(groups::Column::Visibility.eq(Visibility::Public));
    let group_count = groups::Entity::find()
        .filter(group_filter.clone())
        .count(conn)
        .await?;
    let participants = participations::Entity::find()
        .inner_join(groups::Entity)
        .filter(group_filter)
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .count(conn)
        .await?;
    let scorecard = crate::responses::scorecard::for_provider(conn, provider.id, now).await?;
    Ok(ProviderDetail {
        scorecard,
        provider: provider.into(),
        groups: i64::try_from(group_count).unwrap_or(i64::MAX),
        participants: i64::try_from(participants).unwrap_or(i64::MAX),
    })
}

/// Adds a curated provider.
///
/// # Errors
/// 403 for non-administrators; 409 when the slug is taken.
pub async fn create(
    db_conn: &sea_orm::DatabaseConnection,
    user: &CurrentUser,
    req: ProviderCreate,
    now: DateTime<Utc>,
) -> AppResult<providers::Model> {
    user.require_admin()?;
    let aliases: Vec<String> = req
        .aliases
        .iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    let txn = db::write_txn(db_conn).await?;
    let model = providers::ActiveModel {
        search_text: Set(search_text(&req.name_zh, req.name_en.as_deref(), &aliases)),
        slug: Set(req.slug),
        name_zh: Set(req.name_zh.trim().to_owned()),
        name_en: Set(req.name_en.map(|n| n.trim().to_owned())),
        aliases: Set(serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into())),
        kind: Set(req.kind),
        website: Set(req.website),
        complaint_channels: Set("[]".into()),
        reviewed: Set(true),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::conflict("slug_taken", "a provider with this slug exists")
        } else {
            e.into()
        }
    })?;
    txn.commit().await?;
    Ok(model)
}

/// Changes a provider's names or aliases (administrators); its groups are found by the new
/// names at once.
///
/// # Errors
/// 403 for non-administrators; 404 for an unknown slug.
pub async fn update(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
    req: ProviderUpdate,
) -> AppResult<providers::Model> {
    user.require_admin()?;
    let current = providers::Entity::find()
        .filter(providers::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let name_zh = req
        .name_zh
        .map_or_else(|| current.name_zh.clone(), |n| n.trim().to_owned());
    let name_en = req
        .name_en
        .map(|n| n.trim().to_owned())
        .or_else(|| current.name_en.clone());
    let aliases: Vec<String> = match req.aliases {
        Some(list) => list
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        None => serde_json::from_str(&current.aliases).unwrap_or_default(),
    };
    let mut active: providers::ActiveModel = current.into();
    active.search_text = Set(search_text(&name_zh, name_en.as_deref(), &aliases));
    active.aliases = Set(serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into()));
    active.name_zh = Set(name_zh);
    active.name_en = Set(name_en);
    let model = active.update(conn).await?;
    crate::groups::search::reindex_provider(conn, &model).await?;
    Ok(model)
}

/// The provider a new group names: an existing one by slug, or a proposed one by name (found
/// again by exact name or alias before a new unreviewed row is made).
///
/// # Errors
/// 422 naming `provider` or `provider_name`.
pub async fn resolve_for_group(
    conn: &impl ConnectionTrait,
    slug: Option<&str>,
    name: Option<&str>,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<providers::Model> {
    if let Some(slug) = slug {
        return match by_slug_following_merge(conn, slug).await {
            Err(AppError::NotFound) => Err(AppError::field(
                "provider",
                "no provider has this slug; give provider_name to propose one",
            )),
            found => found,
        };
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            AppError::field(
                "provider",
                "name an existing provider by slug, or propose one with provider_name",
            )
        })?;
    let lowered = name.to_lowercase();
    let candidates = providers::Entity::find()
        .filter(terms_condition(
            &[Expr::col(providers::Column::SearchText)],
            &lowered,
        ))
        .filter(providers::Column::MergedInto.is_null())
        .limit(50)
        .all(conn)
        .await?;
    let exact = candidates.into_iter().find(|p| {
        p.name_zh.to_lowercase() == lowered
            || p.name_en
                .as_deref()
                .is_some_and(|n| n.to_lowercase() == lowered)
            || serde_json::from_str::<Vec<String>>(&p.aliases)
                .unwrap_or_default()
                .iter()
                .any(|a| a.to_lowercase() == lowered)
    });
    if let Some(p) = exact {
        return Ok(p);
    }
    let slug = free_slug(conn, name).await?;
    let is_ascii = name.is_ascii();
    let model = providers::ActiveModel {
        slug: Set(slug),
        name_zh: Set(name.to_owned()),
        name_en: Set(is_ascii.then(|| name.to_owned())),
        aliases: Set("[]".into()),
        kind: Set(ProviderKind::Other),
        complaint_channels: Set("[]".into()),
        reviewed: Set(false),
        search_text: Set(search_text(name, None, &[])),
        created_by: Set(Some(user_id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(model)
}

/// A readable slug for a proposed provider (pinyin or ASCII words of its name), numbered
/// `-2`, `-3`, … when taken. Existing rows keep the slug they have.
async fn free_slug(conn: &impl ConnectionTrait, name: &str) -> AppResult<String> {
    let base = provider_slug(name, 40);
    // A name with nothing to spell (symbols only) still needs a unique handle.
    let base = if base.is_empty() {
        format!("p-{}", random_suffix(8))
    } else {
        base
    };
    let taken: Vec<String> = providers::Entity::find()
        .select_only()
        .column(providers::Column::Slug)
        .filter(
            providers::Column::Slug
                .eq(base.as_str())
                .or(providers::Column::Slug.starts_with(format!("{base}-"))),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(first_free(&base, &taken))
}
