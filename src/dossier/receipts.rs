//! Participants' inclusion receipts ([`receipt`](super::receipt)): stored with each ready
//! version, announced by email, listed and downloaded by their owner only
//! (`/api/v1/me/receipts`, `/account/receipts`), checked by anyone against a bundle or the
//! published root (`POST /api/v1/dossiers/verify-receipt`, the `/verify` page,
//! `lianming verify --receipt`), and the published root of each ready version
//! (`GET /api/v1/groups/{slug}/dossiers/{version}/root`).
//!
//! Access to a receipt is decided in [`mine`] and [`my_receipt`]: the participation must be the
//! caller's. The published root names no one: a salted tree's root and size.

use std::sync::Arc;

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{DossierStatus, Tier};
use super::receipt::{self, PublishedRoot, ReceiptReport};
use super::service::{self, TempFile};
use crate::auth::CurrentUser;
use crate::entities::{dossier_receipts, dossiers, groups, participations, users};
use crate::error::{AppError, AppResult, Problem};
use crate::groups::service::by_slug;
use crate::i18n::Locale;
use crate::jobs::Job;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::state::AppState;

/// Rows per insert.
const CHUNK: usize = 200;

/// Stores a version's receipts (participation, leaf index, document) in the build's
/// transaction.
///
/// # Errors
/// Database failures.
pub async fn store(
    txn: &impl ConnectionTrait,
    dossier_id: i64,
    receipts: Vec<(i64, i64, String)>,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::ActiveValue::Set;
    let rows: Vec<dossier_receipts::ActiveModel> = receipts
        .into_iter()
        .map(
            |(participation_id, leaf_index, body)| dossier_receipts::ActiveModel {
                dossier_id: Set(dossier_id),
                participation_id: Set(participation_id),
                leaf_index: Set(leaf_index),
                body: Set(body),
                ..Default::default()
            },
        )
        .collect();
    for chunk in rows.chunks(CHUNK) {
        dossier_receipts::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Queues the emails that tell each included participant about their receipt.
///
/// # Errors
/// Database failures.
pub async fn queue_notices(state: &AppState, dossier_id: i64) -> Result<(), sea_orm::DbErr> {
    crate::jobs::enqueue(&state.db, &NotifyReceipts { dossier_id }, state.now()).await?;
    Ok(())
}

/// The job that emails every participant of a ready version about their receipt, once each.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct NotifyReceipts {
    /// The ready `dossiers` row.
    pub dossier_id: i64,
}

impl Job for NotifyReceipts {
    const KIND: &'static str = "dossier.receipts";

    fn dedupe_key(&self) -> String {
        format!("dossier.receipts:{}", self.dossier_id)
    }

    async fn run(self, state: Arc<AppState>, _attempt: i32) -> anyhow::Result<()> {
        let Some(d) = dossiers::Entity::find_by_id(self.dossier_id)
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        let Some(group) = groups::Entity::find_by_id(d.group_id)
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        let people: Vec<(i64, i64, String, String, String)> = dossier_receipts::Entity::find()
            .select_only()
            .column(dossier_receipts::Column::ParticipationId)
            .column(users::Column::Id)
            .column(users::Column::Email)
            .column(users::Column::DisplayName)
            .column(users::Column::Locale)
            .join(
                JoinType::InnerJoin,
                dossier_receipts::Relation::Participations.def(),
            )
            .join(JoinType::InnerJoin, participations::Relation::Users.def())
            .filter(dossier_receipts::Column::DossierId.eq(d.id))
            .order_by_asc(dossier_receipts::Column::LeafIndex)
            .into_tuple()
            .all(&state.db)
            .await?;
        let url = format!("{}/account/receipts", state.ctx.public_url);
        let now = state.now();
        let txn = crate::db::write_txn(&state.db).await?;
        let mut queued = 0usize;
        for (participation_id, user_id, email, name, locale) in people {
            let l = Locale::parse_lenient(&locale);
            let content = kinds::receipt(
                l,
                &name,
                &group.title,
                d.version,
                l.tk("page.dossier_verify.tiers", d.tier),
                &url,
            );
            let email = NewEmail {
                kind: "receipt",
                recipient: email,
                user_id: Some(user_id),
                content,
                idempotency_key: format!("receipt:{}:{participation_id}", d.id),
                headers: Vec::new(),
            };
            queued += usize::from(enqueue(&txn, email, now, &state.ctx.mail_domain).await?);
        }
        txn.commit().await?;
        if queued > 0 {
            state.mail_wake.notify_one();
        }
        Ok(())
    }
}

/// One of my receipts, as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyReceipt {
    /// The group's slug.
    pub group: String,
    /// Its title.
    pub title: String,
    /// The dossier version.
    pub version: i32,
    /// Its recipient tier.
    pub tier: Tier,
    /// When the version was ready.
    pub ready_at: Option<DateTime<Utc>>,
    /// The receipt's download address.
    pub href: String,
}

/// Access to receipts, decided here: the receipts of `user`'s own participations in ready
/// versions (no column selected yet).
fn owned_by(user: &CurrentUser) -> sea_orm::Select<dossier_receipts::Entity> {
    dossier_receipts::Entity::find()
        .select_only()
        .join(
            JoinType::InnerJoin,
            dossier_receipts::Relation::Participations.def(),
        )
        .join(
            JoinType::InnerJoin,
            dossier_receipts::Relation::Dossiers.def(),
        )
        .filter(participations::Column::UserId.eq(user.id))
        .filter(dossiers::Column::Status.eq(DossierStatus::Ready))
}

/// The caller's receipts, newest version first.
///
/// # Errors
/// Database failures.
pub async fn mine(state: &AppState, user: &CurrentUser) -> AppResult<Vec<MyReceipt>> {
    /// Slug, title, version, tier, ready.
    type Listed = (String, String, i32, Tier, Option<DateTime<Utc>>);
    let rows: Vec<Listed> = owned_by(user)
        .column(groups::Column::Slug)
        .column(groups::Column::Title)
        .column(dossiers::Column::Version)
        .column(dossiers::Column::Tier)
        .column(dossiers::Column::ReadyAt)
        .join(JoinType::InnerJoin, dossiers::Relation::Groups.def())
        .order_by_desc(dossiers::Column::ReadyAt)
        .order_by_desc(dossier_receipts::Column::Id)
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(group, title, version, tier, ready_at)| MyReceipt {
            href: format!("/api/v1/me/receipts/{group}/{version}"),
            group,
            title,
            version,
            tier,
            ready_at,
        })
        .collect())
}

/// The caller's receipt for version `version` of `slug`.
///
/// # Errors
/// 404 when the caller has none there (a stranger's, or no such version).
pub async fn my_receipt(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    version: i32,
) -> AppResult<String> {
    let group = by_slug(&state.db, slug).await?;
    let body: Option<String> = owned_by(user)
        .column(dossier_receipts::Column::Body)
        .filter(dossiers::Column::GroupId.eq(group.id))
        .filter(dossiers::Column::Version.eq(version))
        .into_tuple()
        .one(&state.db)
        .await?;
    body.ok_or(AppError::NotFound)
}

/// The published root of a ready version, for anyone.
///
/// # Errors
/// 404 unknown group, or no ready version with a root.
pub async fn published_root(
    state: &AppState,
    slug: &str,
    version: i32,
) -> AppResult<PublishedRoot> {
    let group = by_slug(&state.db, slug).await?;
    let row = dossiers::Entity::find()
        .filter(dossiers::Column::GroupId.eq(group.id))
        .filter(dossiers::Column::Version.eq(version))
        .filter(dossiers::Column::Status.eq(DossierStatus::Ready))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = dossier_receipts::Entity::find()
        .filter(dossier_receipts::Column::DossierId.eq(row.id))
        .count(&state.db)
        .await?;
    match (row.merkle_root, row.manifest_sha256) {
        (Some(merkle_root), Some(manifest_sha256)) => Ok(PublishedRoot {
            group: group.slug,
            version,
            root: merkle_root,
            tree_size: count,
            manifest_sha256,
        }),
        _ => Err(AppError::NotFound),
    }
}

/// Checks a receipt: against `bundle` when given, otherwise against the root published for the
/// receipt's version.
///
/// # Errors
/// When the keys cannot be read.
pub async fn check(
    state: &AppState,
    receipt_bytes: Vec<u8>,
    bundle: Option<TempFile>,
) -> AppResult<ReceiptReport> {
    if let Some(tmp) = bundle {
        let limit = state.ctx.settings.dossier_verify_max_bytes;
        let keys = state.keys.clone();
        let tsa = state.tsa.clone();
        let report = tokio::task::spawn_blocking(move || -> anyhow::Result<ReceiptReport> {
            let jwks = keys.jwks()?;
            let file = std::io::BufReader::new(std::fs::File::open(tmp.path())?);
            Ok(receipt::against_bundle(
                &receipt_bytes,
                file,
                &jwks,
                Some(limit.saturating_mul(8)),
                tsa.anchors(),
            ))
        })
        .await
        .map_err(anyhow::Error::from)??;
        return Ok(report);
    }
    let (report, checked) = receipt::check(&receipt_bytes);
    let Some(c) = checked else {
        return Ok(report);
    };
    let published = match published_root(state, &c.receipt.group, c.receipt.version).await {
        Ok(p) => Some(p),
        Err(AppError::NotFound) => None,
        Err(e) => return Err(e),
    };
    Ok(receipt::checked_against_root(
        report,
        &c,
        published.as_ref(),
    ))
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_receipts)
        .service(download_receipt)
        .service(receipt_root)
        .service(verify_receipt);
}

/// My inclusion receipts: one per ready dossier version that holds my signature.
#[utoipa::path(tag = "dossiers", security(("bearer" = [])),
    responses((status = 200, body = Vec<MyReceipt>), (status = 401, body = Problem)))]
#[get("/me/receipts")]
async fn list_receipts(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<MyReceipt>>> {
    Ok(web::Json(mine(&state, &user).await?))
}

/// The attachment of a receipt.
#[must_use]
pub fn receipt_response(slug: &str, version: i32, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!(
                "receipt-{slug}-v{version}.json"
            ))],
        })
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body)
}

/// My receipt for one dossier version (a `lianming-receipt/1` document: my own signature
/// record, salted, and its inclusion proof).
#[utoipa::path(tag = "dossiers", security(("bearer" = [])),
    params(("slug" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = receipt::Receipt), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
#[get("/me/receipts/{slug}/{version}")]
async fn download_receipt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i32)>,
) -> AppResult<HttpResponse> {
    let (slug, version) = path.into_inner();
    let body = my_receipt(&state, &user, &slug, version).await?;
    Ok(receipt_response(&slug, version, body))
}

/// The published root of a ready dossier version: what receipts are checked against without
/// the bundle. Names no one (the tree is salted).
#[utoipa::path(tag = "dossiers", params(("slug" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = PublishedRoot), (status = 404, body = Problem)))]
#[get("/groups/{slug}/dossiers/{version}/root")]
async fn receipt_root(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
) -> AppResult<HttpResponse> {
    let (slug, version) = path.into_inner();
    let published = published_root(&state, &slug, version).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(published))
}

/// Check an inclusion receipt (no login): as a JSON body, against the root published for its
/// version; as multipart/form-data with fields `receipt` and, optionally, `bundle`, against that
/// bundle when given. Always 200 with a report about the receipt's own record only.
#[utoipa::path(tag = "dossiers",
    request_body(content = receipt::Receipt, description = "the receipt as JSON, or multipart/form-data with `receipt` and an optional `bundle`"),
    responses((status = 200, body = ReceiptReport), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
#[post("/dossiers/verify-receipt")]
async fn verify_receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<ReceiptReport>> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let form = service::read_verify_form(
            &state,
            actix_multipart::Multipart::new(req.headers(), payload),
        )
        .await?;
        let receipt = form
            .receipt
            .ok_or_else(|| AppError::field("receipt", "is required"))?;
        return Ok(web::Json(check(&state, receipt, form.bundle).await?));
    }
    let bytes = read_body(payload).await?;
    if bytes.is_empty() {
        return Err(AppError::field("receipt", "is required"));
    }
    Ok(web::Json(check(&state, bytes, None).await?))
}

async fn read_body(mut payload: web::Payload) -> AppResult<Vec<u8>> {
    use futures_util::StreamExt as _;
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest {
            code: "body_unreadable",
            detail: e.to_string(),
        })?;
        if bytes.len() + chunk.len() > receipt::MAX_RECEIPT {
            return Err(AppError::PayloadTooLarge(
                "the receipt is larger than 64 KiB".into(),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

// ---- pages ----------------------------------------------------------------------------------

/// Registers `/account/receipts` and its downloads.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/receipts", web::get().to(receipts_page))
        .route(
            "/account/receipts/{slug}/{version}",
            web::get().to(receipt_download),
        );
}

/// One receipt, as listed on the page.
struct ReceiptRow {
    title: String,
    version: String,
    tier: &'static str,
    ready: Option<String>,
    href: String,
}

#[derive(askama::Template)]
#[template(path = "pages/my_receipts.html")]
struct ReceiptsPage {
    l: Locale,
    head: crate::pages::Head,
    receipts: Vec<ReceiptRow>,
}

async fn receipts_page(state: web::Data<AppState>, c: crate::pages::PageCtx) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let l = c.l;
    match mine(&state, &user).await {
        Ok(rows) => c.render(
            actix_web::http::StatusCode::OK,
            &ReceiptsPage {
                l,
                head: c.head(),
                receipts: rows
                    .into_iter()
                    .map(|r| ReceiptRow {
                        version: l.tf(
                            "page.receipts.version",
                            &[("version", &r.version.to_string())],
                        ),
                        tier: l.tk("page.dossier_verify.tiers", r.tier),
                        ready: r
                            .ready_at
                            .map(|t| crate::responses::deadlines::local_date(t).to_string()),
                        href: format!("/account/receipts/{}/{}", r.group, r.version),
                        title: r.title,
                    })
                    .collect(),
            },
        ),
        Err(e) => c.error(&e),
    }
}

async fn receipt_download(
    state: web::Data<AppState>,
    c: crate::pages::PageCtx,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, version) = path.into_inner();
    let Ok(version) = version.parse::<i32>() else {
        return c.error(&AppError::NotFound);
    };
    match my_receipt(&state, &user, &slug, version).await {
        Ok(body) => receipt_response(&slug, version, body),
        Err(e) => c.error(&e),
    }
}
