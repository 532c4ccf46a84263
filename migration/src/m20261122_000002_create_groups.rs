//! Creates the complaint-group tables: `providers` (the companies complained
//! about), `groups` (one collective complaint against a provider),
//! `group_roles` (owner / organiser / moderator assignments) and
//! `statement_versions` (immutable history of the joint statement).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};
use crate::m20261122_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Slug,
    NameZh,
    NameEn,
    Aliases,
    Kind,
    Website,
    ComplaintChannels,
    Reviewed,
    SearchText,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Groups {
    Table,
    Id,
    Slug,
    ProviderId,
    Title,
    Summary,
    Category,
    Demands,
    IncidentFrom,
    IncidentTo,
    Status,
    Outcome,
    Visibility,
    RequiresModeration,
    StatementVersion,
    SearchText,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum GroupRoles {
    Table,
    Id,
    GroupId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StatementVersions {
    Table,
    Id,
    GroupId,
    Version,
    JointStatement,
    Demands,
    Sha256,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Providers::Table)
                    .col(big_pk_auto(Providers::Id))
                    .col(string_len(Providers::Slug, 80))
                    .col(text(Providers::NameZh))
                    .col(text_null(Providers::NameEn))
                    .col(text(Providers::Aliases).default("[]"))
                    .col(string_len(Providers::Kind, 32).default("digital_wallet"))
                    .col(text_null(Providers::Website))
                    .col(text(Providers::ComplaintChannels).default("[]"))
                    .col(boolean(Providers::Reviewed).default(false))
                    .col(text(Providers::SearchText).default(""))
                    .col(big_integer_null(Providers::CreatedBy))
                    .col(timestamp_with_time_zone(Providers::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_providers_created_by",
                        Providers::Table,
                        Providers::CreatedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_providers_slug",
                Providers::Table,
                [Providers::Slug],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_providers_reviewed",
                Providers::Table,
                [Providers::Reviewed],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(big_pk_auto(Groups::Id))
                    .col(string_len(Groups::Slug, 100))
                    .col(big_integer(Groups::ProviderId))
                    .col(text(Groups::Title))
                    .col(text(Groups::Summary))
                    .col(string_len(Groups::Category, 32))
                    .col(text(Groups::Demands).default("[]"))
                    .col(date_null(Groups::IncidentFrom))
                    .col(date_null(Groups::IncidentTo))
                    .col(string_len(Groups::Status, 16).default("gathering"))
                    .col(string_len_null(Groups::Outcome, 32))
                    .col(string_len(Groups::Visibility, 16).default("public"))
                    .col(boolean(Groups::RequiresModeration).default(false))
                    .col(integer(Groups::StatementVersion).default(1))
                    .col(text(Groups::SearchText).default(""))
                    .col(big_integer_null(Groups::CreatedBy))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Groups::ClosedAt))
                    .foreign_key(&mut fk(
                        "fk_groups_provider_id",
                        Groups::Table,
                        Groups::ProviderId,
                        Providers::Table,
                        Providers::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_groups_created_by",
                        Groups::Table,
                        Groups::CreatedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique("uq_groups_slug", Groups::Table, [Groups::Slug]))
            .await?;
        manager
            .create_index(index(
                "idx_groups_provider_id_category",
                Groups::Table,
                [Groups::ProviderId, Groups::Category],
            ))
            .await?;
        manager
            .create_index(index("idx_groups_status", Groups::Table, [Groups::Status]))
            .await?;
        manager
            .create_index(index(
                "idx_groups_created_at",
                Groups::Table,
                [Groups::CreatedAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupRoles::Table)
                    .col(big_pk_auto(GroupRoles::Id))
                    .col(big_integer(GroupRoles::GroupId))
                    .col(big_integer(GroupRoles::UserId))
                    .col(string_len(GroupRoles::Role, 16))
                    .col(timestamp_with_time_zone(GroupRoles::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_group_roles_group_id",
                        GroupRoles::Table,
                        GroupRoles::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_group_roles_user_id",
                        GroupRoles::Table,
                        GroupRoles::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_group_roles_group_id_user_id",
                GroupRoles::Table,
                [GroupRoles::GroupId, GroupRoles::UserId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_group_roles_user_id",
                GroupRoles::Table,
                [GroupRoles::UserId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StatementVersions::Table)
                    .col(big_pk_auto(StatementVersions::Id))
                    .col(big_integer(StatementVersions::GroupId))
                    .col(integer(StatementVersions::Version))
                    .col(text(StatementVersions::JointStatement))
                    .col(text(StatementVersions::Demands))
                    .col(string_len(StatementVersions::Sha256, 64))
                    .col(big_integer_null(StatementVersions::CreatedBy))
                    .col(timestamp_with_time_zone(StatementVersions::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_statement_versions_group_id",
                        StatementVersions::Table,
                        StatementVersions::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_statement_versions_created_by",
                        StatementVersions::Table,
                        StatementVersions::CreatedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_statement_versions_group_id_version",
                StatementVersions::Table,
                [StatementVersions::GroupId, StatementVersions::Version],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StatementVersions::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(GroupRoles::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Groups::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Providers::Table).take())
            .await
    }
}
