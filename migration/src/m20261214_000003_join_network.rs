//! `participations.join_network`: the client network a join came from — the IPv4 /24 or the
//! IPv6 /48 of the join request's address, never the address itself — for the organisers'
//! integrity signals (`src/groups/signals.rs`). Rows written before stay NULL; retention clears
//! it with the rest of a group's personal data.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Participations {
    Table,
    JoinNetwork,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Participations::Table)
                    .add_column(string_len_null(Participations::JoinNetwork, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Participations::Table)
                    .drop_column(Participations::JoinNetwork)
                    .to_owned(),
            )
            .await
    }
}
