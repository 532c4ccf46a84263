//! `limit_hits`: the rate limits that must hold across instances (login failures per account,
//! registrations and password resets per address and account), one row per counted request,
//! kept for the limit's window.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LimitHits {
    Table,
    Id,
    Bucket,
    Key,
    Address,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LimitHits::Table)
                    .col(big_pk_auto(LimitHits::Id))
                    .col(string_len(LimitHits::Bucket, 32))
                    .col(string_len(LimitHits::Key, 400))
                    .col(string_len_null(LimitHits::Address, 64))
                    .col(timestamp_with_time_zone(LimitHits::At))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_limit_hits_bucket_key_at",
                LimitHits::Table,
                [LimitHits::Bucket, LimitHits::Key, LimitHits::At],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_limit_hits_at",
                LimitHits::Table,
                [LimitHits::At],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LimitHits::Table).to_owned())
            .await
    }
}
