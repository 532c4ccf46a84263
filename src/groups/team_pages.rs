//! The organiser's team page (`/groups/{slug}/manage/team`): the owner, organisers and
//! moderators, the invitations, inviting by email, changing roles, removing, handing the group
//! over, and the audit log with paging. The same services as the team API
//! (`/api/v1/groups/{slug}/organisers`, `/transfer`, `/audit`) decide who may do what; the page
//! only leaves out the forms the viewer's role cannot use.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use validator::Validate;

use super::access::Role;
use super::organisers;
use super::service::by_slug;
use super::team_dto::{
    AuditQuery, InviteRequest, InvitedRole, RoleChange, TeamView, TransferRequest,
};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;
use crate::pages::{Head, PageCtx};
use crate::state::AppState;

/// Registers the team page and its forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups/{slug}/manage/team", web::get().to(team_page))
        .route(
            "/groups/{slug}/manage/team/invite",
            web::post().to(invite_submit),
        )
        .route(
            "/groups/{slug}/manage/team/transfer",
            web::post().to(transfer_submit),
        )
        .route(
            "/groups/{slug}/manage/team/{user_id}/role",
            web::post().to(role_submit),
        )
        .route(
            "/groups/{slug}/manage/team/{user_id}/remove",
            web::post().to(remove_submit),
        );
}

/// Audit entries per page.
const AUDIT_PER_PAGE: u64 = 20;

fn team_path(slug: &str) -> String {
    format!("/groups/{slug}/manage/team")
}

fn beijing(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn invited_role(v: &str) -> Option<InvitedRole> {
    InvitedRole::all().into_iter().find(|r| r.as_str() == v)
}

/// One team member, as shown.
struct MemberRow {
    user_id: i64,
    name: String,
    role_key: &'static str,
    role: &'static str,
    since: String,
    is_me: bool,
    is_owner: bool,
    /// The role form's message after a refused change.
    role_error: Option<&'static str>,
}

/// One invitation, as shown.
struct InviteRow {
    email: String,
    role: &'static str,
    sent: String,
    state: &'static str,
}

/// One audit entry, as shown.
struct AuditRow {
    when: String,
    actor: String,
    action: String,
    target: String,
}

/// What the forms got wrong: (field id, message), and what was typed.
#[derive(Default)]
struct Refusal {
    email_error: Option<&'static str>,
    role_error: Option<&'static str>,
    transfer_error: Option<&'static str>,
    /// A refused role change: the member and the message.
    member_error: Option<(i64, &'static str)>,
    email: String,
    role: String,
}

#[derive(Template)]
#[template(path = "pages/manage_team.html")]
struct TeamPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
    my_role: &'static str,
    may_manage: bool,
    is_owner: bool,
    members: Vec<MemberRow>,
    invites: Vec<InviteRow>,
    roles: Vec<(&'static str, &'static str)>,
    email: String,
    role_chosen: String,
    email_error: Option<&'static str>,
    role_error: Option<&'static str>,
    transfer_error: Option<&'static str>,
    audit: Vec<AuditRow>,
    audit_shown: String,
    prev: Option<String>,
    next: Option<String>,
}

impl TeamPage {
    fn errors(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        if let Some(e) = self.email_error {
            out.push(("invite-email".to_owned(), e));
        }
        if let Some(e) = self.role_error {
            out.push(("invite-role".to_owned(), e));
        }
        if let Some(e) = self.transfer_error {
            out.push(("transfer-to".to_owned(), e));
        }
        for m in &self.members {
            if let Some(e) = m.role_error {
                out.push((format!("role-{}", m.user_id), e));
            }
        }
        out
    }
}

fn audit_action(l: Locale, code: &str) -> String {
    l.try_t(&format!("page.team.action.{}", code.replace('.', "_")))
        .map_or_else(|| code.to_owned(), str::to_owned)
}

/// The audit entry's target, readable: a member's name for a user id.
fn audit_target(team: &TeamView, target: Option<String>) -> String {
    let Some(t) = target else {
        return String::new();
    };
    t.parse::<i64>()
        .ok()
        .and_then(|id| team.members.iter().find(|m| m.user_id == id))
        .map_or(t, |m| m.display_name.clone())
}

async fn view(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    page: u64,
    refused: Refusal,
) -> AppResult<TeamPage> {
    let l = c.l;
    let user = c.user.as_ref().ok_or(AppError::NotFound)?;
    let team = organisers::team(&state.db, user, slug).await?;
    let group = by_slug(&state.db, slug).await?;
    let audit = organisers::audit_page(
        &state.db,
        user,
        slug,
        &AuditQuery {
            page: Some(page),
            per_page: Some(AUDIT_PER_PAGE),
        },
    )
    .await?;
    let mine = team
        .members
        .iter()
        .find(|m| m.user_id == user.id)
        .map_or(Role::Moderator, |m| m.role);
    let members = team
        .members
        .iter()
        .map(|m| MemberRow {
            user_id: m.user_id,
            name: m.display_name.clone(),
            role_key: m.role.as_str(),
            role: l.tk("page.team.role", m.role),
            since: beijing(m.since),
            is_me: m.user_id == user.id,
            is_owner: m.role == Role::Owner,
            role_error: refused
                .member_error
                .filter(|(id, _)| *id == m.user_id)
                .map(|(_, e)| e),
        })
        .collect();
    let invites = team
        .invites
        .iter()
        .map(|i| InviteRow {
            email: i.email.clone(),
            role: l.tk("page.team.role", i.role),
            sent: beijing(i.created_at),
            state: if i.accepted_at.is_some() {
                l.t("page.team.invite_accepted")
            } else if i.expires_at <= state.now() {
                l.t("page.team.invite_expired")
            } else {
                l.t("page.team.invite_open")
            },
        })
        .collect();
    let rows = audit
        .items
        .into_iter()
        .map(|a| AuditRow {
            when: beijing(a.created_at),
            actor: a.actor_name.unwrap_or_default(),
            action: audit_action(l, &a.action),
            target: audit_target(&team, a.target),
        })
        .collect();
    let pages = audit.total.div_ceil(AUDIT_PER_PAGE).max(1);
    let link = |p: u64| format!("{}?page={p}", team_path(slug));
    let first = (page - 1) * AUDIT_PER_PAGE;
    let audit_shown = if audit.total == 0 {
        l.t("page.team.audit_empty").to_owned()
    } else {
        l.tf(
            "page.team.audit_shown",
            &[
                ("from", &(first + 1).min(audit.total).to_string()),
                ("to", &(first + AUDIT_PER_PAGE).min(audit.total).to_string()),
                ("total", &audit.total.to_string()),
            ],
        )
    };
    Ok(TeamPage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: group.slug.clone(),
        title: group.title,
        my_role: l.tk("page.team.role", mine),
        may_manage: mine >= Role::Organiser,
        is_owner: mine == Role::Owner,
        members,
        invites,
        roles: InvitedRole::all()
            .into_iter()
            .map(|r| (r.as_str(), l.tk("page.team.role", r)))
            .collect(),
        email: refused.email,
        role_chosen: refused.role,
        email_error: refused.email_error,
        role_error: refused.role_error,
        transfer_error: refused.transfer_error,
        audit: rows,
        audit_shown,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    })
}

#[derive(serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: String,
}

async fn team_page(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    if let Err(res) = c.require_user() {
        return *res;
    }
    let page = q
        .page
        .parse::<u64>()
        .ok()
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    match view(&state, &c, &slug, page, Refusal::default()).await {
        Ok(p) => c.render(StatusCode::OK, &p),
        Err(e) => c.error(&e),
    }
}

/// The page again with the refused form's message beside its field.
async fn again(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    status: StatusCode,
    r: Refusal,
) -> HttpResponse {
    match view(state, c, slug, 1, r).await {
        Ok(p) => c.render(status, &p),
        Err(e) => c.error(&e),
    }
}

/// The value of `name` in a posted form.
fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

async fn invite_submit(
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
    let (email, role) = (field(&form, "email"), field(&form, "role"));
    let mut refusal = Refusal {
        email: email.clone(),
        role: role.clone(),
        ..Refusal::default()
    };
    let Some(role) = invited_role(&role) else {
        refusal.role_error = Some(c.l.t("page.team.error_role"));
        return again(&state, &c, &slug, StatusCode::UNPROCESSABLE_ENTITY, refusal).await;
    };
    let req = InviteRequest { email, role };
    if req.validate().is_err() || req.email.is_empty() {
        refusal.email_error = Some(c.l.t("page.team.error_email"));
        return again(&state, &c, &slug, StatusCode::UNPROCESSABLE_ENTITY, refusal).await;
    }
    let done = state
        .write(async |txn| organisers::invite(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match done {
        Ok(_) => c.redirect(&team_path(&slug), Some("page.flash.team.invited")),
        Err(AppError::Conflict("already_in_team", _)) => {
            refusal.email_error = Some(c.l.t("page.team.error_already"));
            again(&state, &c, &slug, StatusCode::CONFLICT, refusal).await
        }
        Err(e) => c.error(&e),
    }
}

async fn role_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
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
    let (slug, target) = path.into_inner();
    let Some(role) = invited_role(&field(&form, "role")) else {
        let refusal = Refusal {
            member_error: Some((target, c.l.t("page.team.error_role"))),
            ..Refusal::default()
        };
        return again(&state, &c, &slug, StatusCode::UNPROCESSABLE_ENTITY, refusal).await;
    };
    let done = state
        .write(async |txn| {
            organisers::change_role(txn, &state.ctx, &user, &slug, target, RoleChange { role })
                .await
        })
        .await;
    match done {
        Ok(_) => c.redirect(&team_path(&slug), Some("page.flash.team.role_changed")),
        Err(e) => c.error(&e),
    }
}

async fn remove_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = c.accept::<Vec<(String, String)>>(&body) {
        return *res;
    }
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, target) = path.into_inner();
    let done = state
        .write(async |txn| organisers::remove(txn, &state.ctx, &user, &slug, target).await)
        .await;
    match done {
        // Someone who left the team can no longer see its page.
        Ok(()) if target == user.id => {
            c.redirect(&format!("/groups/{slug}"), Some("page.flash.team.left"))
        }
        Ok(()) => c.redirect(&team_path(&slug), Some("page.flash.team.removed")),
        Err(e) => c.error(&e),
    }
}

async fn transfer_submit(
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
    let refused = || Refusal {
        transfer_error: Some(c.l.t("page.team.error_transfer")),
        ..Refusal::default()
    };
    let Some(user_id) = field(&form, "user_id")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
    else {
        return again(
            &state,
            &c,
            &slug,
            StatusCode::UNPROCESSABLE_ENTITY,
            refused(),
        )
        .await;
    };
    let done = state
        .write(async |txn| {
            organisers::transfer(txn, &state.ctx, &user, &slug, TransferRequest { user_id }).await
        })
        .await;
    match done {
        Ok(_) => c.redirect(&team_path(&slug), Some("page.flash.team.transferred")),
        Err(AppError::Validation(_)) => {
            again(
                &state,
                &c,
                &slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(),
            )
            .await
        }
        Err(e) => c.error(&e),
    }
}
