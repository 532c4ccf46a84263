//! Evidence rules: streaming upload with early limits, type checks, de-duplicated storage,
//! the one access check for reading, and deletion that respects issued dossiers.

use std::io;

use actix_multipart::{Field, Multipart};
use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::dto::EvidenceKind;
use super::sniff::{SNIFF_LEN, decide, sanitize_file_name};
use crate::auth::CurrentUser;
use crate::blob::{ByteStream, StageError, Staged, refs};
use crate::db;
use crate::entities::enums::{EvidenceStatus, ParticipationStatus};
use crate::entities::{dossier_evidence, evidence, participations};
use crate::error::{AppError, AppResult};
use crate::groups::access::Viewer;
use crate::participation::service::require_mine;
use crate::state::AppState;

/// Room for the multipart framing and the small fields around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;

fn too_large(what: &str) -> AppError {
    AppError::PayloadTooLarge(what.to_owned())
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// Bytes of active evidence a participation holds.
async fn usage(conn: &impl ConnectionTrait, participation_id: i64) -> AppResult<u64> {
    let total: Option<i64> = evidence::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)"),
            "total",
        )
        .filter(evidence::Column::ParticipationId.eq(participation_id))
        .filter(evidence::Column::Status.eq(EvidenceStatus::Active))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
}

/// The participation an upload or a contact-log entry goes to: the caller's own, verified,
/// and not withdrawn or rejected.
///
/// # Errors
/// 403 unverified; 404 no such group or not joined; 409 inactive.
pub async fn require_open_participation(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<participations::Model> {
    user.require_verified()?;
    let (_, p) = require_mine(conn, slug, user.id).await?;
    if !matches!(
        p.status,
        ParticipationStatus::Active | ParticipationStatus::Pending
    ) {
        return Err(AppError::conflict(
            "participation_inactive",
            format!("the participation is {}", p.status),
        ));
    }
    Ok(p)
}

struct FormFields {
    staged: Option<(Staged, &'static str, String)>,
    kind: Option<EvidenceKind>,
    description: String,
    captured_at: Option<DateTime<Utc>>,
}

async fn small_text(field: &mut Field, name: &str, max_chars: usize) -> AppResult<String> {
    let bytes = field
        .bytes(max_chars * 4)
        .await
        .map_err(|_| AppError::field(name, format!("must be at most {max_chars} characters")))?
        .map_err(|e| AppError::BadRequest {
            code: "multipart_unreadable",
            detail: e.to_string(),
        })?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| AppError::field(name, "must be UTF-8 text"))?;
    if text.chars().count() > max_chars {
        return Err(AppError::field(
            name,
            format!("must be at most {max_chars} characters"),
        ));
    }
    crate::text::block_or_empty(&text).map_err(|e| {
        AppError::field(
            name,
            e.message
                .map_or_else(|| e.code.to_string(), |m| m.to_string()),
        )
    })?;
    Ok(text.trim().to_owned())
}

/// Reads the first bytes of the file, decides its type, then streams the whole file into the
/// store's staging area.
async fn stage_file(
    state: &AppState,
    field: Field,
    limit: u64,
    quota_bound: bool,
) -> AppResult<(Staged, &'static str, String)> {
    let declared = field.content_type().map(ToString::to_string);
    let original = field
        .content_disposition()
        .and_then(|cd| cd.get_filename().map(str::to_owned))
        .unwrap_or_default();
    let name = sanitize_file_name(&original);
    // Fused: the head loop may already have seen the end, and a finished field must not be
    // polled again.
    let mut body = field.map_err(|e| io::Error::other(e.to_string())).fuse();
    let mut head: Vec<Bytes> = Vec::new();
    let mut seen = 0;
    while seen < SNIFF_LEN {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(|e| AppError::BadRequest {
                    code: "multipart_unreadable",
                    detail: e.to_string(),
                })?;
                seen += chunk.len();
                head.push(chunk);
            }
            None => break,
        }
    }
    let joined: Vec<u8> = head
        .iter()
        .flat_map(|b| b.iter().copied())
        .take(SNIFF_LEN)
        .collect();
    let content_type = decide(&joined, declared.as_deref(), &name)
        .map_err(|r| AppError::UnsupportedMediaType(r.0))?;
    let chained = stream::iter(head.into_iter().map(Ok)).chain(body);
    let mut pinned = std::pin::pin!(chained);
    let staged = state
        .blobs
        .stage(pinned.as_mut(), limit)
        .await
        .map_err(|e| match e {
            StageError::TooLarge { .. } if quota_bound => {
                too_large("the upload would exceed your storage quota")
            }
            StageError::TooLarge { limit } => {
                too_large(&format!("the file is larger than {} MiB", mib(limit)))
            }
            StageError::Io(e) => AppError::Internal(e.into()),
        })?;
    Ok((staged, content_type, name))
}

async fn read_form(
    state: &AppState,
    mut form: Multipart,
    limit: u64,
    quota_bound: bool,
) -> AppResult<FormFields> {
    let mut out = FormFields {
        staged: None,
        kind: None,
        description: String::new(),
        captured_at: None,
    };
    let result: AppResult<()> = async {
        while let Some(field) = form.next().await {
            let mut field = field.map_err(|e| AppError::BadRequest { code: "multipart_unreadable", detail: e.to_string() })?;
            let name = field.name().unwrap_or("").to_owned();
            match name.as_str() {
                "file" if out.staged.is_some() => return Err(AppError::field("file", "send one file per upload")),
                "file" => out.staged = Some(stage_file(state, field, limit, quota_bound).await?),
                "kind" => {
                    let text = small_text(&mut field, "kind", 32).await?;
                    out.kind = Some(EvidenceKind::parse(&text).ok_or_else(|| {
                        AppError::field("kind", "must be one of transaction_record, screenshot, chat_log, call_record, receipt, correspondence, other")
                    })?);
                }
                "description" => out.description = small_text(&mut field, "description", 2000).await?,
                "captured_at" => {
                    let text = small_text(&mut field, "captured_at", 40).await?;
                    if !text.is_empty() {
                        let at = DateTime::parse_from_rfc3339(&text).map_err(|_| {
                            AppError::field("captured_at", "must be an RFC 3339 time, e.g. 2026-03-02T10:15:00+08:00")
                        })?;
                        out.captured_at = Some(at.with_timezone(&Utc));
                    }
                }
                other => return Err(AppError::field(if other.is_empty() { "form" } else { other }, "unknown form field")),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // Nothing of a refused upload stays behind.
        if let Some((staged, ..)) = &out.staged {
            state.blobs.discard(staged).await;
        }
        return Err(e);
    }
    Ok(out)
}

/// Stores an uploaded file as evidence of the caller's participation in `slug`.
///
/// # Errors
/// 413 over the file size or the quota (checked from `Content-Length` before reading, while
/// streaming, and again at commit); 415 for a refused type; 422 for bad fields; 403/404/409 as
/// [`require_open_participation`].
pub async fn upload(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    content_length: Option<u64>,
    form: Multipart,
) -> AppResult<evidence::Model> {
    let max_file = state.ctx.settings.evidence_max_file_bytes;
    let quota = state.ctx.settings.evidence_quota_bytes;
    let participation = require_open_participation(&state.db, user, slug).await?;
    let used = usage(&state.db, participation.id).await?;
    let room = quota.saturating_sub(used);
    if let Some(len) = content_length {
        if len > max_file + FORM_OVERHEAD {
            return Err(too_large(&format!(
                "the file is larger than {} MiB",
                mib(max_file)
            )));
        }
        if len > room + FORM_OVERHEAD {
            return Err(too_large("the upload would exceed your storage quota"));
        }
    }
    let limit = max_file.min(room);
    let mut fields = read_form(state, form, limit, room < max_file).await?;
    let Some((staged, content_type, name)) = fields.staged.take() else {
        return Err(AppError::field("file", "is required"));
    };
    let result = commit_upload(
        state,
        user,
        &participation,
        &staged,
        content_type,
        name,
        &fields,
        quota,
    )
    .await;
    if result.is_err() {
        state.blobs.discard(&staged).await;
    }
    result
}

#[expect(clippy::too_many_arguments, reason = "one upload's parts, used once")]
async fn commit_upload(
    state: &AppState,
    user: &CurrentUser,
    participation: &participations::Model,
    staged: &Staged,
    content_type: &str,
    name: String,
    fields: &FormFields,
    quota: u64,
) -> AppResult<evidence::Model> {
    let kind = fields
        .kind
        .ok_or_else(|| AppError::field("kind", "is required"))?;
    let now = state.now();
    let size = i64::try_from(staged.size).map_err(anyhow::Error::from)?;
    let txn = db::write_txn(&state.db).await?;
    lock_participation(&txn, participation.id).await?;
    // Concurrent uploads of one participant are serialised here, so the quota holds.
    if usage(&txn, participation.id).await? + staged.size > quota {
        return Err(too_large("the upload would exceed your storage quota"));
    }
    refs::add_ref(&txn, &staged.sha256, size, now).await?;
    state
        .blobs
        .commit(staged)
        .await
        .map_err(anyhow::Error::from)?;
    let row = evidence::ActiveModel {
        participation_id: Set(participation.id),
        group_id: Set(participation.group_id),
        user_id: Set(user.id),
        sha256: Set(staged.sha256.clone()),
        size: Set(size),
        content_type: Set(content_type.to_owned()),
        kind: Set(kind),
        description: Set(fields.description.clone()),
        original_name: Set(name),
        captured_at: Set(fields.captured_at),
        status: Set(EvidenceStatus::Active),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Takes the row lock of a participation on PostgreSQL (SQLite's write transaction already
/// excludes other writers).
async fn lock_participation(conn: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM participations WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The caller's evidence in the group `slug`.
///
/// # Errors
/// 404 when not joined.
pub async fn list_mine(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<Vec<evidence::Model>> {
    let (_, p) = require_mine(&state.db, slug, user.id).await?;
    Ok(evidence::Entity::find()
        .filter(evidence::Column::ParticipationId.eq(p.id))
        .order_by_asc(evidence::Column::Id)
        .all(&state.db)
        .await?)
}

/// The one access check for reading evidence: its owner, or an organiser (any role) of its
/// group. Everyone else is told it does not exist.
///
/// # Errors
/// 404 for anyone else.
pub async fn require_readable(
    conn: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
) -> AppResult<evidence::Model> {
    let item = evidence::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if Viewer::of(conn, item.group_id, Some(user))
        .await?
        .may_read_files_of(item.user_id)
    {
        Ok(item)
    } else {
        Err(AppError::NotFound)
    }
}

/// Metadata and a content stream of a readable item.
///
/// # Errors
/// 404 as [`require_readable`].
pub async fn content(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(evidence::Model, ByteStream)> {
    let item = require_readable(&state.db, user, id).await?;
    let bytes = state
        .blobs
        .get(&item.sha256)
        .await
        .map_err(anyhow::Error::from)?;
    Ok((item, bytes))
}

/// Deletes one of the caller's items. An item an issued dossier holds is kept and marked
/// withdrawn instead.
///
/// # Errors
/// 404 unless the caller owns it.
pub async fn delete_mine(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<()> {
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let item = evidence::Entity::find_by_id(id)
        .filter(evidence::Column::UserId.eq(user.id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let held = dossier_evidence::Entity::find()
        .filter(dossier_evidence::Column::EvidenceId.eq(item.id))
        .one(&txn)
        .await?
        .is_some();
    let sha = item.sha256.clone();
    if held {
        if item.status == EvidenceStatus::Withdrawn {
            return Err(AppError::NotFound);
        }
        let mut active: evidence::ActiveModel = item.into();
        active.status = Set(EvidenceStatus::Withdrawn);
        active.withdrawn_at = Set(Some(now));
        active.update(&txn).await?;
        txn.commit().await?;
        return Ok(());
    }
    evidence::Entity::delete_by_id(item.id).exec(&txn).await?;
    refs::release(&txn, &sha).await?;
    txn.commit().await?;
    refs::collect(&state.db, state.blobs.as_ref(), &[sha]).await?;
    Ok(())
}

/// Deletes every evidence item of `user_id` that no issued dossier holds and releases their
/// content; returns the hashes to collect after the transaction commits.
///
/// # Errors
/// Database failures.
pub async fn delete_all_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> AppResult<Vec<String>> {
    let items = evidence::Entity::find()
        .filter(evidence::Column::UserId.eq(user_id))
        .all(conn)
        .await?;
    let mut released = Vec::new();
    for item in items {
        let held = dossier_evidence::Entity::find()
            .filter(dossier_evidence::Column::EvidenceId.eq(item.id))
            .one(conn)
            .await?
            .is_some();
        if held {
            // An issued dossier keeps its own copy in its bundle; the row goes with the account
            // but the content stays referenced by the dossier.
            continue;
        }
        evidence::Entity::delete_by_id(item.id).exec(conn).await?;
        refs::release(conn, &item.sha256).await?;
        released.push(item.sha256);
    }
    Ok(released)
}
