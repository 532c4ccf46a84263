//! Response clocks. A submission is due a number of calendar or working days after it was sent,
//! counted on mainland China's calendar (UTC+8): Saturdays and Sundays are off unless the
//! holiday table marks them as adjusted working days, and listed holidays are off. The state of
//! a clock (awaiting, answered, overdue, very overdue) is derived from the time it is read at,
//! never stored.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entities::{holidays, submissions};
use crate::error::{AppError, AppResult};

/// Mainland China's time zone (no daylight saving).
const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// The date in mainland China at `t`.
#[must_use]
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&CHINA).date_naive()
}

/// The instant a day starts in mainland China.
#[must_use]
pub fn start_of_local_day(d: NaiveDate) -> DateTime<Utc> {
    CHINA
        .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or_else(
            || d.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

pub use crate::entities::enums::DueKind;

/// The holiday table, read once per request.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// Listed days and whether each is a working day.
    days: HashMap<NaiveDate, bool>,
}

impl Calendar {
    /// A calendar from listed days (`day`, `is_workday`).
    #[must_use]
    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, bool)>) -> Self {
        Self {
            days: days.into_iter().collect(),
        }
    }

    /// Reads the whole holiday table (a few dozen rows a year).
    ///
    /// # Errors
    /// Database failures.
    pub async fn load(conn: &impl ConnectionTrait) -> AppResult<Self> {
        let rows = holidays::Entity::find().all(conn).await?;
        Ok(Self::from_days(
            rows.into_iter().map(|h| (h.day, h.is_workday)),
        ))
    }

    /// Whether people work on `d`.
    #[must_use]
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.days
            .get(&d)
            .copied()
            .unwrap_or(!matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
    }

    fn counts(&self, d: NaiveDate, kind: DueKind) -> bool {
        kind == DueKind::Calendar || self.is_working_day(d)
    }

    /// The `n`th counted day after `start` (`start` itself for `n` ≤ 0).
    #[must_use]
    pub fn add_days(&self, start: NaiveDate, n: i64, kind: DueKind) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day.checked_add_days(Days::new(1)).unwrap_or(day);
            if self.counts(day, kind) {
                left -= 1;
            }
        }
        day
    }

    /// Counted days `d` with `start < d <= end`.
    #[must_use]
    pub fn days_between(&self, start: NaiveDate, end: NaiveDate, kind: DueKind) -> i64 {
        match kind {
            DueKind::Calendar => (end - start).num_days().max(0),
            DueKind::Working => start
                .iter_days()
                .skip(1)
                .take_while(|d| *d <= end)
                .filter(|d| self.is_working_day(*d))
                .fold(0, |n, _| n + 1),
        }
    }

    /// The deadline of a period of `days` counted days from `submitted_at`: the end (in China)
    /// of the last counted day.
    #[must_use]
    pub fn due_at(&self, submitted_at: DateTime<Utc>, days: i64, kind: DueKind) -> DateTime<Utc> {
        let last = self.add_days(local_date(submitted_at), days, kind);
        start_of_local_day(last.checked_add_days(Days::new(1)).unwrap_or(last))
    }
}

pub use crate::entities::enums::Channel;

impl Channel {
    /// The default answer period: the provider 15 calendar days, a consumer association 7
    /// working days to accept, a regulator 30 calendar days; media and courts keep no
    /// deadline, so a month is used as a reminder to follow up.
    #[must_use]
    pub fn default_period(self) -> (i32, DueKind) {
        match self {
            Self::Provider => (15, DueKind::Calendar),
            Self::ConsumerAssociation => (7, DueKind::Working),
            Self::Regulator | Self::Media | Self::Court => (30, DueKind::Calendar),
        }
    }

    /// The channel to turn to when this one stalls.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        match self {
            Self::Provider => Some(Self::ConsumerAssociation),
            Self::ConsumerAssociation => Some(Self::Regulator),
            Self::Regulator => Some(Self::Media),
            Self::Media => Some(Self::Court),
            Self::Court => None,
        }
    }
}

/// Where a submission stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Sent, not answered, not yet due.
    Awaiting,
    /// The recipient answered.
    Answered,
    /// Past the due date without an answer.
    Overdue,
    /// Past twice the period without an answer.
    VeryOverdue,
}

/// A submission's clock as read at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionClock {
    /// Period in counted days, extensions included.
    pub period: i64,
    /// Counted days since submission (up to the first answer once answered).
    pub day: i64,
    /// Deadline.
    pub due_at: DateTime<Utc>,
    /// Twice the period.
    pub very_overdue_at: DateTime<Utc>,
    /// State at the instant read.
    pub state: ClockState,
    /// Answered by the deadline; `None` while awaiting within it.
    pub on_time: Option<bool>,
}

/// Reads a submission's clock at `now`.
///
/// # Errors
/// 500 when the stored channel or period is corrupt.
pub fn clock(
    cal: &Calendar,
    s: &submissions::Model,
    now: DateTime<Utc>,
) -> AppResult<SubmissionClock> {
    if Some(s.channel).is_none() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "submission {} has unknown channel {}",
            s.id,
            s.channel
        )));
    }
    let kind = s.due_kind;
    let period = i64::from(s.due_days) + i64::from(s.extension_days);
    let due_at = cal.due_at(s.submitted_at, period, kind);
    let very_overdue_at = cal.due_at(s.submitted_at, period * 2, kind);
    let stop = s.first_response_at.map_or(now, |t| t.min(now));
    let day = cal.days_between(local_date(s.submitted_at), local_date(stop), kind);
    let state = match s.first_response_at {
        Some(_) => ClockState::Answered,
        None if now > very_overdue_at => ClockState::VeryOverdue,
        None if now > due_at => ClockState::Overdue,
        None => ClockState::Awaiting,
    };
    let on_time = match s.first_response_at {
        Some(t) => Some(t <= due_at),
        None if now > due_at => Some(false),
        None => None,
    };
    Ok(SubmissionClock {
        period,
        day,
        due_at,
        very_overdue_at,
        state,
        on_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn working_days_skip_weekends_holidays_and_count_adjusted_saturdays() {
        // National Day 2026: 1–7 October off, Saturday 10 October worked.
        let cal = Calendar::from_days(
            (1..=7)
                .map(|n| (d(&format!("2026-10-0{n}")), false))
                .chain([(d("2026-10-10"), true)]),
        );
        // From Wednesday 30 September: 8 (Thu), 9 (Fri), 10 (Sat, worked), 12 (Mon).
        assert_eq!(
            cal.add_days(d("2026-09-30"), 4, DueKind::Working),
            d("2026-10-12")
        );
        assert_eq!(
            cal.days_between(d("2026-09-30"), d("2026-10-12"), DueKind::Working),
            4
        );
        assert_eq!(
            cal.add_days(d("2026-09-30"), 4, DueKind::Calendar),
            d("2026-10-04")
        );
    }

    #[test]
    fn a_deadline_ends_at_midnight_in_china() {
        let cal = Calendar::default();
        // 10:00 in China on 2 November (Monday) + 1 calendar day → end of 3 November there.
        let sent = "2026-11-02T02:00:00Z".parse().expect("time");
        let due = cal.due_at(sent, 1, DueKind::Calendar);
        assert_eq!(
            due,
            "2026-11-03T16:00:00Z"
                .parse::<DateTime<Utc>>()
                .expect("time")
        );
    }

    #[test]
    fn escalation_goes_provider_association_regulator_media_court() {
        let mut c = Some(Channel::Provider);
        let mut seen = Vec::new();
        while let Some(ch) = c {
            seen.push(ch.as_str());
            c = ch.next();
        }
        assert_eq!(
            seen,
            [
                "provider",
                "consumer_association",
                "regulator",
                "media",
                "court"
            ]
        );
    }
}
