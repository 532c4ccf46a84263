//! The evidence pages of "my account": the upload form's target (also used from the join
//! flow's last screen, through the `pages/evidence_upload_form.html` partial), downloads,
//! deletion, and the list of all one's evidence. Same service as
//! `/api/v1/groups/{slug}/participation/evidence` and `/api/v1/evidence/{id}`: streaming, the
//! type judged by content, the limits.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono_tz::Tz;
use futures_util::StreamExt;
use serde::Deserialize;

use super::service::{self, UploadForm};
use crate::auth::CurrentUser;
use crate::domain::LocalPath;
use crate::entities::enums::EvidenceStatus;
use crate::entities::{evidence, groups};
use crate::error::AppError;
use crate::i18n::Locale;
use crate::interactions::pages::{local_time, user_tz};
use crate::pages::ctx::{CSRF_FIELD, with_next};
use crate::pages::{Head, PageCtx};
use crate::participation::pages::{CaseExtras, case_page, case_path};
use crate::participation::service::require_mine;
use crate::state::AppState;

/// The most files one page form takes at once.
pub const MAX_FILES_PER_FORM: usize = 10;

/// The page form: several files, and the page to go back to.
const PAGE_FORM: UploadForm = UploadForm {
    max_files: MAX_FILES_PER_FORM,
    extra_fields: &["next"],
};

/// Registers the evidence pages.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/evidence", web::get().to(all_mine))
        .route(
            "/account/groups/{slug}/evidence",
            web::post().to(upload_submit),
        )
        .route(
            "/account/groups/{slug}/evidence/{id}",
            web::get().to(download),
        )
        .route(
            "/account/groups/{slug}/evidence/{id}/delete",
            web::post().to(delete_submit),
        );
}

/// The kinds of evidence, as stored (the upload form's choices).
#[must_use]
pub fn kinds() -> Vec<&'static str> {
    super::dto::EvidenceKind::all()
        .into_iter()
        .map(super::dto::EvidenceKind::as_str)
        .collect()
}

/// A size as people read it: `812 B`, `35 KB`, `4.2 MB`.
#[must_use]
pub fn human_size(bytes: i64) -> String {
    const KB: i64 = 1024;
    const MB: i64 = 1024 * 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        let tenths = (bytes * 10 + MB / 2) / MB;
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

/// One evidence item, as listed.
pub struct EvidenceRow {
    /// Evidence id.
    pub id: i64,
    /// The group's slug.
    pub slug: String,
    /// The group's title (on the list of all evidence).
    pub group_title: String,
    /// The file name.
    pub name: String,
    /// The kind's label.
    pub kind: &'static str,
    /// What it shows.
    pub description: String,
    /// Its size, readable.
    pub size: String,
    /// When uploaded, in the user's zone.
    pub uploaded: String,
    /// Kept (withdrawn) because an issued dossier holds it.
    pub withdrawn: bool,
}

impl EvidenceRow {
    fn of(l: Locale, slug: &str, group_title: &str, e: evidence::Model, tz: Tz) -> Self {
        Self {
            id: e.id,
            slug: slug.to_owned(),
            group_title: group_title.to_owned(),
            name: e.original_name,
            kind: l.tk("page.evidence_form.kind", e.kind),
            description: e.description,
            size: human_size(e.size),
            uploaded: local_time(e.created_at, tz),
            withdrawn: e.status == EvidenceStatus::Withdrawn,
        }
    }
}

/// The rows of one group's evidence.
#[must_use]
pub fn evidence_rows(
    l: Locale,
    slug: &str,
    items: Vec<evidence::Model>,
    tz: Tz,
) -> Vec<EvidenceRow> {
    items
        .into_iter()
        .map(|e| EvidenceRow::of(l, slug, "", e, tz))
        .collect()
}

/// The message for a refused upload, or `None` when the refusal is not about the form.
fn upload_message(l: Locale, max_file: u64, e: &AppError) -> Option<String> {
    match e {
        AppError::PayloadTooLarge(detail) if detail.contains("quota") => {
            Some(l.t("page.evidence_form.error_quota").to_owned())
        }
        AppError::PayloadTooLarge(_) => Some(l.tf(
            "page.evidence_form.error_too_big",
            &[(
                "max",
                &human_size(i64::try_from(max_file).unwrap_or(i64::MAX)),
            )],
        )),
        AppError::UnsupportedMediaType(_) => Some(l.t("page.evidence_form.error_type").to_owned()),
        AppError::Validation(errors) => {
            let (field, messages) = errors.iter().next()?;
            Some(match field.as_str() {
                "file" if messages.iter().any(|m| m.contains("at most")) => l.tf(
                    "page.evidence_form.error_too_many",
                    &[("n", &MAX_FILES_PER_FORM.to_string())],
                ),
                "file" => l.t("page.evidence_form.error_required").to_owned(),
                "kind" => l.t("page.evidence_form.error_kind").to_owned(),
                "description" => l.t("page.evidence_form.error_description").to_owned(),
                _ => l.t("page.evidence_form.error_unreadable").to_owned(),
            })
        }
        AppError::BadRequest {
            code: "multipart_unreadable",
            ..
        } => Some(l.t("page.evidence_form.error_unreadable").to_owned()),
        _ => None,
    }
}

/// Reads the form's first field, which must be the CSRF token.
async fn first_field_token(form: &mut Multipart) -> String {
    let Some(Ok(mut field)) = form.next().await else {
        return String::new();
    };
    if field.name() != Some(CSRF_FIELD) {
        return String::new();
    }
    match field.bytes(512).await {
        Ok(Ok(bytes)) => String::from_utf8(bytes.to_vec()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The multipart upload form: the CSRF token first (checked before any file is read), then
/// the files, their kind and description and `next`.
async fn upload_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    slug: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    // The form's own address answers no GET: after logging in, the case page.
    let Some(user) = c.user.clone() else {
        let next = LocalPath::parse(&case_path(&slug));
        return c.redirect(&with_next("/login", next.as_ref()), None);
    };
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut form = Multipart::new(req.headers(), payload);
    if !c.check_csrf(&first_field_token(&mut form).await) {
        return c.csrf_failed();
    }
    match service::upload_form(&state, &user, &slug, length, form, PAGE_FORM).await {
        Ok(done) => {
            let next = done
                .extra
                .iter()
                .find(|(k, _)| k == "next")
                .and_then(|(_, v)| LocalPath::parse(v))
                .map_or_else(|| case_path(&slug), |n| n.as_str().to_owned());
            c.redirect(&next, Some("page.flash.my.uploaded"))
        }
        Err(e) => match upload_message(c.l, state.ctx.settings.evidence_max_file_bytes, &e) {
            Some(message) => {
                let extras = CaseExtras {
                    upload_error: Some(message),
                    ..CaseExtras::default()
                };
                case_page(&state, &c, &slug, extras).await
            }
            None => c.error(&e),
        },
    }
}

/// The caller's own item `id` in the group `slug`; 404 for anyone else's (an organiser reads
/// participants' files on the organiser's pages, not here).
async fn my_item(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    id: i64,
) -> Result<evidence::Model, AppError> {
    let (group, _) = require_mine(&state.db, slug, user.id).await?;
    let item = service::require_readable(&state.db, user, id).await?;
    if item.user_id != user.id || item.group_id != group.id {
        return Err(AppError::NotFound);
    }
    Ok(item)
}

async fn download(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let got = async {
        my_item(&state, &user, &slug, id).await?;
        service::content(&state, &user, id).await
    };
    match got.await {
        Ok((item, bytes)) => super::api::attachment(&item, bytes),
        Err(e) => c.error(&e),
    }
}

#[derive(Deserialize)]
struct NextForm {
    next: Option<String>,
}

async fn delete_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form: NextForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let done = async {
        my_item(&state, &user, &slug, id).await?;
        service::delete_mine(&state, &user, id).await
    };
    match done.await {
        Ok(()) => {
            let next = form
                .next
                .as_deref()
                .and_then(LocalPath::parse)
                .map_or_else(|| case_path(&slug), |n| n.as_str().to_owned());
            c.redirect(&next, Some("page.flash.my.evidence_deleted"))
        }
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/my_evidence.html")]
struct AllEvidencePage {
    l: Locale,
    head: Head,
    csrf: String,
    rows: Vec<EvidenceRow>,
}

async fn all_mine(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let loaded = async {
        let items = service::list_all_of_user(&state.db, user.id).await?;
        let tz = user_tz(&state, user.id).await?;
        Ok::<_, AppError>((items, tz))
    };
    let (items, tz) = match loaded.await {
        Ok(x) => x,
        Err(e) => return c.error(&e),
    };
    let rows = items
        .into_iter()
        .map(|(e, g): (evidence::Model, groups::Model)| {
            EvidenceRow::of(c.l, &g.slug, &g.title, e, tz)
        })
        .collect();
    c.render(
        StatusCode::OK,
        &AllEvidencePage {
            l: c.l,
            head: c.head(),
            csrf: c.csrf.clone(),
            rows,
        },
    )
}
