//! A provider's scorecard over its publicly listed groups: how many submissions it answered,
//! how fast, how many on time, and how its answers and the groups ended.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::deadlines::{Calendar, clock};
use super::dto::{Scorecard, UpdateVisibility};
use crate::entities::enums::{GroupStatus, Visibility};
use crate::entities::{groups, submissions, updates};
use crate::error::AppResult;

/// The median of `values` (the mean of the two middle ones for an even count).
#[must_use]
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        f64::midpoint(values[mid - 1], values[mid])
    } else {
        values[mid]
    })
}

/// `part / whole`, or `None` when `whole` is 0.
#[must_use]
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Days, with fractions, from `from` to `to`.
#[must_use]
pub fn days_from(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 86_400.0
}

/// The scorecard of the provider `provider_id` at `now`.
///
/// # Errors
/// Database failures.
pub async fn for_provider(
    conn: &impl ConnectionTrait,
    provider_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Scorecard> {
    let listed = groups::Entity::find()
        .filter(groups::Column::ProviderId.eq(provider_id))
        .filter(groups::Column::Visibility.eq(Visibility::Public))
        .all(conn)
        .await?;
    let ids: Vec<i64> = listed.iter().map(|g| g.id).collect();
    let subs = submissions::Entity::find()
        .filter(submissions::Column::GroupId.is_in(ids.clone()))
        .all(conn)
        .await?;
    let cal = Calendar::load(conn).await?;
    let (mut answered, mut decided, mut on_time) = (0, 0, 0);
    let mut days = Vec::new();
    for s in &subs {
        let c = clock(&cal, s, now)?;
        if let Some(first) = s.first_response_at {
            answered += 1;
            days.push(days_from(s.submitted_at, first));
        }
        match c.on_time {
            Some(true) => {
                decided += 1;
                on_time += 1;
            }
            Some(false) => decided += 1,
            None => {}
        }
    }
    let total = i64::try_from(subs.len()).unwrap_or(i64::MAX);
    let answers = updates::Entity::find()
        .filter(updates::Column::GroupId.is_in(ids))
        .filter(updates::Column::ResponseClass.is_not_null())
        .filter(updates::Column::Visibility.eq(UpdateVisibility::Public))
        .order_by_desc(updates::Column::OccurredAt)
        .order_by_desc(updates::Column::Id)
        .all(conn)
        .await?;
    let mut seen = HashSet::new();
    let mut response_classes = BTreeMap::new();
    for u in answers {
        if let Some(class) = u.response_class
            && seen.insert(u.group_id)
        {
            *response_classes.entry(class).or_insert(0) += 1;
        }
    }
    let mut group_outcomes = BTreeMap::new();
    for g in listed {
        if let (Some(outcome), GroupStatus::Closed) = (g.outcome, g.status) {
            *group_outcomes.entry(outcome).or_insert(0) += 1;
        }
    }
    Ok(Scorecard {
        submissions: total,
        answered,
        share_answered: share(answered, total),
        median_days_to_first_answer: median(days),
        decided,
        answered_on_time: on_time,
        share_answered_on_time: share(on_time, decided),
        response_classes,
        group_outcomes,
    })
}
