//! `users` table: User accounts.

use sea_orm::entity::prelude::*;

use super::enums::UserStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub email: String,
    #[sea_orm(column_type = "Text", unique)]
    pub email_normalized: String,
    #[sea_orm(column_type = "Text")]
    pub display_name: String,
    #[sea_orm(column_type = "Text")]
    pub password_hash: String,
    #[sea_orm(column_type = "String(StringLen::N(10))")]
    pub locale: String,
    pub is_admin: bool,
    pub email_verified_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: UserStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Why an administrator suspended the account.
    #[sea_orm(column_type = "Text")]
    pub suspension_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::email_tokens::Entity")]
    EmailTokens,
    #[sea_orm(has_many = "super::evidence::Entity")]
    Evidence,
    #[sea_orm(has_many = "super::group_roles::Entity")]
    GroupRoles,
    #[sea_orm(has_many = "super::participations::Entity")]
    Participations,
    #[sea_orm(has_many = "super::refresh_tokens::Entity")]
    RefreshTokens,
}

impl Related<super::email_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmailTokens.def()
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

impl Related<super::refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshTokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
