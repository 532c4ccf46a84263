//! Notification preferences: how often a user hears about their groups, when, in which time
//! zone and language, with per-group overrides.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::CurrentUser;
use crate::entities::enums::{ParticipantOutcome, ParticipationStatus};
use crate::entities::{
    groups, notification_overrides, notification_prefs, participations, updates, users,
};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::state::Ctx;

/// The default time zone of users who never chose one.
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

pub use crate::entities::enums::DigestMode;

/// A choice for one group.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupOverride {
    /// The group's slug.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    pub group: String,
    /// How often for this group.
    pub digest: DigestMode,
}

/// `GET|PUT /me/notifications`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// immediate, daily (default), weekly or off.
    pub digest: DigestMode,
    /// Day of the weekly digest, 1 = Monday … 7 = Sunday (default 1).
    #[validate(range(min = 1, max = 7, message = "must be 1 (Monday) to 7 (Sunday)"))]
    #[serde(default = "default_weekday")]
    pub weekday: i32,
    /// Local hour digests are sent at, 0–23 (default 9).
    #[validate(range(min = 0, max = 23, message = "must be 0 to 23"))]
    #[serde(default = "default_hour")]
    pub send_hour: i32,
    /// IANA time zone (default Asia/Shanghai).
    #[validate(custom(function = "valid_tz"))]
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// Language of emails (and the account); unchanged when absent.
    #[serde(default)]
    pub language: Option<Locale>,
    /// Per-group choices (replaces the earlier list).
    #[validate(length(max = 500, message = "at most 500 groups"), nested)]
    #[serde(default)]
    #[schema(max_items = 500)]
    pub groups: Vec<GroupOverride>,
}

fn default_weekday() -> i32 {
    1
}
fn default_hour() -> i32 {
    9
}
fn default_tz() -> String {
    DEFAULT_TZ.into()
}

fn valid_tz(tz: &str) -> Result<(), validator::ValidationError> {
    tz.parse::<Tz>().map(|_| ()).map_err(|_| {
        validator::ValidationError::new("time_zone")
            .with_message("must be an IANA time zone such as Asia/Shanghai".into())
    })
}

/// A user's stored preferences, or the defaults.
///
/// # Errors
/// Database failures.
pub async fn load(
    conn: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<notification_prefs::Model> {
    Ok(notification_prefs::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .unwrap_or_else(|| defaults(user_id, now)))
}

/// The preferences of a user who never chose.
#[must_use]
pub fn defaults(user_id: i64, now: DateTime<Utc>) -> notification_prefs::Model {
    notification_prefs::Model {
        user_id,
        digest: DigestMode::Daily,
        weekday: 1,
        send_hour: 9,
        time_zone: DEFAULT_TZ.into(),
        last_daily_on: None,
        last_weekly_on: None,
        last_daily_update_id: 0,
        last_weekly_update_id: 0,
        updated_at: now,
    }
}

/// Writes a preferences row (insert or replace all fields).
///
/// # Errors
/// Database failures.
pub async fn save(conn: &impl ConnectionTrait, m: notification_prefs::Model) -> AppResult<()> {
    use notification_prefs::Column as C;
    let active = notification_prefs::ActiveModel {
        user_id: Set(m.user_id),
        digest: Set(m.digest),
        weekday: Set(m.weekday),
        send_hour: Set(m.send_hour),
        time_zone: Set(m.time_zone),
        last_daily_on: Set(m.last_daily_on),
        last_weekly_on: Set(m.last_weekly_on),
        last_daily_update_id: Set(m.last_daily_update_id),
        last_weekly_update_id: Set(m.last_weekly_update_id),
        updated_at: Set(m.updated_at),
    };
    notification_prefs::Entity::insert(active)
        .on_conflict(
            OnConflict::column(C::UserId)
                .update_columns([
                    C::Digest,
                    C::Weekday,
                    C::SendHour,
                    C::TimeZone,
                    C::LastDailyOn,
                    C::LastWeeklyOn,
                    C::LastDailyUpdateId,
                    C::LastWeeklyUpdateId,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The caller's settings.
///
/// # Errors
/// Database failures.
pub async fn get(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
) -> AppResult<NotificationSettings> {
    let prefs = load(conn, user.id, ctx.now()).await?;
    let overrides = notification_overrides::Entity::find()
        .filter(notification_overrides::Column::UserId.eq(user.id))
        .find_also_related(groups::Entity)
        .all(conn)
        .await?;
    Ok(NotificationSettings {
        digest: prefs.digest,
        weekday: prefs.weekday,
        send_hour: prefs.send_hour,
        time_zone: prefs.time_zone,
        language: Some(Locale::parse_lenient(&user.locale)),
        groups: overrides
            .into_iter()
            .filter_map(|(o, g)| {
                Some(GroupOverride {
                    group: g?.slug,
                    digest: o.digest,
                })
            })
            .collect(),
    })
}

/// Replaces the caller's settings.
///
/// # Errors
/// 422 naming an unknown group.
pub async fn put(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    s: NotificationSettings,
) -> AppResult<NotificationSettings> {
    let now = ctx.now();
    let mut prefs = load(conn, user.id, now).await?;
    prefs.digest = s.digest;
    prefs.weekday = s.weekday;
    prefs.send_hour = s.send_hour;
    prefs.time_zone = s.time_zone.clone();
    prefs.updated_at = now;
    save(conn, prefs).await?;
    notification_overrides::Entity::delete_many()
        .filter(notification_overrides::Column::UserId.eq(user.id))
        .exec(conn)
        .await?;
    for (i, o) in s.groups.iter().enumerate() {
        let group = groups::Entity::find()
            .filter(groups::Column::Slug.eq(o.group.as_str()))
            .one(conn)
            .await?
            .ok_or_else(|| {
                AppError::field(format!("groups[{i}].group"), "no group has this slug")
            })?;
        notification_overrides::Entity::insert(notification_overrides::ActiveModel {
            user_id: Set(user.id),
            group_id: Set(group.id),
            digest: Set(o.digest),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([
                notification_overrides::Column::UserId,
                notification_overrides::Column::GroupId,
            ])
            .update_column(notification_overrides::Column::Digest)
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    if let Some(lang) = s.language {
        users::Entity::update_many()
            .filter(users::Column::Id.eq(user.id))
            .col_expr(users::Column::Locale, lang.as_str().into())
            .exec(conn)
            .await?;
    }
    let mut user = user.clone();
    if let Some(lang) = s.language {
        user.locale = lang.as_str().into();
    }
    get(conn, ctx, &user).await
}

/// Stops all bulk email to a user (one-click unsubscribe).
///
/// # Errors
/// Database failures.
pub async fn unsubscribe(conn: &impl ConnectionTrait, ctx: &Ctx, user_id: i64) -> AppResult<()> {
    let now = ctx.now();
    if users::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let mut prefs = load(conn, user_id, now).await?;
    prefs.digest = DigestMode::Off;
    prefs.updated_at = now;
    save(conn, prefs).await?;
    notification_overrides::Entity::delete_many()
        .filter(notification_overrides::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets a participation's own outcome from a signed outcome-check link.
///
/// # Errors
/// 404 when the link's participation or update is gone, they belong to different groups, or the
/// participation is no longer active.
pub async fn record_outcome(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    participation_id: i64,
    update_id: i64,
    answer: ParticipantOutcome,
) -> AppResult<()> {
    let p = participations::Entity::find_by_id(participation_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let update = updates::Entity::find_by_id(update_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if update.group_id != p.group_id || p.status != ParticipationStatus::Active {
        return Err(AppError::NotFound);
    }
    let mut active: participations::ActiveModel = p.into();
    active.outcome = Set(answer);
    active.updated_at = Set(ctx.now());
    active.update(conn).await?;
    Ok(())
}
