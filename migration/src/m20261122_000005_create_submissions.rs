//! Creates `submissions` (a group's complaint filed with a channel, with its
//! response deadline), `updates` (the group's public/private timeline),
//! `holidays` (official holiday / adjusted-workday calendar used for
//! working-day deadlines) and `dossiers` (versioned evidence bundles).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};
use crate::m20261122_000001_create_users::Users;
use crate::m20261122_000002_create_groups::Groups;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Submissions {
    Table,
    Id,
    GroupId,
    DossierVersion,
    Channel,
    Recipient,
    SubmittedAt,
    DueDays,
    DueKind,
    DueAt,
    ExtensionDays,
    ExtensionReason,
    FirstResponseAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Updates {
    Table,
    Id,
    GroupId,
    SubmissionId,
    Kind,
    ResponseClass,
    Title,
    Body,
    Visibility,
    AuthorId,
    OccurredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Holidays {
    Table,
    Day,
    Name,
    IsWorkday,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
    GroupId,
    Version,
    Tier,
    Status,
    FailureReason,
    StatementVersion,
    ManifestSha256,
    BundleSha256,
    BundleSize,
    AuthorId,
    CreatedAt,
    ReadyAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Submissions::Table)
                    .col(big_pk_auto(Submissions::Id))
                    .col(big_integer(Submissions::GroupId))
                    .col(integer_null(Submissions::DossierVersion))
                    .col(string_len(Submissions::Channel, 32))
                    .col(text(Submissions::Recipient))
                    .col(timestamp_with_time_zone(Submissions::SubmittedAt))
                    .col(integer(Submissions::DueDays))
                    .col(string_len(Submissions::DueKind, 16))
                    .col(timestamp_with_time_zone(Submissions::DueAt))
                    .col(integer(Submissions::ExtensionDays).default(0))
                    .col(text_null(Submissions::ExtensionReason))
                    .col(timestamp_with_time_zone_null(Submissions::FirstResponseAt))
                    .col(big_integer_null(Submissions::CreatedBy))
                    .col(timestamp_with_time_zone(Submissions::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_submissions_group_id",
                        Submissions::Table,
                        Submissions::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_submissions_created_by",
                        Submissions::Table,
                        Submissions::CreatedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_submissions_group_id_submitted_at",
                Submissions::Table,
                [Submissions::GroupId, Submissions::SubmittedAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Updates::Table)
                    .col(big_pk_auto(Updates::Id))
                    .col(big_integer(Updates::GroupId))
                    .col(big_integer_null(Updates::SubmissionId))
                    .col(string_len(Updates::Kind, 24))
                    .col(string_len_null(Updates::ResponseClass, 32))
                    .col(text(Updates::Title))
                    .col(text(Updates::Body).default(""))
                    .col(string_len(Updates::Visibility, 16).default("public"))
                    .col(big_integer_null(Updates::AuthorId))
                    .col(timestamp_with_time_zone(Updates::OccurredAt))
                    .col(timestamp_with_time_zone(Updates::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_updates_group_id",
                        Updates::Table,
                        Updates::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_updates_submission_id",
                        Updates::Table,
                        Updates::SubmissionId,
                        Submissions::Table,
                        Submissions::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_updates_author_id",
                        Updates::Table,
                        Updates::AuthorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_updates_group_id_created_at",
                Updates::Table,
                [Updates::GroupId, Updates::CreatedAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Holidays::Table)
                    .col(date(Holidays::Day).primary_key())
                    .col(text(Holidays::Name))
                    .col(boolean(Holidays::IsWorkday).default(false))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Dossiers::Table)
                    .col(big_pk_auto(Dossiers::Id))
                    .col(big_integer(Dossiers::GroupId))
                    .col(integer(Dossiers::Version))
                    .col(string_len(Dossiers::Tier, 32))
                    .col(string_len(Dossiers::Status, 16).default("building"))
                    .col(text_null(Dossiers::FailureReason))
                    .col(integer(Dossiers::StatementVersion))
                    .col(string_len_null(Dossiers::ManifestSha256, 64))
                    .col(string_len_null(Dossiers::BundleSha256, 64))
                    .col(big_integer_null(Dossiers::BundleSize))
                    .col(big_integer_null(Dossiers::AuthorId))
                    .col(timestamp_with_time_zone(Dossiers::CreatedAt))
                    .col(timestamp_with_time_zone_null(Dossiers::ReadyAt))
                    .foreign_key(&mut fk(
                        "fk_dossiers_group_id",
                        Dossiers::Table,
                        Dossiers::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_dossiers_author_id",
                        Dossiers::Table,
                        Dossiers::AuthorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_dossiers_group_id_version",
                Dossiers::Table,
                [Dossiers::GroupId, Dossiers::Version],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Dossiers::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Holidays::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Updates::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Submissions::Table).take())
            .await
    }
}
