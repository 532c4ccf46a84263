//! Database schema migrations for Lianming, written in the portable
//! sea-orm-migration DSL so they run unchanged on SQLite and PostgreSQL.
//! Apply with `Migrator::up(&db, None)`.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261122_000001_create_users;
mod m20261122_000002_create_groups;
mod m20261122_000003_create_participations;
mod m20261122_000004_create_evidence;
mod m20261122_000005_create_submissions;
mod m20261122_000006_create_outbox;
mod m20261122_000007_create_dossier_evidence;
mod m20261122_000008_organiser_tables;
mod m20261122_000009_seed_holidays;
mod m20261122_000011_notifications;
mod m20261202_043900_group_search_terms;
mod m20261210_000001_admin_moderation;
mod m20261211_000001_submission_reference;
mod m20261213_000001_jobs;
mod m20261213_000002_limit_hits;
mod m20261213_000003_group_anonymised_at;
mod m20261214_000001_dossier_receipts;
mod m20261214_000002_timestamps;
mod m20261214_000003_join_network;

/// Runs every Lianming migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_users::Migration),
            Box::new(m20261122_000002_create_groups::Migration),
            Box::new(m20261122_000003_create_participations::Migration),
            Box::new(m20261122_000004_create_evidence::Migration),
            Box::new(m20261122_000005_create_submissions::Migration),
            Box::new(m20261122_000006_create_outbox::Migration),
            Box::new(m20261122_000007_create_dossier_evidence::Migration),
            Box::new(m20261122_000008_organiser_tables::Migration),
            Box::new(m20261122_000009_seed_holidays::Migration),
            Box::new(m20261122_000011_notifications::Migration),
            Box::new(m20261202_043900_group_search_terms::Migration),
            Box::new(m20261210_000001_admin_moderation::Migration),
            Box::new(m20261211_000001_submission_reference::Migration),
            Box::new(m20261213_000001_jobs::Migration),
            Box::new(m20261213_000002_limit_hits::Migration),
            Box::new(m20261213_000003_group_anonymised_at::Migration),
            Box::new(m20261214_000001_dossier_receipts::Migration),
            Box::new(m20261214_000002_timestamps::Migration),
            Box::new(m20261214_000003_join_network::Migration),
        ]
    }
}
