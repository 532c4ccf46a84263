//! The holiday table that working-day deadlines are counted on: mainland China's public
//! holidays by default (seeded by a migration), edited a year at a time by administrators.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use super::deadlines::{Calendar, DueKind};
use super::dto::{Holiday, HolidayYear};
use crate::auth::CurrentUser;
use crate::entities::{audit_log, holidays, submissions};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::state::Ctx;

fn year_bounds(year: i32) -> AppResult<(NaiveDate, NaiveDate)> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .zip(NaiveDate::from_ymd_opt(year, 12, 31))
        .ok_or_else(|| AppError::field("year", "is out of range"))
}

/// The listed days, oldest first, of one year or of all.
///
/// # Errors
/// Database failures.
pub async fn list(conn: &impl ConnectionTrait, year: Option<i32>) -> AppResult<Vec<Holiday>> {
    let mut query = holidays::Entity::find();
    if let Some(y) = year {
        let (from, to) = year_bounds(y)?;
        query = query.filter(holidays::Column::Day.between(from, to));
    }
    Ok(query
        .order_by_asc(holidays::Column::Day)
        .all(conn)
        .await?
        .into_iter()
        .map(|h| Holiday {
            day: h.day,
            name: h.name,
            is_workday: h.is_workday,
        })
        .collect())
}

/// Replaces one year of the table (administrators). Clocks are read against the table at the
/// time they are read, so they follow the edit at once; the stored due dates of working-day
/// submissions are brought in line in the same transaction.
///
/// # Errors
/// 403 unless an administrator; 422 for a day outside the year or listed twice.
pub async fn replace_year(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    req: HolidayYear,
) -> AppResult<Vec<Holiday>> {
    user.require_admin()?;
    let (from, to) = year_bounds(req.year)?;
    let mut errors = FieldErrors::new();
    let mut seen = HashSet::new();
    for (i, h) in req.days.iter().enumerate() {
        if h.day.year() != req.year {
            errors
                .entry(format!("days[{i}].day"))
                .or_default()
                .push(format!("must be in {}", req.year));
        } else if !seen.insert(h.day) {
            errors
                .entry(format!("days[{i}].day"))
                .or_default()
                .push("is listed twice".into());
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = ctx.now();
    holidays::Entity::delete_many()
        .filter(holidays::Column::Day.between(from, to))
        .exec(conn)
        .await?;
    for h in &req.days {
        holidays::ActiveModel {
            day: Set(h.day),
            name: Set(h.name.trim().to_owned()),
            is_workday: Set(h.is_workday),
        }
        .insert(conn)
        .await?;
    }
    resync_due_dates(conn).await?;
    audit_log::ActiveModel {
        group_id: Set(None),
        actor_id: Set(Some(user.id)),
        action: Set("holidays.replace".into()),
        target: Set(Some(req.year.to_string())),
        details: Set(json!({ "days": req.days.len() }).to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let out = list(conn, Some(req.year)).await?;
    Ok(out)
}

/// Recomputes the stored due date of every working-day submission against the current table.
async fn resync_due_dates(conn: &impl ConnectionTrait) -> AppResult<()> {
    let cal = Calendar::load(conn).await?;
    let working = submissions::Entity::find()
        .filter(submissions::Column::DueKind.eq(DueKind::Working))
        .all(conn)
        .await?;
    for s in working {
        let due = cal.due_at(
            s.submitted_at,
            i64::from(s.due_days + s.extension_days),
            DueKind::Working,
        );
        if due != s.due_at {
            submissions::Entity::update_many()
                .filter(submissions::Column::Id.eq(s.id))
                .col_expr(submissions::Column::DueAt, due.into())
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}
