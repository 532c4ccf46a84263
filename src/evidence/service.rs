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
use crate::entities::{dossier_evidence, evidence, groups, participations};
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

/// A file staged from a form: its staging handle, the type judged from its content and its
/// safe name.
type StagedFile = (Staged, &'static str, String);

struct FormFields {
    staged: Vec<StagedFile>,
    kind: Option<EvidenceKind>,
    description: String,
    captured_at: Option<DateTime<Utc>>,
    extra: Vec<(String, String)>,
}

/// What a form of uploads may carry besides the API's fields: how many files at once, and
/// which other short text fields (a page's `next`) are read and handed back.
#[derive(Debug, Clone, Copy)]
pub struct UploadForm {
    /// At most this many `file` parts (the API takes one per request).
    pub max_files: usize,
    /// Other text fields accepted (at most 2000 characters each).
    pub extra_fields: &'static [&'static str],
}

impl UploadForm {
    /// The API's form: one file, no other fields.
    pub const API: Self = Self {
        max_files: 1,
        extra_fields: &[],
    };
}

/// The evidence stored from one form, and the extra text fields it carried.
#[derive(Debug)]
pub struct Uploaded {
    /// The new items, in the order of the form's files.
    pub items: Vec<evidence::Model>,
    /// The extra fields, as sent.
    pub extra: Vec<(String, String)>,
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
    max_file: u64,
    room: u64,
    shape: UploadForm,
) -> AppResult<FormFields> {
    let mut out = FormFields {
        staged: Vec::new(),
        kind: None,
        description: String::new(),
        captured_at: None,
        extra: Vec::new(),
    };
    let result: AppResult<()> = async {
        while let Some(field) = form.next().await {
            let mut field = field.map_err(|e| AppError::BadRequest { code: "multipart_unreadable", detail: e.to_string() })?;
            let name = field.name().unwrap_or("").to_owned();
            match name.as_str() {
                "file" if out.staged.len() >= shape.max_files => {
                    return Err(AppError::field("file", if shape.max_files == 1 {
                        "send one file per upload".to_owned()
                    } else {
                        format!("send at most {} files at once", shape.max_files)
                    }));
                }
                "file" => {
                    // Several files of one form share the room left.
                    let taken: u64 = out.staged.iter().map(|(s, ..)| s.size).sum();
                    let left = room.saturating_sub(taken);
                    let staged = stage_file(state, field, max_file.min(left), left < max_file).await?;
                    out.staged.push(staged);
                }
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
                other if shape.extra_fields.contains(&other) => {
                    let text = small_text(&mut field, other, 2000).await?;
                    out.extra.push((other.to_owned(), text));
                }
                other => return Err(AppError::field(if other.is_empty() { "form" } else { other }, "unknown form field")),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // Nothing of a refused upload stays behind.
        discard_all(state, &out.staged).await;
        return Err(e);
    }
    Ok(out)
}

async fn discard_all(state: &AppState, staged: &[StagedFile]) {
    for (s, ..) in staged {
        state.blobs.discard(s).await;
    }
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
    let mut done = upload_form(state, user, slug, content_length, form, UploadForm::API).await?;
    done.items
        .pop()
        .ok_or_else(|| AppError::field("file", "is required"))
}

/// Stores the files of one form (`shape` says how many and which other fields it may carry)
/// as evidence of the caller's participation in `slug`: all of them, or none when one is
/// refused.
///
/// # Errors
/// As [`upload`], for any of the files.
pub async fn upload_form(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    content_length: Option<u64>,
    form: Multipart,
    shape: UploadForm,
) -> AppResult<Uploaded> {
    let max_file = state.ctx.settings.evidence_max_file_bytes;
    let quota = state.ctx.settings.evidence_quota_bytes;
    let participation = require_open_participation(&state.db, user, slug).await?;
    let used = usage(&state.db, participation.id).await?;
    let room = quota.saturating_sub(used);
    let files = u64::try_from(shape.max_files.max(1)).unwrap_or(1);
    if let Some(len) = content_length {
        if len > max_file.saturating_mul(files) + FORM_OVERHEAD {
            return Err(too_large(&format!(
                "the file is larger than {} MiB",
                mib(max_file)
            )));
        }
        if len > room + FORM_OVERHEAD {
            return Err(too_large("the upload would exceed your storage quota"));
        }
    }
    // Each file is held to the file limit; together they are held to the room left.
    let mut fields = read_form(state, form, max_file, room, shape).await?;
    let staged = std::mem::take(&mut fields.staged);
    let result = if staged.is_empty() {
        Err(AppError::field("file", "is required"))
    } else {
        commit_upload(state, user, &participation, &staged, &fields, quota).await
    };
    if result.is_err() {
        discard_all(state, &staged).await;
    }
    Ok(Uploaded {
        items: result?,
        extra: fields.extra,
    })
}

async fn commit_upload(
    state: &AppState,
    user: &CurrentUser,
    participation: &participations::Model,
    staged: &[StagedFile],
    fields: &FormFields,
    quota: u64,
) -> AppResult<Vec<evidence::Model>> {
    let kind = fields
        .kind
        .ok_or_else(|| AppError::field("kind", "is required"))?;
    let now = state.now();
    let total: u64 = staged.iter().map(|(s, ..)| s.size).sum();
    let txn = db::write_txn(&state.db).await?;
    lock_participation(&txn, participation.id).await?;
    // Concurrent uploads of one participant are serialised here, so the quota holds.
    if usage(&txn, participation.id).await? + total > quota {
        return Err(too_large("the upload would exceed your storage quota"));
    }
    let mut rows = Vec::with_capacity(staged.len());
    for (file, content_type, name) in staged {
        let size = i64::try_from(file.size).map_err(anyhow::Error::from)?;
        refs::add_ref(&txn, &file.sha256, size, now).await?;
        state
            .blobs
            .commit(file)
            .await
            .map_err(anyhow::Error::from)?;
        let row = evidence::ActiveModel {
            participation_id: Set(participation.id),
            group_id: Set(participation.group_id),
            user_id: Set(user.id),
            sha256: Set(file.sha256.clone()),
            size: Set(size),
            content_type: Set((*content_type).to_owned()),
            kind: Set(kind),
            description: Set(fields.description.clone()),
            original_name: Set(name.clone()),
            captured_at: Set(fields.captured_at),
            status: Set(EvidenceStatus::Active),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        crate::tsa::job::enqueue(&txn, state, &file.sha256).await?;
        rows.push(row);
    }
    txn.commit().await?;
    if state.tsa.enabled() {
        state.jobs.wake.notify_one();
    }
    Ok(rows)
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

/// When each of these items' content got its trusted timestamp, by SHA-256 (none without a
/// TSA, or before the TSA answered).
///
/// # Errors
/// Database failures.
pub async fn timestamped_at(
    conn: &impl ConnectionTrait,
    items: &[evidence::Model],
) -> AppResult<std::collections::HashMap<String, DateTime<Utc>>> {
    let hashes: Vec<String> = items.iter().map(|e| e.sha256.clone()).collect();
    Ok(crate::tsa::job::find_all(conn, &hashes)
        .await?
        .into_iter()
        .map(|(sha, row)| (sha, row.gen_time))
        .collect())
}

/// All of `user_id`'s evidence, in every group, with its group, newest first.
///
/// # Errors
/// Database failures.
pub async fn list_all_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> AppResult<Vec<(evidence::Model, groups::Model)>> {
    let rows = evidence::Entity::find()
        .filter(evidence::Column::UserId.eq(user_id))
        .find_also_related(groups::Entity)
        .order_by_desc(evidence::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(e, g)| Some((e, g?)))
        .collect())
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
