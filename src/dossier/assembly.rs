//! What goes into one dossier version, read from the database: the group, its provider and
//! statement, and every active participant with a signature — disclosed per the tier — with
//! their evidence, which the dossier pins (a `dossier_evidence` row and one more blob
//! reference each) so deleting it later keeps the content the dossier holds.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};

use super::dto::Tier;
use super::manifest::{ProviderNames, SignatureRecord};
use crate::blob::{BlobStore, refs};
use crate::db;
use crate::entities::enums::{EvidenceStatus, ParticipationStatus};
use crate::entities::{
    blobs, dossier_evidence, dossiers, evidence, groups, interactions, participations, providers,
    signatures, statement_versions, users,
};
use crate::groups::dto::Demand;

/// Rows per `IN (…)` list, well under every database's parameter limit.
const CHUNK: usize = 500;

/// An evidence file in the bundle.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    /// The evidence item.
    pub evidence_id: i64,
    /// Path in the bundle.
    pub path: String,
    /// SHA-256 of the content (the blob key).
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Evidence kind.
    pub kind: String,
    /// Content type.
    pub content_type: String,
}

/// A participant as this dossier's tier discloses them.
#[derive(Debug, Clone)]
pub struct Participant {
    /// The participation (not disclosed; used to find evidence).
    pub participation_id: i64,
    /// Stable number in the group (order of joining).
    pub number: i64,
    /// Name, only when they share their identity and the tier shows names.
    pub name: Option<String>,
    /// Email, only when they also consented to be contacted and the tier shows contacts.
    pub email: Option<String>,
    /// Their own statement.
    pub statement: String,
    /// Amount disputed, minor units.
    pub amount_minor: i64,
    /// ISO currency.
    pub currency: String,
    /// Incident date.
    pub incident_date: NaiveDate,
    /// Transaction references (identified participants only).
    pub transaction_refs: Vec<String>,
    /// Their latest signature.
    pub signature: SignatureRecord,
    /// Their evidence files (none in the public tier).
    pub evidence: Vec<EvidenceFile>,
    /// Contacts with customer service they logged.
    pub contacts: i64,
}

impl Participant {
    /// Their name, or "参与者 #n" when anonymous.
    #[must_use]
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("参与者 #{}", self.number))
    }
}

/// Contacts with customer service, over all included participants.
#[derive(Debug, Clone, Default)]
pub struct ContactSummary {
    /// Logged contacts.
    pub total: i64,
    /// Participants who logged at least one.
    pub participants: i64,
    /// First and last contact.
    pub first: Option<DateTime<Utc>>,
    /// Last contact.
    pub last: Option<DateTime<Utc>>,
    /// Count per channel.
    pub by_channel: BTreeMap<String, i64>,
}

/// Everything a dossier version is made from.
#[derive(Debug, Clone)]
pub struct Assembly {
    /// The dossier row.
    pub dossier: dossiers::Model,
    /// Tier.
    pub tier: Tier,
    /// The group.
    pub group: groups::Model,
    /// Demands of the statement version.
    pub demands: Vec<Demand>,
    /// The provider.
    pub provider: ProviderNames,
    /// The statement version carried.
    pub statement: statement_versions::Model,
    /// Who compiled it.
    pub author: Option<String>,
    /// Included participants, by number.
    pub participants: Vec<Participant>,
    /// Contact history.
    pub contacts: ContactSummary,
    /// Base URL for links.
    pub public_url: String,
}

fn extension(content_type: &str) -> &'static str {
    crate::evidence::sniff::extension_of(content_type).unwrap_or("bin")
}

/// Reads what the dossier `d` is made of (participants with a signature of some statement
/// version and status active).
///
/// # Errors
/// Database failures, or a group, provider or statement that has gone.
pub async fn gather(
    conn: &impl ConnectionTrait,
    d: &dossiers::Model,
    public_url: &str,
) -> anyhow::Result<Assembly> {
    let tier = Some(d.tier).ok_or_else(|| anyhow::anyhow!("unknown tier {}", d.tier))?;
    let group = groups::Entity::find_by_id(d.group_id)
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the group is gone"))?;
    let provider = providers::Entity::find_by_id(group.provider_id)
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the provider is gone"))?;
    let statement = statement_versions::Entity::find()
        .filter(statement_versions::Column::GroupId.eq(group.id))
        .filter(statement_versions::Column::Version.eq(d.statement_version))
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("statement version {} is gone", d.statement_version))?;
    let author = match d.author_id {
        Some(id) => users::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|u| u.display_name),
        None => None,
    };
    let numbers: HashMap<i64, i64> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Id)
        .filter(participations::Column::GroupId.eq(group.id))
        .order_by_asc(participations::Column::Id)
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .into_iter()
        .zip(1..)
        .collect();
    let rows = participations::Entity::find()
        .filter(participations::Column::GroupId.eq(group.id))
        .filter(participations::Column::Status.eq(ParticipationStatus::Active))
        .filter(participations::Column::SignedStatementVersion.is_not_null())
        .order_by_asc(participations::Column::Id)
        .all(conn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let user_ids: Vec<i64> = rows.iter().map(|p| p.user_id).collect();
    let mut sigs: HashMap<i64, signatures::Model> = HashMap::new();
    let mut emails: HashMap<i64, String> = HashMap::new();
    let mut contact_counts: HashMap<i64, i64> = HashMap::new();
    let mut contacts = ContactSummary::default();
    for chunk in ids.chunks(CHUNK) {
        let found = signatures::Entity::find()
            .filter(signatures::Column::ParticipationId.is_in(chunk.iter().copied()))
            .order_by_asc(signatures::Column::StatementVersion)
            .order_by_asc(signatures::Column::Id)
            .all(conn)
            .await?;
        // The latest signature wins.
        sigs.extend(found.into_iter().map(|s| (s.participation_id, s)));
        let logged = interactions::Entity::find()
            .filter(interactions::Column::ParticipationId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        for i in logged {
            *contact_counts.entry(i.participation_id).or_default() += 1;
            *contacts
                .by_channel
                .entry(i.channel.to_string())
                .or_default() += 1;
            contacts.total += 1;
            contacts.first = Some(
                contacts
                    .first
                    .map_or(i.occurred_at, |f| f.min(i.occurred_at)),
            );
            contacts.last = Some(
                contacts
                    .last
                    .map_or(i.occurred_at, |l| l.max(i.occurred_at)),
            );
        }
    }
    contacts.participants = i64::try_from(contact_counts.len()).unwrap_or(0);
    if tier.shares_contacts() {
        for chunk in user_ids.chunks(CHUNK) {
            let found: Vec<(i64, String)> = users::Entity::find()
                .select_only()
                .column(users::Column::Id)
                .column(users::Column::Email)
                .filter(users::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(conn)
                .await?;
            emails.extend(found);
        }
    }
    let mut participants = Vec::with_capacity(rows.len());
    for p in rows {
        let Some(sig) = sigs.remove(&p.id) else {
            continue;
        };
        let identified = tier.shares_names() && p.consent_share_identity;
        let email = (identified && tier.shares_contacts() && p.consent_contact)
            .then(|| emails.get(&p.user_id).cloned())
            .flatten();
        let name = identified.then(|| sig.full_name.trim().to_owned());
        participants.push(Participant {
            number: numbers.get(&p.id).copied().unwrap_or(0),
            email,
            statement: p.statement,
            amount_minor: p.amount_minor,
            currency: p.currency,
            incident_date: p.incident_date,
            transaction_refs: if identified {
                serde_json::from_str(&p.transaction_refs).unwrap_or_default()
            } else {
                Vec::new()
            },
            signature: SignatureRecord {
                statement_version: sig.statement_version,
                statement_sha256: sig.statement_sha256,
                signed_at: sig.signed_at,
                full_name: name.clone(),
            },
            name,
            evidence: Vec::new(),
            contacts: contact_counts.get(&p.id).copied().unwrap_or(0),
            participation_id: p.id,
        });
    }
    Ok(Assembly {
        tier,
        demands: serde_json::from_str(&statement.demands).unwrap_or_default(),
        provider: ProviderNames {
            name_zh: provider.name_zh,
            name_en: provider.name_en,
        },
        statement,
        author,
        participants,
        contacts,
        public_url: public_url.to_owned(),
        group,
        dossier: d.clone(),
    })
}

/// Pins the active evidence of the included participants to the dossier, in one write
/// transaction: a `dossier_evidence` row and one more blob reference per item, so a later
/// deletion by its owner keeps the content. Fills in each participant's files.
///
/// # Errors
/// Database failures.
pub async fn pin_evidence(db_conn: &DatabaseConnection, a: &mut Assembly) -> anyhow::Result<()> {
    if !a.tier.includes_evidence() || a.participants.is_empty() {
        return Ok(());
    }
    let txn = db::write_txn(db_conn).await?;
    let mut by_participation: HashMap<i64, usize> = HashMap::new();
    for (i, p) in a.participants.iter().enumerate() {
        by_participation.insert(p.participation_id, i);
    }
    let ids: Vec<i64> = by_participation.keys().copied().collect();
    let mut pinned: Vec<(i64, String)> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let items = evidence::Entity::find()
            .filter(evidence::Column::ParticipationId.is_in(chunk.iter().copied()))
            .filter(evidence::Column::Status.eq(EvidenceStatus::Active))
            .order_by_asc(evidence::Column::Id)
            .all(&txn)
            .await?;
        for item in items {
            let Some(&i) = by_participation.get(&item.participation_id) else {
                continue;
            };
            let p = &mut a.participants[i];
            let path = format!(
                "evidence/{:05}-{}.{}",
                p.number,
                &item.sha256[..16.min(item.sha256.len())],
                extension(&item.content_type)
            );
            pinned.push((item.id, item.sha256.clone()));
            // The same content twice for one participant is one file in the bundle.
            if p.evidence.iter().any(|e| e.path == path) {
                continue;
            }
            p.evidence.push(EvidenceFile {
                evidence_id: item.id,
                path,
                sha256: item.sha256,
                size: u64::try_from(item.size).unwrap_or(0),
                kind: item.kind.to_string(),
                content_type: item.content_type,
            });
        }
    }
    let rows: Vec<dossier_evidence::ActiveModel> = pinned
        .iter()
        .map(|(id, _)| dossier_evidence::ActiveModel {
            dossier_id: sea_orm::ActiveValue::Set(a.dossier.id),
            evidence_id: sea_orm::ActiveValue::Set(*id),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(CHUNK / 2) {
        dossier_evidence::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    add_refs(&txn, pinned.into_iter().map(|(_, sha)| sha)).await?;
    txn.commit().await?;
    Ok(())
}

/// One more reference for each hash given (a hash given twice gets two), in batches: every
/// pinned item's blob row exists, since the item itself holds it.
async fn add_refs(
    conn: &impl ConnectionTrait,
    shas: impl Iterator<Item = String>,
) -> anyhow::Result<()> {
    use sea_orm::sea_query::{Expr, ExprTrait as _};
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for sha in shas {
        *counts.entry(sha).or_default() += 1;
    }
    let mut by_count: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (sha, n) in counts {
        by_count.entry(n).or_default().push(sha);
    }
    for (n, shas) in by_count {
        for chunk in shas.chunks(CHUNK) {
            blobs::Entity::update_many()
                .filter(blobs::Column::Sha256.is_in(chunk.iter().cloned()))
                .col_expr(
                    blobs::Column::RefCount,
                    Expr::col(blobs::Column::RefCount).add(n),
                )
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

/// Undoes [`pin_evidence`] for a build that failed, and removes content nothing holds any more.
///
/// # Errors
/// Database or storage failures.
pub async fn unpin_evidence(
    db_conn: &DatabaseConnection,
    store: &dyn BlobStore,
    dossier_id: i64,
) -> anyhow::Result<()> {
    let txn = db::write_txn(db_conn).await?;
    let held: Vec<String> = dossier_evidence::Entity::find()
        .select_only()
        .column(evidence::Column::Sha256)
        .join(
            sea_orm::JoinType::InnerJoin,
            dossier_evidence::Relation::Evidence.def(),
        )
        .filter(dossier_evidence::Column::DossierId.eq(dossier_id))
        .into_tuple()
        .all(&txn)
        .await?;
    dossier_evidence::Entity::delete_many()
        .filter(dossier_evidence::Column::DossierId.eq(dossier_id))
        .exec(&txn)
        .await?;
    for sha in &held {
        refs::release(&txn, sha).await?;
    }
    txn.commit().await?;
    let mut distinct = held;
    distinct.sort();
    distinct.dedup();
    refs::collect(db_conn, store, &distinct).await?;
    Ok(())
}
