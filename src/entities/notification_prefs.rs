//! `notification_prefs` table: a user's digest choice, local send time and digest bookkeeping.
//! A user without a row has the defaults (daily at 09:00 Asia/Shanghai).

use sea_orm::entity::prelude::*;

use super::enums::DigestMode;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "notification_prefs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// immediate | daily | weekly | off
    pub digest: DigestMode,
    /// ISO weekday of the weekly digest, 1 = Monday.
    pub weekday: i32,
    /// Local hour (0–23) digests are sent at.
    pub send_hour: i32,
    /// IANA time zone name.
    pub time_zone: String,
    pub last_daily_on: Option<Date>,
    pub last_weekly_on: Option<Date>,
    pub last_daily_update_id: i64,
    pub last_weekly_update_id: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Users,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
