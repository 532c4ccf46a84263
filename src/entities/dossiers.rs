//! `dossiers` table: Versioned evidence bundles built for a group; unique per (group,
//! version).

use sea_orm::entity::prelude::*;

use super::enums::{DossierStatus, Tier};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "dossiers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique_key = "group_version")]
    pub group_id: i64,
    #[sea_orm(unique_key = "group_version")]
    pub version: i32,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub tier: Tier,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: DossierStatus,
    #[sea_orm(column_type = "Text")]
    pub failure_reason: Option<String>,
    pub statement_version: i32,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub manifest_sha256: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub bundle_sha256: Option<String>,
    pub bundle_size: Option<i64>,
    /// The root of the Merkle tree over the version's signature records (hex), published for
    /// receipts.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub merkle_root: Option<String>,
    pub author_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub ready_at: Option<DateTimeUtc>,
    /// The time the TSA gave `manifest.json` (`manifest.tsr`), when one was configured.
    pub timestamped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::groups::Entity",
        from = "Column::GroupId",
        to = "super::groups::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Groups,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::AuthorId",
        to = "super::users::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Users,
}

impl Related<super::groups::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Groups.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
