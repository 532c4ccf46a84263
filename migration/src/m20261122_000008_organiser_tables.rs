//! Creates `group_invites`: an organiser's invitation, by email, to take a role in a group.
//! Only the SHA-256 of the emailed token is kept; accepting needs an account with that address.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};
use crate::m20261122_000001_create_users::Users;
use crate::m20261122_000002_create_groups::Groups;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupInvites {
    Table,
    Id,
    GroupId,
    Email,
    EmailNormalized,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    AcceptedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GroupInvites::Table)
                    .col(big_pk_auto(GroupInvites::Id))
                    .col(big_integer(GroupInvites::GroupId))
                    .col(text(GroupInvites::Email))
                    .col(text(GroupInvites::EmailNormalized))
                    .col(string_len(GroupInvites::Role, 16))
                    .col(string_len(GroupInvites::TokenHash, 64))
                    .col(big_integer_null(GroupInvites::InvitedBy))
                    .col(timestamp_with_time_zone(GroupInvites::CreatedAt))
                    .col(timestamp_with_time_zone(GroupInvites::ExpiresAt))
                    .col(timestamp_with_time_zone_null(GroupInvites::AcceptedAt))
                    .col(big_integer_null(GroupInvites::AcceptedBy))
                    .foreign_key(&mut fk(
                        "fk_group_invites_group_id",
                        GroupInvites::Table,
                        GroupInvites::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_group_invites_invited_by",
                        GroupInvites::Table,
                        GroupInvites::InvitedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_group_invites_accepted_by",
                        GroupInvites::Table,
                        GroupInvites::AcceptedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_group_invites_token_hash",
                GroupInvites::Table,
                [GroupInvites::TokenHash],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_group_invites_group_id",
                GroupInvites::Table,
                [GroupInvites::GroupId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GroupInvites::Table).take())
            .await
    }
}
