//! `timestamps` table: RFC 3161 timestamps from the configured TSA, one per SHA-256 (an
//! evidence file's content). `token` holds the TSA's whole `TimeStampResp` (DER), the bytes of a
//! `.tsr` file that `openssl ts -verify -in` reads.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "timestamps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))", unique)]
    pub subject_sha256: String,
    #[sea_orm(column_type = "Blob")]
    pub token: Vec<u8>,
    pub gen_time: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
