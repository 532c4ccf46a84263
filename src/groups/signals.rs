//! Integrity signals for organisers: hints, computed on demand from a group's participations,
//! that some joins may not be what they seem — the same transaction reference claimed by two
//! participants, a burst of joins from one client network, near-identical statements, and a
//! burst of joins by accounts made minutes before. Each is a [`Flag`] with a stable
//! [`SignalCode`] and a reason naming its evidence (the other participants' numbers, a short
//! label of the network, the time window).
//!
//! Signals only inform: nothing here rejects or changes anyone, and they are read only where
//! the roster is (the team, through [`roster`](super::roster) and
//! [`dashboard`](super::dashboard), whose access rule they share). They are never part of a
//! public answer, a participant's own view or a dossier. A join's client network is the /24 or
//! /48 prefix the join recorded (`participations.join_network`); the reason does not show even
//! that, only a letter per network (`A`, `B`, … in the order of each network's first burst),
//! which is enough to tell which flagged joins came from the same place.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entities::{groups, participations, users};
use crate::error::{AppError, AppResult};
use crate::i18n::Locale;

/// Joins from one client network within [`NETWORK_BURST_WINDOW_MINUTES`] that make a burst.
pub const NETWORK_BURST_MIN_JOINS: usize = 5;
/// The window of a network burst: the first and the last of [`NETWORK_BURST_MIN_JOINS`] joins
/// at most this far apart.
pub const NETWORK_BURST_WINDOW_MINUTES: i64 = 10;
/// Statements shorter than this, once normalised (letters and digits only), are too short to
/// compare: "退款未到账" is what everyone writes.
pub const SIMILAR_MIN_CHARS: usize = 20;
/// Two normalised statements are near-identical when the Jaccard similarity of their sets of
/// character 3-grams is at least this many percent (or when they are equal).
pub const SIMILAR_JACCARD_PERCENT: usize = 90;
/// An account is fresh when it was made less than this many minutes before its join.
pub const FRESH_ACCOUNT_MINUTES: i64 = 10;
/// Fresh-account joins within [`FRESH_BURST_WINDOW_MINUTES`] that make a burst.
pub const FRESH_BURST_MIN_JOINS: usize = 5;
/// The window of a fresh-account burst.
pub const FRESH_BURST_WINDOW_MINUTES: i64 = 30;
/// Other participants a reason names at most; the rest are counted.
const NAMED_AT_MOST: usize = 10;

/// What a flag says, stable across languages (the API's `code`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SignalCode {
    /// A transaction reference another participant of the group also claims.
    DuplicateRef,
    /// One of a burst of joins from the same client network.
    NetworkBurst,
    /// A statement nearly identical to another participant's.
    SimilarStatement,
    /// An account made minutes before joining, one of a burst of such joins.
    FreshAccountBurst,
}

impl SignalCode {
    /// Every code, in the order flags are listed.
    pub const ALL: [Self; 4] = [
        Self::DuplicateRef,
        Self::NetworkBurst,
        Self::SimilarStatement,
        Self::FreshAccountBurst,
    ];

    /// The code as the API writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DuplicateRef => "duplicate_ref",
            Self::NetworkBurst => "network_burst",
            Self::SimilarStatement => "similar_statement",
            Self::FreshAccountBurst => "fresh_account_burst",
        }
    }

    /// The code of `raw`, if it is one.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// The roster's `flag` filter: participants carrying one signal, or any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagFilter {
    /// Any signal at all.
    Any,
    /// `duplicate_ref`.
    DuplicateRef,
    /// `network_burst`.
    NetworkBurst,
    /// `similar_statement`.
    SimilarStatement,
    /// `fresh_account_burst`.
    FreshAccountBurst,
}

impl FlagFilter {
    /// The one code asked for; none for [`FlagFilter::Any`].
    #[must_use]
    pub fn code(self) -> Option<SignalCode> {
        match self {
            Self::Any => None,
            Self::DuplicateRef => Some(SignalCode::DuplicateRef),
            Self::NetworkBurst => Some(SignalCode::NetworkBurst),
            Self::SimilarStatement => Some(SignalCode::SimilarStatement),
            Self::FreshAccountBurst => Some(SignalCode::FreshAccountBurst),
        }
    }

    /// The filter of the query value `raw` (`any` or a code).
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        if raw == "any" {
            return Some(Self::Any);
        }
        Some(match SignalCode::parse(raw)? {
            SignalCode::DuplicateRef => Self::DuplicateRef,
            SignalCode::NetworkBurst => Self::NetworkBurst,
            SignalCode::SimilarStatement => Self::SimilarStatement,
            SignalCode::FreshAccountBurst => Self::FreshAccountBurst,
        })
    }

    /// The query value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.code().map_or("any", SignalCode::as_str)
    }
}

/// A burst of joins: how many, from when to when, and who else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    /// Joins in the burst.
    pub joins: usize,
    /// The first join.
    pub from: DateTime<Utc>,
    /// The last join.
    pub to: DateTime<Utc>,
    /// The other participants of the burst, by number.
    pub others: Vec<i64>,
}

/// What a flag rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Each shared reference (masked) with the other participants claiming it.
    DuplicateRef(Vec<(String, Vec<i64>)>),
    /// The network's label and the burst.
    NetworkBurst {
        /// `A`, `B`, …: one letter per network within the group.
        network: String,
        /// The burst.
        burst: Burst,
    },
    /// The other participants whose statements are nearly the same.
    SimilarStatement(Vec<i64>),
    /// The account's age at the join (whole minutes, rounded down) and the burst.
    FreshAccountBurst {
        /// Minutes between the account's creation and the join, rounded down.
        minutes: i64,
        /// The burst.
        burst: Burst,
    },
}

/// One integrity signal on one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// What it says.
    pub code: SignalCode,
    /// What it rests on.
    pub evidence: Evidence,
}

/// "#3、#7" / "#3, #7", with the rest counted.
fn numbers(l: Locale, others: &[i64]) -> String {
    let named: Vec<String> = others
        .iter()
        .take(NAMED_AT_MOST)
        .map(|n| format!("#{n}"))
        .collect();
    let list = named.join(l.t("page.signals.list_separator"));
    if others.len() > NAMED_AT_MOST {
        l.tf(
            "page.signals.and_more",
            &[
                ("list", &list),
                ("n", &(others.len() - NAMED_AT_MOST).to_string()),
            ],
        )
    } else {
        list
    }
}

/// `2026-12-14 10:00–10:08` in China time (as the roster shows days), the second date only
/// when it differs.
fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let tz = chrono_tz::Asia::Shanghai;
    let (from, to) = (from.with_timezone(&tz), to.with_timezone(&tz));
    let end = if from.date_naive() == to.date_naive() {
        to.format("%H:%M")
    } else {
        to.format("%Y-%m-%d %H:%M")
    };
    format!("{}–{end}", from.format("%Y-%m-%d %H:%M"))
}

impl Flag {
    /// Why, in `l`, naming the evidence.
    #[must_use]
    pub fn reason(&self, l: Locale) -> String {
        match &self.evidence {
            Evidence::DuplicateRef(refs) => refs
                .iter()
                .map(|(masked, others)| {
                    l.tf(
                        "page.signals.reason.duplicate_ref",
                        &[("reference", masked), ("others", &numbers(l, others))],
                    )
                })
                .collect::<Vec<_>>()
                .join(l.t("page.signals.reason_separator")),
            Evidence::NetworkBurst { network, burst } => l.tf(
                "page.signals.reason.network_burst",
                &[
                    ("joins", &burst.joins.to_string()),
                    ("network", network),
                    ("window", &window(burst.from, burst.to)),
                    ("min", &NETWORK_BURST_MIN_JOINS.to_string()),
                    ("minutes", &NETWORK_BURST_WINDOW_MINUTES.to_string()),
                    ("others", &numbers(l, &burst.others)),
                ],
            ),
            Evidence::SimilarStatement(others) => l.tf(
                "page.signals.reason.similar_statement",
                &[("others", &numbers(l, others))],
            ),
            Evidence::FreshAccountBurst { minutes, burst } => l.tf(
                "page.signals.reason.fresh_account_burst",
                &[
                    ("age", &(minutes + 1).to_string()),
                    ("joins", &burst.joins.to_string()),
                    ("window", &window(burst.from, burst.to)),
                    ("min", &FRESH_BURST_MIN_JOINS.to_string()),
                    ("minutes", &FRESH_BURST_WINDOW_MINUTES.to_string()),
                    ("others", &numbers(l, &burst.others)),
                ],
            ),
        }
    }
}

/// What the signals read of one participation.
#[derive(Debug, Clone)]
pub struct Joiner {
    /// Participation id.
    pub id: i64,
    /// Participant number in the group (order of joining).
    pub number: i64,
    /// When the participation was made.
    pub joined_at: DateTime<Utc>,
    /// When the account was made.
    pub account_created_at: DateTime<Utc>,
    /// The join's client network, when recorded.
    pub network: Option<String>,
    /// The transaction references given.
    pub refs: Vec<String>,
    /// The participant's own statement.
    pub statement: String,
}

/// The flags of a group's participations.
#[derive(Debug, Default)]
pub struct Signals {
    flags: HashMap<i64, Vec<Flag>>,
}

impl Signals {
    /// The flags of participation `id`, in [`SignalCode::ALL`] order.
    #[must_use]
    pub fn of(&self, id: i64) -> &[Flag] {
        self.flags.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Whether participation `id` carries what `filter` asks for.
    #[must_use]
    pub fn matches(&self, id: i64, filter: FlagFilter) -> bool {
        let flags = self.of(id);
        match filter.code() {
            None => !flags.is_empty(),
            Some(code) => flags.iter().any(|f| f.code == code),
        }
    }

    /// Participants carrying each code, every code listed.
    #[must_use]
    pub fn counts(&self) -> Vec<(SignalCode, usize)> {
        SignalCode::ALL
            .into_iter()
            .map(|code| {
                let n = self
                    .flags
                    .values()
                    .filter(|fs| fs.iter().any(|f| f.code == code))
                    .count();
                (code, n)
            })
            .collect()
    }

    /// Participants carrying any flag.
    #[must_use]
    pub fn flagged(&self) -> usize {
        self.flags.len()
    }

    fn add(&mut self, id: i64, flag: Flag) {
        self.flags.entry(id).or_default().push(flag);
    }
}

/// The signals of `group` (the caller has checked the reader is on its team). An anonymised
/// group has none: what they would rest on is gone.
///
/// # Errors
/// Database failures.
pub async fn of_group(conn: &impl ConnectionTrait, group: &groups::Model) -> AppResult<Signals> {
    if group.anonymised_at.is_some() {
        return Ok(Signals::default());
    }
    type Row = (
        i64,
        DateTime<Utc>,
        Option<String>,
        String,
        String,
        DateTime<Utc>,
    );
    let rows: Vec<Row> = participations::Entity::find()
        .select_only()
        .column(participations::Column::Id)
        .column(participations::Column::CreatedAt)
        .column(participations::Column::JoinNetwork)
        .column(participations::Column::TransactionRefs)
        .column(participations::Column::Statement)
        .column(users::Column::CreatedAt)
        .inner_join(users::Entity)
        .filter(participations::Column::GroupId.eq(group.id))
        .order_by_asc(participations::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let joiners: Vec<Joiner> = rows
        .into_iter()
        .zip(1..)
        .map(
            |((id, joined_at, network, refs, statement, account_created_at), number)| Joiner {
                id,
                number,
                joined_at,
                account_created_at,
                network,
                refs: serde_json::from_str(&refs).unwrap_or_default(),
                statement,
            },
        )
        .collect();
    // Comparing statements is CPU work that grows with the group: off the async runtime.
    tokio::task::spawn_blocking(move || compute(&joiners))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("computing the signals: {e}")))
}

/// Every signal of `joiners` (one group's participations).
#[must_use]
pub fn compute(joiners: &[Joiner]) -> Signals {
    let mut signals = Signals::default();
    duplicate_refs(joiners, &mut signals);
    network_bursts(joiners, &mut signals);
    similar_statements(joiners, &mut signals);
    fresh_account_bursts(joiners, &mut signals);
    for flags in signals.flags.values_mut() {
        flags.sort_by_key(|f| f.code);
    }
    signals
}

/// A reference as compared: trimmed, case-folded, without inner whitespace.
fn normalise_ref(r: &str) -> String {
    r.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A reference as a reason shows it: its last few characters (`…0001`), enough for the team
/// to find it on the participant's row.
fn mask_ref(r: &str) -> String {
    let chars: Vec<char> = r.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = match chars.len() {
        0..=3 => 0,
        4..=7 => 2,
        _ => 4,
    };
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("…{tail}")
}

fn duplicate_refs(joiners: &[Joiner], signals: &mut Signals) {
    let mut claims: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (i, j) in joiners.iter().enumerate() {
        for r in &j.refs {
            let key = normalise_ref(r);
            if !key.is_empty() {
                claims.entry(key).or_default().insert(i);
            }
        }
    }
    for (i, j) in joiners.iter().enumerate() {
        let mut shared: Vec<(String, Vec<i64>)> = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &j.refs {
            let key = normalise_ref(r);
            let Some(claimants) = claims.get(&key).filter(|c| c.len() > 1) else {
                continue;
            };
            if !seen.insert(key) {
                continue;
            }
            let others = claimants
                .iter()
                .filter(|k| **k != i)
                .map(|k| joiners[*k].number)
                .collect();
            shared.push((mask_ref(r), others));
        }
        if !shared.is_empty() {
            signals.add(
                j.id,
                Flag {
                    code: SignalCode::DuplicateRef,
                    evidence: Evidence::DuplicateRef(shared),
                },
            );
        }
    }
}

/// Bursts among `members` (indices into `joiners`, sorted by join time): maximal runs in which
/// every member lies in a window of at most `window` holding at least `min` members.
fn bursts(joiners: &[Joiner], members: &[usize], min: usize, window: Duration) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    // The current burst's range in `members`.
    let mut current: Option<(usize, usize)> = None;
    let mut start = 0;
    for end in 0..members.len() {
        let t = joiners[members[end]].joined_at;
        while t - joiners[members[start]].joined_at > window {
            start += 1;
        }
        if end + 1 - start < min {
            continue;
        }
        current = match current {
            Some((from, to)) if start <= to => Some((from, end)),
            Some((from, to)) => {
                out.push(members[from..=to].to_vec());
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((from, to)) = current {
        out.push(members[from..=to].to_vec());
    }
    out
}

fn burst_of(joiners: &[Joiner], burst: &[usize], me: usize) -> Burst {
    let mut others: Vec<i64> = burst
        .iter()
        .filter(|k| **k != me)
        .map(|k| joiners[*k].number)
        .collect();
    others.sort_unstable();
    Burst {
        joins: burst.len(),
        from: burst
            .iter()
            .map(|k| joiners[*k].joined_at)
            .min()
            .unwrap_or_default(),
        to: burst
            .iter()
            .map(|k| joiners[*k].joined_at)
            .max()
            .unwrap_or_default(),
        others,
    }
}

fn by_join_time(joiners: &[Joiner], members: &mut [usize]) {
    members.sort_by_key(|k| (joiners[*k].joined_at, joiners[*k].id));
}

/// `A`, `B`, … `Z`, `AA`, …
fn letter_label(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(char::from(b'A' + u8::try_from(n % 26).unwrap_or(0)));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    out.iter().rev().collect()
}

fn network_bursts(joiners: &[Joiner], signals: &mut Signals) {
    let mut by_network: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, j) in joiners.iter().enumerate() {
        if let Some(n) = j.network.as_deref() {
            by_network.entry(n).or_default().push(i);
        }
    }
    let window = Duration::minutes(NETWORK_BURST_WINDOW_MINUTES);
    let mut found: Vec<Vec<Vec<usize>>> = by_network
        .into_values()
        .filter_map(|mut members| {
            by_join_time(joiners, &mut members);
            let b = bursts(joiners, &members, NETWORK_BURST_MIN_JOINS, window);
            (!b.is_empty()).then_some(b)
        })
        .collect();
    // Letters in the order of each network's first burst: stable as the group grows.
    found.sort_by_key(|b| {
        let first = b[0][0];
        (joiners[first].joined_at, joiners[first].id)
    });
    for (n, network_bursts) in found.into_iter().enumerate() {
        let label = letter_label(n);
        for burst in network_bursts {
            for &me in &burst {
                signals.add(
                    joiners[me].id,
                    Flag {
                        code: SignalCode::NetworkBurst,
                        evidence: Evidence::NetworkBurst {
                            network: label.clone(),
                            burst: burst_of(joiners, &burst, me),
                        },
                    },
                );
            }
        }
    }
}

fn fresh_account_bursts(joiners: &[Joiner], signals: &mut Signals) {
    let fresh_within = Duration::minutes(FRESH_ACCOUNT_MINUTES);
    let mut fresh: Vec<usize> = joiners
        .iter()
        .enumerate()
        .filter(|(_, j)| {
            let age = j.joined_at - j.account_created_at;
            age >= Duration::zero() && age < fresh_within
        })
        .map(|(i, _)| i)
        .collect();
    by_join_time(joiners, &mut fresh);
    let window = Duration::minutes(FRESH_BURST_WINDOW_MINUTES);
    for burst in bursts(joiners, &fresh, FRESH_BURST_MIN_JOINS, window) {
        for &me in &burst {
            let j = &joiners[me];
            signals.add(
                j.id,
                Flag {
                    code: SignalCode::FreshAccountBurst,
                    evidence: Evidence::FreshAccountBurst {
                        minutes: (j.joined_at - j.account_created_at).num_minutes(),
                        burst: burst_of(joiners, &burst, me),
                    },
                },
            );
        }
    }
}

fn similar_statements(joiners: &[Joiner], signals: &mut Signals) {
    let groups = similar_groups(joiners.iter().map(|j| j.statement.as_str())).groups;
    for members in groups {
        for &me in &members {
            let mut others: Vec<i64> = members
                .iter()
                .filter(|k| **k != me)
                .map(|k| joiners[*k].number)
                .collect();
            others.sort_unstable();
            signals.add(
                joiners[me].id,
                Flag {
                    code: SignalCode::SimilarStatement,
                    evidence: Evidence::SimilarStatement(others),
                },
            );
        }
    }
}

/// A statement as compared: letters and digits only, case-folded.
fn normalise_statement(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Near-identical statements, and how much work finding them took.
#[derive(Debug, Default)]
pub struct SimilarGroups {
    /// Each group of near-identical statements (indices in the input, ascending), two or more.
    pub groups: Vec<Vec<usize>>,
    /// Pairs whose similarity was computed exactly.
    pub pairs_compared: usize,
}

/// A hasher for the similarity join's integer keys (3-grams, ranks): a multiply and a fold,
/// several times cheaper than the default SipHash over a million keys; the keys come from
/// statements, and a participant who crafts colliding 3-grams only slows their own group's
/// signals.
#[derive(Default)]
struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type IntMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IntHasher>>;

/// Union-find over statement ids.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// The fewest shared 3-grams two sets of sizes `a` and `b` need to be near-identical:
/// `o / (a + b − o) ≥ P/100` ⇔ `o ≥ P·(a + b) / (100 + P)`.
fn overlap_needed(a: usize, b: usize) -> usize {
    (SIMILAR_JACCARD_PERCENT * (a + b)).div_ceil(100 + SIMILAR_JACCARD_PERCENT)
}

/// Whether two sorted, duplicate-free token lists have a Jaccard similarity of at least
/// [`SIMILAR_JACCARD_PERCENT`]. Stops as soon as too many tokens are unmatched: ranked rarest
/// first, two merely similar statements differ at the front.
fn near_identical(a: &[u32], b: &[u32]) -> bool {
    let needed = overlap_needed(a.len(), b.len());
    let (mut i, mut k, mut both) = (0, 0, 0);
    while i < a.len() && k < b.len() {
        match a[i].cmp(&b[k]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => k += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                k += 1;
            }
        }
        // At most this many more can be shared.
        if both + (a.len() - i).min(b.len() - k) < needed {
            return false;
        }
    }
    both >= needed
}

/// Groups the statements that are near-identical (see [`SIMILAR_JACCARD_PERCENT`]), chained:
/// two statements each near-identical to a third are in one group.
///
/// Not a comparison of every pair (the AllPairs / PPJoin similarity join): equal normalised
/// statements are merged first; each distinct one becomes its set of character 3-grams,
/// ranked rarest first over the group. Two sets with Jaccard ≥ t share a 3-gram among the
/// first `|x| − ⌈t·|x|⌉ + 1` of each (prefix filtering) and differ in size by at most the
/// factor t, so only pairs sharing such a rare 3-gram and of similar size are candidates;
/// a candidate whose shared 3-grams come too late in either set to reach the overlap needed
/// is dropped (positional filtering); the rest are compared exactly, stopping at the first
/// few differing 3-grams, and none already known to be in one group. Statements written from
/// a common template differ in their rare 3-grams: 10,000 of them take well under 0.2 s in
/// a release build.
#[must_use]
pub fn similar_groups<'a>(statements: impl IntoIterator<Item = &'a str>) -> SimilarGroups {
    // Distinct normalised statements long enough, with the inputs that have each.
    let mut distinct: HashMap<Vec<char>, Vec<usize>> = HashMap::new();
    for (i, s) in statements.into_iter().enumerate() {
        let n = normalise_statement(s);
        if n.len() >= SIMILAR_MIN_CHARS {
            distinct.entry(n).or_default().push(i);
        }
    }
    let mut texts: Vec<(Vec<char>, Vec<usize>)> = distinct.into_iter().collect();
    // A deterministic order (the map's is not).
    texts.sort_by_key(|(_, inputs)| inputs[0]);
    // Each 3-gram as one number: three code points of 21 bits each.
    let grams: Vec<Vec<u64>> = texts
        .iter()
        .map(|(chars, _)| {
            let mut g: Vec<u64> = chars
                .windows(3)
                .map(|w| (u64::from(w[0]) << 42) | (u64::from(w[1]) << 21) | u64::from(w[2]))
                .collect();
            g.sort_unstable();
            g.dedup();
            g
        })
        .collect();
    let mut frequency: IntMap<u64, u32> = IntMap::default();
    for g in grams.iter().flatten() {
        *frequency.entry(*g).or_default() += 1;
    }
    let mut ranked: Vec<(u32, u64)> = frequency.into_iter().map(|(g, n)| (n, g)).collect();
    ranked.sort_unstable();
    let rank: IntMap<u64, u32> = ranked
        .into_iter()
        .zip(0_u32..)
        .map(|((_, g), r)| (g, r))
        .collect();
    let sets: Vec<Vec<u32>> = grams
        .iter()
        .map(|g| {
            let mut s: Vec<u32> = g.iter().filter_map(|x| rank.get(x).copied()).collect();
            s.sort_unstable();
            s
        })
        .collect();

    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by_key(|x| (sets[*x].len(), *x));
    let mut joined = Sets((0..sets.len()).collect());
    // Each prefix token: the sets holding it in their prefix, with its position there.
    let mut index: IntMap<u32, Vec<(usize, usize)>> = IntMap::default();
    // Per candidate of the set being probed: prefix tokens shared so far, or pruned; valid
    // where `met_by` names that set.
    let mut shared: Vec<Option<usize>> = vec![None; sets.len()];
    let mut met_by = vec![usize::MAX; sets.len()];
    let mut candidates: Vec<usize> = Vec::new();
    let mut pairs_compared = 0;
    for &x in &order {
        let size = sets[x].len();
        let must_share = (size * SIMILAR_JACCARD_PERCENT).div_ceil(100);
        let prefix = &sets[x][..size - must_share + 1];
        for (i, token) in prefix.iter().enumerate() {
            let Some(seen) = index.get(token) else {
                continue;
            };
            for &(y, j) in seen {
                let other = sets[y].len();
                // Indexed sets are no larger than x (sizes ascending): the size filter.
                if other * 100 < size * SIMILAR_JACCARD_PERCENT {
                    continue;
                }
                if met_by[y] != x {
                    met_by[y] = x;
                    shared[y] = Some(0);
                    candidates.push(y);
                }
                let Some(so_far) = shared[y] else {
                    continue;
                };
                // Tokens before this one in either set that were not shared never will be
                // (ranks ascend), so at most this many can be shared in all.
                let at_most = so_far + 1 + (size - i - 1).min(other - j - 1);
                shared[y] = (at_most >= overlap_needed(size, other)).then_some(so_far + 1);
            }
        }
        for y in candidates.drain(..) {
            if shared[y].is_none() || joined.find(x) == joined.find(y) {
                continue;
            }
            pairs_compared += 1;
            if near_identical(&sets[x], &sets[y]) {
                joined.union(x, y);
            }
        }
        for (i, token) in prefix.iter().enumerate() {
            index.entry(*token).or_default().push((x, i));
        }
    }

    let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
    for (x, (_, inputs)) in texts.iter().enumerate() {
        by_root
            .entry(joined.find(x))
            .or_default()
            .extend(inputs.iter().copied());
    }
    let mut groups: Vec<Vec<usize>> = by_root
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    groups.sort();
    SimilarGroups {
        groups,
        pairs_compared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + Duration::minutes(minute)
    }

    fn joiner(number: i64, minute: i64) -> Joiner {
        Joiner {
            id: number * 10,
            number,
            joined_at: at(minute),
            account_created_at: at(minute - 60 * 24 * 30),
            network: Some(format!("198.51.{number}.0/24")),
            refs: vec![format!("REF-{number}")],
            statement: format!("第{number}位参与者自己的经历"),
        }
    }

    #[test]
    fn near_identical_statements_are_grouped_and_a_different_one_is_not() {
        let template =
            "我在三月二日申请退款一百二十八元，客服说七个工作日到账，至今没有收到任何款项。";
        let statements = [
            template,
            // Punctuation, spacing and case do not count.
            "我在三月二日申请退款 一百二十八元 客服说七个工作日到账 至今没有收到任何款项",
            // One character changed in a long statement: still near-identical.
            "我在三月二日申请退款一百二十八元，客服说七个工作日到账，至今没有收到任何款项！！",
            // The same complaint in other words: not near-identical.
            "三月初退了一笔一百多元的款，平台一直拖着不处理，客服电话也打不通。",
            // Too short to compare, even when equal.
            "退款没到账",
            "退款没到账",
            "Refund NEVER arrived after thirty days of waiting",
            "refund never arrived, after thirty days of waiting!",
        ];
        let found = similar_groups(statements);
        assert_eq!(found.groups, vec![vec![0, 1, 2], vec![6, 7]]);
    }

    #[test]
    fn statements_below_the_threshold_are_not_grouped() {
        // The same opening, each with a sentence of its own: similar, but far from 90 %.
        let base = "我在三月二日申请退款一百二十八元客服说七个工作日到账";
        let a = format!("{base}后来又打了三次电话都说在处理");
        let b = format!("{base}我的银行卡一直没有收到这笔钱");
        let found = similar_groups([a.as_str(), b.as_str()]);
        assert!(found.groups.is_empty(), "{:?}", found.groups);
    }

    #[test]
    fn ten_thousand_template_statements_are_grouped_without_comparing_every_pair() {
        // A group where everyone started from one template and added a line of their own,
        // and a ring of fifty who pasted the same text with one character changed.
        let template = "我们是快付钱包的用户，申请退款后长期未到账，客服一再推脱，要求平台立即退款并赔偿损失。";
        let mut statements: Vec<String> = (0..9_950)
            .map(|i| {
                format!(
                    "{template}我的订单号尾号{i:05}，金额{}元，申请日期是三月{}日。",
                    i % 997,
                    i % 28 + 1
                )
            })
            .collect();
        let ring = "这个平台骗了我们所有人的钱，客服一直说在处理，可是三个月过去了还是没有任何结果，我们要求平台立即退款、赔偿利息损失并公开道歉，否则将向监管部门投诉";
        statements.extend((0..50).map(|i| format!("{ring}{i:02}")));
        let started = std::time::Instant::now();
        let found = similar_groups(statements.iter().map(String::as_str));
        let took = started.elapsed();
        let ring: Vec<usize> = (9_950..10_000).collect();
        assert!(found.groups.contains(&ring), "{:?}", found.groups.len());
        // Fewer than one pair in fifty of the 50 million is compared (each comparison stops at
        // the first few differing 3-grams); in a release build this takes well under 0.2 s.
        assert!(
            found.pairs_compared < 1_000_000,
            "{} pairs compared",
            found.pairs_compared
        );
        // Generous even for an unoptimised build on a busy machine.
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }

    #[test]
    fn each_signal_flags_its_participants_with_the_evidence() {
        // 1–3 share a reference (in other spellings); 4–8 join from one network within ten
        // minutes; 9 and 10 wrote the same statement; 11–15 joined minutes after making
        // their accounts; 16 is clean.
        let mut js: Vec<Joiner> = (1..=16).map(|n| joiner(n, n * 20)).collect();
        js[0].refs = vec!["T2026 0302 0001".into()];
        js[1].refs = vec!["t202603020001".into(), "OTHER".into()];
        js[2].refs = vec![" T202603020001 ".into()];
        for (k, j) in js[3..8].iter_mut().enumerate() {
            j.network = Some("203.0.113.0/24".into());
            j.joined_at = at(1_000 + i64::try_from(k).unwrap_or(0) * 2);
        }
        let copied = "我在三月二日申请退款一百二十八元，客服说七个工作日到账，至今没有收到。";
        js[8].statement = copied.into();
        js[9].statement = format!("{copied} ");
        for (k, j) in js[10..15].iter_mut().enumerate() {
            j.joined_at = at(2_000 + i64::try_from(k).unwrap_or(0) * 5);
            j.account_created_at = j.joined_at - Duration::minutes(3);
        }
        let s = compute(&js);
        let codes =
            |n: usize| -> Vec<SignalCode> { s.of(js[n - 1].id).iter().map(|f| f.code).collect() };
        for n in 1..=3 {
            assert_eq!(codes(n), [SignalCode::DuplicateRef], "#{n}");
        }
        for n in 4..=8 {
            assert_eq!(codes(n), [SignalCode::NetworkBurst], "#{n}");
        }
        for n in 9..=10 {
            assert_eq!(codes(n), [SignalCode::SimilarStatement], "#{n}");
        }
        for n in 11..=15 {
            assert_eq!(codes(n), [SignalCode::FreshAccountBurst], "#{n}");
        }
        assert!(codes(16).is_empty());
        assert_eq!(s.flagged(), 15);

        let en = |n: usize| s.of(js[n - 1].id)[0].reason(Locale::En);
        assert!(
            en(2).contains("…0001") && en(2).contains("#1, #3"),
            "{}",
            en(2)
        );
        assert!(!en(2).contains("OTHER"), "{}", en(2));
        assert!(
            en(4).contains("Network A") && en(4).contains("#5, #6, #7, #8"),
            "{}",
            en(4)
        );
        assert!(!en(4).contains("203.0.113"), "{}", en(4));
        assert!(en(9).contains("#10"), "{}", en(9));
        assert!(
            en(11).contains("5 joins") && en(11).contains("#12"),
            "{}",
            en(11)
        );
        let zh = s.of(js[3].id)[0].reason(Locale::ZhCn);
        assert!(zh.contains("网络 A"), "{zh}");
        assert!(s.matches(js[0].id, FlagFilter::Any));
        assert!(s.matches(js[0].id, FlagFilter::DuplicateRef));
        assert!(!s.matches(js[0].id, FlagFilter::NetworkBurst));
        assert!(!s.matches(js[15].id, FlagFilter::Any));
    }

    #[test]
    fn four_joins_or_slow_joins_are_no_burst() {
        // Four from one network within minutes; five over an hour from another.
        let mut js: Vec<Joiner> = (1..=9).map(|n| joiner(n, n)).collect();
        for j in &mut js[0..4] {
            j.network = Some("203.0.113.0/24".into());
        }
        for (k, j) in js[4..9].iter_mut().enumerate() {
            j.network = Some("192.0.2.0/24".into());
            j.joined_at = at(100 + i64::try_from(k).unwrap_or(0) * 15);
            // Fresh accounts, but fifteen minutes apart: no five within thirty minutes.
            j.account_created_at = j.joined_at - Duration::minutes(1);
        }
        let s = compute(&js);
        assert_eq!(s.flagged(), 0);
    }

    #[test]
    fn labels_run_through_the_alphabet() {
        assert_eq!(letter_label(0), "A");
        assert_eq!(letter_label(25), "Z");
        assert_eq!(letter_label(26), "AA");
        assert_eq!(mask_ref("T2026030200001"), "…0001");
        assert_eq!(mask_ref("AB12"), "…12");
        assert_eq!(mask_ref("X1"), "…");
    }
}
