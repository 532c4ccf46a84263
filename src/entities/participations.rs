//! `participations` table: A user's participation (claim) in a group (`status`: `pending` |
//! `active` | `rejected` | `withdrawn`); unique per (group, user). `transaction_refs` is a
//! JSON array of strings as text. `join_network` is personal data: never in a public or
//! participant-facing answer, nor in a dossier.

use sea_orm::entity::prelude::*;

use super::enums::{ParticipantOutcome, ParticipationStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "participations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique_key = "group_user")]
    pub group_id: i64,
    #[sea_orm(unique_key = "group_user")]
    pub user_id: i64,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: ParticipationStatus,
    #[sea_orm(column_type = "Text")]
    pub statement: String,
    pub amount_minor: i64,
    #[sea_orm(column_type = "String(StringLen::N(3))")]
    pub currency: String,
    pub incident_date: Date,
    #[sea_orm(column_type = "Text")]
    pub transaction_refs: String,
    pub consent_share_identity: bool,
    pub consent_contact: bool,
    pub signed_statement_version: Option<i32>,
    #[sea_orm(column_type = "String(StringLen::N(24))")]
    pub outcome: ParticipantOutcome,
    #[sea_orm(column_type = "Text")]
    pub rejection_reason: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
    /// The client network of the join request (IPv4 /24 or IPv6 /48, never the address), for
    /// the organisers' integrity signals only; NULL for joins recorded before it was kept.
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub join_network: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::DuplicateOf",
        to = "Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    DuplicateOf,
    #[sea_orm(has_many = "super::evidence::Entity")]
    Evidence,
    #[sea_orm(
        belongs_to = "super::groups::Entity",
        from = "Column::GroupId",
        to = "super::groups::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Groups,
    #[sea_orm(has_many = "super::interactions::Entity")]
    Interactions,
    #[sea_orm(has_many = "super::signatures::Entity")]
    Signatures,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Users,
}

impl Related<super::evidence::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Evidence.def()
    }
}

impl Related<super::groups::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Groups.def()
    }
}

impl Related<super::interactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Interactions.def()
    }
}

impl Related<super::signatures::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Signatures.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
