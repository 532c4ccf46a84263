//! `dossier_evidence` table: the evidence items an issued dossier holds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "dossier_evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub evidence_id: i64,
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
        belongs_to = "super::evidence::Entity",
        from = "Column::EvidenceId",
        to = "super::evidence::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Evidence,
}

impl Related<super::dossiers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Dossiers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
