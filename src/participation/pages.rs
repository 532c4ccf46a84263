//! "My case" (`/account/groups/{slug}`): the participant's own record in one group — status,
//! statement and amount as signed, the version and fingerprint signed — with re-signing after
//! the joint statement changed, the own outcome, withdrawing, and the evidence and contact
//! log of this group. Same services as `/api/v1/groups/{slug}/participation`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use super::dto::{ParticipantOutcome, ParticipationUpdate, ParticipationView, SignatureInput};
use super::service;
use crate::entities::enums::ParticipationStatus;
use crate::error::AppError;
use crate::evidence::pages::{EvidenceRow, evidence_rows};
use crate::groups::service::current_statement;
use crate::i18n::Locale;
use crate::interactions::pages::{ContactForm, local_time, user_tz};
use crate::pages::{Head, PageCtx};
use crate::state::AppState;

/// Registers the "my case" pages.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/groups/{slug}", web::get().to(case))
        .route(
            "/account/groups/{slug}/outcome",
            web::post().to(outcome_submit),
        )
        .route("/account/groups/{slug}/sign", web::post().to(sign_submit))
        .route(
            "/account/groups/{slug}/withdraw",
            web::get().to(withdraw_form),
        )
        .route(
            "/account/groups/{slug}/withdraw",
            web::post().to(withdraw_submit),
        );
}

/// The address of the participant's page of group `slug`.
#[must_use]
pub fn case_path(slug: &str) -> String {
    format!("/account/groups/{slug}")
}

/// What a form posted to another address leaves on the page shown again (with 422).
#[derive(Debug, Default)]
pub struct CaseExtras {
    /// The message of a refused upload.
    pub upload_error: Option<String>,
    /// The contact form as posted, with its messages.
    pub contact: Option<ContactForm>,
    /// The re-sign form's name as posted, and its messages (name, agreement).
    pub resign: Option<(String, Option<&'static str>, Option<&'static str>)>,
}

impl CaseExtras {
    fn has_errors(&self) -> bool {
        self.upload_error.is_some()
            || self
                .contact
                .as_ref()
                .is_some_and(|c| !c.error_list().is_empty())
            || self
                .resign
                .as_ref()
                .is_some_and(|r| r.1.is_some() || r.2.is_some())
    }
}

/// One logged contact, as listed.
pub struct ContactRow {
    /// Entry id.
    pub id: i64,
    /// When, in the user's zone.
    pub when: String,
    /// The channel's label.
    pub channel: &'static str,
    /// The outcome's label.
    pub outcome: &'static str,
    /// Agent.
    pub agent: String,
    /// Ticket.
    pub ticket_ref: String,
    /// What was said.
    pub summary: String,
}

/// The participant's logged contacts as listed, times in `tz`.
#[must_use]
pub fn contact_rows(
    l: Locale,
    contacts: Vec<crate::entities::interactions::Model>,
    tz: chrono_tz::Tz,
) -> Vec<ContactRow> {
    contacts
        .into_iter()
        .map(|m| ContactRow {
            id: m.id,
            when: local_time(m.occurred_at, tz),
            channel: l.tk("page.contact_form.channel", m.channel),
            outcome: l.tk("page.contact_form.outcome", m.outcome),
            agent: m.agent,
            ticket_ref: m.ticket_ref,
            summary: m.summary,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "pages/my_case.html")]
struct CasePage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    next: String,
    title: String,
    group_status: &'static str,
    p: ParticipationView,
    signed_at: String,
    open: bool,
    resign: Option<(i32, String)>,
    resign_name: String,
    resign_name_error: Option<&'static str>,
    resign_agree_error: Option<&'static str>,
    outcomes: Vec<(&'static str, &'static str, bool)>,
    evidence: Vec<EvidenceRow>,
    contacts: Vec<ContactRow>,
    contact: ContactForm,
    upload_error: Option<String>,
    errors: Vec<(&'static str, String)>,
}

/// Renders the participant's page of `slug` for the signed-in user (or the log-in redirect),
/// with what a refused form left; 422 when it carries messages.
pub async fn case_page(
    state: &AppState,
    c: &PageCtx,
    slug: &str,
    extras: CaseExtras,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let l = c.l;
    let loaded = async {
        let (group, p) = service::require_mine(&state.db, slug, user.id).await?;
        let resign = if service::needs_resign(&group, &p) {
            let s = current_statement(&state.db, &group).await?;
            Some((s.version, s.joint_statement))
        } else {
            None
        };
        let open = matches!(
            p.status,
            ParticipationStatus::Pending | ParticipationStatus::Active
        );
        let view = service::view(&state.db, &group, p).await?;
        let evidence = crate::evidence::service::list_mine(state, &user, slug).await?;
        let contacts = crate::interactions::service::list_mine(state, &user, slug).await?;
        let tz = user_tz(state, user.id).await?;
        Ok::<_, AppError>((group, view, open, resign, evidence, contacts, tz))
    };
    let (group, view, open, resign, evidence, contacts, tz) = match loaded.await {
        Ok(x) => x,
        Err(e) => return c.error(&e),
    };
    let status = if extras.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let contact = extras.contact.unwrap_or_default();
    let (resign_name, resign_name_error, resign_agree_error) = extras.resign.unwrap_or_default();
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    if let Some(e) = &extras.upload_error {
        errors.push(("evidence-file", e.clone()));
    }
    if let Some(e) = resign_name_error {
        errors.push(("resign-name", e.to_owned()));
    }
    if let Some(e) = resign_agree_error {
        errors.push(("resign-agree", e.to_owned()));
    }
    errors.extend(
        contact
            .error_list()
            .into_iter()
            .map(|(id, m)| (id, m.to_owned())),
    );
    let page = CasePage {
        l,
        head: c.head(),
        csrf: c.csrf.clone(),
        slug: slug.to_owned(),
        next: case_path(slug),
        title: group.title.clone(),
        group_status: l.tk("page.group_status", group.status),
        signed_at: view
            .signature
            .as_ref()
            .map(|s| local_time(s.signed_at, tz))
            .unwrap_or_default(),
        outcomes: ParticipantOutcome::all()
            .into_iter()
            .map(|o| (o.as_str(), l.tk("page.my.outcome", o), o == view.outcome))
            .collect(),
        p: view,
        open,
        resign,
        resign_name,
        resign_name_error,
        resign_agree_error,
        evidence: evidence_rows(l, slug, evidence, tz),
        contacts: contact_rows(l, contacts, tz),
        contact,
        upload_error: extras.upload_error,
        errors,
    };
    c.render(status, &page)
}

async fn case(state: web::Data<AppState>, c: PageCtx, slug: web::Path<String>) -> HttpResponse {
    case_page(&state, &c, &slug, CaseExtras::default()).await
}

#[derive(Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    outcome: String,
}

async fn outcome_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: OutcomeForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let Ok(outcome) = serde_json::from_value::<ParticipantOutcome>(serde_json::Value::String(
        form.outcome.trim().to_owned(),
    )) else {
        return c.error(&AppError::field("outcome", "choose one of the answers"));
    };
    let upd = ParticipationUpdate {
        statement: None,
        amount_disputed: None,
        incident_date: None,
        transaction_refs: None,
        consent_share_identity: None,
        consent_contact: None,
        outcome: Some(outcome),
    };
    let saved = state
        .write(async |txn| service::update_mine(txn, &state.ctx, &user, &slug, upd).await)
        .await;
    match saved {
        Ok(_) => c.redirect(&case_path(&slug), Some("page.flash.my.outcome_saved")),
        Err(e) => c.error(&e),
    }
}

#[derive(Deserialize)]
struct SignForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    statement_version: i32,
    agree: Option<String>,
}

async fn sign_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: SignForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let req = SignatureInput {
        full_name: form.full_name.trim().to_owned(),
        statement_version: form.statement_version,
        agree: form.agree.is_some(),
    };
    if let Err(e) = req.validate() {
        let bad = e.field_errors();
        let name = bad
            .contains_key("full_name")
            .then(|| c.l.t("page.my.error_name"));
        let agree = bad
            .contains_key("agree")
            .then(|| c.l.t("page.my.error_agree"));
        if name.is_some() || agree.is_some() {
            let extras = CaseExtras {
                resign: Some((req.full_name, name, agree)),
                ..CaseExtras::default()
            };
            return case_page(&state, &c, &slug, extras).await;
        }
        return c.error(&AppError::from(e));
    }
    let signed = state
        .write(async |txn| super::sign::sign(txn, &state.ctx, &user, &slug, req).await)
        .await;
    match signed {
        Ok(_) => c.redirect(&case_path(&slug), Some("page.flash.my.resigned")),
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/my_withdraw.html")]
struct WithdrawPage {
    l: Locale,
    head: Head,
    csrf: String,
    slug: String,
    title: String,
}

async fn withdraw_form(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    match service::require_mine(&state.db, &slug, user.id).await {
        Ok((_, p)) if p.status == ParticipationStatus::Withdrawn => c.error(&AppError::NotFound),
        Ok((group, _)) => c.render(
            StatusCode::OK,
            &WithdrawPage {
                l: c.l,
                head: c.head(),
                csrf: c.csrf.clone(),
                slug: slug.into_inner(),
                title: group.title,
            },
        ),
        Err(e) => c.error(&e),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn withdraw_submit(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = c.accept::<Empty>(&body) {
        return *res;
    }
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let done = state
        .write(async |txn| service::withdraw(txn, &state.ctx, &user, &slug).await)
        .await;
    match done {
        Ok(()) => c.redirect("/account", Some("page.flash.my.withdrawn")),
        Err(e) => c.error(&e),
    }
}
