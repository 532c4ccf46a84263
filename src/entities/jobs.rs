//! `jobs` table: leased background work (see `crate::jobs`).

use sea_orm::entity::prelude::*;

use super::enums::JobStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(60))")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    #[sea_orm(column_type = "String(StringLen::N(200))", unique)]
    pub dedupe_key: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTimeUtc,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub locked_by: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
