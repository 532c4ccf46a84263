//! Search that understands Chinese: every group has its terms in `group_search_terms` (indexed
//! by term), and a query is cut into terms the same way and ranked by the weights of the terms
//! it matches. One function ([`search`]) answers both `GET /api/v1/groups` and the `/groups`
//! page, identically on SQLite and PostgreSQL.
//!
//! Terms: Chinese (and other CJK) text by overlapping character pairs, so `退款未到账` finds
//! `退款超过30天未到账` through `退款`, `未到` and `到账`, plus single characters for one-character
//! queries; Latin words and numbers lower-cased; the provider's names, aliases and their
//! pinyin (whole and in the parts its slug would have); the category's labels in Chinese and
//! English. A group is found when it matches at least half of the query's distinct terms, and
//! ranked by the summed weights of those it matches (title over provider and category over
//! summary), then by participants and recency.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};

use super::dto::{GroupPage, GroupQuery, Sort};
use crate::entities::enums::Visibility;
use crate::entities::{group_search_terms, groups, providers};
use crate::error::AppResult;
use crate::i18n::Locale;
use crate::providers::slug::provider_slug;

/// Weight of a term found in the title.
pub const TITLE_WEIGHT: i32 = 8;
/// Weight of a term found in the provider's names, aliases or pinyin.
pub const PROVIDER_WEIGHT: i32 = 4;
/// Weight of a term found in the category's labels.
pub const CATEGORY_WEIGHT: i32 = 4;
/// Weight of a term found in the summary.
pub const SUMMARY_WEIGHT: i32 = 1;

/// Longest stored term, in characters (the column's width).
const MAX_TERM_CHARS: usize = 64;
/// At most this many distinct terms of a query are looked up.
const MAX_QUERY_TERMS: usize = 24;
/// Rows per insert statement (3 values each, far under SQLite's and PostgreSQL's limits).
const INSERT_CHUNK: usize = 300;

/// Chinese, Japanese and Korean characters, which are matched by pairs rather than by words.
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x3FFFF  // extensions B and later
        | 0x3007             // 〇
        | 0x3040..=0x30FF    // kana
        | 0xAC00..=0xD7AF    // hangul
    )
}

/// Full-width ASCII (`ＱＱ１２３`) read as ASCII, so it matches what others type.
fn narrow(c: char) -> char {
    match u32::from(c) {
        n @ 0xFF01..=0xFF5E => char::from_u32(n - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn clip(term: String) -> String {
    if term.chars().count() > MAX_TERM_CHARS {
        term.chars().take(MAX_TERM_CHARS).collect()
    } else {
        term
    }
}

/// Cuts `text` into terms: for each run of CJK characters its overlapping pairs (a run of one
/// character is that character), with every single character too when `singles`; each word of
/// other letters and digits lower-cased. Distinct, in a stable order.
#[must_use]
pub fn terms(text: &str, singles: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_run = |run: &mut Vec<char>, out: &mut BTreeSet<String>| {
        if run.len() == 1 || singles {
            out.extend(run.iter().map(char::to_string));
        }
        out.extend(run.windows(2).map(|w| w.iter().collect::<String>()));
        run.clear();
    };
    let flush_word = |word: &mut String, out: &mut BTreeSet<String>| {
        if !word.is_empty() {
            out.insert(clip(std::mem::take(word)));
        }
    };
    for c in text.chars().map(narrow) {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_run(&mut run, &mut out);
            flush_word(&mut word, &mut out);
        }
    }
    flush_run(&mut run, &mut out);
    flush_word(&mut word, &mut out);
    out
}

/// The terms a query is looked up by (pairs for Chinese, single characters only for a
/// one-character run), at most [`MAX_QUERY_TERMS`].
#[must_use]
pub fn query_terms(q: &str) -> Vec<String> {
    terms(q, false).into_iter().take(MAX_QUERY_TERMS).collect()
}

/// The terms of a provider: its names and aliases as text, their pinyin (the slug's parts and
/// the whole run together, `kuaifu`, `qianbao`, `kuaifuqianbao`) and its slug's parts.
fn provider_terms(p: &providers::Model) -> BTreeSet<String> {
    let aliases: Vec<String> = serde_json::from_str(&p.aliases).unwrap_or_default();
    let mut names: Vec<&str> = vec![p.name_zh.as_str()];
    names.extend(p.name_en.as_deref());
    names.extend(aliases.iter().map(String::as_str));
    let mut out = BTreeSet::new();
    let spell = |slug: &str, out: &mut BTreeSet<String>| {
        let parts: Vec<&str> = slug.split('-').filter(|s| !s.is_empty()).collect();
        out.extend(parts.iter().map(|s| clip((*s).to_owned())));
        if parts.len() > 1 {
            out.insert(clip(parts.concat()));
        }
    };
    for name in names {
        out.extend(terms(name, true));
        spell(&provider_slug(name, 200), &mut out);
    }
    spell(&p.slug, &mut out);
    out
}

/// Every term of a group with its weight: the sum of the weights of the fields it occurs in.
#[must_use]
pub fn group_terms(group: &groups::Model, provider: &providers::Model) -> HashMap<String, i32> {
    let category = format!(
        "{} {}",
        Locale::ZhCn.tk("page.category", group.category),
        Locale::En.tk("page.category", group.category)
    );
    let fields = [
        (terms(&group.title, true), TITLE_WEIGHT),
        (provider_terms(provider), PROVIDER_WEIGHT),
        (terms(&category, true), CATEGORY_WEIGHT),
        (terms(&group.summary, true), SUMMARY_WEIGHT),
    ];
    let mut weights: HashMap<String, i32> = HashMap::new();
    for (set, weight) in fields {
        for t in set {
            *weights.entry(t).or_default() += weight;
        }
    }
    weights
}

/// Replaces the stored terms of `group` (after it is created or edited).
///
/// # Errors
/// Database failures.
pub async fn index_group(
    conn: &impl ConnectionTrait,
    group: &groups::Model,
    provider: &providers::Model,
) -> AppResult<()> {
    group_search_terms::Entity::delete_many()
        .filter(group_search_terms::Column::GroupId.eq(group.id))
        .exec(conn)
        .await?;
    let mut rows: Vec<group_search_terms::ActiveModel> = group_terms(group, provider)
        .into_iter()
        .map(|(term, weight)| group_search_terms::ActiveModel {
            group_id: Set(group.id),
            term: Set(term),
            weight: Set(weight),
        })
        .collect();
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(INSERT_CHUNK));
        group_search_terms::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Re-indexes every group of a provider (after its names or aliases change).
///
/// # Errors
/// Database failures.
pub async fn reindex_provider(
    conn: &impl ConnectionTrait,
    provider: &providers::Model,
) -> AppResult<()> {
    let groups = groups::Entity::find()
        .filter(groups::Column::ProviderId.eq(provider.id))
        .all(conn)
        .await?;
    for g in &groups {
        index_group(conn, g, provider).await?;
    }
    Ok(())
}

/// Indexes every group that has no terms yet (each group has at least its category's), as
/// after the migration that made the table. Returns how many it indexed.
///
/// # Errors
/// Database failures.
pub async fn index_missing(conn: &impl ConnectionTrait) -> AppResult<usize> {
    let rows = groups::Entity::find()
        .find_also_related(providers::Entity)
        .filter(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM \"group_search_terms\" t WHERE t.\"group_id\" = \"groups\".\"id\")",
        ))
        .all(conn)
        .await?;
    let mut n = 0;
    for (g, p) in rows {
        if let Some(p) = p {
            index_group(conn, &g, &p).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Active participants of the group in the row, for ordering.
fn popularity() -> Expr {
    Expr::cust(
        "(SELECT COUNT(*) FROM participations p WHERE p.group_id = \"groups\".\"id\" AND p.status = 'active')",
    )
}

/// Public groups passing the query's filters (the select must join `providers`).
fn filtered<S: QueryFilter>(mut query: S, q: &GroupQuery) -> S {
    query = query
        .filter(groups::Column::Visibility.eq(Visibility::Public))
        .filter(groups::Column::SuspendedAt.is_null());
    if let Some(p) = q.provider.as_deref().filter(|p| !p.is_empty()) {
        query = query.filter(providers::Column::Slug.eq(p));
    }
    if let Some(c) = q.category {
        query = query.filter(groups::Column::Category.eq(c));
    }
    if let Some(s) = q.status {
        query = query.filter(groups::Column::Status.eq(s));
    }
    query
}

fn ordered<S: QueryOrder>(query: S, sort: Sort) -> S {
    match sort {
        Sort::Popular => query
            .order_by(popularity(), Order::Desc)
            .order_by_desc(groups::Column::CreatedAt)
            .order_by_desc(groups::Column::Id),
        Sort::Newest => query
            .order_by_desc(groups::Column::CreatedAt)
            .order_by_desc(groups::Column::Id),
    }
}

/// Searches and lists public groups: ranked by matched terms when `q` has any, otherwise the
/// listing in the order asked for; filtered by provider, category and status; one page of
/// `per_page` (default 20) with the total count.
///
/// # Errors
/// Database failures.
pub async fn search(conn: &impl ConnectionTrait, q: &GroupQuery) -> AppResult<GroupPage> {
    let per_page = q.per_page.unwrap_or(20);
    let page = q.page.unwrap_or(1);
    let offset = (page - 1) * per_page;
    let sort = q.sort.unwrap_or_default();
    let terms = q.q.as_deref().map(query_terms).unwrap_or_default();
    if terms.is_empty() {
        let query = filtered(
            groups::Entity::find().find_also_related(providers::Entity),
            q,
        );
        let total = query.clone().count(conn).await?;
        let rows = ordered(query, sort)
            .offset(offset)
            .limit(per_page)
            .all(conn)
            .await?;
        return Ok(GroupPage {
            items: super::service::summaries(conn, rows).await?,
            total,
        });
    }
    // At least half of the distinct terms (rounded up) must match.
    let need = i64::try_from(terms.len().div_ceil(2)).unwrap_or(1);
    let ranked = filtered(
        groups::Entity::find()
            .select_only()
            .column(groups::Column::Id)
            .join(
                JoinType::InnerJoin,
                group_search_terms::Relation::Groups.def().rev(),
            )
            .join(JoinType::InnerJoin, groups::Relation::Providers.def()),
        q,
    )
    .filter(group_search_terms::Column::Term.is_in(terms))
    .group_by(groups::Column::Id)
    .having(Expr::cust("COUNT(*)").gte(need));
    let total = ranked.clone().count(conn).await?;
    let ids: Vec<i64> = ordered(
        ranked.order_by(
            Expr::cust("SUM(\"group_search_terms\".\"weight\")"),
            Order::Desc,
        ),
        sort,
    )
    .offset(offset)
    .limit(per_page)
    .into_tuple()
    .all(conn)
    .await?;
    let mut rows = groups::Entity::find()
        .find_also_related(providers::Entity)
        .filter(groups::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    rows.sort_by_key(|(g, _)| ids.iter().position(|id| *id == g.id));
    Ok(GroupPage {
        items: super::service::summaries(conn, rows).await?,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn chinese_is_cut_in_pairs_and_latin_in_lower_case_words() {
        assert_eq!(
            terms("退款未到账", false),
            set(&["退款", "款未", "未到", "到账"])
        );
        assert_eq!(terms("KuaiPay 30天", false), set(&["kuaipay", "30", "天"]));
        assert_eq!(terms("ＱＱ钱包", false), set(&["qq", "钱包"]));
        assert!(terms("退款", true).contains("退"));
        assert!(terms("!!! %", false).is_empty());
    }

    #[test]
    fn a_query_shares_most_of_its_pairs_with_the_text_it_means() {
        let text = terms("快付钱包退款超过30天未到账", true);
        let q = query_terms("退款未到账");
        let hits = q.iter().filter(|t| text.contains(*t)).count();
        assert!(hits * 2 >= q.len(), "{hits} of {q:?}");
    }
}
