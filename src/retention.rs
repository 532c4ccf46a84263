//! Retention (DESIGN §8): the evidence of a closed group is deleted `LIANMING_RETENTION_DAYS`
//! (default 365) after closing, with a notice by email to its participants 30 days before;
//! then the participants' personal data in the group is anonymised — signed names become
//! "参与者 #n", statements, transaction references, contact logs and the joins' client
//! networks are removed, nobody stays contactable — while counts, amounts and the issued dossiers (their files and hashes) stay.
//!
//! The sweep runs once a day as a job ([`RetentionSweep`], queued by the scheduler), so one
//! instance does it however many run.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::blob::refs;
use crate::db;
use crate::entities::enums::{GroupStatus, ParticipationStatus};
use crate::entities::{
    dossier_evidence, evidence, groups, interactions, participations, signatures,
};
use crate::error::AppResult;
use crate::i18n::Locale;
use crate::jobs::Job;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::state::AppState;

/// Days before the deletion that participants are told.
pub const NOTICE_DAYS: i64 = 30;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Notices queued.
    pub notices: usize,
    /// Groups whose evidence was deleted and participants anonymised.
    pub groups_anonymised: usize,
    /// Evidence items deleted.
    pub evidence_deleted: usize,
}

/// The daily retention sweep, one job per day.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct RetentionSweep {
    /// The day it is for (UTC).
    pub day: NaiveDate,
}

impl Job for RetentionSweep {
    const KIND: &'static str = "retention.sweep";

    fn dedupe_key(&self) -> String {
        format!("retention.sweep:{}", self.day)
    }

    async fn run(self, state: Arc<AppState>, _attempt: i32) -> anyhow::Result<()> {
        let report = sweep(&state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if report != Report::default() {
            tracing::info!(?report, "retention sweep");
        }
        Ok(())
    }
}

/// Queues today's sweep (nothing when it is already queued or done).
///
/// # Errors
/// A database failure.
pub async fn queue_today(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let now = state.now();
    if crate::jobs::enqueue(
        &state.db,
        &RetentionSweep {
            day: now.date_naive(),
        },
        now,
    )
    .await?
    .is_some()
    {
        state.jobs.wake.notify_one();
    }
    Ok(())
}

fn retention(state: &AppState) -> Duration {
    Duration::days(state.ctx.settings.retention_days)
}

/// Closed groups not yet anonymised that closed before `before`.
async fn closed_before(state: &AppState, before: DateTime<Utc>) -> AppResult<Vec<groups::Model>> {
    Ok(groups::Entity::find()
        .filter(groups::Column::Status.eq(GroupStatus::Closed))
        .filter(groups::Column::AnonymisedAt.is_null())
        .filter(groups::Column::ClosedAt.lte(before))
        .order_by_asc(groups::Column::Id)
        .all(&state.db)
        .await?)
}

/// Sends the notices that are due and anonymises the groups whose time has come.
///
/// # Errors
/// Database or storage failures (what was done before stays done; the next sweep goes on).
pub async fn sweep(state: &AppState) -> AppResult<Report> {
    let now = state.now();
    let keep = retention(state);
    let mut report = Report::default();
    for group in closed_before(state, now - keep + Duration::days(NOTICE_DAYS)).await? {
        let Some(closed) = group.closed_at else {
            continue;
        };
        if closed + keep <= now {
            report.evidence_deleted += anonymise(state, &group, now).await?;
            report.groups_anonymised += 1;
        } else {
            report.notices += notify(state, &group, (closed + keep).date_naive()).await?;
        }
    }
    if report.notices > 0 {
        state.mail_wake.notify_one();
    }
    Ok(report)
}

/// Queues the notice to each active participant, once per participant.
async fn notify(state: &AppState, group: &groups::Model, delete_on: NaiveDate) -> AppResult<usize> {
    let now = state.now();
    let members = crate::notify::members::of_group(&state.db, group.id, now).await?;
    let url = format!("{}/groups/{}", state.ctx.public_url, group.slug);
    let txn = db::write_txn(&state.db).await?;
    let mut queued = 0;
    for m in members {
        let Some(p) = m
            .participation
            .as_ref()
            .filter(|p| p.status == ParticipationStatus::Active)
        else {
            continue;
        };
        let l = Locale::parse_lenient(&m.user.locale);
        let content =
            kinds::retention_notice(l, &m.user.display_name, &group.title, delete_on, &url);
        let email = NewEmail {
            kind: "retention_notice",
            recipient: m.user.email.clone(),
            user_id: Some(m.user.id),
            content,
            idempotency_key: format!("retention_notice:{}:{}", group.id, p.id),
            headers: Vec::new(),
        };
        queued += usize::from(enqueue(&txn, email, now, &state.ctx.mail_domain).await?);
    }
    txn.commit().await?;
    Ok(queued)
}

/// Deletes the group's evidence (and the issued dossiers' hold on it; their bundles stay
/// whole) and anonymises its participants; returns the evidence items deleted.
async fn anonymise(
    state: &AppState,
    group: &groups::Model,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let txn = db::write_txn(&state.db).await?;
    let items = evidence::Entity::find()
        .filter(evidence::Column::GroupId.eq(group.id))
        .all(&txn)
        .await?;
    let sha_of: HashMap<i64, &str> = items.iter().map(|e| (e.id, e.sha256.as_str())).collect();
    let ids: Vec<i64> = items.iter().map(|e| e.id).collect();
    let mut shas = Vec::new();
    for chunk in ids.chunks(500) {
        let pins = dossier_evidence::Entity::find()
            .filter(dossier_evidence::Column::EvidenceId.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?;
        // Each dossier's pin holds a reference of its own.
        for pin in &pins {
            if let Some(sha) = sha_of.get(&pin.evidence_id) {
                refs::release(&txn, sha).await?;
                shas.push((*sha).to_owned());
            }
        }
        dossier_evidence::Entity::delete_many()
            .filter(dossier_evidence::Column::EvidenceId.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    for item in &items {
        refs::release(&txn, &item.sha256).await?;
        shas.push(item.sha256.clone());
    }
    evidence::Entity::delete_many()
        .filter(evidence::Column::GroupId.eq(group.id))
        .exec(&txn)
        .await?;

    // Numbers as the roster gives them: by order of joining.
    let parts: Vec<i64> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Id)
        .filter(participations::Column::GroupId.eq(group.id))
        .order_by_asc(participations::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let numbers: HashMap<i64, usize> = parts.iter().copied().zip(1..).collect();
    for chunk in parts.chunks(500) {
        interactions::Entity::delete_many()
            .filter(interactions::Column::ParticipationId.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
        participations::Entity::update_many()
            .col_expr(participations::Column::Statement, Expr::value(""))
            .col_expr(participations::Column::TransactionRefs, Expr::value("[]"))
            .col_expr(participations::Column::ConsentContact, Expr::value(false))
            .col_expr(
                participations::Column::JoinNetwork,
                Expr::value(Option::<String>::None),
            )
            .col_expr(participations::Column::UpdatedAt, Expr::value(now))
            .filter(participations::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
        let sigs = signatures::Entity::find()
            .filter(signatures::Column::ParticipationId.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?;
        for sig in sigs {
            let n = numbers.get(&sig.participation_id).copied().unwrap_or(0);
            let mut active: signatures::ActiveModel = sig.into();
            active.full_name = Set(anonymous_name(n));
            active.update(&txn).await?;
        }
    }
    let mut active: groups::ActiveModel = group.clone().into();
    active.anonymised_at = Set(Some(now));
    active.update(&txn).await?;
    txn.commit().await?;
    state.views.invalidate();
    shas.sort();
    shas.dedup();
    refs::collect(&state.db, state.blobs.as_ref(), &shas)
        .await
        .map_err(crate::error::AppError::Internal)?;
    Ok(items.len())
}

/// The name an anonymised participant `n` goes by.
#[must_use]
pub fn anonymous_name(n: usize) -> String {
    format!("参与者 #{n}")
}
