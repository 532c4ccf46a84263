//! Creates `dossier_evidence`: which evidence items an issued dossier holds, so a participant's
//! deletion of such an item marks it withdrawn instead of erasing it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DossierEvidence {
    Table,
    Id,
    DossierId,
    EvidenceId,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Evidence {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DossierEvidence::Table)
                    .col(big_pk_auto(DossierEvidence::Id))
                    .col(big_integer(DossierEvidence::DossierId))
                    .col(big_integer(DossierEvidence::EvidenceId))
                    .foreign_key(&mut fk(
                        "fk_dossier_evidence_dossier_id",
                        DossierEvidence::Table,
                        DossierEvidence::DossierId,
                        Dossiers::Table,
                        Dossiers::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_dossier_evidence_evidence_id",
                        DossierEvidence::Table,
                        DossierEvidence::EvidenceId,
                        Evidence::Table,
                        Evidence::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_dossier_evidence_dossier_id_evidence_id",
                    DossierEvidence::Table,
                    [DossierEvidence::DossierId, DossierEvidence::EvidenceId],
                )
                .unique()
                .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_dossier_evidence_evidence_id",
                DossierEvidence::Table,
                [DossierEvidence::EvidenceId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DossierEvidence::Table).take())
            .await
    }
}
