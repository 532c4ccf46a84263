//! Round-trip test for the migrations: `up`, `down`, `up` again, on an
//! in-memory SQLite database and — when `TEST_DATABASE_URL` points at a
//! PostgreSQL server — on a throw-away PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

/// Every table the migrations create, in creation order.
const TABLES: &[&str] = &[
    "users",
    "email_tokens",
    "refresh_tokens",
    "providers",
    "groups",
    "group_roles",
    "statement_versions",
    "participations",
    "signatures",
    "blobs",
    "evidence",
    "interactions",
    "submissions",
    "updates",
    "holidays",
    "dossiers",
    "outbox",
    "audit_log",
    "group_invites",
    "dossier_evidence",
    "notification_prefs",
    "notification_overrides",
    "email_suppressions",
    "group_search_terms",
    "jobs",
    "limit_hits",
    "dossier_receipts",
    "timestamps",
];

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
}

/// Application tables currently present (excluding the migrations bookkeeping table).
async fn user_tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name"
        }
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' \
             ORDER BY table_name"
        }
        other => panic!("unsupported backend {other:?}"),
    };
    rows(db, sql)
        .await
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

fn expected_tables() -> Vec<String> {
    let mut v: Vec<String> = TABLES.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("statement failed: {sql}: {e}"));
}

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> i64 {
    rows(db, sql).await[0].try_get_by_index::<i64>(0).unwrap()
}

/// Checks a few behaviours of the created schema: defaults, uniques and
/// ON DELETE actions. Uses plain portable SQL.
async fn smoke(db: &DatabaseConnection) {
    let ts = "'2026-11-22 10:00:00+00:00'";
    exec(
        db,
        &format!(
            "INSERT INTO users \
             (email, email_normalized, display_name, password_hash, created_at, updated_at) \
             VALUES ('A@x.org', 'a@x.org', 'A', 'h', {ts}, {ts})"
        ),
    )
    .await;
    let r = &rows(db, "SELECT id, locale, status FROM users").await[0];
    let uid: i64 = r.try_get_by_index(0).unwrap();
    assert_eq!(r.try_get_by_index::<String>(1).unwrap(), "zh-CN");
    assert_eq!(r.try_get_by_index::<String>(2).unwrap(), "active");
    assert_eq!(
        scalar_i64(db, "SELECT COUNT(*) FROM users WHERE is_admin = FALSE").await,
        1
    );
    // email_normalized is unique.
    let dup = db
        .execute_unprepared(&format!(
            "INSERT INTO users \
             (email, email_normalized, display_name, password_hash, created_at, updated_at) \
             VALUES ('a@x.org', 'a@x.org', 'B', 'h', {ts}, {ts})"
        ))
        .await;
    assert!(dup.is_err(), "duplicate email_normalized must be rejected");

    exec(
        db,
        &format!(
            "INSERT INTO providers (slug, name_zh, created_by, created_at) \
             VALUES ('p', 'P', {uid}, {ts})"
        ),
    )
    .await;
    // Administrators' columns (merge, suspension) start empty.
    assert_eq!(
        scalar_i64(
            db,
            "SELECT COUNT(*) FROM providers WHERE merged_into IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_i64(
            db,
            "SELECT COUNT(*) FROM users WHERE suspension_reason IS NULL"
        )
        .await,
        1
    );
    exec(
        db,
        &format!(
            "INSERT INTO groups \
             (slug, provider_id, title, summary, category, created_by, created_at, updated_at) \
             SELECT 'g', id, 'T', 'S', 'fees', {uid}, {ts}, {ts} FROM providers"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO participations (group_id, user_id, status, statement, amount_minor, \
             currency, incident_date, consent_share_identity, created_at, updated_at) \
             SELECT id, {uid}, 'active', 's', 12345678901, 'CNY', '2026-01-02', TRUE, {ts}, {ts} \
             FROM groups"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO blobs (sha256, size, created_at) VALUES ('{}', 3, {ts})",
            "0".repeat(64)
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO evidence (participation_id, group_id, user_id, sha256, size, \
             content_type, kind, created_at) \
             SELECT id, group_id, user_id, '{}', 3, 'image/png', 'screenshot', {ts} \
             FROM participations",
            "0".repeat(64)
        ),
    )
    .await;
    exec(
        db,
        "INSERT INTO holidays (day, name, is_workday) VALUES ('2026-11-11', 'Test day', FALSE)",
    )
    .await;
    // The seeded calendar: National Day off, the adjusted Saturday after it a working day.
    assert_eq!(
        scalar_i64(
            db,
            "SELECT COUNT(*) FROM holidays WHERE (day = '2026-10-01' AND is_workday = FALSE) \
             OR (day = '2026-10-10' AND is_workday = TRUE)"
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(db, "SELECT amount_minor FROM participations").await,
        12_345_678_901
    );
    // A join's client network is recorded by the server; rows written without one stay NULL.
    assert_eq!(
        scalar_i64(
            db,
            "SELECT COUNT(*) FROM participations WHERE join_network IS NULL"
        )
        .await,
        1
    );
    assert_eq!(scalar_i64(db, "SELECT ref_count FROM blobs").await, 0);
    assert_eq!(
        scalar_i64(db, "SELECT CAST(statement_version AS BIGINT) FROM groups").await,
        1
    );
    // A blob referenced by evidence cannot be deleted (RESTRICT).
    assert!(db.execute_unprepared("DELETE FROM blobs").await.is_err());
    // A provider with groups cannot be deleted (RESTRICT).
    assert!(
        db.execute_unprepared("DELETE FROM providers")
            .await
            .is_err()
    );

    // Deleting the user cascades to participations/evidence and nulls created_by.
    exec(db, "DELETE FROM users").await;
    assert_eq!(
        scalar_i64(db, "SELECT COUNT(*) FROM participations").await,
        0
    );
    assert_eq!(scalar_i64(db, "SELECT COUNT(*) FROM evidence").await, 0);
    assert_eq!(
        scalar_i64(db, "SELECT COUNT(*) FROM groups WHERE created_by IS NULL").await,
        1
    );
    // Once its groups are gone the provider can be deleted; clean up for the next run.
    exec(db, "DELETE FROM groups").await;
    exec(db, "DELETE FROM providers").await;
    exec(db, "DELETE FROM blobs").await;
    exec(db, "DELETE FROM holidays").await;
}

/// Asserts that every surrogate `id` is a 64-bit auto-increment key.
async fn check_id_types(db: &DatabaseConnection) {
    for table in TABLES {
        // Keyed by their natural key, not a surrogate id.
        if matches!(
            *table,
            "blobs"
                | "holidays"
                | "notification_prefs"
                | "email_suppressions"
                | "group_search_terms"
        ) {
            continue;
        }
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let sql = format!(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
                );
                let ddl: String = rows(db, &sql).await[0].try_get_by_index(0).unwrap();
                assert!(
                    ddl.contains("\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT"),
                    "{table}: {ddl}"
                );
            }
            DbBackend::Postgres => {
                let sql = format!(
                    "SELECT data_type::text, is_identity::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = '{table}' \
                     AND column_name = 'id'"
                );
                let r = &rows(db, &sql).await[0];
                assert_eq!(
                    r.try_get_by_index::<String>(0).unwrap(),
                    "bigint",
                    "{table}"
                );
                assert_eq!(r.try_get_by_index::<String>(1).unwrap(), "YES", "{table}");
            }
            other => panic!("unsupported backend {other:?}"),
        }
    }
}

async fn roundtrip(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("first up");
    assert_eq!(user_tables(db).await, expected_tables());
    check_id_types(db).await;
    smoke(db).await;

    Migrator::down(db, None).await.expect("down");
    assert!(
        user_tables(db).await.is_empty(),
        "{:?}",
        user_tables(db).await
    );

    Migrator::up(db, None).await.expect("second up");
    assert_eq!(user_tables(db).await, expected_tables());
    smoke(db).await;
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sqlite_up_down_up() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    roundtrip(&db).await;
    db.close().await.unwrap();
}

/// Replaces the database name in a `postgres://…/dbname?params` URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

#[tokio::test]
async fn postgres_up_down_up() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL not set; skipping PostgreSQL round-trip");
        return;
    };
    let name = format!("mig_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    exec(&admin, &format!("CREATE DATABASE \"{name}\"")).await;

    let db = Database::connect(with_database(&admin_url, &name))
        .await
        .unwrap();
    // Run in a spawned task so a failing assertion still lets us drop the database.
    let db2 = db.clone();
    let outcome = tokio::spawn(async move { roundtrip(&db2).await }).await;
    db.close().await.unwrap();

    exec(
        &admin,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await;
    admin.close().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[test]
fn with_database_replaces_path() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/test", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h/test?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
