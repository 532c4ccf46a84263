//! The joint statement and demands, versioned. An edit before anyone signed the current
//! version changes it in place; after a signature it makes a new version, and every active
//! participant is asked by email to re-confirm (a job, [`Reconfirm`], queued with the new
//! version: a large group's emails are not written inside the request). Each signature keeps
//! the version it signed.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde_json::json;

use super::access::{Role, require_role};
use super::dto::Demand;
use super::service::{audit, by_slug, current_statement};
use super::team_dto::{StatementUpdate, StatementView};
use crate::auth::CurrentUser;
use crate::auth::tokens::sha256_hex;
use crate::entities::enums::{GroupStatus, ParticipationStatus};
use crate::entities::{groups, participations, signatures, statement_versions, users};
use crate::error::AppError;
use crate::error::AppResult;
use crate::i18n::Locale;
use crate::mail::kinds;
use crate::mail::outbox::{NewEmail, enqueue};
use crate::state::Ctx;

/// Whether anyone signed version `version` of the group's statement.
async fn signed_by_anyone(
    conn: &impl ConnectionTrait,
    group_id: i64,
    version: i32,
) -> AppResult<bool> {
    Ok(signatures::Entity::find()
        .inner_join(participations::Entity)
        .filter(participations::Column::GroupId.eq(group_id))
        .filter(signatures::Column::StatementVersion.eq(version))
        .count(conn)
        .await?
        > 0)
}

/// Edits the joint statement and demands (organisers).
///
/// # Errors
/// 403 unless an organiser; 404 unknown group.
pub async fn edit(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user: &CurrentUser,
    slug: &str,
    req: StatementUpdate,
) -> AppResult<StatementView> {
    let now = ctx.now();
    let demands: Vec<Demand> = req.demands.into_iter().map(|d| d.into_demand()).collect();
    let demands_json = serde_json::to_string(&demands).map_err(anyhow::Error::from)?;
    let text = req.joint_statement.trim().to_owned();
    let sha256 = sha256_hex(text.as_bytes());
    let group = by_slug(conn, slug).await?;
    let group = require_role(conn, group, user.id, Role::Organiser)
        .await?
        .into_group();
    if group.status == GroupStatus::Closed {
        return Err(AppError::conflict(
            "group_closed",
            "the group is closed; its statement can no longer change",
        ));
    }
    let current = current_statement(conn, &group).await?;
    if current.sha256 == sha256 && current.demands == demands_json {
        return Ok(StatementView {
            version: current.version,
            joint_statement: current.joint_statement,
            demands,
            sha256,
            new_version: false,
            reconfirm_requested: 0,
        });
    }
    let new_version = signed_by_anyone(conn, group.id, current.version).await?;
    let version = if new_version {
        current.version + 1
    } else {
        current.version
    };
    if new_version {
        statement_versions::ActiveModel {
            group_id: Set(group.id),
            version: Set(version),
            joint_statement: Set(text.clone()),
            demands: Set(demands_json.clone()),
            sha256: Set(sha256.clone()),
            created_by: Set(Some(user.id)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    } else {
        let mut row: statement_versions::ActiveModel = current.into();
        row.joint_statement = Set(text.clone());
        row.demands = Set(demands_json.clone());
        row.sha256 = Set(sha256.clone());
        row.update(conn).await?;
    }
    let group_id = group.id;
    let mut active: groups::ActiveModel = group.into();
    active.statement_version = Set(version);
    active.demands = Set(demands_json);
    active.updated_at = Set(now);
    active.update(conn).await?;
    let reconfirm_requested = if new_version {
        crate::jobs::enqueue(conn, &Reconfirm { group_id, version }, now).await?;
        participations::Entity::find()
            .filter(participations::Column::GroupId.eq(group_id))
            .filter(participations::Column::Status.eq(ParticipationStatus::Active))
            .count(conn)
            .await?
    } else {
        0
    };
    audit(
        conn,
        group_id,
        user.id,
        if new_version {
            "statement.new_version"
        } else {
            "statement.edit"
        },
        Some(version.to_string()),
        json!({"version": version, "sha256": sha256, "reconfirm_requested": reconfirm_requested}),
        now,
    )
    .await?;
    Ok(StatementView {
        version,
        joint_statement: text,
        demands,
        sha256,
        new_version,
        reconfirm_requested,
    })
}

/// The job that asks every active participant of a group to read and sign a new version.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Reconfirm {
    /// The group.
    pub group_id: i64,
    /// The new version.
    pub version: i32,
}

impl crate::jobs::Job for Reconfirm {
    const KIND: &'static str = "statement.reconfirm";

    fn dedupe_key(&self) -> String {
        format!("statement.reconfirm:{}:{}", self.group_id, self.version)
    }

    async fn run(
        self,
        state: std::sync::Arc<crate::state::AppState>,
        _attempt: i32,
    ) -> anyhow::Result<()> {
        let Some(group) = groups::Entity::find_by_id(self.group_id)
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        // A newer version has a job of its own.
        if group.statement_version != self.version {
            return Ok(());
        }
        let Some(statement) = statement_versions::Entity::find()
            .filter(statement_versions::Column::GroupId.eq(group.id))
            .filter(statement_versions::Column::Version.eq(self.version))
            .one(&state.db)
            .await?
        else {
            return Ok(());
        };
        let queued = state
            .write(async |txn| {
                queue_reconfirm(
                    &state.ctx,
                    txn,
                    &group,
                    &statement.joint_statement,
                    state.now(),
                )
                .await
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(
            group_id = group.id,
            version = self.version,
            queued,
            "re-confirmations queued"
        );
        Ok(())
    }
}

/// Asks every active participant to read and sign the new version.
async fn queue_reconfirm(
    ctx: &Ctx,
    txn: &impl ConnectionTrait,
    group: &groups::Model,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<u64> {
    let rows = participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group.id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .find_also_related(users::Entity)
        .all(txn)
        .await?;
    let mut queued = 0;
    for (p, u) in rows {
        let Some(u) = u else { continue };
        let locale = Locale::parse_lenient(&u.locale);
        let content = kinds::reconfirm(
            locale,
            &u.display_name,
            &group.title,
            group.statement_version,
            text,
            // The participant's own page, where the new version is signed.
            &format!("{}/account/groups/{}", ctx.public_url, group.slug),
        );
        let email = NewEmail {
            kind: "reconfirm",
            recipient: u.email.clone(),
            user_id: Some(u.id),
            content,
            idempotency_key: format!("reconfirm:{}:{}", p.id, group.statement_version),
            headers: Vec::new(),
        };
        if enqueue(txn, email, now, &ctx.mail_domain).await? {
            queued += 1;
        }
    }
    Ok(queued)
}
