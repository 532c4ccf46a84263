//! `signatures` table: A participant's signature on one version of the joint statement.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "signatures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub participation_id: i64,
    pub statement_version: i32,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub statement_sha256: String,
    #[sea_orm(column_type = "Text")]
    pub full_name: String,
    pub consent_share_identity: bool,
    pub signed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::participations::Entity",
        from = "Column::ParticipationId",
        to = "super::participations::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Participations,
}

impl Related<super::participations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Participations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
