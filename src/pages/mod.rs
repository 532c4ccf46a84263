//! Server-rendered pages (askama templates in `frontend/templates/pages`): the page
//! foundation ([`ctx`]), the home search, the organiser invitation and dossier verification
//! (registered here). Pages of a domain live beside it (`src/accounts/pages.rs`,
//! `src/groups/pages.rs`, `src/groups/find_pages.rs`, `src/providers/pages.rs`). Every form works without JavaScript; pages
//! call the same services as the API.

pub mod assets;
pub mod ctx;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::service as accounts;
use crate::error::AppError;
use crate::groups::dto::{GroupQuery, GroupStatus, GroupSummary};
use crate::groups::service as groups;
use crate::i18n::Locale;
use crate::state::AppState;

pub use ctx::{Field, FormPage, Head, MessagePage, PageCtx};

/// Registers the page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/invites/accept", web::get().to(invite_form))
        .route("/invites/accept", web::post().to(invite_submit))
        .route("/verify", web::get().to(dossier_verify_form))
        .route("/verify", web::post().to(dossier_verify_submit))
        .route("/static/{file}", web::get().to(assets::serve))
        // `/groups/new` before `/groups/{slug}`.
        .configure(crate::groups::find_pages::routes)
        .configure(crate::groups::manage_pages::routes)
        .configure(crate::groups::participant_pages::routes)
        .configure(crate::groups::pages::routes)
        .configure(crate::providers::pages::routes);
}

/// The page language: `?lang=`, then the `lang` cookie, then `Accept-Language`; zh-CN by default.
#[must_use]
pub fn page_locale(req: &HttpRequest) -> Locale {
    let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    if let Some(tag) = from_query.or_else(|| req.cookie("lang").map(|c| c.value().to_owned())) {
        return Locale::parse_lenient(&tag);
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accept.split(',').next().unwrap_or("").trim();
    if first.to_ascii_lowercase().starts_with("en") {
        Locale::En
    } else {
        Locale::ZhCn
    }
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    l: Locale,
    head: Head,
    q: String,
    groups: Vec<GroupSummary>,
}

#[derive(Deserialize)]
struct HomeQuery {
    q: Option<String>,
}

async fn home(state: web::Data<AppState>, c: PageCtx, q: web::Query<HomeQuery>) -> HttpResponse {
    let text: String = q
        .into_inner()
        .q
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    let query = GroupQuery {
        q: Some(text.clone()),
        provider: None,
        category: None,
        status: None,
        sort: None,
        page: None,
        per_page: Some(30),
    };
    match groups::list(&state.db, &query).await {
        Ok(page) => c.render(
            StatusCode::OK,
            &HomePage {
                l: c.l,
                head: c.head(),
                // Without words the home page shows the groups still under way.
                groups: page
                    .items
                    .into_iter()
                    .filter(|g| !text.is_empty() || g.status != GroupStatus::Closed)
                    .take(10)
                    .collect(),
                q: text,
            },
        ),
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/dossier_verify.html")]
struct DossierVerifyPage {
    l: Locale,
    head: Head,
    report: Option<crate::dossier::verify::Report>,
    receipt: Option<crate::dossier::receipt::ReceiptReport>,
}

async fn dossier_verify_form(c: PageCtx) -> HttpResponse {
    c.render(
        StatusCode::OK,
        &DossierVerifyPage {
            l: c.l,
            head: c.head(),
            report: None,
            receipt: None,
        },
    )
}

/// The same verifications as `POST /api/v1/dossiers/verify` (a bundle) and
/// `POST /api/v1/dossiers/verify-receipt` (a receipt, with or without its bundle), shown as a
/// page. It takes no CSRF token: it reads the uploaded files, answers, and changes nothing.
async fn dossier_verify_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    payload: web::Payload,
) -> HttpResponse {
    use crate::dossier::{receipts, service};
    let form = actix_multipart::Multipart::new(req.headers(), payload);
    let checked = async {
        let form = service::read_verify_form(&state, form).await?;
        match (form.receipt, form.bundle) {
            (Some(receipt), bundle) => {
                Ok((None, Some(receipts::check(&state, receipt, bundle).await?)))
            }
            (None, Some(bundle)) => Ok((Some(service::verify_saved(&state, bundle).await?), None)),
            (None, None) => Err(crate::error::AppError::field("bundle", "is required")),
        }
    };
    match checked.await {
        Ok((report, receipt)) => c.render(
            StatusCode::OK,
            &DossierVerifyPage {
                l: c.l,
                head: c.head(),
                report,
                receipt,
            },
        ),
        Err(e) => c.error(&e),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn invite_page(c: &PageCtx, token: String, email: &str, wrong: bool) -> HttpResponse {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.invite.title"),
        "/invites/accept",
        l.t("page.invite.button"),
    );
    page.intro = Some(l.t("page.invite.intro").into());
    page.hidden.push(("token", token));
    let error = wrong.then(|| l.t("page.login.error_credentials"));
    page.fields = vec![
        Field::new("email", l.t("page.invite.email"), "email", 254)
            .value(email)
            .error(error),
        Field::new("password", l.t("page.invite.password"), "password", 256),
    ];
    let status = if wrong {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    c.render(status, &page)
}

/// Signed in: one button accepts as the signed-in account.
fn invite_confirm_page(c: &PageCtx, token: String, name: &str) -> HttpResponse {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.invite.title"),
        "/invites/accept",
        l.t("page.invite.signed_in.button"),
    );
    page.intro = Some(l.tf("page.invite.signed_in.intro", &[("name", name)]));
    page.hidden.push(("token", token));
    c.render(StatusCode::OK, &page)
}

async fn invite_form(c: PageCtx, q: web::Query<TokenQuery>) -> HttpResponse {
    match (q.into_inner().token, &c.user) {
        (Some(token), Some(user)) => invite_confirm_page(&c, token, &user.display_name),
        (Some(token), None) => invite_page(&c, token, "", false),
        (None, _) => c.error(&AppError::field("token", "is required")),
    }
}

#[derive(Deserialize)]
struct InviteForm {
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Accepts the invitation as the person who types the invited account's email and password.
async fn invite_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    body: web::Bytes,
) -> HttpResponse {
    let form: InviteForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let client = state.limits.client_key(&req);
    // Signed in and no credentials typed: the confirm button of the signed-in account.
    let session_user = c.user.clone().filter(|_| form.email.is_empty());
    let accepted = async {
        let user = match session_user {
            Some(u) => u,
            None => accounts::authenticate(&state, &form.email, form.password, &client)
                .await?
                .into(),
        };
        state
            .write(async |txn| {
                crate::groups::organisers::accept(txn, &state.ctx, &user, &form.token).await
            })
            .await
    };
    match accepted.await {
        Ok(_) => c.render(
            StatusCode::OK,
            &MessagePage {
                l: c.l,
                head: c.head(),
                title: c.l.t("page.invite.title"),
                message: c.l.t("page.invite.done").into(),
                ok: true,
                next: None,
            },
        ),
        Err(AppError::Unauthorized("invalid_credentials", _)) => {
            invite_page(&c, form.token, &form.email, true)
        }
        Err(e) => c.error(&e),
    }
}

/// Page forms that may come from elsewhere: one-click unsubscribe (RFC 8058) is posted by
/// mail clients, carrying its own token.
fn cross_origin_allowed(path: &str) -> bool {
    path.starts_with("/unsubscribe/")
}

/// Whether a request's stated origin is `own` (`Origin`, else the origin of `Referer`); `None`
/// when it states neither, which old clients and privacy settings do.
fn same_origin(req: &actix_web::dev::ServiceRequest, own: &str) -> Option<bool> {
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        return Some(origin.to_str().is_ok_and(|o| o == own));
    }
    let referer = headers.get(header::REFERER)?;
    Some(
        referer
            .to_str()
            .ok()
            .and_then(|r| url::Url::parse(r).ok())
            .is_some_and(|u| u.origin().ascii_serialization() == own),
    )
}

/// Middleware: a page form that changes state (any non-API POST, PUT, PATCH or DELETE) is
/// refused with 403 when its `Origin` (or, without one, its `Referer`) names another site, so
/// a foreign page cannot make a visitor's browser send it (the reset request needs no login,
/// so SameSite cookies do not protect it). A request stating neither is let through: old
/// browsers and privacy settings omit both, and such a request cannot be made to carry a
/// visitor's cookies across sites by a modern browser anyway. The API is not covered: it
/// takes JSON with a bearer token, which a foreign form cannot send.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn same_origin_forms(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    use actix_web::http::Method;
    let changes_state = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = req.path();
    if changes_state && !path.starts_with("/api/") && !cross_origin_allowed(path) {
        let own = req
            .app_data::<web::Data<AppState>>()
            .and_then(|s| url::Url::parse(&s.ctx.public_url).ok())
            .map(|u| u.origin().ascii_serialization());
        if let Some(own) = own
            && same_origin(&req, &own) == Some(false)
        {
            let e = AppError::forbidden(
                "cross_origin",
                "this form may only be sent from this site's own pages",
            );
            let res = match PageCtx::load(req.request()).await {
                Ok(c) => c.error(&e),
                Err(_) => actix_web::ResponseError::error_response(&e),
            };
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
