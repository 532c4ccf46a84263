//! `evidence` table: Evidence files uploaded by a participant (`status`: `active` |
//! `withdrawn`).

use sea_orm::entity::prelude::*;

use super::enums::{EvidenceKind, EvidenceStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub participation_id: i64,
    pub group_id: i64,
    pub user_id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub sha256: String,
    pub size: i64,
    #[sea_orm(column_type = "Text")]
    pub content_type: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: EvidenceKind,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub original_name: String,
    pub captured_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: EvidenceStatus,
    pub created_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::blobs::Entity",
        from = "Column::Sha256",
        to = "super::blobs::Column::Sha256",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Blobs,
    #[sea_orm(
        belongs_to = "super::groups::Entity",
        from = "Column::GroupId",
        to = "super::groups::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Groups,
    #[sea_orm(
        belongs_to = "super::participations::Entity",
        from = "Column::ParticipationId",
        to = "super::participations::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Participations,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Users,
}

impl Related<super::blobs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Blobs.def()
    }
}

impl Related<super::groups::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Groups.def()
    }
}

impl Related<super::participations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Participations.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
