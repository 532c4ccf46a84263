//! Generated-shape sea-orm entities, one module per table.

pub mod audit_log;
pub mod blobs;
pub mod dossier_evidence;
pub mod dossier_receipts;
pub mod dossiers;
pub mod email_suppressions;
pub mod email_tokens;
pub mod enums;
pub mod evidence;
pub mod group_invites;
pub mod group_roles;
pub mod group_search_terms;
pub mod groups;
pub mod holidays;
pub mod interactions;
pub mod jobs;
pub mod limit_hits;
pub mod notification_overrides;
pub mod notification_prefs;
pub mod outbox;
pub mod participations;
pub mod providers;
pub mod refresh_tokens;
pub mod signatures;
pub mod statement_versions;
pub mod submissions;
pub mod timestamps;
pub mod updates;
pub mod users;

/// `Entity as TableName` aliases for every table.
pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::blobs::Entity as Blobs;
    pub use super::dossiers::Entity as Dossiers;
    pub use super::email_tokens::Entity as EmailTokens;
    pub use super::evidence::Entity as Evidence;
    pub use super::group_invites::Entity as GroupInvites;
    pub use super::group_roles::Entity as GroupRoles;
    pub use super::groups::Entity as Groups;
    pub use super::holidays::Entity as Holidays;
    pub use super::interactions::Entity as Interactions;
    pub use super::outbox::Entity as Outbox;
    pub use super::participations::Entity as Participations;
    pub use super::providers::Entity as Providers;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::signatures::Entity as Signatures;
    pub use super::statement_versions::Entity as StatementVersions;
    pub use super::submissions::Entity as Submissions;
    pub use super::updates::Entity as Updates;
    pub use super::users::Entity as Users;
}
