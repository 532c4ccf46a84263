//! `groups` table: Complaint groups (one collective complaint against a provider).
//! `demands` holds a JSON array of `{kind, text}` as text.

use sea_orm::entity::prelude::*;

use super::enums::{Category, GroupOutcome, GroupStatus, Visibility};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(100))", unique)]
    pub slug: String,
    pub provider_id: i64,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub category: Category,
    #[sea_orm(column_type = "Text")]
    pub demands: String,
    pub incident_from: Option<Date>,
    pub incident_to: Option<Date>,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: GroupStatus,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub outcome: Option<GroupOutcome>,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub visibility: Visibility,
    pub requires_moderation: bool,
    pub statement_version: i32,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    /// When an administrator suspended the group (hidden from search, no joins).
    pub suspended_at: Option<DateTimeUtc>,
    /// Why, as the administrator wrote it.
    #[sea_orm(column_type = "Text")]
    pub suspension_reason: Option<String>,
    /// When retention deleted the closed group's evidence and anonymised its participants.
    pub anonymised_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::audit_log::Entity")]
    AuditLog,
    #[sea_orm(has_many = "super::dossiers::Entity")]
    Dossiers,
    #[sea_orm(has_many = "super::evidence::Entity")]
    Evidence,
    #[sea_orm(has_many = "super::group_roles::Entity")]
    GroupRoles,
    #[sea_orm(has_many = "super::participations::Entity")]
    Participations,
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Providers,
    #[sea_orm(has_many = "super::statement_versions::Entity")]
    StatementVersions,
    #[sea_orm(has_many = "super::submissions::Entity")]
    Submissions,
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

impl Related<super::audit_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuditLog.def()
    }
}

impl Related<super::dossiers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Dossiers.def()
    }
}

impl Related<super::evidence::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Evidence.def()
    }
}

impl Related<super::group_roles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::GroupRoles.def()
    }
}

impl Related<super::participations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Participations.def()
    }
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Providers.def()
    }
}

impl Related<super::statement_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StatementVersions.def()
    }
}

impl Related<super::submissions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Submissions.def()
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
