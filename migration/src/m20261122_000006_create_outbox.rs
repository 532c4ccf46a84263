//! Creates `outbox` (transactional email outbox drained by the mail worker)
//! and `audit_log` (append-only record of moderation and admin actions).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};
use crate::m20261122_000001_create_users::Users;
use crate::m20261122_000002_create_groups::Groups;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Kind,
    Recipient,
    UserId,
    Subject,
    BodyText,
    BodyHtml,
    Headers,
    IdempotencyKey,
    MessageId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    GroupId,
    ActorId,
    Action,
    Target,
    Details,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(string_len(Outbox::Kind, 40))
                    .col(text(Outbox::Recipient))
                    .col(big_integer_null(Outbox::UserId))
                    .col(text(Outbox::Subject))
                    .col(text(Outbox::BodyText))
                    .col(text(Outbox::BodyHtml))
                    .col(text(Outbox::Headers).default("{}"))
                    .col(string_len(Outbox::IdempotencyKey, 200))
                    .col(text(Outbox::MessageId))
                    .col(string_len(Outbox::Status, 16).default("pending"))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .foreign_key(&mut fk(
                        "fk_outbox_user_id",
                        Outbox::Table,
                        Outbox::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_outbox_idempotency_key",
                Outbox::Table,
                [Outbox::IdempotencyKey],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_outbox_status_next_attempt_at",
                Outbox::Table,
                [Outbox::Status, Outbox::NextAttemptAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(big_integer_null(AuditLog::GroupId))
                    .col(big_integer_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(text_null(AuditLog::Target))
                    .col(text(AuditLog::Details).default("{}"))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_audit_log_group_id",
                        AuditLog::Table,
                        AuditLog::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_audit_log_actor_id",
                        AuditLog::Table,
                        AuditLog::ActorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_log_group_id_created_at",
                AuditLog::Table,
                [AuditLog::GroupId, AuditLog::CreatedAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Outbox::Table).take())
            .await
    }
}
