//! `interactions` table: A participant's log of contacts with the provider.

use sea_orm::entity::prelude::*;

use super::enums::{ContactChannel, ContactOutcome};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "interactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub participation_id: i64,
    pub occurred_at: DateTimeUtc,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub channel: ContactChannel,
    #[sea_orm(column_type = "Text")]
    pub agent: String,
    #[sea_orm(column_type = "Text")]
    pub ticket_ref: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub outcome: ContactOutcome,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
