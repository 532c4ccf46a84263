//! The one pattern every page follows: [`PageCtx`] (language, the signed-in user, the CSRF
//! token, the flash message), rendering with the cookies a page needs, POST → 303 → GET with a
//! flash message, and the one error page.
//!
//! The page session is a refresh token of the accounts service kept in an HttpOnly cookie
//! (never rotated by pages), so logging out, a password reset or a closed account end it on the
//! server exactly as they end an API session. CSRF tokens are signed double-submit tokens: an
//! HMAC over a random per-browser cookie and the session, checked on every state-changing
//! form.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use serde::de::DeserializeOwned;

use crate::accounts::service as accounts;
use crate::auth::CurrentUser;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::domain::LocalPath;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::notify::tokens::LinkSigner;
use crate::state::AppState;

/// The cookie holding the page session's refresh token.
pub const SESSION_COOKIE: &str = "lm_session";
/// The cookie holding the browser's random CSRF seed.
pub const CSRF_COOKIE: &str = "lm_csrf";
/// The cookie carrying a flash message (a locale key) across one redirect.
pub const FLASH_COOKIE: &str = "lm_flash";
/// The name of the hidden form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// What every page handler starts from.
pub struct PageCtx {
    /// The page language.
    pub l: Locale,
    /// The signed-in user, if any.
    pub user: Option<CurrentUser>,
    /// The CSRF token to put in this page's forms.
    pub csrf: String,
    /// The page session's token (for logging out), when it is valid.
    session: Option<String>,
    /// A session cookie was sent but no longer works: it is removed.
    stale_session: bool,
    seed: String,
    seed_is_new: bool,
    session_key: String,
    flash: Option<&'static str>,
    had_flash_cookie: bool,
    lang_choice: Option<Locale>,
    secure: bool,
    here: String,
    links: LinkSigner,
}

/// What the base layout shows around every page.
#[derive(Debug, Clone)]
pub struct Head {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// The CSRF token of the log-out button.
    pub csrf: String,
    /// A message left by the previous request.
    pub flash: Option<&'static str>,
    /// The log-in link, carrying the current page as `next`.
    pub login_href: String,
    /// The register link, carrying the current page as `next`.
    pub register_href: String,
}

/// Pages whose own address must not become the `next` of the header's links.
const ACCOUNT_PATHS: &[&str] = &[
    "/login",
    "/register",
    "/logout",
    "/forgot-password",
    "/reset-password",
    "/verify-email",
];

fn cookie<'a>(name: &'a str, value: String, secure: bool) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

fn removal(name: &str, secure: bool) -> Cookie<'_> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

/// `path?next=<here>` for a page that should come back here afterwards.
#[must_use]
pub fn with_next(path: &str, next: Option<&LocalPath>) -> String {
    match next {
        Some(n) => format!(
            "{path}?next={}",
            url::form_urlencoded::byte_serialize(n.as_str().as_bytes()).collect::<String>()
        ),
        None => path.to_owned(),
    }
}

impl PageCtx {
    pub(crate) async fn load(req: &HttpRequest) -> Result<Self, AppError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no app state")))?;
        let l = super::page_locale(req);
        let lang_choice = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| Locale::parse_lenient(&v));
        let secure = state.ctx.public_url.starts_with("https://");

        let sent_session = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let mut user = None;
        let mut session = None;
        let mut stale_session = false;
        if let Some(token) = sent_session {
            match accounts::session_user(&state.db, &state.ctx, &token).await {
                Ok(Some(u)) => {
                    user = Some(CurrentUser::from(u));
                    session = Some(token);
                }
                Ok(None) => stale_session = true,
                // Shown as signed out for this request; the cookie stays for the next one.
                Err(e) => tracing::error!(error = %e, "looking up a page session failed"),
            }
        }
        let session_key = session
            .as_deref()
            .map(|t| sha256_hex(t.as_bytes()))
            .unwrap_or_default();

        let sent_seed = req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| (20..=100).contains(&v.len()));
        let (seed, seed_is_new) = match sent_seed {
            Some(s) => (s, false),
            None => (random_token().0, true),
        };
        let links = state.ctx.links.clone();
        let csrf = links.csrf(&seed, &session_key);

        let flash_cookie = req.cookie(FLASH_COOKIE);
        let had_flash_cookie = flash_cookie.is_some();
        // Only known message keys are shown, so a planted cookie cannot put text on a page.
        let flash = flash_cookie
            .map(|c| c.value().to_owned())
            .filter(|k| k.starts_with("page.flash."))
            .and_then(|k| l.try_t(&k));

        let here = match req.uri().path_and_query() {
            Some(pq) => pq.as_str().to_owned(),
            None => req.path().to_owned(),
        };
        Ok(Self {
            l,
            user,
            csrf,
            session,
            stale_session,
            seed,
            seed_is_new,
            session_key,
            flash,
            had_flash_cookie,
            lang_choice,
            secure,
            here,
            links,
        })
    }

    /// Whether cookies get the `Secure` flag (the public URL is https).
    #[must_use]
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The page session's token, when signed in.
    #[must_use]
    pub fn session_token(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// What the base layout needs.
    #[must_use]
    pub fn head(&self) -> Head {
        let path = self.here.split('?').next().unwrap_or("/");
        let next = (!ACCOUNT_PATHS.contains(&path))
            .then(|| LocalPath::parse(&self.here))
            .flatten();
        Head {
            user: self.user.as_ref().map(|u| u.display_name.clone()),
            csrf: self.csrf.clone(),
            flash: self.flash,
            login_href: with_next("/login", next.as_ref()),
            register_href: with_next("/register", next.as_ref()),
        }
    }

    /// Adds the cookies every answer may need: the CSRF seed, the language choice, the removal
    /// of a stale session.
    fn cookies(&self, res: &mut HttpResponseBuilder) {
        if self.seed_is_new {
            res.cookie(cookie(CSRF_COOKIE, self.seed.clone(), self.secure));
        }
        if let Some(lang) = self.lang_choice {
            res.cookie(cookie("lang", lang.as_str().to_owned(), self.secure));
        }
        if self.stale_session {
            res.cookie(removal(SESSION_COOKIE, self.secure));
        }
    }

    /// Renders a page with its status; a flash message shown here is used up.
    pub fn render(&self, status: StatusCode, page: &impl Template) -> HttpResponse {
        self.respond(status, page.render().map(String::into_bytes))
    }

    /// Whether this page's HTML is the same for every visitor who reads it in its language: no
    /// one signed in, no message left by a previous request, no query string. Such a page may
    /// be rendered once and shared ([`Self::respond`] adds the visitor's own cookies).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.user.is_none() && self.flash.is_none() && !self.here.contains('?')
    }

    /// Answers with HTML rendered before (or the rendering's failure), with this visitor's
    /// cookies.
    pub fn respond<B: actix_web::body::MessageBody + 'static>(
        &self,
        status: StatusCode,
        html: Result<B, askama::Error>,
    ) -> HttpResponse {
        let mut res = HttpResponse::build(status);
        res.content_type("text/html; charset=utf-8");
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        self.cookies(&mut res);
        if self.had_flash_cookie {
            res.cookie(removal(FLASH_COOKIE, self.secure));
        }
        match html {
            Ok(html) => res.body(html),
            Err(e) => {
                tracing::error!(error = %e, "page rendering failed");
                HttpResponse::InternalServerError().body("internal error")
            }
        }
    }

    /// A 303 to `to` (POST → redirect → GET), leaving the message `flash` (a `page.flash.*`
    /// key) for the next page.
    #[must_use]
    pub fn redirect(&self, to: &str, flash: Option<&'static str>) -> HttpResponse {
        self.redirect_builder(to, flash).finish()
    }

    /// Like [`Self::redirect`], for adding cookies (signing in or out) before finishing.
    #[must_use]
    pub fn redirect_builder(&self, to: &str, flash: Option<&'static str>) -> HttpResponseBuilder {
        let mut res = HttpResponse::SeeOther();
        res.insert_header((header::LOCATION, to.to_owned()));
        self.cookies(&mut res);
        if let Some(key) = flash {
            res.cookie(cookie(FLASH_COOKIE, key.to_owned(), self.secure));
        }
        res
    }

    /// The cookie that keeps a page session: the refresh token, for as long as it lives.
    #[must_use]
    pub fn session_cookie(&self, refresh_token: String, days: i64) -> Cookie<'static> {
        let mut c = cookie(SESSION_COOKIE, refresh_token, self.secure);
        c.set_max_age(time::Duration::days(days));
        c
    }

    /// The cookie that removes the page session.
    #[must_use]
    pub fn session_removal(&self) -> Cookie<'static> {
        removal(SESSION_COOKIE, self.secure)
    }

    /// Whether `token` is this page session's CSRF token (for forms not read by
    /// [`Self::accept`], such as a multipart upload whose first field is the token).
    #[must_use]
    pub fn check_csrf(&self, token: &str) -> bool {
        self.links.check_csrf(&self.seed, &self.session_key, token)
    }

    /// Checks the form's CSRF token, then reads the form. A missing or wrong token is answered
    /// with the 403 page before anything is read or changed.
    ///
    /// # Errors
    /// The rendered 403 page, or the 422 page for a form that cannot be read.
    pub fn accept<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Box<HttpResponse>> {
        let token = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !self.check_csrf(&token) {
            return Err(Box::new(self.csrf_failed()));
        }
        self.read_form(body)
    }

    /// Reads a form that needs no CSRF token (it changes nothing, or its link token is the
    /// proof).
    ///
    /// # Errors
    /// The 422 page for a form that cannot be read.
    pub fn read_form<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Box<HttpResponse>> {
        serde_urlencoded::from_bytes(body).map_err(|e| {
            Box::new(self.error(&AppError::BadRequest {
                code: "unreadable_form",
                detail: format!("the form cannot be read: {e}"),
            }))
        })
    }

    /// The 403 page of a form posted without a valid CSRF token.
    #[must_use]
    pub fn csrf_failed(&self) -> HttpResponse {
        self.error_page(
            StatusCode::FORBIDDEN,
            self.l.t("page.error.csrf_title"),
            self.l.t("page.error.csrf_detail").to_owned(),
            self.l.t("page.error.next_csrf"),
        )
    }

    /// The error page for `e`, in the page's language, saying what to do next.
    #[must_use]
    pub fn error(&self, e: &AppError) -> HttpResponse {
        if let AppError::Internal(inner) = e {
            tracing::error!(error = %inner, "page failed");
        }
        let status = actix_web::ResponseError::status_code(e);
        let problem = e.problem_in(self.l);
        let next = self
            .l
            .try_t(&format!("page.error.next_{}", status.as_u16()))
            .unwrap_or_else(|| self.l.t("page.error.next_other"));
        self.error_page(status, problem.title, problem.detail, next)
    }

    fn error_page(
        &self,
        status: StatusCode,
        title: &str,
        detail: String,
        next: &str,
    ) -> HttpResponse {
        let sign_in = self.user.is_none()
            && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        self.render(
            status,
            &ErrorPage {
                l: self.l,
                head: self.head(),
                title,
                detail,
                next,
                login_href: sign_in.then(|| self.head().login_href),
            },
        )
    }

    /// The signed-in user, or a redirect to the log-in page that comes back here.
    ///
    /// # Errors
    /// The 303 to `/login?next=…`.
    pub fn require_user(&self) -> Result<&CurrentUser, Box<HttpResponse>> {
        self.user.as_ref().ok_or_else(|| {
            let next = LocalPath::parse(&self.here);
            Box::new(self.redirect(&with_next("/login", next.as_ref()), None))
        })
    }
}

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Self::load(&req).await })
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    l: Locale,
    head: Head,
    title: &'a str,
    detail: String,
    next: &'a str,
    login_href: Option<String>,
}

/// One input of a [`FormPage`], GOV.UK style: label, hint, the message above the input.
#[derive(Debug, Clone)]
pub struct Field {
    /// The form name and element id.
    pub name: &'static str,
    /// The label.
    pub label: &'static str,
    /// `text`, `email` or `password`.
    pub kind: &'static str,
    /// The value kept after an error (never a password).
    pub value: String,
    /// A hint under the label.
    pub hint: Option<&'static str>,
    /// The message of an error on this field.
    pub error: Option<&'static str>,
    /// The `autocomplete` attribute.
    pub autocomplete: &'static str,
    /// The `maxlength` attribute.
    pub max: u16,
}

impl Field {
    /// A field with no value, hint or error yet.
    #[must_use]
    pub fn new(name: &'static str, label: &'static str, kind: &'static str, max: u16) -> Self {
        let autocomplete = match (name, kind) {
            (_, "email") => "email",
            ("password", _) => "current-password",
            ("new_password", _) => "new-password",
            ("display_name", _) => "nickname",
            _ => "off",
        };
        Self {
            name,
            label,
            kind,
            value: String::new(),
            hint: None,
            error: None,
            autocomplete,
            max,
        }
    }

    /// With the value kept from the submitted form.
    #[must_use]
    pub fn value(mut self, v: impl Into<String>) -> Self {
        self.value = v.into();
        self
    }

    /// With a hint.
    #[must_use]
    pub fn hint(mut self, h: &'static str) -> Self {
        self.hint = Some(h);
        self
    }

    /// With an error message.
    #[must_use]
    pub fn error(mut self, e: Option<&'static str>) -> Self {
        self.error = e;
        self
    }

    /// With another `autocomplete` value.
    #[must_use]
    pub fn autocomplete(mut self, a: &'static str) -> Self {
        self.autocomplete = a;
        self
    }
}

/// A page with one form: the error summary, the fields, one primary button, links below.
#[derive(Template)]
#[template(path = "pages/form.html")]
pub struct FormPage<'a> {
    /// The page language.
    pub l: Locale,
    /// The base layout's parts.
    pub head: Head,
    /// The heading.
    pub title: &'a str,
    /// Text above the form.
    pub intro: Option<String>,
    /// Where the form posts.
    pub action: String,
    /// Hidden fields (the CSRF token is added by the template when `csrf` is set).
    pub hidden: Vec<(&'a str, String)>,
    /// The CSRF token, or `None` for a form that must work without cookies.
    pub csrf: Option<String>,
    /// The inputs.
    pub fields: Vec<Field>,
    /// The button's text.
    pub button: &'a str,
    /// Links under the form: (text, href).
    pub links: Vec<(&'a str, String)>,
}

impl<'a> FormPage<'a> {
    /// A form protected by the page's CSRF token.
    #[must_use]
    pub fn new(c: &PageCtx, title: &'a str, action: impl Into<String>, button: &'a str) -> Self {
        Self {
            l: c.l,
            head: c.head(),
            title,
            intro: None,
            action: action.into(),
            hidden: Vec::new(),
            csrf: Some(c.csrf.clone()),
            fields: Vec::new(),
            button,
            links: Vec::new(),
        }
    }

    /// The fields with an error, for the summary at the top.
    #[must_use]
    pub fn errors(&self) -> Vec<&Field> {
        self.fields.iter().filter(|f| f.error.is_some()).collect()
    }
}

/// A page with a message and a way on.
#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage<'a> {
    /// The page language.
    pub l: Locale,
    /// The base layout's parts.
    pub head: Head,
    /// The heading.
    pub title: &'a str,
    /// The message.
    pub message: String,
    /// Good news or bad.
    pub ok: bool,
    /// The page a failure's next step happens on: (label key, path).
    pub next: Option<(&'static str, &'static str)>,
}
