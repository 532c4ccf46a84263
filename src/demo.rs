//! Demo data.
pub async fn load(
    _db: &sea_orm::DatabaseConnection,
    _now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    Ok(String::new())
}
