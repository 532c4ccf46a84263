//! JSON handlers of the organiser routes: the team and its invitations, the audit log, the
//! joint statement, the roster and the dashboard.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::team_dto::{
    AcceptInvite, AcceptedInvite, AuditPage, AuditQuery, Dashboard, InviteRequest, InviteView,
    RoleChange, RosterAction, RosterEntry, RosterPage, RosterQuery, StatementUpdate, StatementView,
    TeamView, TransferRequest,
};
use super::{dashboard, organisers, roster, statement};
use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem, answer_locale};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Registers the routes of this module.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(invite)
        .service(team)
        .service(change_role)
        .service(remove)
        .service(transfer)
        .service(accept_invite)
        .service(audit_log)
        .service(edit_statement)
        .service(get_roster)
        .service(moderate)
        .service(get_dashboard);
}

/// Invite someone by email to organise or moderate the group (organisers).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path)), request_body = InviteRequest, responses(
    (status = 201, body = InviteView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/organisers")]
async fn invite(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<InviteRequest>,
) -> AppResult<HttpResponse> {
    let invite = state
        .write(async |txn| organisers::invite(txn, &state.ctx, &user, &slug, body.0).await)
        .await?;
    Ok(HttpResponse::Created().json(invite))
}

/// The group's owner, organisers and moderators, and its invitations (the team).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 200, body = TeamView), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/groups/{slug}/organisers")]
async fn team(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<TeamView>> {
    Ok(web::Json(organisers::team(&state.db, &user, &slug).await?))
}

/// Change a team member's role between organiser and moderator (organisers; not the owner's).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path), ("user_id" = i64, Path)), request_body = RoleChange, responses(
    (status = 200, body = TeamView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/groups/{slug}/organisers/{user_id}")]
async fn change_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    body: ApiJson<RoleChange>,
) -> AppResult<web::Json<TeamView>> {
    let (slug, target) = path.into_inner();
    Ok(web::Json(
        state
            .write(async |txn| {
                organisers::change_role(txn, &state.ctx, &user, &slug, target, body.0).await
            })
            .await?,
    ))
}

/// Remove someone's role (organisers; anyone but the owner may remove themselves).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path), ("user_id" = i64, Path)), responses(
    (status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[delete("/groups/{slug}/organisers/{user_id}")]
async fn remove(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> AppResult<HttpResponse> {
    let (slug, target) = path.into_inner();
    state
        .write(async |txn| organisers::remove(txn, &state.ctx, &user, &slug, target).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Hand the group to another member of its team (owner); the old owner stays an organiser.
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path)), request_body = TransferRequest, responses(
    (status = 200, body = TeamView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/groups/{slug}/transfer")]
async fn transfer(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<TransferRequest>,
) -> AppResult<web::Json<TeamView>> {
    Ok(web::Json(
        state
            .write(async |txn| organisers::transfer(txn, &state.ctx, &user, &slug, body.0).await)
            .await?,
    ))
}

/// Accept an invitation with the token from its link (verified account of the invited
/// address).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), request_body = AcceptInvite, responses(
    (status = 200, body = AcceptedInvite), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[post("/invites/accept")]
async fn accept_invite(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<AcceptInvite>,
) -> AppResult<web::Json<AcceptedInvite>> {
    Ok(web::Json(
        state
            .write(async |txn| organisers::accept(txn, &state.ctx, &user, &body.0.token).await)
            .await?,
    ))
}

/// The group's audit log of organiser actions, newest first (the team).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path), AuditQuery), responses(
    (status = 200, body = AuditPage), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/groups/{slug}/audit")]
async fn audit_log(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    q: ApiQuery<AuditQuery>,
) -> AppResult<web::Json<AuditPage>> {
    Ok(web::Json(
        organisers::audit_page(&state.db, &user, &slug, &q.0).await?,
    ))
}

/// Edit the joint statement and demands (organisers). After anyone signed the current version
/// this makes a new one and asks active participants to re-confirm.
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path)), request_body = StatementUpdate, responses(
    (status = 200, body = StatementView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[put("/groups/{slug}/statement")]
async fn edit_statement(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
    body: ApiJson<StatementUpdate>,
) -> AppResult<web::Json<StatementView>> {
    Ok(web::Json(
        state
            .write(async |txn| statement::edit(txn, &state.ctx, &user, &slug, body.0).await)
            .await?,
    ))
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

/// The roster (the team): JSON pages, or every match as CSV with `Accept: text/csv`
/// (UTF-8 with BOM, formula-like cells neutralised). Each JSON entry lists its integrity
/// signals (`flags`, reasons in the request's language); `flag` filters by them.
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path), RosterQuery), responses(
    (status = 200, content((RosterPage = "application/json"), (String = "text/csv"))),
    (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/groups/{slug}/roster")]
async fn get_roster(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    slug: web::Path<String>,
    q: ApiQuery<RosterQuery>,
) -> AppResult<HttpResponse> {
    let csv = wants_csv(&req);
    let page = roster::roster(&state.db, &user, &slug, &q.0, csv, answer_locale()).await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"roster-{slug}.csv\""),
            ))
            .body(roster::to_csv(&page)));
    }
    Ok(HttpResponse::Ok().json(page))
}

/// Approve, reject (the participant is emailed the reason) or mark as duplicate (the team).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path), ("participation_id" = i64, Path)), request_body = RosterAction, responses(
    (status = 200, body = RosterEntry), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/groups/{slug}/roster/{participation_id}")]
async fn moderate(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    body: ApiJson<RosterAction>,
) -> AppResult<web::Json<RosterEntry>> {
    let (slug, id) = path.into_inner();
    Ok(web::Json(
        state
            .write(async |txn| {
                roster::moderate(txn, &state.ctx, &user, &slug, id, body.0, answer_locale()).await
            })
            .await?,
    ))
}

/// The organisers' figures: joins, statuses, money, evidence, contacts, outcomes, the
/// submission clocks and the participants per integrity signal (the team).
#[utoipa::path(tag = "organisers", security(("bearer" = [])), params(("slug" = String, Path)), responses(
    (status = 200, body = Dashboard), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/groups/{slug}/dashboard")]
async fn get_dashboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    slug: web::Path<String>,
) -> AppResult<web::Json<Dashboard>> {
    Ok(web::Json(dashboard::dashboard(&state, &user, &slug).await?))
}
