//! Creates the account tables: `users`, `email_tokens` (email verification and
//! password-reset tokens) and `refresh_tokens` (rotating refresh-token families).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    DisplayName,
    PasswordHash,
    Locale,
    IsAdmin,
    EmailVerifiedAt,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(text(Users::Email))
                    .col(text(Users::EmailNormalized))
                    .col(text(Users::DisplayName))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Locale, 10).default("zh-CN"))
                    .col(boolean(Users::IsAdmin).default(false))
                    .col(timestamp_with_time_zone_null(Users::EmailVerifiedAt))
                    .col(string_len(Users::Status, 16).default("active"))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_users_email_normalized",
                Users::Table,
                [Users::EmailNormalized],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .col(big_pk_auto(EmailTokens::Id))
                    .col(big_integer(EmailTokens::UserId))
                    .col(string_len(EmailTokens::Purpose, 32))
                    .col(string_len(EmailTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(EmailTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailTokens::UsedAt))
                    .col(timestamp_with_time_zone(EmailTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_email_tokens_user_id",
                        EmailTokens::Table,
                        EmailTokens::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_email_tokens_token_hash",
                EmailTokens::Table,
                [EmailTokens::TokenHash],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_email_tokens_user_id_purpose",
                EmailTokens::Table,
                [EmailTokens::UserId, EmailTokens::Purpose],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::FamilyId, 36))
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_refresh_tokens_user_id",
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_refresh_tokens_token_hash",
                RefreshTokens::Table,
                [RefreshTokens::TokenHash],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_refresh_tokens_family_id",
                RefreshTokens::Table,
                [RefreshTokens::FamilyId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_refresh_tokens_user_id",
                RefreshTokens::Table,
                [RefreshTokens::UserId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(EmailTokens::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).take())
            .await
    }
}
