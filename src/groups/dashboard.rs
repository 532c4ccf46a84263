//! Figures of a group: the organisers' dashboard (everything, for the team only) and the public
//! subset shown on the group's page, where no breakdown cell shows fewer than
//! [`MIN_CELL`](super::cells::MIN_CELL) people.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::access::{Role, require_role};
use super::dto::{CountCell, ProviderClaim};
use super::service::by_slug;
use super::team_dto::{
    AmountBand, ContactFigures, CurrencyFigures, Dashboard, DayCount, EvidenceCoverage, FlagCount,
    IncidentWindow, KindCoverage,
};
use crate::auth::CurrentUser;
use crate::entities::enums::{EvidenceStatus, ParticipantOutcome, ParticipationStatus};
use crate::entities::{evidence, interactions, participations, updates};
use crate::error::AppResult;
use crate::responses::deadlines::local_date;
use crate::responses::dto::UpdateVisibility;
use crate::responses::scorecard::{median, share};
use crate::responses::submissions::views_for_group;
use crate::state::AppState;

/// The band edges of claimed amounts, in major units of the currency.
const BAND_EDGES: [i64; 6] = [0, 100, 500, 1_000, 5_000, 20_000];

/// How many of `amounts` (minor units of `currency`) fall in each band, every band listed.
fn amount_bands(amounts: &[i64], currency: &str) -> Vec<AmountBand> {
    let unit = 10_i64.pow(crate::domain::Currency::from_stored(currency).exponent());
    BAND_EDGES
        .iter()
        .enumerate()
        .map(|(i, from)| {
            let from_minor = from * unit;
            let to_minor = BAND_EDGES.get(i + 1).map(|to| to * unit);
            let participants = amounts
                .iter()
                .filter(|a| **a >= from_minor && to_minor.is_none_or(|to| **a < to))
                .count();
            AmountBand {
                from_minor,
                to_minor,
                participants: count_i64(participants),
            }
        })
        .collect()
}

/// Own outcomes a participant may report, in display order.
const OUTCOMES: [ParticipantOutcome; 3] = [
    ParticipantOutcome::Unresolved,
    ParticipantOutcome::PartiallyResolved,
    ParticipantOutcome::Resolved,
];

/// Counts by key with the small-cell rule of [`cells`](super::cells) applied; the merged
/// cell, when shown, is keyed `other`.
#[must_use]
pub fn merge_small_cells(cells: Vec<(String, i64)>) -> Vec<CountCell> {
    let (shown, other) = super::cells::merge_small_cells(cells);
    shown
        .into_iter()
        .chain(other.map(|n| ("other".to_owned(), n)))
        .map(|(key, participants)| CountCell { key, participants })
        .collect()
}

/// The public subset of a group's figures.
#[derive(Debug)]
pub struct PublicFigures {
    /// Active participants by own outcome, small cells merged.
    pub outcomes: Vec<CountCell>,
    /// Active participants confirming their own case resolved, when that cell is shown.
    pub confirmed_resolved: Option<i64>,
    /// The provider's latest public answer.
    pub provider_claim: Option<ProviderClaim>,
}

/// The public figures of the group `group_id`.
///
/// # Errors
/// Database failures.
pub async fn public_figures(
    conn: &impl ConnectionTrait,
    group_id: i64,
) -> AppResult<PublicFigures> {
    let rows: Vec<(String, i64)> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Outcome)
        .column_as(participations::Column::Id.count(), "n")
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .group_by(participations::Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    let counts: HashMap<String, i64> = rows.into_iter().collect();
    let outcomes = merge_small_cells(
        OUTCOMES
            .iter()
            .map(|o| {
                (
                    o.as_str().to_owned(),
                    counts.get(o.as_str()).copied().unwrap_or(0),
                )
            })
            .collect(),
    );
    let confirmed_resolved = outcomes
        .iter()
        .find(|c| c.key == ParticipantOutcome::Resolved.as_str())
        .map(|c| c.participants);
    let provider_claim = updates::Entity::find()
        .filter(updates::Column::GroupId.eq(group_id))
        .filter(updates::Column::Visibility.eq(UpdateVisibility::Public))
        .filter(updates::Column::ResponseClass.is_not_null())
        .order_by_desc(updates::Column::OccurredAt)
        .order_by_desc(updates::Column::Id)
        .one(conn)
        .await?
        .and_then(|u| {
            Some(ProviderClaim {
                response_class: u.response_class?,
                kind: u.kind,
                title: u.title,
                occurred_at: u.occurred_at,
            })
        });
    Ok(PublicFigures {
        outcomes,
        confirmed_resolved,
        provider_claim,
    })
}

/// One step of a group's public joins-over-time figure: by the end of `day` (China time),
/// `participants` of today's active participants had joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinStep {
    /// The last day of the step.
    pub day: chrono::NaiveDate,
    /// Active participants who had joined by then (cumulative).
    pub participants: i64,
}

/// Cumulative joins from per-day counts, in steps of at least
/// [`MIN_CELL`](super::cells::MIN_CELL) people, so neither a step nor the difference of two
/// shown steps singles out fewer people; the last step ends at the total (a remainder under
/// the minimum joins it), and fewer people than the minimum in all give no steps.
#[must_use]
pub fn join_steps(per_day: &BTreeMap<chrono::NaiveDate, i64>) -> Vec<JoinStep> {
    let mut steps: Vec<JoinStep> = Vec::new();
    let (mut total, mut pending) = (0, 0);
    for (day, n) in per_day {
        total += n;
        pending += n;
        if pending >= super::cells::MIN_CELL {
            steps.push(JoinStep {
                day: *day,
                participants: total,
            });
            pending = 0;
        }
    }
    if pending > 0
        && let (Some(last), Some((day, _))) = (steps.last_mut(), per_day.last_key_value())
    {
        *last = JoinStep {
            day: *day,
            participants: total,
        };
    }
    steps
}

/// The public joins-over-time figure of the group `group_id`: its active participants by the
/// day they joined, in steps of [`join_steps`].
///
/// # Errors
/// Database failures.
pub async fn public_joins(conn: &impl ConnectionTrait, group_id: i64) -> AppResult<Vec<JoinStep>> {
    let times: Vec<chrono::DateTime<chrono::Utc>> = participations::Entity::find()
        .select_only()
        .column(participations::Column::CreatedAt)
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .into_tuple()
        .all(conn)
        .await?;
    let mut per_day: BTreeMap<chrono::NaiveDate, i64> = BTreeMap::new();
    for t in times {
        *per_day.entry(local_date(t)).or_default() += 1;
    }
    Ok(join_steps(&per_day))
}

fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The organisers' dashboard of the group `slug` (any team member).
///
/// # Errors
/// 403 outside the team; 404 unknown group.
pub async fn dashboard(state: &AppState, user: &CurrentUser, slug: &str) -> AppResult<Dashboard> {
    let conn = &state.db;
    let now = state.now();
    let group = by_slug(conn, slug).await?;
    let group = require_role(conn, group, user.id, Role::Moderator)
        .await?
        .into_group();
    let all = participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group.id))
        .all(conn)
        .await?;
    let mut joins: BTreeMap<chrono::NaiveDate, i64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, i64> = ParticipationStatus::all()
        .into_iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for p in &all {
        *joins.entry(local_date(p.created_at)).or_default() += 1;
        *by_status.entry(p.status.as_str().to_owned()).or_default() += 1;
    }
    let active: Vec<&participations::Model> = all
        .iter()
        .filter(|p| p.status == ParticipationStatus::Active)
        .collect();
    let active_ids: HashSet<i64> = active.iter().map(|p| p.id).collect();
    let n_active = count_i64(active.len());

    let mut money: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, i64> = OUTCOMES
        .iter()
        .map(|o| (o.as_str().to_owned(), 0))
        .collect();
    for p in &active {
        money
            .entry(p.currency.clone())
            .or_default()
            .push(p.amount_minor);
        *outcomes.entry(p.outcome.as_str().to_owned()).or_default() += 1;
    }
    let disputed = money
        .into_iter()
        .map(|(currency, amounts)| CurrencyFigures {
            participants: count_i64(amounts.len()),
            total_minor: amounts.iter().sum(),
            median_minor: median(amounts.iter().map(|a| *a as f64).collect()).unwrap_or(0.0),
            bands: amount_bands(&amounts, &currency),
            currency,
        })
        .collect();

    let items = evidence::Entity::find()
        .filter(evidence::Column::GroupId.eq(group.id))
        .filter(evidence::Column::Status.eq(EvidenceStatus::Active))
        .all(conn)
        .await?;
    let mut with_any = HashSet::new();
    let mut kinds: BTreeMap<String, (HashSet<i64>, i64)> = BTreeMap::new();
    for e in items
        .iter()
        .filter(|e| active_ids.contains(&e.participation_id))
    {
        with_any.insert(e.participation_id);
        let entry = kinds.entry(e.kind.to_string()).or_default();
        entry.0.insert(e.participation_id);
        entry.1 += 1;
    }
    let evidence = EvidenceCoverage {
        participants_with_evidence: count_i64(with_any.len()),
        share: share(count_i64(with_any.len()), n_active),
        by_kind: kinds
            .into_iter()
            .map(|(kind, (people, items))| {
                let participants = count_i64(people.len());
                (
                    kind,
                    KindCoverage {
                        participants,
                        share: share(participants, n_active),
                        items,
                    },
                )
            })
            .collect(),
    };

    let logged = interactions::Entity::find()
        .inner_join(participations::Entity)
        .filter(participations::Column::GroupId.eq(group.id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .all(conn)
        .await?;
    let mut per_person: HashMap<i64, i64> = active_ids.iter().map(|id| (*id, 0)).collect();
    let mut by_channel: BTreeMap<String, i64> = BTreeMap::new();
    for i in &logged {
        *per_person.entry(i.participation_id).or_default() += 1;
        *by_channel.entry(i.channel.to_string()).or_default() += 1;
    }
    let contacts = ContactFigures {
        total: count_i64(logged.len()),
        participants_contacted: count_i64(per_person.values().filter(|n| **n > 0).count()),
        median_per_participant: median(per_person.values().map(|n| *n as f64).collect()),
        by_channel,
    };

    let outside = |d: chrono::NaiveDate| {
        group.incident_from.is_some_and(|from| d < from)
            || group.incident_to.is_some_and(|to| d > to)
    };
    let incidents = IncidentWindow {
        declared_from: group.incident_from,
        declared_to: group.incident_to,
        earliest: active.iter().map(|p| p.incident_date).min(),
        latest: active.iter().map(|p| p.incident_date).max(),
        outside_declared: count_i64(active.iter().filter(|p| outside(p.incident_date)).count()),
    };
    let signed_current = count_i64(
        active
            .iter()
            .filter(|p| p.signed_statement_version == Some(group.statement_version))
            .count(),
    );
    let signals = super::signals::of_group(conn, &group).await?;
    Ok(Dashboard {
        flags: signals
            .counts()
            .into_iter()
            .map(|(code, n)| FlagCount {
                code,
                participants: count_i64(n),
            })
            .collect(),
        flagged_participants: count_i64(signals.flagged()),
        submissions: views_for_group(conn, group.id, now).await?,
        status: group.status,
        outcome: group.outcome,
        statement_version: group.statement_version,
        signed_current,
        joins_per_day: joins
            .into_iter()
            .map(|(day, joins)| DayCount { day, joins })
            .collect(),
        participants_by_status: by_status,
        disputed,
        incidents,
        evidence,
        contacts,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::{JoinStep, join_steps, merge_small_cells};

    #[test]
    fn join_steps_hold_at_least_five_people_and_end_at_the_total() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
        let days = [
            ("2026-11-01", 3),
            ("2026-11-02", 2),
            ("2026-11-03", 4),
            ("2026-11-04", 2),
        ]
        .into_iter()
        .map(|(s, n)| (d(s), n))
        .collect();
        assert_eq!(
            join_steps(&days),
            vec![
                JoinStep {
                    day: d("2026-11-02"),
                    participants: 5
                },
                JoinStep {
                    day: d("2026-11-04"),
                    participants: 11
                },
            ]
        );
        let few = [(d("2026-11-01"), 4)].into_iter().collect();
        assert!(join_steps(&few).is_empty());
    }

    fn cells(v: &[(&str, i64)]) -> Vec<(String, i64)> {
        v.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    fn shown(v: &[(&str, i64)]) -> Vec<(String, i64)> {
        merge_small_cells(cells(v))
            .into_iter()
            .map(|c| (c.key, c.participants))
            .collect()
    }

    #[test]
    fn no_shown_cell_is_under_five() {
        assert_eq!(
            shown(&[("a", 7), ("b", 6), ("c", 0)]),
            cells(&[("a", 7), ("b", 6)])
        );
        assert_eq!(
            shown(&[("a", 7), ("b", 3), ("c", 2)]),
            cells(&[("a", 7), ("other", 5)])
        );
        // One small cell alone would be exposed as `other`: the smallest shown cell joins it.
        assert_eq!(
            shown(&[("a", 9), ("b", 6), ("c", 1)]),
            cells(&[("a", 9), ("other", 7)])
        );
        assert_eq!(shown(&[("a", 2), ("b", 1)]), cells(&[]));
        // The last shown cell stays shown (the rule of every public figure, see `cells`).
        assert_eq!(shown(&[("a", 3), ("b", 1), ("c", 5)]), cells(&[("c", 5)]));
    }
}
