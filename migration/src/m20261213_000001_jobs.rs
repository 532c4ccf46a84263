//! `jobs`: background work any instance may run (dossier builds first), leased so that the
//! work of an instance that dies is taken over by another once its lease runs out. A job is
//! `queued` (waiting for `run_at`), `running` (held by `locked_by` until `lease_until`),
//! `done` or `failed` (out of attempts, kept for administrators with its last error).
//! `dedupe_key` makes a job unique per subject (one build job per dossier row).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    DedupeKey,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    LeaseUntil,
    LastError,
    CreatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(string_len(Jobs::Kind, 60))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::DedupeKey, 200))
                    .col(string_len(Jobs::Status, 16).default("queued"))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(string_len_null(Jobs::LockedBy, 100))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique("uq_jobs_dedupe_key", Jobs::Table, [Jobs::DedupeKey]))
            .await?;
        manager
            .create_index(index(
                "idx_jobs_status_run_at",
                Jobs::Table,
                [Jobs::Status, Jobs::RunAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}
