//! Creates the tables of scheduled email: `notification_prefs` (a user's digest choice, local
//! send time and digest bookkeeping), `notification_overrides` (per-group choices),
//! `email_suppressions` (addresses a relay refused for good) and adds to `updates` the flags
//! that record which alerts and outcome checks were queued.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationPrefs {
    Table,
    UserId,
    Digest,
    Weekday,
    SendHour,
    TimeZone,
    LastDailyOn,
    LastWeeklyOn,
    LastDailyUpdateId,
    LastWeeklyUpdateId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationOverrides {
    Table,
    Id,
    UserId,
    GroupId,
    Digest,
}

#[derive(DeriveIden)]
enum EmailSuppressions {
    Table,
    Address,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Updates {
    Table,
    AlertsQueued,
    OutcomeChecksQueued,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
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
                    .table(NotificationPrefs::Table)
                    .col(big_integer(NotificationPrefs::UserId).primary_key())
                    .col(string_len(NotificationPrefs::Digest, 16).default("daily"))
                    .col(integer(NotificationPrefs::Weekday).default(1))
                    .col(integer(NotificationPrefs::SendHour).default(9))
                    .col(string_len(NotificationPrefs::TimeZone, 64).default("Asia/Shanghai"))
                    .col(date_null(NotificationPrefs::LastDailyOn))
                    .col(date_null(NotificationPrefs::LastWeeklyOn))
                    .col(big_integer(NotificationPrefs::LastDailyUpdateId).default(0i64))
                    .col(big_integer(NotificationPrefs::LastWeeklyUpdateId).default(0i64))
                    .col(timestamp_with_time_zone(NotificationPrefs::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_notification_prefs_user_id",
                        NotificationPrefs::Table,
                        NotificationPrefs::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_notification_prefs_time_zone_send_hour",
                NotificationPrefs::Table,
                [NotificationPrefs::TimeZone, NotificationPrefs::SendHour],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationOverrides::Table)
                    .col(big_pk_auto(NotificationOverrides::Id))
                    .col(big_integer(NotificationOverrides::UserId))
                    .col(big_integer(NotificationOverrides::GroupId))
                    .col(string_len(NotificationOverrides::Digest, 16))
                    .foreign_key(&mut fk(
                        "fk_notification_overrides_user_id",
                        NotificationOverrides::Table,
                        NotificationOverrides::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_notification_overrides_group_id",
                        NotificationOverrides::Table,
                        NotificationOverrides::GroupId,
                        Groups::Table,
                        Groups::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_notification_overrides_user_id_group_id",
                    NotificationOverrides::Table,
                    [
                        NotificationOverrides::UserId,
                        NotificationOverrides::GroupId,
                    ],
                )
                .unique()
                .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailSuppressions::Table)
                    .col(string_len(EmailSuppressions::Address, 254).primary_key())
                    .col(text(EmailSuppressions::Reason))
                    .col(timestamp_with_time_zone(EmailSuppressions::CreatedAt))
                    .take(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Updates::Table)
                    .add_column(boolean(Updates::AlertsQueued).default(false))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Updates::Table)
                    .add_column(boolean(Updates::OutcomeChecksQueued).default(false))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Updates::AlertsQueued, Updates::OutcomeChecksQueued] {
            manager
                .alter_table(Table::alter().table(Updates::Table).drop_column(col).take())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(EmailSuppressions::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationOverrides::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationPrefs::Table).take())
            .await
    }
}
