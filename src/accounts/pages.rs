//! The account pages: register, log in, log out, forgot / reset the password, verify the
//! address. They call the same services as `/api/v1/auth/*`; a `next` path (same-site only)
//! rides along from a "join" click through registration, the verification email and the
//! verification page, so a newcomer ends up where they were going. "My account" lives here
//! too: the list of my groups, the language, notification settings, the export and deleting
//! the account (the pages of one group's case, evidence and contact log live beside their
//! domains).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use validator::Validate;

use actix_web::http::header;
use askama::Template;

use super::dto::{DeleteMeRequest, MeUpdate, RegisterRequest, ResetConfirmRequest, ResetRequest};
use super::service;
use crate::domain::LocalPath;
use crate::entities::enums::ParticipationStatus;
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::notify::prefs::{self, DigestMode, GroupOverride, NotificationSettings};
use crate::pages::ctx::with_next;
use crate::pages::{Field, FormPage, Head, MessagePage, PageCtx};
use crate::participation::service as participation;
use crate::state::AppState;

/// Registers the account pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login_submit))
        .route("/register", web::get().to(register_form))
        .route("/register", web::post().to(register_submit))
        .route("/logout", web::post().to(logout))
        .route("/forgot-password", web::get().to(forgot_form))
        .route("/forgot-password", web::post().to(forgot_submit))
        // The older address of the same form, kept for links already out there.
        .route("/reset-password/request", web::post().to(forgot_submit))
        .route("/reset-password", web::get().to(reset_form))
        .route("/reset-password", web::post().to(reset_submit))
        .route("/verify-email", web::get().to(verify_form))
        .route("/verify-email", web::post().to(verify_submit))
        .route("/account", web::get().to(account))
        .route("/account/language", web::post().to(language_submit))
        .route("/account/notifications", web::get().to(notifications_form))
        .route(
            "/account/notifications",
            web::post().to(notifications_submit),
        )
        .route("/account/export", web::get().to(export_page))
        .route("/account/export/download", web::get().to(export_download))
        .route("/account/delete", web::get().to(delete_form))
        .route("/account/delete", web::post().to(delete_submit));
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    token: Option<String>,
}

fn next_of(raw: Option<&str>) -> Option<LocalPath> {
    raw.and_then(LocalPath::parse)
}

/// Where to go once signed in: `next`, else the home page.
fn destination(next: Option<&LocalPath>) -> String {
    next.map_or_else(|| "/".to_owned(), |n| n.as_str().to_owned())
}

fn keep_next(page: &mut FormPage<'_>, next: Option<&LocalPath>) {
    if let Some(n) = next {
        page.hidden.push(("next", n.as_str().to_owned()));
    }
}

/// A user's mistake: the form again with the messages, 422.
fn invalid(c: &PageCtx, page: &FormPage<'_>) -> HttpResponse {
    c.render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

// ---- log in -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Default)]
struct LoginErrors {
    email: Option<&'static str>,
    password: Option<&'static str>,
}

fn login_page<'a>(
    c: &'a PageCtx,
    email: &str,
    next: Option<&LocalPath>,
    errors: LoginErrors,
) -> FormPage<'a> {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.login.title"),
        "/login",
        l.t("page.login.button"),
    );
    keep_next(&mut page, next);
    page.fields = vec![
        Field::new("email", l.t("page.login.email"), "email", 254)
            .value(email)
            .error(errors.email),
        Field::new("password", l.t("page.login.password"), "password", 256).error(errors.password),
    ];
    page.links = vec![
        (l.t("page.login.forgot"), "/forgot-password".to_owned()),
        (l.t("page.login.no_account"), with_next("/register", next)),
    ];
    page
}

async fn login_form(c: PageCtx, q: web::Query<NextQuery>) -> HttpResponse {
    let next = next_of(q.next.as_deref());
    c.render(
        StatusCode::OK,
        &login_page(&c, "", next.as_ref(), LoginErrors::default()),
    )
}

async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    body: web::Bytes,
) -> HttpResponse {
    let form: LoginForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let next = next_of(form.next.as_deref());
    let email = form.email.trim();
    let l = c.l;
    let errors = LoginErrors {
        email: email.is_empty().then(|| l.t("page.login.error_email")),
        password: form
            .password
            .is_empty()
            .then(|| l.t("page.login.error_password")),
    };
    if errors.email.is_some() || errors.password.is_some() {
        return invalid(&c, &login_page(&c, email, next.as_ref(), errors));
    }
    let client = state.limits.client_key(&req);
    match service::login(&state, email, form.password, &client).await {
        Ok(tokens) => {
            // The session this browser had before (perhaps another account's) ends here.
            if let Some(old) = c.session_token()
                && let Err(e) = state
                    .write(async |txn| service::logout(txn, &state.ctx, old).await)
                    .await
            {
                return c.error(&e);
            }
            c.redirect_builder(&destination(next.as_ref()), Some("page.flash.logged_in"))
                .cookie(
                    c.session_cookie(tokens.refresh_token, state.ctx.settings.refresh_token_days),
                )
                .finish()
        }
        Err(AppError::Unauthorized("invalid_credentials", _)) => {
            let errors = LoginErrors {
                email: None,
                password: Some(l.t("page.login.error_credentials")),
            };
            invalid(&c, &login_page(&c, email, next.as_ref(), errors))
        }
        Err(e) => c.error(&e),
    }
}

// ---- log out ------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Empty {}

/// Ends the session on the server (its refresh-token family is revoked), so the cookie stops
/// working even where it was copied, and removes it from the browser.
async fn logout(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    if let Err(res) = c.accept::<Empty>(&body) {
        return *res;
    }
    if let Some(token) = c.session_token() {
        let ended = state
            .write(async |txn| service::logout(txn, &state.ctx, token).await)
            .await;
        if let Err(e) = ended {
            return c.error(&e);
        }
    }
    c.redirect_builder("/", Some("page.flash.logged_out"))
        .cookie(c.session_removal())
        .finish()
}

// ---- register -----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    next: Option<String>,
}

#[derive(Default)]
struct RegisterErrors {
    email: Option<&'static str>,
    password: Option<&'static str>,
    display_name: Option<&'static str>,
}

fn register_page<'a>(
    c: &'a PageCtx,
    form: &RegisterForm,
    next: Option<&LocalPath>,
    errors: RegisterErrors,
) -> FormPage<'a> {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.register.title"),
        "/register",
        l.t("page.register.button"),
    );
    let joining = next.is_some_and(|n| {
        let path = n.as_str().split('?').next().unwrap_or("");
        path.starts_with("/groups/") && path.ends_with("/join")
    });
    page.intro = Some(if joining {
        format!(
            "{} {}",
            l.t("page.join.step1"),
            l.t("page.join.register_intro")
        )
    } else {
        l.t("page.register.intro").into()
    });
    keep_next(&mut page, next);
    page.fields = vec![
        Field::new("email", l.t("page.register.email"), "email", 254)
            .value(form.email.trim())
            .hint(l.t("page.register.email_hint"))
            .error(errors.email),
        Field::new(
            "display_name",
            l.t("page.register.display_name"),
            "text",
            80,
        )
        .value(form.display_name.trim())
        .hint(l.t("page.register.display_name_hint"))
        .error(errors.display_name),
        Field::new("password", l.t("page.register.password"), "password", 256)
            .hint(l.t("page.register.password_hint"))
            .autocomplete("new-password")
            .error(errors.password),
    ];
    page.links = vec![(l.t("page.register.have_account"), with_next("/login", next))];
    page
}

async fn register_form(c: PageCtx, q: web::Query<NextQuery>) -> HttpResponse {
    let next = next_of(q.next.as_deref());
    c.render(
        StatusCode::OK,
        &register_page(
            &c,
            &RegisterForm::default(),
            next.as_ref(),
            RegisterErrors::default(),
        ),
    )
}

async fn register_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    body: web::Bytes,
) -> HttpResponse {
    let form: RegisterForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let next = next_of(form.next.as_deref());
    let l = c.l;
    let request = RegisterRequest {
        email: form.email.trim().to_owned(),
        password: form.password.clone(),
        display_name: form.display_name.clone(),
        locale: Some(l),
    };
    if let Err(e) = request.validate() {
        let bad = e.field_errors();
        let errors = RegisterErrors {
            email: bad
                .contains_key("email")
                .then(|| l.t("page.register.error_email")),
            password: bad
                .contains_key("password")
                .then(|| l.t("page.register.error_password")),
            display_name: bad
                .contains_key("display_name")
                .then(|| l.t("page.register.error_display_name")),
        };
        return invalid(&c, &register_page(&c, &form, next.as_ref(), errors));
    }
    let client = state.limits.client_key(&req);
    match service::register(&state, request, &client, next.as_ref()).await {
        Ok(()) => c.redirect("/verify-email", Some("page.flash.registered")),
        Err(e) => c.error(&e),
    }
}

// ---- verify the address -------------------------------------------------------------------

/// Shows a button rather than verifying on GET, so link scanners in mail systems cannot use
/// the token up. Without a token it tells the newcomer to open the emailed link.
async fn verify_form(c: PageCtx, q: web::Query<NextQuery>) -> HttpResponse {
    let l = c.l;
    let q = q.into_inner();
    let Some(token) = q.token.filter(|t| !t.is_empty()) else {
        return c.render(
            StatusCode::OK,
            &MessagePage {
                l,
                head: c.head(),
                title: l.t("page.verify.title"),
                message: l.t("page.verify.check_mail").into(),
                ok: true,
                next: None,
            },
        );
    };
    let mut page = FormPage::new(
        &c,
        l.t("page.verify.title"),
        "/verify-email",
        l.t("page.verify.button"),
    );
    page.intro = Some(l.t("page.verify.intro").into());
    page.hidden.push(("token", token));
    keep_next(&mut page, next_of(q.next.as_deref()).as_ref());
    c.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

fn verify_failed(c: &PageCtx) -> HttpResponse {
    c.render(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            l: c.l,
            head: c.head(),
            title: c.l.t("page.verify.title"),
            message: c.l.t("page.verify.failed").into(),
            ok: false,
            next: None,
        },
    )
}

/// Verifies, signs the person in (the link proves the address) and continues to `next`.
async fn verify_submit(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    let form: VerifyForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let next = next_of(form.next.as_deref());
    let previous = c.session_token();
    let signed_in = state
        .write(async |txn| {
            // A session of whoever used this browser before ends: the link's owner takes over.
            if let Some(old) = previous {
                service::logout(txn, &state.ctx, old).await?;
            }
            service::verify_email_and_sign_in(&state, txn, &form.token).await
        })
        .await;
    match signed_in {
        Ok(tokens) => c
            .redirect_builder(&destination(next.as_ref()), Some("page.flash.verified"))
            .cookie(c.session_cookie(tokens.refresh_token, state.ctx.settings.refresh_token_days))
            .finish(),
        Err(AppError::Validation(_)) => verify_failed(&c),
        Err(e) => c.error(&e),
    }
}

// ---- forgot / reset the password ----------------------------------------------------------

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

fn forgot_page<'a>(c: &'a PageCtx, email: &str, error: Option<&'static str>) -> FormPage<'a> {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.reset.forgot_title"),
        "/forgot-password",
        l.t("page.reset.request_button"),
    );
    page.intro = Some(l.t("page.reset.request_intro").into());
    page.fields = vec![
        Field::new("email", l.t("page.reset.email"), "email", 254)
            .value(email)
            .error(error),
    ];
    page.links = vec![(l.t("page.login.back"), "/login".to_owned())];
    page
}

async fn forgot_form(c: PageCtx) -> HttpResponse {
    c.render(StatusCode::OK, &forgot_page(&c, "", None))
}

async fn forgot_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    c: PageCtx,
    body: web::Bytes,
) -> HttpResponse {
    let form: ForgotForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let email = form.email.trim();
    let request = ResetRequest {
        email: email.to_owned(),
    };
    if request.validate().is_err() {
        let page = forgot_page(&c, email, Some(c.l.t("page.register.error_email")));
        return invalid(&c, &page);
    }
    let client = state.limits.client_key(&req);
    match service::request_password_reset(&state, email, &client).await {
        Ok(()) => c.redirect("/login", Some("page.flash.reset_requested")),
        Err(e) => c.error(&e),
    }
}

fn reset_page<'a>(c: &'a PageCtx, token: String, error: Option<&'static str>) -> FormPage<'a> {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.reset.title"),
        "/reset-password",
        l.t("page.reset.button"),
    );
    page.intro = Some(l.t("page.reset.intro").into());
    page.hidden.push(("token", token));
    page.fields = vec![
        Field::new("password", l.t("page.reset.password"), "password", 256)
            .hint(l.t("page.register.password_hint"))
            .autocomplete("new-password")
            .error(error),
    ];
    page
}

/// The form behind the reset email's link; without a token, the form asking for one.
async fn reset_form(c: PageCtx, q: web::Query<NextQuery>) -> HttpResponse {
    match q.into_inner().token.filter(|t| !t.is_empty()) {
        Some(token) => c.render(StatusCode::OK, &reset_page(&c, token, None)),
        None => c.render(StatusCode::OK, &forgot_page(&c, "", None)),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

async fn reset_submit(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    let form: ResetForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let request = ResetConfirmRequest {
        token: form.token,
        password: form.password,
    };
    if let Err(e) = request.validate() {
        if e.field_errors().contains_key("password") {
            let page = reset_page(
                &c,
                request.token,
                Some(c.l.t("page.register.error_password")),
            );
            return invalid(&c, &page);
        }
        return reset_failed(&c);
    }
    match service::confirm_password_reset(&state, &request.token, request.password).await {
        // Every session ended with the reset, this browser's too.
        Ok(()) => c
            .redirect_builder("/login", Some("page.flash.password_reset"))
            .cookie(c.session_removal())
            .finish(),
        Err(AppError::Validation(errors)) if errors.contains_key("token") => reset_failed(&c),
        Err(e) => c.error(&e),
    }
}

fn reset_failed(c: &PageCtx) -> HttpResponse {
    c.render(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            l: c.l,
            head: c.head(),
            title: c.l.t("page.reset.title"),
            message: c.l.t("page.reset.failed").into(),
            ok: false,
            next: Some(("page.reset.request_again", "/forgot-password")),
        },
    )
}

// ---- my account ---------------------------------------------------------------------------

/// One of my groups, as listed on `/account`.
struct MyGroupRow {
    slug: String,
    title: String,
    group_status: &'static str,
    my_status: &'static str,
    outcome: &'static str,
    resign: bool,
}

#[derive(Template)]
#[template(path = "pages/my_account.html")]
struct AccountPage {
    l: Locale,
    head: Head,
    csrf: String,
    groups: Vec<MyGroupRow>,
    locale: Locale,
    /// Shows the way to the administrators' pages.
    is_admin: bool,
}

/// My groups (with the group's status, mine, my outcome and whether the joint statement
/// waits for my signature), the ways to my data and settings, and the language.
async fn account(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let l = c.l;
    let rows = match participation::list_of_user(&state.db, user.id).await {
        Ok(r) => r,
        Err(e) => return c.error(&e),
    };
    let groups = rows
        .into_iter()
        .map(|(g, p)| MyGroupRow {
            resign: participation::needs_resign(&g, &p),
            slug: g.slug,
            title: g.title,
            group_status: l.tk("page.group_status", g.status),
            my_status: l.tk("page.my.status", p.status),
            outcome: l.tk("page.my.outcome", p.outcome),
        })
        .collect();
    c.render(
        StatusCode::OK,
        &AccountPage {
            l,
            head: c.head(),
            csrf: c.csrf.clone(),
            groups,
            locale: Locale::parse_lenient(&user.locale),
            is_admin: user.is_admin,
        },
    )
}

#[derive(Deserialize)]
struct LanguageForm {
    #[serde(default)]
    locale: String,
}

/// Stores the account's language (pages and emails) and switches this browser to it.
async fn language_submit(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    let form: LanguageForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let locale = Locale::parse_lenient(&form.locale);
    let update = MeUpdate {
        display_name: None,
        locale: Some(locale),
    };
    match state
        .write(async |txn| service::update_me(txn, &state.ctx, &user, update).await)
        .await
    {
        // `?lang=` sets the browser's language cookie on the page it lands on.
        Ok(_) => c.redirect(
            &format!("/account?lang={}", locale.as_str()),
            Some("page.flash.my.language_saved"),
        ),
        Err(e) => c.error(&e),
    }
}

// ---- notification settings ----------------------------------------------------------------

/// One group's override on the settings page.
struct OverrideRow {
    slug: String,
    title: String,
    chosen: Option<DigestMode>,
}

#[derive(Template)]
#[template(path = "pages/my_notifications.html")]
struct NotificationsPage {
    l: Locale,
    head: Head,
    csrf: String,
    settings: NotificationSettings,
    modes: Vec<DigestMode>,
    overrides: Vec<OverrideRow>,
}

impl NotificationsPage {
    fn mode_checked(&self, m: &DigestMode) -> bool {
        self.settings.digest == *m
    }
}

/// The groups a user hears about (joined and not withdrawn or rejected), and those they set
/// an override for.
async fn override_rows(
    state: &AppState,
    user_id: i64,
    settings: &NotificationSettings,
) -> AppResult<Vec<OverrideRow>> {
    let rows = participation::list_of_user(&state.db, user_id).await?;
    Ok(rows
        .into_iter()
        .filter(|(g, p)| {
            matches!(
                p.status,
                ParticipationStatus::Pending | ParticipationStatus::Active
            ) || settings.groups.iter().any(|o| o.group == g.slug)
        })
        .map(|(g, _)| OverrideRow {
            chosen: settings
                .groups
                .iter()
                .find(|o| o.group == g.slug)
                .map(|o| o.digest),
            slug: g.slug,
            title: g.title,
        })
        .collect())
}

async fn notifications_form(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let loaded = async {
        let settings = prefs::get(&state.db, &state.ctx, &user).await?;
        let overrides = override_rows(&state, user.id, &settings).await?;
        Ok::<_, AppError>((settings, overrides))
    };
    match loaded.await {
        Ok((settings, overrides)) => c.render(
            StatusCode::OK,
            &NotificationsPage {
                l: c.l,
                head: c.head(),
                csrf: c.csrf.clone(),
                settings,
                modes: DigestMode::all(),
                overrides,
            },
        ),
        Err(e) => c.error(&e),
    }
}

fn digest_of(s: &str) -> Option<DigestMode> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).ok()
}

/// Saves the settings through the same service as `PUT /api/v1/me/notifications`: the mode,
/// the digest's day and hour, and a per-group choice (`group.<slug>`; empty = as above). The
/// time zone and language are kept.
async fn notifications_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    body: web::Bytes,
) -> HttpResponse {
    let fields: Vec<(String, String)> = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let value = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let current = match prefs::get(&state.db, &state.ctx, &user).await {
        Ok(s) => s,
        Err(e) => return c.error(&e),
    };
    let Some(digest) = value("digest").and_then(digest_of) else {
        return c.error(&AppError::field("digest", "choose how often"));
    };
    let number = |name: &str, default: i32| {
        value(name)
            .and_then(|v| v.trim().parse::<i32>().ok())
            .unwrap_or(default)
    };
    let groups = fields
        .iter()
        .filter_map(|(k, v)| {
            let slug = k.strip_prefix("group.")?;
            Some(GroupOverride {
                group: slug.to_owned(),
                digest: digest_of(v)?,
            })
        })
        .collect();
    let settings = NotificationSettings {
        digest,
        weekday: number("weekday", current.weekday),
        send_hour: number("send_hour", current.send_hour),
        time_zone: current.time_zone,
        language: None,
        groups,
    };
    if let Err(e) = settings.validate() {
        return c.error(&AppError::from(e));
    }
    match state
        .write(async |txn| prefs::put(txn, &state.ctx, &user, settings).await)
        .await
    {
        Ok(_) => c.redirect(
            "/account/notifications",
            Some("page.flash.my.notifications_saved"),
        ),
        Err(e) => c.error(&e),
    }
}

// ---- export -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "pages/my_export.html")]
struct ExportPage {
    l: Locale,
    head: Head,
}

async fn export_page(c: PageCtx) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    c.render(
        StatusCode::OK,
        &ExportPage {
            l: c.l,
            head: c.head(),
        },
    )
}

/// The same JSON document as `GET /api/v1/me/export`, as an attachment.
async fn export_download(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    match service::export(&state, &user).await {
        Ok(doc) => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lianming-export.json\"",
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(doc),
        Err(e) => c.error(&e),
    }
}

// ---- delete the account -------------------------------------------------------------------

fn delete_page<'a>(c: &'a PageCtx, error: Option<&'static str>) -> FormPage<'a> {
    let l = c.l;
    let mut page = FormPage::new(
        c,
        l.t("page.my.delete_title"),
        "/account/delete",
        l.t("page.my.delete_button"),
    );
    page.intro = Some(l.t("page.my.delete_intro").into());
    page.fields =
        vec![Field::new("password", l.t("page.my.delete_password"), "password", 256).error(error)];
    page.links = vec![(l.t("page.my.back"), "/account".to_owned())];
    page
}

async fn delete_form(c: PageCtx) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    c.render(StatusCode::OK, &delete_page(&c, None))
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    password: String,
}

/// Deletes the account after the password is confirmed (as `DELETE /api/v1/me`); its
/// sessions go with it, and this browser's cookie is removed.
async fn delete_submit(state: web::Data<AppState>, c: PageCtx, body: web::Bytes) -> HttpResponse {
    let form: DeleteForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let l = c.l;
    let request = DeleteMeRequest {
        password: form.password,
    };
    if request.validate().is_err() {
        let page = delete_page(&c, Some(l.t("page.my.delete_error_password")));
        return invalid(&c, &page);
    }
    match service::delete_me(&state, &user, request.password).await {
        Ok(()) => c
            .redirect_builder("/", Some("page.flash.my.account_deleted"))
            .cookie(c.session_removal())
            .finish(),
        Err(AppError::Unauthorized("invalid_credentials", _)) => {
            let page = delete_page(&c, Some(l.t("page.my.delete_wrong_password")));
            invalid(&c, &page)
        }
        Err(AppError::Conflict("owner_must_transfer", _)) => c.render(
            StatusCode::CONFLICT,
            &delete_page(&c, Some(l.t("page.my.delete_owner"))),
        ),
        Err(e) => c.error(&e),
    }
}
