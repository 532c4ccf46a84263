//! The join flow, at most three screens for a newcomer: an account (register, verify by the
//! emailed link, which brings them back here), then the statement form with the typed-name
//! signature of the displayed joint-statement version, then evidence and a contact-log entry
//! (both skippable), and a confirmation of what was signed. It calls the same service as
//! `POST /api/v1/groups/{slug}/participation`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use super::dto::{JoinRequest, Money, SignatureInput};
use super::service;
use crate::domain::{Currency, JoinNetwork};
use crate::entities::enums::ParticipationStatus;
use crate::error::AppError;
use crate::groups::access::find_mine;
use crate::groups::dto::GroupView;
use crate::groups::service::by_slug;
use crate::i18n::Locale;
use crate::pages::ctx::with_next;
use crate::pages::{Head, MessagePage, PageCtx};
use crate::state::AppState;

/// Registers the join-flow pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups/{slug}/join", web::get().to(join_form))
        .route("/groups/{slug}/join", web::post().to(join_submit))
        .route("/groups/{slug}/join/evidence", web::get().to(evidence_step))
        .route("/groups/{slug}/join/done", web::get().to(done));
}

/// Currencies offered in the form's list (any ISO 4217 code is accepted by the API).
const CURRENCIES: &[&str] = &["CNY", "HKD", "MOP", "TWD", "USD", "EUR", "JPY", "GBP"];

/// What the statement form shows and keeps after an error.
#[derive(Debug, Default, Deserialize)]
struct JoinForm {
    #[serde(default)]
    statement: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    incident_date: String,
    #[serde(default)]
    transaction_refs: String,
    consent_share_identity: Option<String>,
    consent_contact: Option<String>,
    #[serde(default)]
    full_name: String,
    agree: Option<String>,
    #[serde(default)]
    statement_version: i32,
}

/// The messages next to the statement form's fields.
#[derive(Debug, Default)]
struct JoinErrors {
    statement: Option<&'static str>,
    amount: Option<&'static str>,
    incident_date: Option<&'static str>,
    transaction_refs: Option<&'static str>,
    full_name: Option<&'static str>,
    agree: Option<&'static str>,
    /// The statement changed while the form was open: read and sign the new version.
    stale: bool,
}

impl JoinErrors {
    /// (field id, message) of every error, for the summary at the top.
    fn summary(&self) -> Vec<(&'static str, &'static str)> {
        [
            ("statement", self.statement),
            ("amount", self.amount),
            ("incident_date", self.incident_date),
            ("transaction_refs", self.transaction_refs),
            ("full_name", self.full_name),
            ("agree", self.agree),
        ]
        .into_iter()
        .filter_map(|(f, m)| m.map(|m| (f, m)))
        .collect()
    }
}

#[derive(Template)]
#[template(path = "pages/join.html")]
struct JoinPage<'a> {
    l: Locale,
    head: Head,
    csrf: String,
    g: Arc<GroupView>,
    form: &'a JoinForm,
    errors: JoinErrors,
    currencies: &'static [&'static str],
    today: String,
}

impl JoinPage<'_> {
    fn currency_selected(&self, code: &str) -> bool {
        if self.form.currency.is_empty() {
            code == "CNY"
        } else {
            self.form.currency == code
        }
    }
}

/// Where a signed-in participant's case lives.
fn my_case(slug: &str) -> String {
    format!("/account/groups/{slug}")
}

/// The step before the form, when there is one: an account, a verified address, or (already
/// joined) the participant's own case.
async fn before_form(state: &AppState, c: &PageCtx, slug: &str) -> Option<HttpResponse> {
    let here = crate::domain::LocalPath::parse(&format!("/groups/{slug}/join"));
    let Some(user) = &c.user else {
        return Some(c.redirect(&with_next("/register", here.as_ref()), None));
    };
    if !user.email_verified {
        let l = c.l;
        return Some(c.render(
            StatusCode::OK,
            &MessagePage {
                l,
                head: c.head(),
                title: l.t("page.join.verify_first_title"),
                message: l.t("page.join.verify_first").into(),
                ok: false,
                next: None,
            },
        ));
    }
    let group = match by_slug(&state.db, slug).await {
        Ok(g) => g,
        Err(e) => return Some(c.error(&e)),
    };
    match find_mine(&state.db, group.id, user.id).await {
        Ok(Some(p)) if p.status != ParticipationStatus::Withdrawn => {
            Some(c.redirect(&my_case(slug), Some("page.flash.join.already")))
        }
        Ok(_) => None,
        Err(e) => Some(c.error(&e)),
    }
}

fn form_page<'a>(
    state: &AppState,
    c: &PageCtx,
    g: Arc<GroupView>,
    form: &'a JoinForm,
    errors: JoinErrors,
) -> JoinPage<'a> {
    JoinPage {
        l: c.l,
        head: c.head(),
        csrf: c.csrf.clone(),
        g,
        form,
        errors,
        currencies: CURRENCIES,
        today: state.ctx.settings.local_date(state.ctx.now()).to_string(),
    }
}

async fn join_form(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    if let Some(res) = before_form(&state, &c, &slug).await {
        return res;
    }
    match state.views.public_view(&state.db, &slug).await {
        Ok(g) => {
            let form = JoinForm {
                statement_version: g.statement_version,
                ..JoinForm::default()
            };
            c.render(
                StatusCode::OK,
                &form_page(&state, &c, g, &form, JoinErrors::default()),
            )
        }
        Err(e) => c.error(&e),
    }
}

/// Reads the form into the API's request, or the messages for every field that is wrong.
fn to_request(l: Locale, form: &JoinForm, today: NaiveDate) -> Result<JoinRequest, JoinErrors> {
    let currency = Currency::parse(if form.currency.is_empty() {
        "CNY"
    } else {
        &form.currency
    })
    .ok();
    let amount = currency.and_then(|cur| Money::parse_decimal(&form.amount, cur).ok());
    let incident_date = NaiveDate::parse_from_str(form.incident_date.trim(), "%Y-%m-%d").ok();
    let req = JoinRequest {
        statement: form.statement.trim().to_owned(),
        // Placeholders while the typed text is wrong, so the other fields are still checked.
        amount_disputed: amount.unwrap_or(Money::from_stored(0, "CNY")),
        incident_date: incident_date.unwrap_or(today),
        transaction_refs: form
            .transaction_refs
            .lines()
            .flat_map(|l| l.split([',', '，', ';', '；']))
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        consent_share_identity: form.consent_share_identity.is_some(),
        consent_contact: form.consent_contact.is_some(),
        signature: SignatureInput {
            full_name: form.full_name.trim().to_owned(),
            statement_version: form.statement_version,
            agree: form.agree.is_some(),
        },
    };
    let mut errors = JoinErrors {
        amount: amount.is_none().then(|| l.t("page.join.error_amount")),
        incident_date: incident_date
            .is_none()
            .then(|| l.t("page.join.error_incident_date")),
        ..JoinErrors::default()
    };
    if let Err(e) = req.validate() {
        let bad = e.errors();
        let has = |f: &str| bad.contains_key(f);
        let sig = match bad.get("signature") {
            Some(validator::ValidationErrorsKind::Struct(s)) => s.errors().clone(),
            _ => Default::default(),
        };
        errors.statement = has("statement").then(|| l.t("page.join.error_statement"));
        if has("amount_disputed") {
            errors.amount = Some(l.t("page.join.error_amount"));
        }
        errors.transaction_refs = has("transaction_refs").then(|| l.t("page.join.error_refs"));
        errors.full_name = sig
            .contains_key("full_name")
            .then(|| l.t("page.join.error_full_name"));
        errors.agree = sig
            .contains_key("agree")
            .then(|| l.t("page.join.error_agree"));
    }
    if errors.summary().is_empty() {
        Ok(req)
    } else {
        Err(errors)
    }
}

async fn join_submit(
    state: web::Data<AppState>,
    http: HttpRequest,
    c: PageCtx,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form: JoinForm = match c.accept(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if let Some(res) = before_form(&state, &c, &slug).await {
        return res;
    }
    let l = c.l;
    let g = match state.views.public_view(&state.db, &slug).await {
        Ok(g) => g,
        Err(e) => return c.error(&e),
    };
    let invalid = |g, errors| {
        c.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form_page(&state, &c, g, &form, errors),
        )
    };
    let today = state.ctx.settings.local_date(state.ctx.now());
    let req = match to_request(l, &form, today) {
        Ok(r) => r,
        Err(errors) => return invalid(g, errors),
    };
    let Some(user) = c.user.as_ref() else {
        return c.error(&AppError::Unauthorized(
            "no_session",
            "sign in first".into(),
        ));
    };
    let network = JoinNetwork::of_client(&state.limits.client_key(&http));
    match service::join(&state, user, &slug, req, network).await {
        Ok(_) => c.redirect(
            &format!("/groups/{slug}/join/evidence"),
            Some("page.flash.join.signed"),
        ),
        Err(AppError::Conflict("statement_version_stale", _)) => {
            // The statement changed while the form was open: show the new one to sign.
            let fresh = match state.views.public_view(&state.db, &slug).await {
                Ok(g) => g,
                Err(e) => return c.error(&e),
            };
            invalid(
                fresh,
                JoinErrors {
                    stale: true,
                    ..JoinErrors::default()
                },
            )
        }
        Err(AppError::Validation(fields)) => {
            let errors = JoinErrors {
                incident_date: fields
                    .contains_key("incident_date")
                    .then(|| l.t("page.join.error_incident_date")),
                statement: fields
                    .contains_key("statement")
                    .then(|| l.t("page.join.error_statement")),
                transaction_refs: fields
                    .contains_key("transaction_refs")
                    .then(|| l.t("page.join.error_refs")),
                ..JoinErrors::default()
            };
            invalid(g, errors)
        }
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/join_evidence.html")]
struct EvidenceStep {
    l: Locale,
    head: Head,
    csrf: String,
    g: Arc<GroupView>,
    slug: String,
    /// Where the two forms come back to.
    next: String,
    evidence: Vec<crate::evidence::pages::EvidenceRow>,
    contacts: Vec<super::pages::ContactRow>,
    contact: crate::interactions::pages::ContactForm,
}

/// Step 3: evidence and a contact-log entry, both optional, with what was added so far. The
/// forms are My account's own (they come back here through `next`).
async fn evidence_step(
    state: web::Data<AppState>,
    c: PageCtx,
    slug: web::Path<String>,
) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u.clone(),
        Err(res) => return *res,
    };
    let l = c.l;
    let loaded = async {
        let evidence = crate::evidence::service::list_mine(&state, &user, &slug).await?;
        let contacts = crate::interactions::service::list_mine(&state, &user, &slug).await?;
        let tz = crate::interactions::pages::user_tz(&state, user.id).await?;
        let g = state.views.public_view(&state.db, &slug).await?;
        Ok::<_, AppError>((g, evidence, contacts, tz))
    };
    match loaded.await {
        Ok((g, evidence, contacts, tz)) => c.render(
            StatusCode::OK,
            &EvidenceStep {
                l,
                head: c.head(),
                csrf: c.csrf.clone(),
                g,
                next: format!("/groups/{slug}/join/evidence"),
                evidence: crate::evidence::pages::evidence_rows(l, &slug, evidence, tz),
                contacts: super::pages::contact_rows(l, contacts, tz),
                contact: crate::interactions::pages::ContactForm::default(),
                slug: slug.into_inner(),
            },
        ),
        Err(e) => c.error(&e),
    }
}

#[derive(Template)]
#[template(path = "pages/join_done.html")]
struct DonePage {
    l: Locale,
    head: Head,
    g: Arc<GroupView>,
    slug: String,
    pending: bool,
    signature: super::dto::SignatureView,
    signed_at: String,
}

/// What was signed (version, hash, when) and what happens next.
async fn done(state: web::Data<AppState>, c: PageCtx, slug: web::Path<String>) -> HttpResponse {
    let user = match c.require_user() {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let mine = match service::get_mine(&state, user, &slug).await {
        Ok(p) => p,
        Err(e) => return c.error(&e),
    };
    let Some(signature) = mine.signature else {
        return c.redirect(&format!("/groups/{slug}/join"), None);
    };
    let loaded = async {
        let tz = crate::interactions::pages::user_tz(&state, user.id).await?;
        let g = state.views.public_view(&state.db, &slug).await?;
        Ok::<_, AppError>((g, tz))
    };
    match loaded.await {
        Ok((g, tz)) => c.render(
            StatusCode::OK,
            &DonePage {
                l: c.l,
                head: c.head(),
                g,
                slug: slug.into_inner(),
                pending: mine.status == ParticipationStatus::Pending,
                signed_at: crate::interactions::pages::local_time(signature.signed_at, tz),
                signature,
            },
        ),
        Err(e) => c.error(&e),
    }
}
