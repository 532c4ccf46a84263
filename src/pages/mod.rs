//! Server-rendered pages (askama templates in `frontend/templates/pages`): the home search, the
//! public group page, the targets of the links in account emails, and dossier verification.
//! Every form works without JavaScript; pages call the same services as the API.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::accounts::dto::ResetConfirmRequest;
use crate::accounts::service as accounts;
use crate::error::AppError;
use crate::groups::dto::{GroupQuery, GroupSummary, GroupView};
use crate::groups::service as groups;
use crate::i18n::Locale;
use crate::state::AppState;

/// Registers the page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/groups/{slug}", web::get().to(group))
        .route("/verify-email", web::get().to(verify_form))
        .route("/verify-email", web::post().to(verify_submit))
        .route("/reset-password", web::get().to(reset_form))
        .route("/reset-password", web::post().to(reset_submit))
        .route("/reset-password/request", web::post().to(reset_request))
        .route("/invites/accept", web::get().to(invite_form))
        .route("/invites/accept", web::post().to(invite_submit))
        .route("/verify", web::get().to(dossier_verify_form))
        .route("/verify", web::post().to(dossier_verify_submit))
        .route("/static/site.css", web::get().to(stylesheet));
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

/// Renders a page template with its status, remembering a `?lang=` choice in a cookie.
pub fn render(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    page: &impl Template,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if let Some((_, tag)) =
        url::form_urlencoded::parse(req.query_string().as_bytes()).find(|(k, _)| k == "lang")
    {
        let tag = Locale::parse_lenient(&tag).as_str();
        res.cookie(
            Cookie::build("lang", tag)
                .path("/")
                .same_site(SameSite::Lax)
                .http_only(true)
                .finish(),
        );
    }
    match page.render() {
        Ok(html) => res.body(html),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

#[derive(Template)]
#[template(path = "pages/message.html")]
struct MessagePage<'a> {
    l: Locale,
    title: &'a str,
    message: String,
    ok: bool,
    /// The page a failure's next step happens on: (label key, path).
    next: Option<(&'static str, &'static str)>,
}

/// Where a message that names a next step sends the reader (a page that exists).
fn next_step(title_key: &str, ok: bool) -> Option<(&'static str, &'static str)> {
    match (title_key, ok) {
        ("page.reset.title", false) => Some(("page.reset.request_again", "/reset-password")),
        _ => None,
    }
}

fn message(
    req: &HttpRequest,
    l: Locale,
    title_key: &str,
    message: String,
    ok: bool,
) -> HttpResponse {
    let status = if ok {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::BAD_REQUEST
    };
    render(
        req,
        status,
        &MessagePage {
            l,
            title: l.t(title_key),
            message,
            ok,
            next: next_step(title_key, ok),
        },
    )
}

fn error_page(req: &HttpRequest, l: Locale, e: &AppError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(e);
    let problem = e.problem_in(l);
    render(
        req,
        status,
        &MessagePage {
            l,
            title: problem.title,
            message: problem.detail,
            ok: false,
            next: None,
        },
    )
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    l: Locale,
    q: String,
    groups: Vec<GroupSummary>,
}

#[derive(Deserialize)]
struct HomeQuery {
    q: Option<String>,
}

async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<HomeQuery>,
) -> HttpResponse {
    let l = page_locale(&req);
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
        Ok(page) => render(
            &req,
            actix_web::http::StatusCode::OK,
            &HomePage {
                l,
                q: text,
                groups: page.items,
            },
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Template)]
#[template(path = "pages/group.html")]
struct GroupPage {
    l: Locale,
    g: GroupView,
}

async fn group(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
) -> HttpResponse {
    let l = page_locale(&req);
    let view = async {
        let g = groups::by_slug(&state.db, &slug).await?;
        groups::view(&state.db, g).await
    };
    match view.await {
        Ok(g) => render(&req, actix_web::http::StatusCode::OK, &GroupPage { l, g }),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/verify.html")]
struct VerifyPage {
    l: Locale,
    token: String,
}

/// Shows a button rather than verifying on GET, so link scanners in mail systems cannot use
/// the token up.
async fn verify_form(req: HttpRequest, q: web::Query<TokenQuery>) -> HttpResponse {
    let l = page_locale(&req);
    match q.into_inner().token {
        Some(token) => render(
            &req,
            actix_web::http::StatusCode::OK,
            &VerifyPage { l, token },
        ),
        None => message(
            &req,
            l,
            "page.verify.title",
            l.t("page.verify.failed").into(),
            false,
        ),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn verify_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let l = page_locale(&req);
    match state
        .write(async |txn| accounts::verify_email(txn, &state.ctx, &form.token).await)
        .await
    {
        Ok(()) => message(
            &req,
            l,
            "page.verify.title",
            l.t("page.verify.done").into(),
            true,
        ),
        Err(AppError::Validation(_)) => message(
            &req,
            l,
            "page.verify.title",
            l.t("page.verify.failed").into(),
            false,
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Template)]
#[template(path = "pages/reset.html")]
struct ResetPage {
    l: Locale,
    token: Option<String>,
}

async fn reset_form(req: HttpRequest, q: web::Query<TokenQuery>) -> HttpResponse {
    let l = page_locale(&req);
    render(
        &req,
        actix_web::http::StatusCode::OK,
        &ResetPage {
            l,
            token: q.into_inner().token,
        },
    )
}

async fn reset_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ResetConfirmRequest>,
) -> HttpResponse {
    let l = page_locale(&req);
    let form = form.into_inner();
    if let Err(e) = form.validate() {
        return error_page(&req, l, &e.into());
    }
    match accounts::confirm_password_reset(&state, &form.token, form.password).await {
        Ok(()) => message(
            &req,
            l,
            "page.reset.title",
            l.t("page.reset.done").into(),
            true,
        ),
        Err(AppError::Validation(errors)) if errors.contains_key("token") => message(
            &req,
            l,
            "page.reset.title",
            l.t("page.reset.failed").into(),
            false,
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
}

async fn reset_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<EmailForm>,
) -> HttpResponse {
    let l = page_locale(&req);
    let client = state.limits.client_key(&req);
    // The rules of the API's reset request: PostgreSQL cannot even look up a NUL.
    if let Err(e) = crate::text::email(form.email.trim()) {
        let message = e
            .message
            .map_or_else(|| e.code.to_string(), |m| m.to_string());
        return error_page(&req, l, &AppError::field("email", message));
    }
    match accounts::request_password_reset(&state, form.email.trim(), &client).await {
        Ok(()) => message(
            &req,
            l,
            "page.reset.title",
            l.t("page.reset.requested").into(),
            true,
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Template)]
#[template(path = "pages/dossier_verify.html")]
struct DossierVerifyPage {
    l: Locale,
    report: Option<crate::dossier::verify::Report>,
}

async fn dossier_verify_form(req: HttpRequest) -> HttpResponse {
    let l = page_locale(&req);
    render(
        &req,
        actix_web::http::StatusCode::OK,
        &DossierVerifyPage { l, report: None },
    )
}

/// The same verification as `POST /api/v1/dossiers/verify`, shown as a page.
async fn dossier_verify_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let l = page_locale(&req);
    let form = actix_multipart::Multipart::new(req.headers(), payload);
    match crate::dossier::service::verify_upload(&state, form).await {
        Ok(report) => render(
            &req,
            actix_web::http::StatusCode::OK,
            &DossierVerifyPage {
                l,
                report: Some(report),
            },
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

#[derive(Template)]
#[template(path = "pages/invite.html")]
struct InvitePage {
    l: Locale,
    token: String,
}

async fn invite_form(req: HttpRequest, q: web::Query<TokenQuery>) -> HttpResponse {
    let l = page_locale(&req);
    match q.into_inner().token {
        Some(token) => render(
            &req,
            actix_web::http::StatusCode::OK,
            &InvitePage { l, token },
        ),
        None => error_page(&req, l, &AppError::field("token", "is required")),
    }
}

#[derive(Deserialize)]
struct InviteForm {
    token: String,
    email: String,
    password: String,
}

/// Logs in for this one action (pages keep no session) and accepts the invitation.
async fn invite_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<InviteForm>,
) -> HttpResponse {
    let l = page_locale(&req);
    let form = form.into_inner();
    let client = state.limits.client_key(&req);
    let accepted = async {
        let user = accounts::authenticate(&state, &form.email, form.password, &client).await?;
        state
            .write(async |txn| {
                crate::groups::organisers::accept(txn, &state.ctx, &user.into(), &form.token).await
            })
            .await
    };
    match accepted.await {
        Ok(_) => message(
            &req,
            l,
            "page.invite.title",
            l.t("page.invite.done").into(),
            true,
        ),
        Err(e) => error_page(&req, l, &e),
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../frontend/static/site.css"))
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
            let l = page_locale(req.request());
            let e = AppError::forbidden(
                "cross_origin",
                "this form may only be sent from this site's own pages",
            );
            let res = error_page(req.request(), l, &e);
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
