//! `updates` table: Entries on a group's timeline, optionally tied to a submission.

use sea_orm::entity::prelude::*;

use super::enums::{ResponseClass, UpdateKind, UpdateVisibility};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "updates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub group_id: i64,
    pub submission_id: Option<i64>,
    #[sea_orm(column_type = "String(StringLen::N(24))")]
    pub kind: UpdateKind,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub response_class: Option<ResponseClass>,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub visibility: UpdateVisibility,
    pub author_id: Option<i64>,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// Immediate alerts for this update have been queued.
    pub alerts_queued: bool,
    /// Outcome checks after this resolution have been queued.
    pub outcome_checks_queued: bool,
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
        belongs_to = "super::submissions::Entity",
        from = "Column::SubmissionId",
        to = "super::submissions::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Submissions,
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

impl Related<super::submissions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Submissions.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
