//! Seeds `holidays` with mainland China's public holidays for 2025–2027, as published by the
//! State Council: days off (`is_workday = false`, weekend days inside a break included) and the
//! adjusted weekend working days (`is_workday = true`). For 2027 only the statutory days are
//! listed, computed from the lunar calendar; the adjusted days are added by an administrator
//! (`PUT /api/v1/holidays`) once they are published.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (day, name, is_workday)
const DAYS: &[(&str, &str, bool)] = &[
    ("2025-01-01", "元旦", false),
    ("2025-01-26", "春节调休上班", true),
    ("2025-01-28", "春节", false),
    ("2025-01-29", "春节", false),
    ("2025-01-30", "春节", false),
    ("2025-01-31", "春节", false),
    ("2025-02-01", "春节", false),
    ("2025-02-02", "春节", false),
    ("2025-02-03", "春节", false),
    ("2025-02-04", "春节", false),
    ("2025-02-08", "春节调休上班", true),
    ("2025-04-04", "清明节", false),
    ("2025-04-05", "清明节", false),
    ("2025-04-06", "清明节", false),
    ("2025-04-27", "劳动节调休上班", true),
    ("2025-05-01", "劳动节", false),
    ("2025-05-02", "劳动节", false),
    ("2025-05-03", "劳动节", false),
    ("2025-05-04", "劳动节", false),
    ("2025-05-05", "劳动节", false),
    ("2025-05-31", "端午节", false),
    ("2025-06-01", "端午节", false),
    ("2025-06-02", "端午节", false),
    ("2025-09-28", "国庆节调休上班", true),
    ("2025-10-01", "国庆节", false),
    ("2025-10-02", "国庆节", false),
    ("2025-10-03", "国庆节", false),
    ("2025-10-04", "国庆节", false),
    ("2025-10-05", "国庆节", false),
    ("2025-10-06", "中秋节", false),
    ("2025-10-07", "国庆节", false),
    ("2025-10-08", "国庆节", false),
    ("2025-10-11", "国庆节调休上班", true),
    ("2026-01-01", "元旦", false),
    ("2026-01-02", "元旦", false),
    ("2026-01-03", "元旦", false),
    ("2026-01-04", "元旦调休上班", true),
    ("2026-02-14", "春节调休上班", true),
    ("2026-02-15", "春节", false),
    ("2026-02-16", "春节", false),
    ("2026-02-17", "春节", false),
    ("2026-02-18", "春节", false),
    ("2026-02-19", "春节", false),
    ("2026-02-20", "春节", false),
    ("2026-02-21", "春节", false),
    ("2026-02-22", "春节", false),
    ("2026-02-23", "春节", false),
    ("2026-02-28", "春节调休上班", true),
    ("2026-04-04", "清明节", false),
    ("2026-04-05", "清明节", false),
    ("2026-04-06", "清明节", false),
    ("2026-05-01", "劳动节", false),
    ("2026-05-02", "劳动节", false),
    ("2026-05-03", "劳动节", false),
    ("2026-05-04", "劳动节", false),
    ("2026-05-05", "劳动节", false),
    ("2026-05-09", "劳动节调休上班", true),
    ("2026-06-19", "端午节", false),
    ("2026-06-20", "端午节", false),
    ("2026-06-21", "端午节", false),
    ("2026-09-20", "国庆节调休上班", true),
    ("2026-09-25", "中秋节", false),
    ("2026-09-26", "中秋节", false),
    ("2026-09-27", "中秋节", false),
    ("2026-10-01", "国庆节", false),
    ("2026-10-02", "国庆节", false),
    ("2026-10-03", "国庆节", false),
    ("2026-10-04", "国庆节", false),
    ("2026-10-05", "国庆节", false),
    ("2026-10-06", "国庆节", false),
    ("2026-10-07", "国庆节", false),
    ("2026-10-10", "国庆节调休上班", true),
    ("2027-01-01", "元旦", false),
    ("2027-02-05", "春节", false),
    ("2027-02-06", "春节", false),
    ("2027-02-07", "春节", false),
    ("2027-02-08", "春节", false),
    ("2027-04-05", "清明节", false),
    ("2027-05-01", "劳动节", false),
    ("2027-05-02", "劳动节", false),
    ("2027-06-09", "端午节", false),
    ("2027-09-15", "中秋节", false),
    ("2027-10-01", "国庆节", false),
    ("2027-10-02", "国庆节", false),
    ("2027-10-03", "国庆节", false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain literals: a quoted date coerces to DATE on PostgreSQL and is how SQLite stores
        // one, so the same statement serves both.
        let values: Vec<String> = DAYS
            .iter()
            .map(|(day, name, workday)| {
                let workday = if *workday { "TRUE" } else { "FALSE" };
                format!("('{day}', '{name}', {workday})")
            })
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO holidays (day, name, is_workday) VALUES {}",
                values.join(", ")
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let days: Vec<String> = DAYS.iter().map(|(day, _, _)| format!("'{day}'")).collect();
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "DELETE FROM holidays WHERE day IN ({})",
                days.join(", ")
            ))
            .await?;
        Ok(())
    }
}
