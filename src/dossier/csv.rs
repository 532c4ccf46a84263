//! `roster.csv` and `regulator_export.csv`: UTF-8 with a byte-order mark (spreadsheet programs
//! used in China then read Chinese correctly), CRLF line ends, and every cell through the
//! roster's [`csv_cell`], which neutralises cells a spreadsheet would run as formulas.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use super::assembly::{Assembly, Participant};
use crate::groups::roster::csv_cell;
use crate::i18n::Locale;

fn line(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    let _ = write!(out, "{}\r\n", cells.join(","));
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `12800` CNY → `128.00`.
#[must_use]
pub fn amount(minor: i64, currency: &str) -> String {
    crate::domain::Money::from_stored(minor, currency).decimal()
}

fn evidence_paths(p: &Participant) -> String {
    p.evidence
        .iter()
        .map(|e| e.path.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The roster of the dossier, as its tier discloses it.
#[must_use]
pub fn roster(a: &Assembly) -> String {
    let mut out = String::from("\u{feff}");
    if !a.tier.includes_evidence() {
        line(
            &mut out,
            &[
                "编号 number".into(),
                "参与者 participant".into(),
                "签署版本 statement_version".into(),
                "签署时间 signed_at".into(),
            ],
        );
        for p in &a.participants {
            line(
                &mut out,
                &[
                    p.number.to_string(),
                    p.label(),
                    p.signature.statement_version.to_string(),
                    time(p.signature.signed_at),
                ],
            );
        }
        return out;
    }
    let contacts = a.tier.shares_contacts();
    let mut head: Vec<String> = vec!["编号 number".into(), "参与者 participant".into()];
    if contacts {
        head.push("联系邮箱 email".into());
    }
    head.extend(
        [
            "事发日期 incident_date",
            "争议金额 amount",
            "币种 currency",
            "交易单号 transaction_refs",
            "证据数 evidence_count",
            "联系客服次数 contacts",
            "签署版本 statement_version",
            "签署时间 signed_at",
        ]
        .map(String::from),
    );
    line(&mut out, &head);
    for p in &a.participants {
        let mut cells = vec![p.number.to_string(), p.label()];
        if contacts {
            cells.push(p.email.clone().unwrap_or_default());
        }
        cells.extend([
            p.incident_date.to_string(),
            amount(p.amount_minor, &p.currency),
            p.currency.clone(),
            p.transaction_refs.join(" "),
            p.evidence.len().to_string(),
            p.contacts.to_string(),
            p.signature.statement_version.to_string(),
            time(p.signature.signed_at),
        ]);
        line(&mut out, &cells);
    }
    out
}

/// The demands as one line of text.
#[must_use]
pub fn demands_text(a: &Assembly) -> Vec<String> {
    a.demands
        .iter()
        .map(|d| {
            let label = Locale::ZhCn.tk("page.demand", d.kind.as_str());
            match d.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) => format!("{label}：{t}"),
                None => label.to_owned(),
            }
        })
        .collect()
}

/// The provider as "中文名 (English name)".
#[must_use]
pub fn provider_text(a: &Assembly) -> String {
    match &a.provider.name_en {
        Some(en) if !en.trim().is_empty() => format!("{} ({en})", a.provider.name_zh),
        _ => a.provider.name_zh.clone(),
    }
}

/// Per participant, the fields a consumer complaint form asks for (regulator and court tiers).
#[must_use]
pub fn regulator_export(a: &Assembly) -> String {
    let mut out = String::from("\u{feff}");
    line(
        &mut out,
        &[
            "编号 number",
            "投诉人 complainant",
            "联系邮箱 contact_email",
            "被投诉方 respondent",
            "诉求 demands",
            "事实经过 facts",
            "事发日期 incident_date",
            "争议金额 amount",
            "币种 currency",
            "交易单号 transaction_refs",
            "证据文件 evidence_files",
            "签署时间 signed_at",
        ]
        .map(String::from),
    );
    let respondent = provider_text(a);
    let demands = demands_text(a).join("；");
    for p in &a.participants {
        line(
            &mut out,
            &[
                p.number.to_string(),
                p.label(),
                p.email.clone().unwrap_or_default(),
                respondent.clone(),
                demands.clone(),
                p.statement.clone(),
                p.incident_date.to_string(),
                amount(p.amount_minor, &p.currency),
                p.currency.clone(),
                p.transaction_refs.join(" "),
                evidence_paths(p),
                time(p.signature.signed_at),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::amount;

    #[test]
    fn amounts_use_the_currency_minor_unit() {
        assert_eq!(amount(12800, "CNY"), "128.00");
        assert_eq!(amount(5, "USD"), "0.05");
        assert_eq!(amount(-150, "EUR"), "-1.50");
        assert_eq!(amount(1200, "JPY"), "1200");
        assert_eq!(amount(1234, "KWD"), "1.234");
    }
}
