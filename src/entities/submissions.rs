//! `submissions` table: A group's complaint filed with a channel, with its response
//! deadline (`due_kind`: `calendar` | `working`).

use sea_orm::entity::prelude::*;

use super::enums::{Channel, DueKind};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "submissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub group_id: i64,
    pub dossier_version: Option<i32>,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub channel: Channel,
    #[sea_orm(column_type = "Text")]
    pub recipient: String,
    #[sea_orm(column_type = "Text")]
    pub reference: Option<String>,
    pub submitted_at: DateTimeUtc,
    pub due_days: i32,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub due_kind: DueKind,
    pub due_at: DateTimeUtc,
    pub extension_days: i32,
    #[sea_orm(column_type = "Text")]
    pub extension_reason: Option<String>,
    pub first_response_at: Option<DateTimeUtc>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
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
    #[sea_orm(has_many = "super::updates::Entity")]
    Updates,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::CreatedBy",
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

impl Related<super::updates::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Updates.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
