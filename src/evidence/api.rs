//! HTTP handlers of the evidence routes.

use actix_multipart::Multipart;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{EvidenceUpload, EvidenceView};
use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, Problem};
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(upload)
        .service(list_mine)
        .service(metadata)
        .service(content)
        .service(delete_mine);
}

/// Attach a file to your participation (multipart: `file`, `kind`, `description`,
/// `captured_at`). The content decides the type; limits: 20 MiB per file, 200 MiB per
/// participant by default.
#[utoipa::path(tag = "evidence", security(("bearer" = [])), params(("slug" = String, Path)),
    request_body(content = EvidenceUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = EvidenceView), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 404, body = Problem)))]
#[post("/groups/{slug}/participation/evidence")]
async fn upload(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let form = Multipart::new(req.headers(), payload);
    let item = service::upload(&state, &user, &slug, length, form).await?;
    Ok(HttpResponse::Created().json(EvidenceView::from(item)))
}

/// Your evidence in this group.
#[utoipa::path(tag = "evidence", security(("bearer" = [])), params(("slug" = String, Path)),
    responses((status = 200, body = Vec<EvidenceView>), (status = 404, body = Problem)))]
#[get("/groups/{slug}/participation/evidence")]
async fn list_mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<Vec<EvidenceView>>> {
    let items = service::list_mine(&state, &user, &slug).await?;
    let times = service::timestamped_at(&state.db, &items).await?;
    Ok(web::Json(
        items
            .into_iter()
            .map(|e| EvidenceView::from(e).with_timestamp(&times))
            .collect(),
    ))
}

// The routes on one item answer 404 to anyone who may not read it, signed in or not, so
// nobody learns which ids exist.

/// Metadata of an evidence item (its owner and the group's organisers only).
#[utoipa::path(tag = "evidence", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EvidenceView), (status = 404, body = Problem)))]
#[get("/evidence/{id}")]
async fn metadata(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    id: web::Path<i64>,
) -> AppResult<web::Json<EvidenceView>> {
    let user = user.ok_or(AppError::NotFound)?;
    let item = service::require_readable(&state.db, &user, *id).await?;
    let times = service::timestamped_at(&state.db, std::slice::from_ref(&item)).await?;
    Ok(web::Json(EvidenceView::from(item).with_timestamp(&times)))
}

fn ascii_fallback(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ascii.replace(['"', '\\'], "_")
}

/// The bytes of an evidence item, as an attachment (its owner and the group's organisers only).
#[utoipa::path(tag = "evidence", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the file, with the type judged from its content (an image, audio, PDF, plain text or CSV type)", content_type = "*/*"), (status = 404, body = Problem)))]
#[get("/evidence/{id}/content")]
async fn content(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let user = user.ok_or(AppError::NotFound)?;
    let (item, bytes) = service::content(&state, &user, *id).await?;
    Ok(attachment(&item, bytes))
}

/// The answer carrying an evidence item's bytes: an attachment under its original name, never
/// sniffed or cached by the browser (the API's download and the account pages').
pub(crate) fn attachment(
    item: &crate::entities::evidence::Model,
    bytes: crate::blob::ByteStream,
) -> HttpResponse {
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii_fallback(&item.original_name)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: item.original_name.clone().into_bytes(),
            }),
        ],
    };
    HttpResponse::Ok()
        .content_type(item.content_type.as_str())
        .insert_header(disposition)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::ETAG, format!("\"{}\"", item.sha256)))
        .no_chunking(u64::try_from(item.size).unwrap_or(0))
        .streaming(bytes)
}

/// Delete one of your evidence items (kept and marked withdrawn if an issued dossier holds it).
#[utoipa::path(tag = "evidence", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/evidence/{id}")]
async fn delete_mine(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let user = user.ok_or(AppError::NotFound)?;
    service::delete_mine(&state, &user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
