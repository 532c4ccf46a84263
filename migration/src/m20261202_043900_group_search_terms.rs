//! Creates `group_search_terms`: the words a group is found by (character pairs and single
//! characters of Chinese text, lower-cased Latin words and numbers, provider names, aliases and
//! pinyin, category labels in both languages), each with a weight for ranking. The terms are
//! computed by the application (`groups::search`), which also indexes, right after migrating,
//! every group that has none yet, so groups created before this migration are found too.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupSearchTerms {
    Table,
    GroupId,
    Term,
    Weight,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GroupSearchTerms::Table)
                    .col(big_integer(GroupSearchTerms::GroupId))
                    .col(string_len(GroupSearchTerms::Term, 64))
                    .col(integer(GroupSearchTerms::Weight))
                    .primary_key(
                        Index::create()
                            .col(GroupSearchTerms::GroupId)
                            .col(GroupSearchTerms::Term),
                    )
                    .foreign_key(&mut fk(
                        "fk_group_search_terms_group",
                        GroupSearchTerms::Table,
                        GroupSearchTerms::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_group_search_terms_term",
                GroupSearchTerms::Table,
                [GroupSearchTerms::Term, GroupSearchTerms::GroupId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GroupSearchTerms::Table).to_owned())
            .await
    }
}
