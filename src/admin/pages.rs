//! The administrators' pages: `/admin` (index), `/admin/providers` (the directory for review,
//! with each provider's editor and the merge of a duplicate), `/admin/users` and
//! `/admin/groups` (suspend and reinstate), `/admin/mail` (failed mail, sent again on request).
//! Every page and form calls the same services as `/api/v1/admin/…`, which refuse anyone but an
//! administrator: no page decides access itself.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use validator::Validate;

use super::dto::{
    AdminGroupView, AdminProviderQuery, AdminProviderRow, AdminSearchQuery, AdminUserView,
    MergeRequest, SuspendRequest,
};
use super::service::{self, PER_PAGE};
use crate::auth::CurrentUser;
use crate::entities::enums::UserStatus;
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::providers::dto::ProviderUpdate;
use crate::responses::deadlines::local_date;
use crate::state::AppState;

/// Registers the administrators' pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(index_page))
        .route("/admin/providers", web::get().to(providers_page))
        .route("/admin/providers/{slug}", web::get().to(provider_page))
        .route("/admin/providers/{slug}", web::post().to(provider_submit))
        .route(
            "/admin/providers/{slug}/review",
            web::post().to(review_submit),
        )
        .route(
            "/admin/providers/{slug}/merge",
            web::post().to(merge_submit),
        )
        .route("/admin/users", web::get().to(users_page))
        .route(
            "/admin/users/{id}/suspend",
            web::post().to(user_suspend_submit),
        )
        .route(
            "/admin/users/{id}/unsuspend",
            web::post().to(user_unsuspend_submit),
        )
        .route("/admin/groups", web::get().to(groups_page))
        .route(
            "/admin/groups/{slug}/suspend",
            web::post().to(group_suspend_submit),
        )
        .route(
            "/admin/groups/{slug}/unsuspend",
            web::post().to(group_unsuspend_submit),
        )
        .route("/admin/mail", web::get().to(mail_page))
        .route("/admin/mail/{id}/retry", web::post().to(retry_submit));
}

/// The signed-in user of a GET, or the log-in redirect.
fn signed_in(c: &PageCtx) -> Result<CurrentUser, Box<HttpResponse>> {
    c.require_user().cloned()
}

/// A posted form's fields, in order.
type Form = Vec<(String, String)>;

/// The signed-in user of a POST whose CSRF token is valid, with the form's fields.
fn accepted(c: &PageCtx, body: &[u8]) -> Result<(CurrentUser, Form), Box<HttpResponse>> {
    let form = c.accept::<Vec<(String, String)>>(body)?;
    Ok((signed_in(c)?, form))
}

fn value<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    local_date(t).format("%Y-%m-%d").to_string()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The list's address with `q` (and `extra`) kept, on `page`.
fn list_href(path: &str, q: &str, extra: &str, page: u64) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    if !extra.is_empty() {
        parts.push(extra.to_owned());
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    if parts.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

/// Previous and next page links, and the "showing" line.
struct Paging {
    shown: String,
    prev: Option<String>,
    next: Option<String>,
}

fn paging(l: Locale, path: &str, q: &str, extra: &str, page: u64, total: u64) -> Paging {
    let pages = total.div_ceil(PER_PAGE).max(1);
    Paging {
        shown: l.tf(
            "page.admin.shown",
            &[
                ("total", &total.to_string()),
                ("page", &page.to_string()),
                ("pages", &pages.to_string()),
            ],
        ),
        prev: (page > 1).then(|| list_href(path, q, extra, page - 1)),
        next: (page < pages).then(|| list_href(path, q, extra, page + 1)),
    }
}

fn page_of(s: &str) -> u64 {
    s.trim().parse::<u64>().unwrap_or(1).clamp(1, 10000)
}

/// The first message of `field` in a validation error.
fn has_field(e: &AppError, field: &str) -> bool {
    matches!(e, AppError::Validation(errors) if errors.keys().any(|k| k == field || k.starts_with(&format!("{field}["))))
}

// ---------------------------------------------------------------- index

#[derive(Template)]
#[template(path = "pages/admin_index.html")]
struct IndexPage {
    l: Locale,
    head: Head,
    unreviewed: u64,
    failed_mail: u64,
}

async fn index_page(state: web::Data<AppState>, c: PageCtx) -> HttpResponse {
    let user = match signed_in(&c) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let figures = async {
        let q = AdminProviderQuery {
            unreviewed: Some(true),
            ..AdminProviderQuery::default()
        };
        let (_, unreviewed) = service::providers(&state.db, &user, &q).await?;
        let (_, failed_mail) = service::outbox(&state.db, &user, None, None, 1).await?;
        AppResult::Ok((unreviewed, failed_mail))
    };
    match figures.await {
        Ok((unreviewed, failed_mail)) => c.render(
            StatusCode::OK,
            &IndexPage {
                l: c.l,
                head: c.head(),
                unreviewed,
                failed_mail,
            },
        ),
        Err(e) => c.error(&e),
    }
}

// ---------------------------------------------------------------- providers

/// A provider as a row of the directory.
struct ProviderRow {
    slug: String,
    name_zh: String,
    name_en: Option<String>,
    aliases: String,
    reviewed: bool,
    created_by: String,
    created_at: String,
    groups: u64,
}

impl ProviderRow {
    fn new(l: Locale, r: AdminProviderRow) -> Self {
        Self {
            created_by: match (r.created_by, r.created_by_email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                _ => l.t("page.admin.nobody").to_owned(),
            },
            created_at: date(r.created_at),
            groups: r.groups,
            aliases: r.provider.aliases.join("、"),
            slug: r.provider.slug,
            name_zh: r.provider.name_zh,
            name_en: r.provider.name_en,
            reviewed: r.provider.reviewed,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/admin_providers.html")]
struct ProvidersPage {
    l: Locale,
    head: Head,
    q: String,
    unreviewed_only: bool,
    rows: Vec<ProviderRow>,
    paging: Paging,
}

async fn providers_page(
    state: web::Data<AppState>,
    c: PageCtx,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let user = match signed_in(&c) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let q = value(&query, "q")
        .trim()
        .chars()
        .take(100)
        .collect::<String>();
    let unreviewed_only = value(&query, "unreviewed") == "1";
    let page = page_of(value(&query, "page"));
    let req = AdminProviderQuery {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        unreviewed: Some(unreviewed_only),
        page: Some(page),
    };
    if req.validate().is_err() {
        return c.error(&AppError::field("q", c.l.t("page.admin.error_search")));
    }
    match service::providers(&state.db, &user, &req).await {
        Ok((rows, total)) => {
            let extra = if unreviewed_only { "unreviewed=1" } else { "" };
            c.render(
                StatusCode::OK,
                &ProvidersPage {
                    l: c.l,
                    head: c.head(),
                    paging: paging(c.l, "/admin/providers", &q, extra, page, total),
                    rows: rows.into_iter().map(|r| ProviderRow::new(c.l, r)).collect(),
                    q,
                    unreviewed_only,
                },
            )
        }
        Err(e) => c.error(&e),
    }
}

/// The editor's fields as typed, with their messages.
#[derive(Default)]
struct ProviderForm {
    name_zh: String,
    name_en: String,
    aliases: String,
    into: String,
    name_zh_error: Option<&'static str>,
    name_en_error: Option<&'static str>,
    aliases_error: Option<&'static str>,
    into_error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "pages/admin_provider.html")]
struct ProviderPage {
    l: Locale,
    head: Head,
    csrf: String,
    p: ProviderRow,
    f: ProviderForm,
}

impl ProviderPage {
    fn errors(&self) -> Vec<(&'static str, &'static str)> {
        [
            ("name_zh", self.f.name_zh_error),
            ("name_en", self.f.name_en_error),
            ("aliases", self.f.aliases_error),
            ("into", self.f.into_error),
        ]
        .into_iter()
        .filter_map(|(id, e)| e.map(|e| (id, e)))
        .collect()
    }
}

/// The provider's editor, with what was typed when `typed` is given (then answered 422).
async fn provider_view(
    state: &AppState,
    c: &PageCtx,
    user: &CurrentUser,
    slug: &str,
    typed: Option<ProviderForm>,
) -> HttpResponse {
    let row = match service::provider(&state.db, user, slug).await {
        Ok(r) => r,
        Err(e) => return c.error(&e),
    };
    let status = if typed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let f = typed.unwrap_or_else(|| ProviderForm {
        name_zh: row.provider.name_zh.clone(),
        name_en: row.provider.name_en.clone().unwrap_or_default(),
        aliases: row.provider.aliases.join("\n"),
        ..ProviderForm::default()
    });
    c.render(
        status,
        &ProviderPage {
            l: c.l,
            head: c.head(),
            csrf: c.csrf.clone(),
            p: ProviderRow::new(c.l, row),
            f,
        },
    )
}

async fn provider_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    match signed_in(&c) {
        Ok(user) => provider_view(&state, &c, &user, &slug, None).await,
        Err(res) => *res,
    }
}

async fn provider_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (user, form) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let mut typed = ProviderForm {
        name_zh: value(&form, "name_zh").to_owned(),
        name_en: value(&form, "name_en").to_owned(),
        aliases: value(&form, "aliases").to_owned(),
        ..ProviderForm::default()
    };
    let req = ProviderUpdate {
        name_zh: Some(typed.name_zh.trim().to_owned()),
        name_en: Some(typed.name_en.trim().to_owned()).filter(|n| !n.is_empty()),
        aliases: Some(
            typed
                .aliases
                .lines()
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect(),
        ),
    };
    let outcome = match req.validate() {
        Ok(()) => {
            state
                .write(async |txn| {
                    service::edit_provider(txn, &user, &slug, req, state.now()).await
                })
                .await
        }
        Err(e) => Err(AppError::from(e)),
    };
    match outcome {
        Ok(_) => c.redirect(
            &format!("/admin/providers/{slug}"),
            Some("page.flash.admin.provider_saved"),
        ),
        Err(e @ AppError::Validation(_)) => {
            let l = c.l;
            typed.name_zh_error = has_field(&e, "name_zh").then(|| l.t("page.admin.error_name_zh"));
            typed.name_en_error = has_field(&e, "name_en").then(|| l.t("page.admin.error_name_en"));
            typed.aliases_error = has_field(&e, "aliases").then(|| l.t("page.admin.error_aliases"));
            if typed.name_zh_error.is_none()
                && typed.name_en_error.is_none()
                && typed.aliases_error.is_none()
            {
                return c.error(&e);
            }
            provider_view(&state, &c, &user, &slug, Some(typed)).await
        }
        Err(e) => c.error(&e),
    }
}

async fn review_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (user, _) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let done = state
        .write(async |txn| service::review_provider(txn, &user, &slug, state.now()).await)
        .await;
    match done {
        Ok(_) => c.redirect(
            &format!("/admin/providers/{slug}"),
            Some("page.flash.admin.provider_reviewed"),
        ),
        Err(e) => c.error(&e),
    }
}

async fn merge_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (user, form) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let into = value(&form, "into").trim().to_owned();
    let req = MergeRequest { into: into.clone() };
    let outcome = match req.validate() {
        Ok(()) => {
            state
                .write(async |txn| {
                    service::merge_provider(txn, &user, &slug, req, state.now()).await
                })
                .await
        }
        Err(e) => Err(AppError::from(e)),
    };
    match outcome {
        Ok(done) => c.redirect(
            &format!("/admin/providers/{}", done.provider.slug),
            Some("page.flash.admin.merged"),
        ),
        Err(e) if has_field(&e, "into") => {
            let key = if into.is_empty() {
                "page.admin.error_into_empty"
            } else if into == *slug {
                "page.admin.error_into_self"
            } else {
                "page.admin.error_into"
            };
            let typed = match service::provider(&state.db, &user, &slug).await {
                Ok(row) => ProviderForm {
                    name_zh: row.provider.name_zh.clone(),
                    name_en: row.provider.name_en.clone().unwrap_or_default(),
                    aliases: row.provider.aliases.join("\n"),
                    into,
                    into_error: Some(c.l.t(key)),
                    ..ProviderForm::default()
                },
                Err(e) => return c.error(&e),
            };
            provider_view(&state, &c, &user, &slug, Some(typed)).await
        }
        Err(e) => c.error(&e),
    }
}

// ---------------------------------------------------------------- users and groups

/// The suspension form of one row, after a refused post.
struct RowError {
    key: String,
    message: &'static str,
    typed: String,
}

struct UserRow {
    id: i64,
    email: String,
    name: String,
    suspended: bool,
    status: &'static str,
    reason: Option<String>,
    is_admin: bool,
    is_self: bool,
    created: String,
    reason_error: Option<&'static str>,
    reason_typed: String,
}

#[derive(Template)]
#[template(path = "pages/admin_users.html")]
struct UsersPage {
    l: Locale,
    head: Head,
    csrf: String,
    q: String,
    page: u64,
    rows: Vec<UserRow>,
    paging: Paging,
    errors: Vec<(String, &'static str)>,
}

fn search_query(query: &[(String, String)]) -> (String, u64) {
    let q = value(query, "q")
        .trim()
        .chars()
        .take(100)
        .collect::<String>();
    (q, page_of(value(query, "page")))
}

async fn users_view(
    state: &AppState,
    c: &PageCtx,
    user: &CurrentUser,
    q: String,
    page: u64,
    error: Option<RowError>,
) -> HttpResponse {
    let req = AdminSearchQuery {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        page: Some(page),
    };
    if req.validate().is_err() {
        return c.error(&AppError::field("q", c.l.t("page.admin.error_search")));
    }
    let (rows, total) = match service::users(&state.db, user, &req).await {
        Ok(x) => x,
        Err(e) => return c.error(&e),
    };
    let l = c.l;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let rows = rows
        .into_iter()
        .map(|u: AdminUserView| {
            let mine = error.as_ref().filter(|e| e.key == u.id.to_string());
            UserRow {
                suspended: u.status == UserStatus::Suspended,
                status: l.tk("page.admin.user_status", u.status.as_str()),
                is_self: u.id == user.id,
                created: date(u.created_at),
                reason_error: mine.map(|e| e.message),
                reason_typed: mine.map(|e| e.typed.clone()).unwrap_or_default(),
                id: u.id,
                email: u.email,
                name: u.display_name,
                reason: u.suspension_reason,
                is_admin: u.is_admin,
            }
        })
        .collect();
    c.render(
        status,
        &UsersPage {
            l,
            head: c.head(),
            csrf: c.csrf.clone(),
            paging: paging(l, "/admin/users", &q, "", page, total),
            errors: error
                .map(|e| (format!("reason-{}", e.key), e.message))
                .into_iter()
                .collect(),
            q,
            page,
            rows,
        },
    )
}

async fn users_page(
    state: web::Data<AppState>,
    c: PageCtx,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let user = match signed_in(&c) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let (q, page) = search_query(&query);
    users_view(&state, &c, &user, q, page, None).await
}

async fn user_suspend_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    user_suspension(state, c, *id, body, true).await
}

async fn user_unsuspend_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    user_suspension(state, c, *id, body, false).await
}

async fn user_suspension(
    state: web::Data<AppState>,
    c: PageCtx,
    id: i64,
    body: web::Bytes,
    suspend: bool,
) -> HttpResponse {
    let (user, form) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let (q, page) = search_query(&form);
    let req = SuspendRequest {
        reason: value(&form, "reason").trim().to_owned(),
    };
    let outcome = if suspend && req.validate().is_err() {
        Err(AppError::field("reason", "must be 2 to 500 characters"))
    } else {
        let reason = suspend.then_some(&req);
        state
            .write(async |txn| {
                service::set_user_suspension(txn, &user, id, reason, state.now()).await
            })
            .await
    };
    match outcome {
        Ok(_) => c.redirect(
            &list_href("/admin/users", &q, "", page),
            Some(if suspend {
                "page.flash.admin.user_suspended"
            } else {
                "page.flash.admin.user_reinstated"
            }),
        ),
        Err(e) if has_field(&e, "reason") => {
            let error = RowError {
                key: id.to_string(),
                message: c.l.t("page.admin.error_reason"),
                typed: req.reason,
            };
            users_view(&state, &c, &user, q, page, Some(error)).await
        }
        Err(e) => c.error(&e),
    }
}

struct GroupRow {
    slug: String,
    title: String,
    provider: String,
    status: &'static str,
    suspended: bool,
    reason: Option<String>,
    created: String,
    reason_error: Option<&'static str>,
    reason_typed: String,
}

#[derive(Template)]
#[template(path = "pages/admin_groups.html")]
struct GroupsPage {
    l: Locale,
    head: Head,
    csrf: String,
    q: String,
    page: u64,
    rows: Vec<GroupRow>,
    paging: Paging,
    errors: Vec<(String, &'static str)>,
}

async fn groups_view(
    state: &AppState,
    c: &PageCtx,
    user: &CurrentUser,
    q: String,
    page: u64,
    error: Option<RowError>,
) -> HttpResponse {
    let req = AdminSearchQuery {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        page: Some(page),
    };
    if req.validate().is_err() {
        return c.error(&AppError::field("q", c.l.t("page.admin.error_search")));
    }
    let (rows, total) = match service::groups(&state.db, user, &req).await {
        Ok(x) => x,
        Err(e) => return c.error(&e),
    };
    let l = c.l;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let rows = rows
        .into_iter()
        .map(|g: AdminGroupView| {
            let mine = error.as_ref().filter(|e| e.key == g.slug);
            GroupRow {
                status: l.tk("page.group_status", g.status.as_str()),
                suspended: g.suspended_at.is_some(),
                created: date(g.created_at),
                reason_error: mine.map(|e| e.message),
                reason_typed: mine.map(|e| e.typed.clone()).unwrap_or_default(),
                slug: g.slug,
                title: g.title,
                provider: g.provider,
                reason: g.suspension_reason,
            }
        })
        .collect();
    c.render(
        status,
        &GroupsPage {
            l,
            head: c.head(),
            csrf: c.csrf.clone(),
            paging: paging(l, "/admin/groups", &q, "", page, total),
            errors: error
                .map(|e| (format!("reason-{}", e.key), e.message))
                .into_iter()
                .collect(),
            q,
            page,
            rows,
        },
    )
}

async fn groups_page(
    state: web::Data<AppState>,
    c: PageCtx,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let user = match signed_in(&c) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let (q, page) = search_query(&query);
    groups_view(&state, &c, &user, q, page, None).await
}

async fn group_suspend_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    group_suspension(state, c, slug.into_inner(), body, true).await
}

async fn group_unsuspend_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    group_suspension(state, c, slug.into_inner(), body, false).await
}

async fn group_suspension(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: String,
    body: web::Bytes,
    suspend: bool,
) -> HttpResponse {
    let (user, form) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let (q, page) = search_query(&form);
    let req = SuspendRequest {
        reason: value(&form, "reason").trim().to_owned(),
    };
    let outcome = if suspend && req.validate().is_err() {
        Err(AppError::field("reason", "must be 2 to 500 characters"))
    } else {
        let reason = suspend.then_some(&req);
        state
            .write(async |txn| {
                service::set_group_suspension(txn, &user, &slug, reason, state.now()).await
            })
            .await
    };
    match outcome {
        Ok(_) => c.redirect(
            &list_href("/admin/groups", &q, "", page),
            Some(if suspend {
                "page.flash.admin.group_suspended"
            } else {
                "page.flash.admin.group_reinstated"
            }),
        ),
        Err(e) if has_field(&e, "reason") => {
            let error = RowError {
                key: slug.clone(),
                message: c.l.t("page.admin.error_reason"),
                typed: req.reason,
            };
            groups_view(&state, &c, &user, q, page, Some(error)).await
        }
        Err(e) => c.error(&e),
    }
}

// ---------------------------------------------------------------- mail

struct MailRow {
    id: i64,
    recipient: String,
    kind: String,
    attempts: i32,
    error: String,
    created: String,
}

#[derive(Template)]
#[template(path = "pages/admin_mail.html")]
struct MailPage {
    l: Locale,
    head: Head,
    csrf: String,
    rows: Vec<MailRow>,
    paging: Paging,
}

async fn mail_page(
    state: web::Data<AppState>,
    c: PageCtx,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let user = match signed_in(&c) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let page = page_of(value(&query, "page"));
    match service::outbox(&state.db, &user, None, Some(page), PER_PAGE).await {
        Ok((rows, total)) => c.render(
            StatusCode::OK,
            &MailPage {
                l: c.l,
                head: c.head(),
                csrf: c.csrf.clone(),
                paging: paging(c.l, "/admin/mail", "", "", page, total),
                rows: rows
                    .into_iter()
                    .map(|r| MailRow {
                        id: r.id,
                        recipient: r.recipient,
                        kind: r.kind,
                        attempts: r.attempts,
                        error: r.last_error.unwrap_or_default(),
                        created: date(r.created_at),
                    })
                    .collect(),
            },
        ),
        Err(e) => c.error(&e),
    }
}

async fn retry_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (user, _) = match accepted(&c, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let done = state
        .write(async |txn| service::retry_mail(txn, &user, *id, state.now()).await)
        .await;
    match done {
        Ok(_) => c.redirect("/admin/mail", Some("page.flash.admin.mail_queued")),
        Err(e) => c.error(&e),
    }
}
