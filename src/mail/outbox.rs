//! The outbox table: emails written in the same transaction as the change that causes them,
//! leased by workers, and marked sent or failed. An idempotency key makes each email unique.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement,
};

use super::EmailContent;
use crate::entities::enums::OutboxStatus;
use crate::entities::{email_suppressions, outbox};

/// Attempts before an email is given up as failed.
pub const MAX_ATTEMPTS: i32 = 10;
/// How long a worker holds a leased row before another may take it.
pub const LEASE: Duration = Duration::seconds(120);

/// An email to be queued.
#[derive(Debug)]
pub struct NewEmail {
    /// The email kind, e.g. `verify_email`.
    pub kind: &'static str,
    /// The recipient's address.
    pub recipient: String,
    /// The recipient's account, if any.
    pub user_id: Option<i64>,
    /// What it says.
    pub content: EmailContent,
    /// Unique per (recipient, kind, period or event): a second insert with it is ignored.
    pub idempotency_key: String,
    /// Extra headers, e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

/// Writes `email` into the outbox on `conn` (call it inside the causing transaction). Returns
/// false when an email with the same idempotency key already exists.
///
/// # Errors
/// On a database error or a template failure.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    email: NewEmail,
    now: DateTime<Utc>,
    mail_domain: &str,
) -> Result<bool, DbErr> {
    Ok(enqueue_many(conn, vec![email], now, mail_domain).await? > 0)
}

/// Writes `emails` into the outbox on `conn` in one statement; an email whose idempotency key
/// is already queued is skipped. Returns how many were written.
///
/// # Errors
/// On a database error or a template failure (then none is written).
pub async fn enqueue_many(
    conn: &impl ConnectionTrait,
    emails: Vec<NewEmail>,
    now: DateTime<Utc>,
    mail_domain: &str,
) -> Result<u64, DbErr> {
    let rows = emails
        .into_iter()
        .map(|e| row(e, now, mail_domain))
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Ok(0);
    }
    outbox::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(outbox::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
}

/// The outbox row of `email`, rendered.
fn row(
    email: NewEmail,
    now: DateTime<Utc>,
    mail_domain: &str,
) -> Result<outbox::ActiveModel, DbErr> {
    let (text, html) = email
        .content
        .render()
        .map_err(|e| DbErr::Custom(format!("render: {e}")))?;
    let subject = email
        .content
        .render_subject()
        .map_err(|e| DbErr::Custom(format!("render: {e}")))?;
    let headers =
        serde_json::to_string(&email.headers).map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(outbox::ActiveModel {
        kind: Set(email.kind.to_owned()),
        recipient: Set(email.recipient),
        user_id: Set(email.user_id),
        subject: Set(subject),
        body_text: Set(text),
        body_html: Set(html),
        headers: Set(headers),
        idempotency_key: Set(email.idempotency_key),
        message_id: Set(format!("<{}@{}>", uuid::Uuid::now_v7(), mail_domain)),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    })
}

/// Whether an email with this idempotency key was already queued (lets callers skip rendering).
///
/// # Errors
/// On a database error.
pub async fn exists(conn: &impl ConnectionTrait, idempotency_key: &str) -> Result<bool, DbErr> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(idempotency_key))
        .one(conn)
        .await?
        .is_some())
}

/// Whether a relay refused this address permanently before.
///
/// # Errors
/// On a database error.
pub async fn is_suppressed(conn: &impl ConnectionTrait, address: &str) -> Result<bool, DbErr> {
    Ok(
        email_suppressions::Entity::find_by_id(address.trim().to_lowercase())
            .one(conn)
            .await?
            .is_some(),
    )
}

/// Stops all further mail to an address a relay refused permanently.
///
/// # Errors
/// On a database error.
pub async fn suppress(
    conn: &impl ConnectionTrait,
    address: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = email_suppressions::ActiveModel {
        address: Set(address.trim().to_lowercase()),
        reason: Set(reason.chars().take(500).collect()),
        created_at: Set(now),
    };
    email_suppressions::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_suppressions::Column::Address)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Leases up to `limit` due rows for `lease_for`, so no other worker sends them meanwhile. On
/// PostgreSQL rows locked by another worker are skipped (`FOR UPDATE SKIP LOCKED`).
///
/// # Errors
/// On a database error.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    let backend = conn.get_database_backend();
    let lease_until = now + LEASE;
    let (sql, values) = match backend {
        DbBackend::Postgres => (
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE id IN (\
               SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
               AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at, id \
               LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
            vec![lease_until.into(), now.into(), (limit as i64).into()],
        ),
        _ => (
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN (\
               SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? \
               AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id \
               LIMIT ?) RETURNING id",
            vec![
                lease_until.into(),
                now.into(),
                now.into(),
                (limit as i64).into(),
            ],
        ),
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    outbox::Entity::find()
        .filter(outbox::Column::Id.is_in(ids))
        .all(conn)
        .await
}

/// Gives back leased rows that were not tried (a worker stopping mid-batch), so another
/// worker may send them at once instead of after the lease.
///
/// # Errors
/// On a database error.
pub async fn release(conn: &impl ConnectionTrait, ids: Vec<i64>) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::Attempts,
            sea_orm::sea_query::ExprTrait::sub(
                sea_orm::sea_query::Expr::col(outbox::Column::Attempts),
                1,
            ),
        )
        .filter(outbox::Column::Id.is_in(ids))
        .filter(outbox::Column::Status.eq(crate::entities::enums::OutboxStatus::Pending))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks a row as delivered.
///
/// # Errors
/// On a database error.
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .filter(outbox::Column::Id.eq(id))
        .col_expr(outbox::Column::Status, OutboxStatus::Sent.into())
        .col_expr(outbox::Column::SentAt, now.into())
        .col_expr(
            outbox::Column::LeaseUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(outbox::Column::LastError, Option::<String>::None.into())
        .exec(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried later with exponential backoff, or failed for good when
/// `permanent` or out of attempts.
///
/// # Errors
/// On a database error.
pub async fn mark_attempt_failed(
    conn: &impl ConnectionTrait,
    row: &outbox::Model,
    error: &str,
    permanent: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let give_up = permanent || row.attempts >= MAX_ATTEMPTS;
    let status = if give_up {
        OutboxStatus::Failed
    } else {
        OutboxStatus::Pending
    };
    outbox::Entity::update_many()
        .filter(outbox::Column::Id.eq(row.id))
        .col_expr(outbox::Column::Status, status.into())
        .col_expr(
            outbox::Column::NextAttemptAt,
            (now + backoff(row.attempts)).into(),
        )
        .col_expr(
            outbox::Column::LeaseUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(
            outbox::Column::LastError,
            Some(error.chars().take(1000).collect::<String>()).into(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Emails due and not yet sent, and how long the oldest of them has been due (for `/metrics`).
///
/// # Errors
/// On a database error.
pub async fn depth(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(u64, Option<Duration>), DbErr> {
    use sea_orm::QuerySelect as _;
    let row: Option<(i64, Option<DateTime<Utc>>)> = outbox::Entity::find()
        .select_only()
        .column_as(outbox::Column::Id.count(), "n")
        .column_as(outbox::Column::NextAttemptAt.min(), "oldest")
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .into_tuple()
        .one(conn)
        .await?;
    let (n, oldest) = row.unwrap_or((0, None));
    Ok((u64::try_from(n).unwrap_or(0), oldest.map(|t| now - t)))
}

/// Delay before attempt `attempts + 1`: 30 s doubling, at most 6 h.
#[must_use]
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    Duration::seconds((30_i64 << exp).min(6 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(3), Duration::seconds(120));
        assert_eq!(backoff(20), Duration::hours(6));
    }
}
