//! `timestamps`: RFC 3161 trusted timestamps obtained from the configured TSA
//! (`LIANMING_TSA_URL`), one per SHA-256 timestamped (an evidence file's content), so the same
//! content uploaded twice is timestamped once; and `dossiers.timestamped_at`, the time the TSA
//! gave a dossier's `manifest.json` (its token is the version's `manifest.tsr` part).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Timestamps {
    Table,
    Id,
    SubjectSha256,
    Token,
    GenTime,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    TimestampedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Timestamps::Table)
                    .col(big_pk_auto(Timestamps::Id))
                    .col(string_len_uniq(Timestamps::SubjectSha256, 64))
                    .col(blob(Timestamps::Token))
                    .col(timestamp_with_time_zone(Timestamps::GenTime))
                    .col(timestamp_with_time_zone(Timestamps::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .add_column(timestamp_with_time_zone_null(Dossiers::TimestampedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .drop_column(Dossiers::TimestampedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Timestamps::Table).to_owned())
            .await
    }
}
