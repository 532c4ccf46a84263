//! `dossier_receipts` table: each included participant's inclusion receipt for one dossier
//! version (the JSON document they download).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "dossier_receipts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub participation_id: i64,
    pub leaf_index: i64,
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::dossiers::Entity",
        from = "Column::DossierId",
        to = "super::dossiers::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Dossiers,
    #[sea_orm(
        belongs_to = "super::participations::Entity",
        from = "Column::ParticipationId",
        to = "super::participations::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Participations,
}

impl Related<super::dossiers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Dossiers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
