//! `limit_hits` table: requests counted by the rate limits shared across instances (see
//! `crate::ratelimit::shared`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "limit_hits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub bucket: String,
    #[sea_orm(column_type = "String(StringLen::N(400))")]
    pub key: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub address: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
