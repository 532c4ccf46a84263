//! Reference counts of stored blobs (`blobs` table). One row per distinct content; every
//! evidence item (and dossier) holding it counts once. Content whose count drops to zero is
//! removed by [`collect`], under the row's lock, so an upload of the same content at the same
//! moment either revives the row first or finds it gone and stores the file again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};

use super::BlobStore;
use crate::db;
use crate::entities::blobs;

/// Counts one more holder of `sha256`, creating the row at one. Call it before committing
/// staged content, in the same transaction: the row lock keeps [`collect`] away meanwhile.
///
/// # Errors
/// Database failures.
pub async fn add_ref(
    conn: &impl ConnectionTrait,
    sha256: &str,
    size: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = blobs::ActiveModel {
        sha256: Set(sha256.to_owned()),
        size: Set(size),
        ref_count: Set(1),
        created_at: Set(now),
    };
    blobs::Entity::insert(row)
        .on_conflict(
            OnConflict::column(blobs::Column::Sha256)
                .value(
                    blobs::Column::RefCount,
                    Expr::col((blobs::Entity, blobs::Column::RefCount)).add(1),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Counts one holder fewer.
///
/// # Errors
/// Database failures.
pub async fn release(conn: &impl ConnectionTrait, sha256: &str) -> Result<(), DbErr> {
    blobs::Entity::update_many()
        .filter(blobs::Column::Sha256.eq(sha256))
        .filter(blobs::Column::RefCount.gt(0))
        .col_expr(
            blobs::Column::RefCount,
            Expr::col(blobs::Column::RefCount).sub(1),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes the rows and files of these blobs that nothing holds any more; returns how many.
///
/// # Errors
/// Database or storage failures.
pub async fn collect(
    db_conn: &DatabaseConnection,
    store: &dyn BlobStore,
    shas: &[String],
) -> anyhow::Result<usize> {
    let mut removed = 0;
    for sha in shas {
        let txn = db::write_txn(db_conn).await?;
        let gone = blobs::Entity::delete_many()
            .filter(blobs::Column::Sha256.eq(sha.as_str()))
            .filter(blobs::Column::RefCount.lte(0))
            .exec(&txn)
            .await?;
        if gone.rows_affected == 1 {
            store.delete(sha).await?;
            removed += 1;
        }
        txn.commit().await?;
    }
    Ok(removed)
}
