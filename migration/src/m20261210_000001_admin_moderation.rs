//! What site administrators need to curate and moderate: `providers.merged_into` (a provider
//! merged into another keeps its row, so its slug still resolves, and points at the one that
//! took its groups), `groups.suspended_at` and `groups.suspension_reason` (a suspended group is
//! hidden from search and takes no joins; its lifecycle status is kept, so lifting the
//! suspension brings it back as it was), and `users.suspension_reason` (the account's status
//! already has `suspended`; the reason is shown to administrators).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Providers {
    Table,
    MergedInto,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    SuspendedAt,
    SuspensionReason,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    SuspensionReason,
}

/// One column per statement: SQLite alters one thing at a time.
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    let mut col = col;
    manager
        .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
        .await
}

async fn drop(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            Providers::Table,
            big_integer_null(Providers::MergedInto),
        )
        .await?;
        add(
            manager,
            Groups::Table,
            timestamp_with_time_zone_null(Groups::SuspendedAt),
        )
        .await?;
        add(manager, Groups::Table, text_null(Groups::SuspensionReason)).await?;
        add(manager, Users::Table, text_null(Users::SuspensionReason)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop(manager, Users::Table, Users::SuspensionReason).await?;
        drop(manager, Groups::Table, Groups::SuspensionReason).await?;
        drop(manager, Groups::Table, Groups::SuspendedAt).await?;
        drop(manager, Providers::Table, Providers::MergedInto).await
    }
}
