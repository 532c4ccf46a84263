//! HTTP handlers of the dossier routes, the verification endpoint and the JWKS.

use actix_multipart::Multipart;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::Part;
use super::dto::{CompileRequest, DossierView};
use super::keys::Jwks;
use super::service::{self, PartFile};
use super::verify::Report;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(compile)
        .service(list)
        .service(show)
        .service(bundle)
        .service(letter_pdf)
        .service(roster_csv)
        .service(regulator_export_csv)
        .service(manifest_json)
        .service(manifest_jws)
        .service(manifest_tsr)
        .service(verify);
    super::receipts::routes(cfg);
}

/// Registers `/.well-known/jwks.json` (outside the API scope).
pub fn well_known_routes(cfg: &mut ServiceConfig) {
    cfg.service(jwks);
}

/// Compile a new, immutable dossier version for a recipient tier (organisers). Small groups are
/// built in the request (201, `ready` or `failed`); large ones in the background (202,
/// `building`, then `ready` or `failed`). One build per group at a time.
#[utoipa::path(tag = "dossiers", security(("bearer" = [])), params(("slug" = String, Path)),
    request_body = CompileRequest, responses(
    (status = 201, body = DossierView), (status = 202, body = DossierView),
    (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
    (status = 422, body = Problem), (status = 503, body = Problem)))]
#[post("/groups/{slug}/dossiers")]
async fn compile(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<CompileRequest>,
) -> AppResult<HttpResponse> {
    let (view, finished) = service::compile(&state, &user, &slug, body.0.tier).await?;
    let location = format!("{}/{}", service::base_path(&slug), view.version);
    let mut res = if finished {
        HttpResponse::Created()
    } else {
        HttpResponse::Accepted()
    };
    Ok(res.insert_header((header::LOCATION, location)).json(view))
}

/// The group's dossier versions, newest first (its team; others see public-tier ones only).
#[utoipa::path(tag = "dossiers", security((), ("bearer" = [])), params(("slug" = String, Path)),
    responses((status = 200, body = Vec<DossierView>), (status = 404, body = Problem)))]
#[get("/groups/{slug}/dossiers")]
async fn list(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    slug: web::Path<String>,
) -> AppResult<web::Json<Vec<DossierView>>> {
    Ok(web::Json(
        service::list(&state, user.as_ref(), &slug).await?,
    ))
}

/// One dossier version and its status.
#[utoipa::path(tag = "dossiers", security((), ("bearer" = [])),
    params(("slug" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = DossierView), (status = 404, body = Problem)))]
#[get("/groups/{slug}/dossiers/{version}")]
async fn show(
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    path: web::Path<(String, i32)>,
) -> AppResult<web::Json<DossierView>> {
    let (slug, version) = path.into_inner();
    Ok(web::Json(
        service::get(&state, user.as_ref(), &slug, version).await?,
    ))
}

async fn download(
    state: &AppState,
    user: Option<&CurrentUser>,
    path: (String, i32),
    part: Part,
) -> AppResult<HttpResponse> {
    let (slug, version) = path;
    let file = service::part(state, user, &slug, version, part).await?;
    let (content, len) = file.open(state).await?;
    let PartFile {
        download_name,
        content_type,
        ..
    } = file;
    let public = user.is_none();
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(download_name)],
        })
        .insert_header((
            header::CACHE_CONTROL,
            if public {
                "public, max-age=300"
            } else {
                "private, no-store"
            },
        ))
        .no_chunking(len)
        .streaming(content))
}

macro_rules! part_route {
    ($name:ident, $route:literal, $part:expr, $ct:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "dossiers", security((), ("bearer" = [])),
                            params(("slug" = String, Path), ("version" = i32, Path)),
                            responses((status = 200, description = "the file", content_type = $ct),
                                (status = 404, body = Problem), (status = 409, body = Problem)))]
        #[get($route)]
        async fn $name(
            state: web::Data<AppState>,
            user: Option<CurrentUser>,
            path: web::Path<(String, i32)>,
        ) -> AppResult<HttpResponse> {
            download(&state, user.as_ref(), path.into_inner(), $part).await
        }
    };
}

part_route!(
    bundle,
    "/groups/{slug}/dossiers/{version}/bundle",
    Part::Bundle,
    "application/zip",
    "The whole bundle as a zip, streamed (the team; anyone for the public tier)."
);
part_route!(
    letter_pdf,
    "/groups/{slug}/dossiers/{version}/letter.pdf",
    Part::Letter,
    "application/pdf",
    "The addressed letter."
);
part_route!(
    roster_csv,
    "/groups/{slug}/dossiers/{version}/roster.csv",
    Part::Roster,
    "text/csv",
    "The roster as the tier discloses it (UTF-8 with BOM)."
);
part_route!(
    regulator_export_csv,
    "/groups/{slug}/dossiers/{version}/regulator_export.csv",
    Part::RegulatorExport,
    "text/csv",
    "Per participant, the fields a consumer complaint form asks for (regulator and court tiers)."
);
part_route!(
    manifest_json,
    "/groups/{slug}/dossiers/{version}/manifest.json",
    Part::ManifestJson,
    "application/json",
    "The manifest: every file's SHA-256 and size, every participant's signature record."
);
part_route!(
    manifest_jws,
    "/groups/{slug}/dossiers/{version}/manifest.jws",
    Part::ManifestJws,
    "application/jose",
    "The compact JWS (EdDSA) over the exact bytes of manifest.json."
);
part_route!(
    manifest_tsr,
    "/groups/{slug}/dossiers/{version}/manifest.tsr",
    Part::ManifestTsr,
    "application/timestamp-reply",
    "The RFC 3161 timestamp of manifest.json (a DER TimeStampResp, as `openssl ts -verify -in` \
     reads); only for versions built while a TSA was configured (`timestamped_at`)."
);

/// Verify a dossier bundle (multipart field `bundle`; no login): recompute every hash and
/// check the signature against the published keys. Always 200 with a report naming each
/// failing file or the signature.
#[utoipa::path(tag = "dossiers", request_body(content = String, description = "multipart/form-data with the zip as field `bundle`", content_type = "multipart/form-data"),
    responses((status = 200, body = Report), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/dossiers/verify")]
async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<Report>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.ctx.settings.dossier_verify_max_bytes + 64 * 1024) {
        return Err(AppError::PayloadTooLarge(format!(
            "the bundle is larger than {} MiB",
            state.ctx.settings.dossier_verify_max_bytes / (1024 * 1024)
        )));
    }
    let form = Multipart::new(req.headers(), payload);
    Ok(web::Json(service::verify_upload(&state, form).await?))
}

/// The public keys that sign dossiers: the current one and every retired one (RFC 7517 JWKS,
/// `OKP`/`Ed25519`, `kid` = RFC 7638 thumbprint).
#[utoipa::path(
    tag = "dossiers",
    responses((status = 200, body = Jwks, content_type = "application/jwk-set+json"))
)]
#[get("/.well-known/jwks.json")]
async fn jwks(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let keys = state.keys.clone();
    let set = web::block(move || keys.jwks())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))??;
    let body = serde_json::to_string(&set).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body))
}
