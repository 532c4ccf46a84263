//! Creates `participations` (a user's membership and claim in a group) and
//! `signatures` (a participant's signature on one joint-statement version).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};
use crate::m20261122_000001_create_users::Users;
use crate::m20261122_000002_create_groups::Groups;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Participations {
    Table,
    Id,
    GroupId,
    UserId,
    Status,
    Statement,
    AmountMinor,
    Currency,
    IncidentDate,
    TransactionRefs,
    ConsentShareIdentity,
    ConsentContact,
    SignedStatementVersion,
    Outcome,
    RejectionReason,
    DuplicateOf,
    CreatedAt,
    UpdatedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Signatures {
    Table,
    Id,
    ParticipationId,
    StatementVersion,
    StatementSha256,
    FullName,
    ConsentShareIdentity,
    SignedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Participations::Table)
                    .col(big_pk_auto(Participations::Id))
                    .col(big_integer(Participations::GroupId))
                    .col(big_integer(Participations::UserId))
                    .col(string_len(Participations::Status, 16))
                    .col(text(Participations::Statement))
                    .col(big_integer(Participations::AmountMinor))
                    .col(string_len(Participations::Currency, 3))
                    .col(date(Participations::IncidentDate))
                    .col(text(Participations::TransactionRefs).default("[]"))
                    .col(boolean(Participations::ConsentShareIdentity))
                    .col(boolean(Participations::ConsentContact).default(false))
                    .col(integer_null(Participations::SignedStatementVersion))
                    .col(string_len(Participations::Outcome, 24).default("unresolved"))
                    .col(text_null(Participations::RejectionReason))
                    .col(big_integer_null(Participations::DuplicateOf))
                    .col(timestamp_with_time_zone(Participations::CreatedAt))
                    .col(timestamp_with_time_zone(Participations::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Participations::WithdrawnAt))
                    .foreign_key(&mut fk(
                        "fk_participations_group_id",
                        Participations::Table,
                        Participations::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_participations_user_id",
                        Participations::Table,
                        Participations::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_participations_duplicate_of",
                        Participations::Table,
                        Participations::DuplicateOf,
                        Participations::Table,
                        Participations::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_participations_group_id_user_id",
                Participations::Table,
                [Participations::GroupId, Participations::UserId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_participations_group_id_status",
                Participations::Table,
                [Participations::GroupId, Participations::Status],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_participations_user_id",
                Participations::Table,
                [Participations::UserId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Signatures::Table)
                    .col(big_pk_auto(Signatures::Id))
                    .col(big_integer(Signatures::ParticipationId))
                    .col(integer(Signatures::StatementVersion))
                    .col(string_len(Signatures::StatementSha256, 64))
                    .col(text(Signatures::FullName))
                    .col(boolean(Signatures::ConsentShareIdentity))
                    .col(timestamp_with_time_zone(Signatures::SignedAt))
                    .foreign_key(&mut fk(
                        "fk_signatures_participation_id",
                        Signatures::Table,
                        Signatures::ParticipationId,
                        Participations::Table,
                        Participations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_signatures_participation_id",
                Signatures::Table,
                [Signatures::ParticipationId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Signatures::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Participations::Table).take())
            .await
    }
}
