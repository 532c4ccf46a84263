//! Dossier rules: compiling a new version (organisers; one build per group at a time; version
//! numbers never repeat or skip), who may see which version and part, and verification of
//! uploaded bundles. Builds run as jobs ([`build::BuildDossier`]), so one whose instance dies is
//! taken over by another.

use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use futures_util::StreamExt as _;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use super::dto::{DossierView, Tier};
use super::verify::Report;
use super::{Part, build, version_dir};
use crate::auth::CurrentUser;
use crate::db;
use crate::entities::enums::{DossierStatus, JobStatus, ParticipationStatus};
use crate::entities::{dossiers, groups, participations};
use crate::error::{AppError, AppResult};
use crate::groups::access::{Role, Viewer, require_role};
use crate::groups::service::{audit, by_slug};
use crate::state::AppState;

/// The API path of a group's dossiers.
#[must_use]
pub fn base_path(slug: &str) -> String {
    format!("/api/v1/groups/{slug}/dossiers")
}

fn building_conflict() -> AppError {
    AppError::conflict(
        "dossier_building",
        "a dossier of this group is being built; wait until it is ready or failed",
    )
}

/// Takes the group's row lock on PostgreSQL, so concurrent compiles of one group queue up
/// (SQLite's write transaction already excludes other writers).
async fn lock_group(conn: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM groups WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Participants a dossier of the group would hold.
async fn signed_active(conn: &impl ConnectionTrait, group_id: i64) -> AppResult<u64> {
    Ok(participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .filter(participations::Column::SignedStatementVersion.is_not_null())
        .count(conn)
        .await?)
}

/// Compiles a new dossier version of the group `slug` for `tier` (organisers). Small groups are
/// built inside the request (`true`); larger ones by a background task (`false`), the answer
/// then being the row in `building`.
///
/// # Errors
/// 403 unless an organiser; 404 unknown group; 409 while another build of the group runs;
/// 503 `pdf_font_missing` when no CJK font is installed.
pub async fn compile(
    state: &std::sync::Arc<AppState>,
    user: &CurrentUser,
    slug: &str,
    tier: Tier,
) -> AppResult<(DossierView, bool)> {
    if !state.pdf_fonts.available() {
        return Err(AppError::ServiceUnavailable(
            "pdf_font_missing",
            "no CJK font is installed, so letter.pdf cannot be typeset; install fonts-noto-cjk \
             or set LIANMING_PDF_FONT"
                .into(),
        ));
    }
    let now = state.now();
    let txn = db::write_txn(&state.db).await?;
    let group = by_slug(&txn, slug).await?;
    let group = require_role(&txn, group, user.id, Role::Organiser)
        .await?
        .into_group();
    lock_group(&txn, group.id).await?;
    let busy = dossiers::Entity::find()
        .filter(dossiers::Column::GroupId.eq(group.id))
        .filter(dossiers::Column::Status.eq(DossierStatus::Building))
        .one(&txn)
        .await?;
    if busy.is_some() {
        return Err(building_conflict());
    }
    let last: Option<Option<i32>> = dossiers::Entity::find()
        .select_only()
        .column_as(dossiers::Column::Version.max(), "v")
        .filter(dossiers::Column::GroupId.eq(group.id))
        .into_tuple()
        .one(&txn)
        .await?;
    let version = last.flatten().unwrap_or(0) + 1;
    let inserted = dossiers::ActiveModel {
        group_id: Set(group.id),
        version: Set(version),
        tier: Set(tier),
        status: Set(DossierStatus::Building),
        statement_version: Set(group.statement_version),
        author_id: Set(Some(user.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(r) => r,
        Err(e) if db::is_unique_violation(&e) => return Err(building_conflict()),
        Err(e) => return Err(e.into()),
    };
    let participants = signed_active(&txn, group.id).await?;
    let inline = participants <= u64::from(state.ctx.settings.dossier_inline_max);
    // Built in this request: runners leave the job alone unless the request dies first.
    let run_at = if inline { now + state.jobs.lease } else { now };
    let job = crate::jobs::enqueue_at(
        &txn,
        &build::BuildDossier { dossier_id: row.id },
        now,
        run_at,
    )
    .await?
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a new dossier already had a job")))?;
    audit(
        &txn,
        group.id,
        user.id,
        "dossier.compile",
        Some(format!("v{version}")),
        json!({"version": version, "tier": tier.as_str(), "participants": participants}),
        now,
    )
    .await?;
    txn.commit().await?;
    let base = base_path(&group.slug);
    if inline && crate::jobs::run_now(state, job).await? == Some(JobStatus::Done) {
        let row = dossiers::Entity::find_by_id(row.id)
            .one(&state.db)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok((DossierView::new(row, &base), true));
    }
    // Built by this instance's job runner, or any other's.
    state.jobs.wake.notify_one();
    Ok((DossierView::new(row, &base), false))
}

fn publicly_visible(row: &dossiers::Model) -> bool {
    row.tier == Tier::Public && row.status == DossierStatus::Ready
}

/// The group's dossiers, newest first: all of them for its team, the ready public-tier ones
/// for everyone else.
///
/// # Errors
/// 404 unknown group.
pub async fn list(
    state: &AppState,
    user: Option<&CurrentUser>,
    slug: &str,
) -> AppResult<Vec<DossierView>> {
    let group = by_slug(&state.db, slug).await?;
    let team = Viewer::of(&state.db, group.id, user).await?.is_team();
    let rows = dossiers::Entity::find()
        .filter(dossiers::Column::GroupId.eq(group.id))
        .order_by_desc(dossiers::Column::Version)
        .all(&state.db)
        .await?;
    let base = base_path(&group.slug);
    Ok(rows
        .into_iter()
        .filter(|r| team || publicly_visible(r))
        .map(|r| DossierView::new(r, &base))
        .collect())
}

async fn visible(
    state: &AppState,
    user: Option<&CurrentUser>,
    slug: &str,
    version: i32,
) -> AppResult<(groups::Model, dossiers::Model)> {
    let group = by_slug(&state.db, slug).await?;
    let row = dossiers::Entity::find()
        .filter(dossiers::Column::GroupId.eq(group.id))
        .filter(dossiers::Column::Version.eq(version))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if publicly_visible(&row) || Viewer::of(&state.db, group.id, user).await?.is_team() {
        Ok((group, row))
    } else {
        Err(AppError::NotFound)
    }
}

/// One dossier version (its team; anyone for a ready public-tier version).
///
/// # Errors
/// 404 for versions the caller may not see.
pub async fn get(
    state: &AppState,
    user: Option<&CurrentUser>,
    slug: &str,
    version: i32,
) -> AppResult<DossierView> {
    let (group, row) = visible(state, user, slug, version).await?;
    Ok(DossierView::new(row, &base_path(&group.slug)))
}

/// The team's desk of the group's dossiers: the group, the role the caller holds, and every
/// version, newest first.
///
/// # Errors
/// 403 outside the team; 404 unknown group.
pub async fn desk(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> AppResult<(groups::Model, Role, Vec<DossierView>)> {
    let group = by_slug(&state.db, slug).await?;
    let access = require_role(&state.db, group, user.id, Role::Moderator).await?;
    let role = access.role();
    let group = access.into_group();
    let views = list(state, Some(user), &group.slug).await?;
    Ok((group, role, views))
}

/// The file of one part of a ready version, for the team only (the organiser pages'
/// downloads, whatever the tier).
///
/// # Errors
/// 403 outside the team; otherwise as [`part`].
pub async fn team_part(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    version: i32,
    wanted: Part,
) -> AppResult<PartFile> {
    let group = by_slug(&state.db, slug).await?;
    require_role(&state.db, group, user.id, Role::Moderator).await?;
    part(state, Some(user), slug, version, wanted).await
}

/// A part ready for download.
#[derive(Debug)]
pub struct PartFile {
    /// Where it is on this instance (when this instance built it or shares the directory).
    pub path: PathBuf,
    /// Its key in the object store (when evidence is kept in one).
    pub key: String,
    /// The name to save it as.
    pub download_name: String,
    /// Its media type.
    pub content_type: &'static str,
}

impl PartFile {
    /// Its content and length: from this instance's directory, else from the object store.
    ///
    /// # Errors
    /// When neither holds it, or reading fails.
    pub async fn open(&self, state: &AppState) -> AppResult<(crate::blob::ByteStream, u64)> {
        match tokio::fs::File::open(&self.path).await {
            Ok(file) => {
                let len = file.metadata().await.map_err(anyhow::Error::from)?.len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
                Ok((Box::pin(stream), len))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && state.parts.is_some() => {
                let store = state.parts.as_ref().ok_or(AppError::NotFound)?;
                store.get_file(&self.key).await.map_err(|e| {
                    AppError::Internal(anyhow::anyhow!(
                        "reading {} from the object store: {e}",
                        self.key
                    ))
                })
            }
            Err(e) => Err(AppError::Internal(anyhow::anyhow!(
                "opening {}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// The file of one part of a ready version (its team; anyone for the public tier).
///
/// # Errors
/// 404 for versions or parts the caller may not see; 409 `dossier_not_ready` while building
/// or after a failure.
pub async fn part(
    state: &AppState,
    user: Option<&CurrentUser>,
    slug: &str,
    version: i32,
    part: Part,
) -> AppResult<PartFile> {
    let (group, row) = visible(state, user, slug, version).await?;
    let tier = row.tier;
    if !Part::of(tier, row.timestamped_at.is_some()).contains(&part) {
        return Err(AppError::NotFound);
    }
    if row.status != DossierStatus::Ready {
        return Err(AppError::conflict(
            "dossier_not_ready",
            format!("version {version} is {}", row.status),
        ));
    }
    let stem = format!("lianming-{}-v{version}", group.slug);
    let download_name = match part {
        Part::Bundle => format!("{stem}.zip"),
        other => format!("{stem}-{}", other.file_name()),
    };
    Ok(PartFile {
        path: version_dir(&state.ctx.settings.data_dir, group.id, version).join(part.file_name()),
        key: build::part_key(group.id, version, part.file_name()),
        download_name,
        content_type: part.content_type(),
    })
}

/// A build's temporary directory untouched this long belongs to a build that died (a running
/// build writes to it all the time, and a dead one's job is taken over with a new directory).
const STALE_BUILD: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Removes the temporary directories that dead builds left. Other instances' running builds
/// are left alone: builds that died are resumed by their job ([`build::BuildDossier`]).
///
/// # Errors
/// When the blocking task fails.
pub async fn sweep_temporaries(state: &AppState) -> anyhow::Result<()> {
    let root = state.ctx.settings.data_dir.join("dossiers");
    tokio::task::spawn_blocking(move || remove_temporaries(&root)).await?;
    Ok(())
}

fn remove_temporaries(root: &Path) {
    let Ok(groups) = std::fs::read_dir(root) else {
        return;
    };
    for g in groups.flatten() {
        let Ok(entries) = std::fs::read_dir(g.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_BUILD);
            if name.starts_with('.') && name.ends_with(".tmp") && stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A file removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What a verification form uploaded: the bundle (streamed to a temporary file, at most
/// `dossier_verify_max_bytes`) and a receipt (at most [`MAX_RECEIPT`](super::receipt::MAX_RECEIPT)
/// bytes in memory), each when given; other fields are drained and ignored.
#[derive(Default)]
pub struct VerifyForm {
    /// Field `bundle`.
    pub bundle: Option<TempFile>,
    /// Field `receipt`.
    pub receipt: Option<Vec<u8>>,
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: "multipart_unreadable",
        detail: e.to_string(),
    }
}

/// Reads a verification form.
///
/// # Errors
/// 413 when the bundle or the receipt is over its limit; 400 for an unreadable form.
pub async fn read_verify_form(state: &AppState, mut form: Multipart) -> AppResult<VerifyForm> {
    let limit = state.ctx.settings.dossier_verify_max_bytes;
    let mut out = VerifyForm::default();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(unreadable)?;
        match field.name() {
            Some("bundle") if out.bundle.is_none() => {
                let dir = state.ctx.settings.data_dir.join("tmp");
                crate::private_fs::create_dir_all_async(&dir)
                    .await
                    .map_err(anyhow::Error::from)?;
                let tmp = TempFile(dir.join(format!("verify-{}.zip", uuid::Uuid::new_v4())));
                let mut file = crate::private_fs::file_options_async()
                    .open(&tmp.0)
                    .await
                    .map_err(anyhow::Error::from)?;
                let mut size = 0u64;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(unreadable)?;
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(AppError::PayloadTooLarge(format!(
                            "the bundle is larger than {} MiB",
                            limit / (1024 * 1024)
                        )));
                    }
                    file.write_all(&chunk).await.map_err(anyhow::Error::from)?;
                }
                file.flush().await.map_err(anyhow::Error::from)?;
                // An empty file input sends an empty part: no bundle.
                if size > 0 {
                    out.bundle = Some(tmp);
                }
            }
            Some("receipt") if out.receipt.is_none() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(unreadable)?;
                    if bytes.len() + chunk.len() > super::receipt::MAX_RECEIPT {
                        return Err(AppError::PayloadTooLarge(
                            "the receipt is larger than 64 KiB".into(),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if !bytes.is_empty() {
                    out.receipt = Some(bytes);
                }
            }
            _ => {
                while let Some(chunk) = field.next().await {
                    chunk.map_err(unreadable)?;
                }
            }
        }
    }
    Ok(out)
}

/// Verifies an uploaded bundle (multipart field `bundle`) against the published keys.
///
/// # Errors
/// 413 over the limit; 422 without a `bundle` field; 400 for an unreadable form.
pub async fn verify_upload(state: &AppState, form: Multipart) -> AppResult<Report> {
    let tmp = read_verify_form(state, form)
        .await?
        .bundle
        .ok_or_else(|| AppError::field("bundle", "is required"))?;
    verify_saved(state, tmp).await
}

/// Verifies a saved bundle against the published keys, on a blocking thread.
///
/// # Errors
/// When the keys cannot be read.
pub async fn verify_saved(state: &AppState, tmp: TempFile) -> AppResult<Report> {
    let limit = state.ctx.settings.dossier_verify_max_bytes;
    let keys = state.keys.clone();
    let tsa = state.tsa.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<Report> {
        let jwks = keys.jwks()?;
        let file = std::fs::File::open(&tmp.0)?;
        // Decompressing is bounded too: a small upload must not inflate without end.
        Ok(super::verify::verify_with(
            std::io::BufReader::new(file),
            &jwks,
            Some(limit.saturating_mul(8)),
            tsa.anchors(),
        ))
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok(report)
}
