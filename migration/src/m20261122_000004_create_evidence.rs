//! Creates `blobs` (content-addressed stored files, keyed by SHA-256),
//! `evidence` (a participant's uploaded file referencing a blob) and
//! `interactions` (a participant's log of contacts with the provider).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};
use crate::m20261122_000001_create_users::Users;
use crate::m20261122_000002_create_groups::Groups;
use crate::m20261122_000003_create_participations::Participations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha256,
    Size,
    RefCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Evidence {
    Table,
    Id,
    ParticipationId,
    GroupId,
    UserId,
    Sha256,
    Size,
    ContentType,
    Kind,
    Description,
    OriginalName,
    CapturedAt,
    Status,
    CreatedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Interactions {
    Table,
    Id,
    ParticipationId,
    OccurredAt,
    Channel,
    Agent,
    TicketRef,
    Summary,
    Outcome,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Blobs::Table)
                    .col(string_len(Blobs::Sha256, 64).primary_key())
                    .col(big_integer(Blobs::Size))
                    .col(big_integer(Blobs::RefCount).default(0i64))
                    .col(timestamp_with_time_zone(Blobs::CreatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Evidence::Table)
                    .col(big_pk_auto(Evidence::Id))
                    .col(big_integer(Evidence::ParticipationId))
                    .col(big_integer(Evidence::GroupId))
                    .col(big_integer(Evidence::UserId))
                    .col(string_len(Evidence::Sha256, 64))
                    .col(big_integer(Evidence::Size))
                    .col(text(Evidence::ContentType))
                    .col(string_len(Evidence::Kind, 32))
                    .col(text(Evidence::Description).default(""))
                    .col(text(Evidence::OriginalName).default(""))
                    .col(timestamp_with_time_zone_null(Evidence::CapturedAt))
                    .col(string_len(Evidence::Status, 16).default("active"))
                    .col(timestamp_with_time_zone(Evidence::CreatedAt))
                    .col(timestamp_with_time_zone_null(Evidence::WithdrawnAt))
                    .foreign_key(&mut fk(
                        "fk_evidence_participation_id",
                        Evidence::Table,
                        Evidence::ParticipationId,
                        Participations::Table,
                        Participations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_evidence_group_id",
                        Evidence::Table,
                        Evidence::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_evidence_user_id",
                        Evidence::Table,
                        Evidence::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_evidence_sha256",
                        Evidence::Table,
                        Evidence::Sha256,
                        Blobs::Table,
                        Blobs::Sha256,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_evidence_participation_id",
                Evidence::Table,
                [Evidence::ParticipationId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_evidence_group_id",
                Evidence::Table,
                [Evidence::GroupId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_evidence_sha256",
                Evidence::Table,
                [Evidence::Sha256],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Interactions::Table)
                    .col(big_pk_auto(Interactions::Id))
                    .col(big_integer(Interactions::ParticipationId))
                    .col(timestamp_with_time_zone(Interactions::OccurredAt))
                    .col(string_len(Interactions::Channel, 16))
                    .col(text(Interactions::Agent).default(""))
                    .col(text(Interactions::TicketRef).default(""))
                    .col(text(Interactions::Summary).default(""))
                    .col(string_len(Interactions::Outcome, 16))
                    .col(timestamp_with_time_zone(Interactions::CreatedAt))
                    .col(timestamp_with_time_zone(Interactions::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_interactions_participation_id",
                        Interactions::Table,
                        Interactions::ParticipationId,
                        Participations::Table,
                        Participations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_interactions_participation_id_occurred_at",
                Interactions::Table,
                [Interactions::ParticipationId, Interactions::OccurredAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Interactions::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Evidence::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Blobs::Table).take())
            .await
    }
}
