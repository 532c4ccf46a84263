//! The scheduler: on every tick it queues, through the outbox and exactly once each (the
//! idempotency key names recipient, kind and period or event):
//! - immediate alerts for new timeline entries, to members who chose `immediate`;
//! - daily and weekly digests at each user's local send hour, with what is new for them since
//!   their last digest, all their groups in one email, each open submission's clock;
//! - overdue reminders to organisers, with the suggested next channel;
//! - outcome checks some days after a resolution ("was your own case resolved?");
//! - and it queues the day's retention sweep (a job, see `crate::retention`).
//!
//! Runs inside `serve` and in `lianming worker` as a job per period ([`Tick`]), so one instance
//! makes each pass; passes that overlap anyway (a slow one) are safe, every email being unique.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use tokio_util::sync::CancellationToken;

use super::members::{Member, of_group};
use super::prefs::{DEFAULT_TZ, DigestMode, defaults, save};
use crate::db;
use crate::entities::enums::{
    GroupStatus, ParticipantOutcome, ParticipationStatus, Role, UserStatus,
};
use crate::entities::{
    group_roles, groups, notification_overrides, notification_prefs, participations, submissions,
    updates, users,
};
use crate::error::AppResult;
use crate::i18n::Locale;
use crate::mail::outbox::{NewEmail, enqueue, exists};
use crate::mail::{Action, Section, kinds};
use crate::responses::deadlines::{Calendar, Channel, ClockState, clock};
use crate::state::AppState;

/// What one tick queued.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Immediate alerts.
    pub alerts: usize,
    /// Daily and weekly digests.
    pub digests: usize,
    /// Overdue reminders.
    pub reminders: usize,
    /// Outcome checks.
    pub outcome_checks: usize,
}

/// Queues a tick job ([`Tick`]) every `every` until `stop` is cancelled: one per period,
/// however many instances queue it, run by whichever claims it.
pub async fn run(state: std::sync::Arc<AppState>, every: Duration, stop: CancellationToken) {
    let period = Ord::max(i64::try_from(every.as_millis()).unwrap_or(i64::MAX), 1);
    loop {
        let slot = state.now().timestamp_millis() / period;
        match crate::jobs::enqueue(&state.db, &Tick { slot, period }, state.now()).await {
            Ok(Some(_)) => state.jobs.wake.notify_one(),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "queuing the scheduler's tick failed"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One scheduler pass as a job: period `slot` of `period` milliseconds. Not retried (the next
/// period's pass does what this one could not); a failure stays listed for administrators.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Tick {
    /// The period's number since the epoch.
    pub slot: i64,
    /// Its length in milliseconds.
    pub period: i64,
}

impl crate::jobs::Job for Tick {
    const KIND: &'static str = "scheduler.tick";
    const MAX_ATTEMPTS: i32 = 1;

    fn dedupe_key(&self) -> String {
        format!("scheduler.tick:{}:{}", self.period, self.slot)
    }

    async fn run(self, state: std::sync::Arc<AppState>, _attempt: i32) -> anyhow::Result<()> {
        match tick(&state).await {
            Ok(r) if r != TickReport::default() => tracing::info!(?r, "scheduler queued email"),
            Ok(_) => {}
            Err(e) => anyhow::bail!("scheduler tick: {e}"),
        }
        Ok(())
    }
}

/// One pass over everything that may be due.
///
/// # Errors
/// Database failures (what was queued before stays queued).
pub async fn tick(state: &AppState) -> AppResult<TickReport> {
    let mut report = TickReport {
        alerts: alerts(state).await?,
        ..TickReport::default()
    };
    report.digests = digests(state).await?;
    report.reminders = overdue_reminders(state).await?;
    report.outcome_checks = outcome_checks(state).await?;
    crate::retention::queue_today(state).await?;
    if report != TickReport::default() {
        state.mail_wake.notify_one();
    }
    Ok(report)
}

fn locale_of(user: &users::Model) -> Locale {
    Locale::parse_lenient(&user.locale)
}

fn group_link(state: &AppState, group: &groups::Model, l: Locale) -> Action {
    Action {
        label: l.t("notify.view_group").into(),
        url: format!("{}/groups/{}", state.ctx.public_url, group.slug),
    }
}

/// One timeline entry as a line, dated in `tz` (an entry at 05:42 in Beijing belongs to that
/// Beijing day, not to the UTC day before).
fn update_line(u: &updates::Model, l: Locale, tz: Tz) -> String {
    let class = u
        .response_class
        .map(|c| match l {
            Locale::ZhCn => format!("（{}）", l.tk("notify.class", c)),
            Locale::En => format!(" ({})", l.tk("notify.class", c)),
        })
        .unwrap_or_default();
    format!(
        "{}{class} · {} · {}",
        l.tk("notify.kind", u.kind),
        u.title,
        u.occurred_at.with_timezone(&tz).format("%Y-%m-%d")
    )
}

/// Marks a flag column of an update true and returns its group; `None` when another
/// instance got there first.
async fn claim(
    conn: &impl ConnectionTrait,
    update: &updates::Model,
    column: updates::Column,
) -> AppResult<Option<groups::Model>> {
    let res = updates::Entity::update_many()
        .filter(updates::Column::Id.eq(update.id))
        .filter(column.eq(false))
        .col_expr(column, Expr::value(true))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(groups::Entity::find_by_id(update.group_id)
        .one(conn)
        .await?)
}

async fn alerts(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    let pending = updates::Entity::find()
        .filter(updates::Column::AlertsQueued.eq(false))
        .order_by_asc(updates::Column::Id)
        .limit(200)
        .all(&state.db)
        .await?;
    let mut queued = 0;
    for update in pending {
        let txn = db::write_txn(&state.db).await?;
        let Some(group) = claim(&txn, &update, updates::Column::AlertsQueued).await? else {
            continue;
        };
        for m in of_group(&txn, group.id, now).await? {
            if m.mode != DigestMode::Immediate || !m.can_see(&update) {
                continue;
            }
            let l = locale_of(&m.user);
            let alerted = kinds::Alerted {
                group: &group.title,
                kind: update.kind.as_str(),
                title: &update.title,
                line: update_line(&update, l, state.ctx.settings.time_zone()),
                body: &update.body,
                link: group_link(state, &group, l),
            };
            let content = kinds::alert(l, &m.user.display_name, alerted);
            let (content, headers) = super::bulk(state, m.user.id, l, content);
            let email = NewEmail {
                kind: "alert",
                recipient: m.user.email.clone(),
                user_id: Some(m.user.id),
                content,
                idempotency_key: format!("alert:{}:{}", m.user.id, update.id),
                headers,
            };
            queued += usize::from(enqueue(&txn, email, now, &state.ctx.mail_domain).await?);
        }
        txn.commit().await?;
    }
    Ok(queued)
}

/// Time zones in use (the default always).
async fn time_zones(conn: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    let mut zones: Vec<String> = notification_prefs::Entity::find()
        .select_only()
        .column(notification_prefs::Column::TimeZone)
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    if !zones.iter().any(|z| z == DEFAULT_TZ) {
        zones.push(DEFAULT_TZ.into());
    }
    Ok(zones)
}

/// Members without a preferences row (they have the defaults).
async fn members_without_prefs(conn: &impl ConnectionTrait) -> AppResult<Vec<i64>> {
    let backend = conn.get_database_backend();
    let sql = "SELECT DISTINCT m.user_id AS id FROM (\
        SELECT user_id FROM participations WHERE status IN ('active', 'pending') \
        UNION SELECT user_id FROM group_roles) m \
        LEFT JOIN notification_prefs n ON n.user_id = m.user_id WHERE n.user_id IS NULL";
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .collect())
}

/// What every digest of one tick shares, read once.
struct DigestRun {
    now: DateTime<Utc>,
    /// The newest timeline entry when the tick began; later ones wait for the next digest.
    newest: i64,
    cal: Calendar,
}

async fn digests(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    let newest: Option<i64> = updates::Entity::find()
        .select_only()
        .column_as(updates::Column::Id.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(&state.db)
        .await?
        .flatten();
    let run = DigestRun {
        now,
        newest: newest.unwrap_or(0),
        cal: Calendar::load(&state.db).await?,
    };
    let mut queued = 0;
    for zone in time_zones(&state.db).await? {
        let Ok(tz) = zone.parse::<Tz>() else { continue };
        let local = now.with_timezone(&tz);
        let today = local.date_naive();
        let hour = i32::try_from(local.hour()).unwrap_or(0);
        let mut due: Vec<notification_prefs::Model> = notification_prefs::Entity::find()
            .filter(notification_prefs::Column::TimeZone.eq(zone.as_str()))
            .filter(notification_prefs::Column::SendHour.lte(hour))
            .filter(
                notification_prefs::Column::LastDailyOn
                    .is_null()
                    .or(notification_prefs::Column::LastDailyOn.lt(today)),
            )
            .limit(5000)
            .all(&state.db)
            .await?;
        if zone == DEFAULT_TZ && hour >= 9 {
            due.extend(
                members_without_prefs(&state.db)
                    .await?
                    .into_iter()
                    .map(|id| defaults(id, now)),
            );
        }
        for prefs in due {
            queued += digest_for(
                state,
                &run,
                prefs,
                today,
                local.weekday().number_from_monday(),
            )
            .await?;
        }
    }
    Ok(queued)
}

/// The groups a user belongs to, each with their membership and chosen mode; `default` is
/// the user's own digest choice. Empty for unverified or inactive accounts.
async fn memberships(
    conn: &impl ConnectionTrait,
    user_id: i64,
    default: DigestMode,
) -> AppResult<Vec<(groups::Model, Member)>> {
    let Some(user) = users::Entity::find_by_id(user_id)
        .filter(users::Column::EmailVerifiedAt.is_not_null())
        .filter(users::Column::Status.eq(UserStatus::Active))
        .one(conn)
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut parts: HashMap<i64, participations::Model> = participations::Entity::find()
        .filter(participations::Column::UserId.eq(user_id))
        .filter(
            participations::Column::Status
                .is_in([ParticipationStatus::Active, ParticipationStatus::Pending]),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.group_id, p))
        .collect();
    let mut roles: HashMap<i64, Role> = group_roles::Entity::find()
        .filter(group_roles::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.group_id, r.role))
        .collect();
    let overrides: HashMap<i64, DigestMode> = notification_overrides::Entity::find()
        .filter(notification_overrides::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.group_id, o.digest))
        .collect();
    let group_ids: Vec<i64> = parts.keys().chain(roles.keys()).copied().collect();
    let groups = groups::Entity::find()
        .filter(groups::Column::Id.is_in(group_ids))
        .all(conn)
        .await?;
    Ok(groups
        .into_iter()
        .map(|g| {
            let mode = overrides.get(&g.id).copied().unwrap_or(default);
            let member = Member {
                user: user.clone(),
                participation: parts.remove(&g.id),
                role: roles.remove(&g.id),
                mode,
            };
            (g, member)
        })
        .collect())
}

async fn digest_for(
    state: &AppState,
    run: &DigestRun,
    mut prefs: notification_prefs::Model,
    today: NaiveDate,
    weekday: u32,
) -> AppResult<usize> {
    let (now, newest, cal) = (run.now, run.newest, &run.cal);
    let txn = db::write_txn(&state.db).await?;
    // Another instance may have handled this user since the query.
    if let Some(current) = notification_prefs::Entity::find_by_id(prefs.user_id)
        .one(&txn)
        .await?
    {
        if current.last_daily_on.is_some_and(|d| d >= today) {
            return Ok(0);
        }
        prefs = current;
    }
    let joined = memberships(&txn, prefs.user_id, prefs.digest).await?;
    let weekly_due = i64::from(weekday) == i64::from(prefs.weekday)
        && prefs.last_weekly_on.is_none_or(|d| d < today);
    let mut queued = 0;
    if let Some((_, member)) = joined.first() {
        let daily: Vec<_> = joined
            .iter()
            .filter(|(_, m)| m.mode == DigestMode::Daily)
            .collect();
        let key = format!("digest:daily:{}:{today}", prefs.user_id);
        queued += send_digest(
            state,
            &txn,
            cal,
            member,
            &daily,
            prefs.last_daily_update_id,
            newest,
            "digest_daily",
            key,
            now,
        )
        .await?;
        if weekly_due {
            let weekly: Vec<_> = joined
                .iter()
                .filter(|(_, m)| m.mode == DigestMode::Weekly)
                .collect();
            let week = today.iso_week();
            let key = format!(
                "digest:weekly:{}:{}-W{:02}",
                prefs.user_id,
                week.year(),
                week.week()
            );
            queued += send_digest(
                state,
                &txn,
                cal,
                member,
                &weekly,
                prefs.last_weekly_update_id,
                newest,
                "digest_weekly",
                key,
                now,
            )
            .await?;
        }
    }
    prefs.last_daily_on = Some(today);
    prefs.last_daily_update_id = newest;
    if weekly_due {
        prefs.last_weekly_on = Some(today);
        prefs.last_weekly_update_id = newest;
    }
    prefs.updated_at = now;
    save(&txn, prefs).await?;
    txn.commit().await?;
    Ok(queued)
}

#[expect(clippy::too_many_arguments, reason = "one digest's inputs, used once")]
async fn send_digest(
    state: &AppState,
    txn: &impl ConnectionTrait,
    cal: &Calendar,
    member: &Member,
    groups: &[&(groups::Model, Member)],
    after: i64,
    up_to: i64,
    kind: &'static str,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    if groups.is_empty() || exists(txn, &key).await? {
        return Ok(0);
    }
    let l = locale_of(&member.user);
    let mut sections = Vec::new();
    let mut count = 0;
    for (group, m) in groups {
        let news: Vec<updates::Model> = updates::Entity::find()
            .filter(updates::Column::GroupId.eq(group.id))
            .filter(updates::Column::Id.gt(after))
            .filter(updates::Column::Id.lte(up_to))
            .order_by_asc(updates::Column::Id)
            .all(txn)
            .await?
            .into_iter()
            .filter(|u| m.can_see(u))
            .collect();
        if news.is_empty() {
            continue;
        }
        count += news.len();
        let mut lines: Vec<String> = news
            .iter()
            .map(|u| update_line(u, l, state.ctx.settings.time_zone()))
            .collect();
        lines.extend(open_clocks(txn, cal, group.id, l, now).await?);
        sections.push(Section {
            title: group.title.clone(),
            lines,
            link: Some(group_link(state, group, l)),
        });
    }
    if sections.is_empty() {
        return Ok(0);
    }
    let weekly = kind == "digest_weekly";
    let content = kinds::digest(l, &member.user.display_name, weekly, count, sections);
    let (content, headers) = super::bulk(state, member.user.id, l, content);
    let email = NewEmail {
        kind,
        recipient: member.user.email.clone(),
        user_id: Some(member.user.id),
        content,
        idempotency_key: key,
        headers,
    };
    Ok(usize::from(
        enqueue(txn, email, now, &state.ctx.mail_domain).await?,
    ))
}

/// "Day 9 of 15 at the consumer association" lines for a group's unanswered submissions.
async fn open_clocks(
    conn: &impl ConnectionTrait,
    cal: &Calendar,
    group_id: i64,
    l: Locale,
    now: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    let open = submissions::Entity::find()
        .filter(submissions::Column::GroupId.eq(group_id))
        .filter(submissions::Column::FirstResponseAt.is_null())
        .order_by_asc(submissions::Column::SubmittedAt)
        .all(conn)
        .await?;
    let mut lines = Vec::new();
    for s in open {
        let c = clock(cal, &s, now)?;
        let channel = l.tk("notify.channel", s.channel);
        let args = [
            ("channel", channel),
            ("recipient", s.recipient.as_str()),
            ("day", &c.day.to_string()),
            ("period", &c.period.to_string()),
        ];
        let line = match c.state {
            ClockState::Overdue | ClockState::VeryOverdue => {
                let next = Some(s.channel)
                    .and_then(Channel::next)
                    .map_or("—", |n| l.tk("notify.channel", n.as_str()));
                let mut with_next = args.to_vec();
                with_next.push(("next", next));
                l.tf("notify.clock_overdue", &with_next)
            }
            _ => l.tf("notify.clock", &args),
        };
        lines.push(line);
    }
    Ok(lines)
}

async fn overdue_reminders(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    let open = submissions::Entity::find()
        .filter(submissions::Column::FirstResponseAt.is_null())
        .all(&state.db)
        .await?;
    if open.is_empty() {
        return Ok(0);
    }
    let cal = Calendar::load(&state.db).await?;
    let mut by_group: BTreeMap<i64, Vec<(submissions::Model, ClockState, i64, i64)>> =
        BTreeMap::new();
    for s in open {
        let c = clock(&cal, &s, now)?;
        if matches!(c.state, ClockState::Overdue | ClockState::VeryOverdue) {
            by_group
                .entry(s.group_id)
                .or_default()
                .push((s, c.state, c.day, c.period));
        }
    }
    let mut queued = 0;
    for (group_id, due) in by_group {
        let Some(group) = groups::Entity::find_by_id(group_id).one(&state.db).await? else {
            continue;
        };
        if group.status == GroupStatus::Closed {
            continue;
        }
        let txn = db::write_txn(&state.db).await?;
        let organisers: Vec<Member> = of_group(&txn, group_id, now)
            .await?
            .into_iter()
            .filter(|m| m.role.is_some_and(|r| r >= Role::Organiser) && m.mode != DigestMode::Off)
            .collect();
        for (s, level, day, period) in &due {
            let level_name = if *level == ClockState::VeryOverdue {
                "very_overdue"
            } else {
                "overdue"
            };
            for m in &organisers {
                let key = format!("overdue:{}:{level_name}:{}", s.id, m.user.id);
                if exists(&txn, &key).await? {
                    continue;
                }
                let l = locale_of(&m.user);
                let overdue = kinds::Overdue {
                    group: &group.title,
                    channel: s.channel.as_str(),
                    recipient: &s.recipient,
                    day: *day,
                    period: *period,
                    very_overdue: *level == ClockState::VeryOverdue,
                    next_channel: s.channel.next().map(Channel::as_str),
                    link: group_link(state, &group, l),
                };
                let content = kinds::reminder(l, &m.user.display_name, overdue);
                let (content, headers) = super::bulk(state, m.user.id, l, content);
                let email = NewEmail {
                    kind: "overdue_reminder",
                    recipient: m.user.email.clone(),
                    user_id: Some(m.user.id),
                    content,
                    idempotency_key: key,
                    headers,
                };
                queued += usize::from(enqueue(&txn, email, now, &state.ctx.mail_domain).await?);
            }
        }
        txn.commit().await?;
    }
    Ok(queued)
}

async fn outcome_checks(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    let cutoff = now - chrono::Duration::days(state.ctx.settings.outcome_check_days);
    let resolved = updates::Entity::find()
        .filter(updates::Column::OutcomeChecksQueued.eq(false))
        .filter(
            updates::Column::Kind
                .eq("resolution")
                .or(updates::Column::ResponseClass
                    .is_in(["closed_monetary_relief", "closed_non_monetary_relief"])),
        )
        .filter(updates::Column::CreatedAt.lte(cutoff))
        .order_by_asc(updates::Column::Id)
        .limit(50)
        .all(&state.db)
        .await?;
    let mut queued = 0;
    for update in resolved {
        let txn = db::write_txn(&state.db).await?;
        let Some(group) = claim(&txn, &update, updates::Column::OutcomeChecksQueued).await? else {
            continue;
        };
        for m in of_group(&txn, group.id, now).await? {
            let Some(p) = m.participation.as_ref().filter(|p| {
                p.status == ParticipationStatus::Active && p.outcome != ParticipantOutcome::Resolved
            }) else {
                continue;
            };
            if m.mode == DigestMode::Off {
                continue;
            }
            let l = locale_of(&m.user);
            let token = state.ctx.links.outcome(p.id, update.id);
            let answer_url = format!("{}/outcome/{token}", state.ctx.public_url);
            let content = kinds::outcome_check(l, &m.user.display_name, &group.title, &answer_url);
            let (content, headers) = super::bulk(state, m.user.id, l, content);
            let email = NewEmail {
                kind: "outcome_check",
                recipient: m.user.email.clone(),
                user_id: Some(m.user.id),
                content,
                idempotency_key: format!("outcome_check:{}:{}", p.id, update.id),
                headers,
            };
            queued += usize::from(enqueue(&txn, email, now, &state.ctx.mail_domain).await?);
        }
        txn.commit().await?;
    }
    Ok(queued)
}
