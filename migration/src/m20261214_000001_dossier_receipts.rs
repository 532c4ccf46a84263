//! Inclusion receipts (issue 15): `dossiers.merkle_root`, the published root of the Merkle tree
//! over a version's signature records, and `dossier_receipts`, one receipt per included
//! participant (the JSON document they download: their own record and its inclusion proof).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
    MerkleRoot,
}

#[derive(DeriveIden)]
enum Participations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DossierReceipts {
    Table,
    Id,
    DossierId,
    ParticipationId,
    LeafIndex,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .add_column(string_len_null(Dossiers::MerkleRoot, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DossierReceipts::Table)
                    .col(big_pk_auto(DossierReceipts::Id))
                    .col(big_integer(DossierReceipts::DossierId))
                    .col(big_integer(DossierReceipts::ParticipationId))
                    .col(big_integer(DossierReceipts::LeafIndex))
                    .col(text(DossierReceipts::Body))
                    .foreign_key(&mut fk(
                        "fk_dossier_receipts_dossier_id",
                        DossierReceipts::Table,
                        DossierReceipts::DossierId,
                        Dossiers::Table,
                        Dossiers::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_dossier_receipts_participation_id",
                        DossierReceipts::Table,
                        DossierReceipts::ParticipationId,
                        Participations::Table,
                        Participations::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_dossier_receipts_dossier_id_participation_id",
                DossierReceipts::Table,
                [DossierReceipts::DossierId, DossierReceipts::ParticipationId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_dossier_receipts_participation_id",
                DossierReceipts::Table,
                [DossierReceipts::ParticipationId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DossierReceipts::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .drop_column(Dossiers::MerkleRoot)
                    .to_owned(),
            )
            .await
    }
}
