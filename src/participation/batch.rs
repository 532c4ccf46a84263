//! The join writer's fast path: a batch of joins read with one query per table and written
//! with one multi-row statement per table, instead of nine statements per join.
//!
//! Every join is decided exactly as the one-join path decides it ([`admit`]), on rows read in
//! the writer's transaction. New participations are written together inside one savepoint; if
//! that fails (a row another writer made meanwhile, say), the savepoint is rolled back and
//! those joins are left to the one-join path, each in its own savepoint, so one bad join still
//! fails alone. Re-joins after a withdrawal, which update a row, always take the one-join path.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};

use super::service::{
    Joined, admit, already_joined, check_incident_date, check_open, join_confirmation,
    signature_row,
};
use super::writer::JoinJob;
use crate::entities::{groups, participations, providers, signatures, statement_versions};
use crate::error::{AppError, AppResult};
use crate::mail::outbox::enqueue_many;
use crate::state::Ctx;

/// What the batch's joins need from the database, read once for the whole batch.
struct Found {
    groups: HashMap<String, groups::Model>,
    statements: HashMap<i64, statement_versions::Model>,
    providers: HashMap<i64, providers::Model>,
    existing: HashMap<(i64, i64), participations::Model>,
}

async fn find(txn: &DatabaseTransaction, jobs: &[JoinJob]) -> Result<Found, DbErr> {
    let slugs: HashSet<&str> = jobs.iter().map(|j| j.slug.as_str()).collect();
    let groups: HashMap<String, groups::Model> = groups::Entity::find()
        .filter(groups::Column::Slug.is_in(slugs))
        .all(txn)
        .await?
        .into_iter()
        .map(|g| (g.slug.clone(), g))
        .collect();
    let group_ids: Vec<i64> = groups.values().map(|g| g.id).collect();
    let current: HashMap<i64, i32> = groups
        .values()
        .map(|g| (g.id, g.statement_version))
        .collect();
    let statements = statement_versions::Entity::find()
        .filter(statement_versions::Column::GroupId.is_in(group_ids.clone()))
        .all(txn)
        .await?
        .into_iter()
        .filter(|s| current.get(&s.group_id) == Some(&s.version))
        .map(|s| (s.group_id, s))
        .collect();
    let provider_ids: HashSet<i64> = groups.values().map(|g| g.provider_id).collect();
    let providers = providers::Entity::find()
        .filter(providers::Column::Id.is_in(provider_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let user_ids: HashSet<i64> = jobs.iter().map(|j| j.user.id).collect();
    let existing = participations::Entity::find()
        .filter(participations::Column::GroupId.is_in(group_ids))
        .filter(participations::Column::UserId.is_in(user_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| ((p.group_id, p.user_id), p))
        .collect();
    Ok(Found {
        groups,
        statements,
        providers,
        existing,
    })
}

/// Decides every job of the batch and writes the new joins together. Answers go into
/// `results`; the indices returned are the jobs left to the one-join path (re-joins, and the
/// new joins when writing them together failed).
///
/// # Errors
/// When the batch's rows cannot be read, or its savepoint cannot begin or end: the caller then
/// takes every unanswered job down the one-join path.
pub(super) async fn write_new(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    jobs: &[JoinJob],
    results: &mut [Option<AppResult<Joined>>],
) -> Result<Vec<usize>, DbErr> {
    let now = ctx.now();
    let today = ctx.settings.local_date(now);
    let found = find(txn, jobs).await?;
    let mut claimed = HashSet::new();
    let mut rows = Vec::new();
    let mut slow = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let decided = (|| {
            check_incident_date(job.req.incident_date, today)?;
            let group = found.groups.get(&job.slug).ok_or(AppError::NotFound)?;
            check_open(group)?;
            let statement = found.statements.get(&group.id).ok_or(AppError::NotFound)?;
            let existing = found.existing.get(&(group.id, job.user.id)).cloned();
            let row = admit(
                now,
                group,
                statement,
                existing,
                job.user.id,
                &job.req,
                job.network.clone(),
            )?;
            // A second join of the same user to the same group in this batch.
            if !claimed.insert((group.id, job.user.id)) {
                return Err(already_joined());
            }
            Ok((group, statement, row))
        })();
        match decided {
            Err(e) => results[i] = Some(Err(e)),
            Ok((_, _, row)) if !row.id.is_not_set() => slow.push(i),
            Ok((group, statement, row)) => rows.push((i, group, statement, row)),
        }
    }
    if rows.is_empty() {
        return Ok(slow);
    }
    // Rows in one order for every batch, so that two writers inserting the same pairs at once
    // (PostgreSQL) wait on each other's unique-index entries in the same order, never in a cycle.
    rows.sort_by_key(|(i, group, ..)| (group.id, jobs[*i].user.id));
    let savepoint = txn.begin().await?;
    let indices: Vec<usize> = rows.iter().map(|(i, ..)| *i).collect();
    match insert_together(&savepoint, ctx, jobs, &found, rows).await {
        Ok(joined) => {
            savepoint.commit().await?;
            for (i, j) in joined {
                results[i] = Some(Ok(j));
            }
        }
        Err(e) => {
            savepoint.rollback().await?;
            tracing::debug!(error = %e, joins = indices.len(), "joins written one by one");
            slow.extend(indices);
            slow.sort_unstable();
        }
    }
    Ok(slow)
}

type NewRow<'a> = (
    usize,
    &'a groups::Model,
    &'a statement_versions::Model,
    participations::ActiveModel,
);

async fn insert_together(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    jobs: &[JoinJob],
    found: &Found,
    rows: Vec<NewRow<'_>>,
) -> Result<Vec<(usize, Joined)>, DbErr> {
    let now = ctx.now();
    let meta: Vec<_> = rows.iter().map(|(i, g, s, _)| (*i, *g, *s)).collect();
    let mut written: HashMap<(i64, i64), participations::Model> =
        participations::Entity::insert_many(rows.into_iter().map(|(.., row)| row))
            .exec_with_returning(txn)
            .await?
            .into_iter()
            .map(|p| ((p.group_id, p.user_id), p))
            .collect();
    let mut made = Vec::with_capacity(meta.len());
    for (i, group, statement) in meta {
        let p = written
            .remove(&(group.id, jobs[i].user.id))
            .ok_or_else(|| DbErr::Custom("a joined row was not returned".into()))?;
        made.push((i, group, statement, p));
    }
    let mut signed: HashMap<i64, signatures::Model> = signatures::Entity::insert_many(
        made.iter()
            .map(|(i, _, statement, p)| signature_row(p.id, statement, &jobs[*i].req, now)),
    )
    .exec_with_returning(txn)
    .await?
    .into_iter()
    .map(|s| (s.participation_id, s))
    .collect();
    let mut joined = Vec::with_capacity(made.len());
    let mut emails = Vec::with_capacity(made.len());
    for (i, group, _, participation) in made {
        let signature = signed
            .remove(&participation.id)
            .ok_or_else(|| DbErr::Custom("a signature was not returned".into()))?;
        emails.push(join_confirmation(
            ctx,
            &jobs[i].user,
            group,
            found.providers.get(&group.provider_id),
            &participation,
            &signature,
        ));
        joined.push((
            i,
            Joined {
                group: group.clone(),
                participation,
                signature,
            },
        ));
    }
    enqueue_many(txn, emails, now, &ctx.mail_domain).await?;
    Ok(joined)
}
