//! `providers` table: Service providers complained about. `aliases` and
//! `complaint_channels` hold JSON arrays as text.

use sea_orm::entity::prelude::*;

use super::enums::ProviderKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(80))", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub name_zh: String,
    #[sea_orm(column_type = "Text")]
    pub name_en: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub aliases: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: ProviderKind,
    #[sea_orm(column_type = "Text")]
    pub website: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub complaint_channels: String,
    pub reviewed: bool,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    /// The provider this one was merged into (its groups and names moved there; its slug
    /// redirects).
    pub merged_into: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::groups::Entity")]
    Groups,
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

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
