//! The organiser's dossier page (`/groups/{slug}/manage/dossiers`): compile a version for a
//! recipient tier, watch background builds (the page reloads itself only while one runs), the
//! versions with their status, and the downloads of each ready version's bundle, letter and
//! roster for the team (`/groups/{slug}/manage/dossiers/{version}/{part}`, the same files and
//! the same service as `/api/v1/groups/{slug}/dossiers/{version}/…`, with the page session).
//! Access is decided by the dossier service: a stranger or a participant is refused there.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::Part;
use super::dto::{DossierStatus, DossierView, Tier};
use super::service::{self, PartFile};
use crate::error::{AppError, AppResult};
use crate::groups::access::Role;
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::responses::deadlines::local_date;
use crate::state::AppState;

/// Registers the dossier page, its compile form and its downloads.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/groups/{slug}/manage/dossiers",
        web::get().to(dossiers_page),
    )
    .route(
        "/groups/{slug}/manage/dossiers",
        web::post().to(compile_submit),
    )
    .route(
        "/groups/{slug}/manage/dossiers/{version}/{part}",
        web::get().to(download),
    );
}

/// Seconds between reloads while a build runs.
const REFRESH_SECONDS: u32 = 5;

fn page_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/dossiers")
}

/// The part named by the last segment of a download route.
fn part_of(route: &str) -> Option<Part> {
    [
        Part::Bundle,
        Part::Letter,
        Part::Roster,
        Part::RegulatorExport,
        Part::ManifestJson,
        Part::ManifestJws,
        Part::ManifestTsr,
    ]
    .into_iter()
    .find(|p| p.route() == route)
}

/// One tier the compile form offers.
struct TierChoice {
    value: &'static str,
    label: &'static str,
    hint: &'static str,
    on: bool,
}

/// One download link of a ready version.
struct Download {
    href: String,
    label: &'static str,
}

/// One version, as shown.
struct VersionRow {
    version: i32,
    tier: &'static str,
    status_key: &'static str,
    status: &'static str,
    building: bool,
    failure: Option<String>,
    statement_version: i32,
    created: String,
    ready: Option<String>,
    size: Option<String>,
    manifest_sha256: Option<String>,
    downloads: Vec<Download>,
    /// For a ready public-tier version: its public download address.
    public_href: Option<String>,
}

impl VersionRow {
    fn new(l: Locale, slug: &str, v: DossierView) -> Self {
        let ready = v.status == DossierStatus::Ready;
        let downloads = if ready {
            Part::of(v.tier, v.timestamped_at.is_some())
                .into_iter()
                .map(|p| Download {
                    href: format!("{}/{}/{}", page_path(slug), v.version, p.route()),
                    label: l.tk("page.dossiers.part", p.route().replace('.', "_")),
                })
                .collect()
        } else {
            Vec::new()
        };
        let public_href = (ready && v.tier == Tier::Public).then(|| {
            format!(
                "{}/{}/{}",
                service::base_path(slug),
                v.version,
                Part::Bundle.route()
            )
        });
        Self {
            version: v.version,
            tier: l.tk("page.dossier_verify.tiers", v.tier),
            status_key: v.status.as_str(),
            status: l.tk("page.dossiers.status", v.status),
            building: v.status == DossierStatus::Building,
            failure: v.failure_reason,
            statement_version: v.statement_version,
            created: local_date(v.created_at).to_string(),
            ready: v.ready_at.map(|t| local_date(t).to_string()),
            #[allow(clippy::cast_precision_loss)]
            size: v
                .bundle_size
                .map(|b| format!("{:.1} KB", b as f64 / 1024.0)),
            manifest_sha256: v.manifest_sha256,
            downloads,
            public_href,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/manage_dossiers.html")]
struct DossiersPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    may_compile: bool,
    building: bool,
    refresh: u32,
    tiers: Vec<TierChoice>,
    tier_error: Option<&'static str>,
    versions: Vec<VersionRow>,
}

impl DossiersPage {
    fn errors(&self) -> Vec<(&'static str, &'static str)> {
        self.tier_error.map(|e| ("tier", e)).into_iter().collect()
    }
}

async fn view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    typed: Option<(&str, &'static str)>,
) -> AppResult<DossiersPage> {
    let l = c.l;
    let user = c.user.as_ref().ok_or(AppError::NotFound)?;
    let (group, role, views) = service::desk(state, user, slug).await?;
    let versions: Vec<VersionRow> = views
        .into_iter()
        .map(|v| VersionRow::new(l, &group.slug, v))
        .collect();
    let building = versions.iter().any(|v| v.building);
    let chosen = typed.map_or(Tier::Provider.as_str(), |t| t.0);
    let tiers = Tier::all()
        .into_iter()
        .map(|t| TierChoice {
            value: t.as_str(),
            label: l.tk("page.dossier_verify.tiers", t),
            hint: l.tk("page.dossiers.tier_hint", t),
            on: t.as_str() == chosen,
        })
        .collect();
    Ok(DossiersPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: group.slug,
        title: group.title,
        may_compile: role >= Role::Organiser,
        building,
        refresh: REFRESH_SECONDS,
        tiers,
        tier_error: typed.map(|t| t.1),
        versions,
    })
}

async fn dossiers_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    match view(&state, &c, &slug, None).await {
        Ok(page) => c.render(StatusCode::OK, &page),
        Err(e) => c.error(&e),
    }
}

#[derive(serde::Deserialize)]
struct CompileForm {
    #[serde(default)]
    tier: String,
}

async fn compile_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Vec<(String, String)> = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let form = CompileForm {
        tier: form
            .into_iter()
            .find(|(k, _)| k == "tier")
            .map(|(_, v)| v)
            .unwrap_or_default(),
    };
    let Some(tier) = Tier::all().into_iter().find(|t| t.as_str() == form.tier) else {
        return match view(
            &state,
            &c,
            &slug,
            Some(("", c.l.t("page.dossiers.error_tier"))),
        )
        .await
        {
            Ok(page) => c.render(StatusCode::UNPROCESSABLE_ENTITY, &page),
            Err(e) => c.error(&e),
        };
    };
    match service::compile(&state, &user, &slug, tier).await {
        Ok((v, _)) => c.redirect(
            &page_path(&slug),
            Some(match v.status {
                DossierStatus::Building => "page.flash.dossiers.building",
                DossierStatus::Ready => "page.flash.dossiers.ready",
                DossierStatus::Failed => "page.flash.dossiers.failed",
            }),
        ),
        Err(e) => c.error(&e),
    }
}

async fn download(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, version, route) = path.into_inner();
    let (Ok(version), Some(part)) = (version.parse::<i32>(), part_of(&route)) else {
        return c.error(&AppError::NotFound);
    };
    let found = async {
        let file = service::team_part(&state, &user, &slug, version, part).await?;
        let (content, len) = file.open(&state).await?;
        let PartFile {
            download_name,
            content_type,
            ..
        } = file;
        Ok::<_, AppError>((content, len, download_name, content_type))
    };
    match found.await {
        Ok((content, len, download_name, content_type)) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header(ContentDisposition {
                disposition: DispositionType::Attachment,
                parameters: vec![DispositionParam::Filename(download_name)],
            })
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .no_chunking(len)
            .streaming(content),
        Err(e) => c.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::{Part, part_of};

    #[test]
    fn every_part_has_a_download_route() {
        for p in Part::of(super::Tier::Regulator, true) {
            assert_eq!(part_of(p.route()), Some(p));
        }
        assert_eq!(part_of("letter"), None);
    }
}
