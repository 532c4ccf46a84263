//! A participant's file for the group's team (`/groups/{slug}/manage/roster/{id}`): what they
//! declared and signed, their evidence with downloads
//! (`/groups/{slug}/manage/roster/{id}/evidence/{evidence_id}`) and their contact log with the
//! provider. Read-only: moderation stays on the roster's forms (the same path's POST). Who may
//! read it is decided by [`roster::participant`] and [`roster::participant_evidence`]
//! (moderators and up); everyone else gets 403, or 404 for what does not exist.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::manage_pages::{FlagLine, amount_label, flag_lines, signed_label};
use super::roster::{self, ParticipantFile};
use crate::error::AppError;
use crate::evidence::pages::{EvidenceRow, evidence_rows};
use crate::i18n::Locale;
use crate::interactions::pages::user_tz;
use crate::pages::{Head, PageCtx};
use crate::participation::pages::{ContactRow, contact_rows};
use crate::responses::deadlines::local_date;
use crate::state::AppState;

/// Registers the file page and its downloads (the path's POST is the roster's moderation).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/groups/{slug}/manage/roster/{id}",
        web::get().to(participant_page),
    )
    .route(
        "/groups/{slug}/manage/roster/{id}/evidence/{evidence_id}",
        web::get().to(evidence_download),
    );
}

#[derive(Template)]
#[template(path = "pages/manage_participant.html")]
struct ParticipantPage {
    l: Locale,
    head: Head,
    slug: String,
    group_title: String,
    id: i64,
    number: i64,
    name: String,
    display_name: String,
    email: String,
    status_key: &'static str,
    status: &'static str,
    reason: Option<String>,
    duplicate_of: Option<i64>,
    statement: String,
    amount: String,
    incident_date: String,
    refs: Vec<String>,
    signed: String,
    signature_current: bool,
    share_identity: bool,
    contact_ok: bool,
    outcome: &'static str,
    joined: String,
    evidence: Vec<EvidenceRow>,
    contacts: Vec<ContactRow>,
    /// Integrity signals, for the team.
    flags: Vec<FlagLine>,
}

impl ParticipantPage {
    fn new(l: Locale, head: Head, slug: &str, f: ParticipantFile, tz: chrono_tz::Tz) -> Self {
        let e = f.entry;
        Self {
            l,
            head,
            slug: slug.to_owned(),
            group_title: f.group.title,
            id: e.participation_id,
            number: e.number,
            name: e.full_name.unwrap_or_else(|| e.display_name.clone()),
            display_name: e.display_name,
            email: e.email,
            status_key: e.status.as_str(),
            status: l.tk("page.my.status", e.status),
            reason: e.rejection_reason,
            duplicate_of: e.duplicate_of,
            statement: f.statement,
            amount: amount_label(&e.amount_disputed),
            incident_date: e.incident_date.to_string(),
            refs: e.transaction_refs,
            signed: signed_label(l, e.signed_statement_version),
            signature_current: e.signature_current,
            share_identity: e.consent_share_identity,
            contact_ok: e.consent_contact,
            outcome: l.tk("page.my.outcome", e.outcome),
            joined: local_date(e.joined_at).to_string(),
            evidence: evidence_rows(l, slug, f.evidence, tz),
            contacts: contact_rows(l, f.contacts, tz),
            flags: flag_lines(l, e.flags),
        }
    }
}

async fn participant_page(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, id) = path.into_inner();
    let loaded = async {
        let file = roster::participant(&state.db, &user, &slug, id, c.l).await?;
        let tz = user_tz(&state, user.id).await?;
        Ok::<_, AppError>((file, tz))
    };
    match loaded.await {
        Ok((file, tz)) => c.render(
            StatusCode::OK,
            &ParticipantPage::new(c.l, c.head(), &slug, file, tz),
        ),
        Err(e) => c.error(&e),
    }
}

async fn evidence_download(
    state: web::Data<AppState>,
    c: PageCtx,
    path: web::Path<(String, i64, i64)>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let (slug, id, evidence_id) = path.into_inner();
    let got = async {
        roster::participant_evidence(&state.db, &user, &slug, id, evidence_id).await?;
        crate::evidence::service::content(&state, &user, evidence_id).await
    };
    match got.await {
        Ok((item, bytes)) => crate::evidence::api::attachment(&item, bytes),
        Err(e) => c.error(&e),
    }
}
