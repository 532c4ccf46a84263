//! Translations: zh-CN by default, English by choice. Strings live in `frontend/locales/*.toml`
//! (flattened to dotted keys) and are compiled into the binary.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A language the interface and the emails speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Locale {
    /// Simplified Chinese, the default.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Locale {
    /// The BCP 47 tag.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }

    /// Reads a stored or requested tag; anything English-like is English, the rest zh-CN.
    #[must_use]
    pub fn parse_lenient(tag: &str) -> Self {
        if tag.trim().to_ascii_lowercase().starts_with("en") {
            Self::En
        } else {
            Self::ZhCn
        }
    }

    /// The translation of `key`, or the key itself when missing (caught by a test).
    #[must_use]
    pub fn t(self, key: &str) -> &'static str {
        let tables = tables();
        let table = match self {
            Self::ZhCn => &tables.0,
            Self::En => &tables.1,
        };
        table
            .get(key)
            .map_or_else(|| leak_missing(key), String::as_str)
    }

    /// The translation of `key`, or `None` when this locale has none (for optional keys such
    /// as a problem code's own detail).
    #[must_use]
    pub fn try_t(self, key: &str) -> Option<&'static str> {
        let tables = tables();
        let table = match self {
            Self::ZhCn => &tables.0,
            Self::En => &tables.1,
        };
        table.get(key).map(String::as_str)
    }

    /// The translation of `prefix.key`, for enumerated values (`page.category`, `refund_delay`).
    #[must_use]
    pub fn tk(self, prefix: &str, key: impl AsRef<str>) -> &'static str {
        self.t(&format!("{prefix}.{}", key.as_ref()))
    }

    /// The translation of `key` with `{name}` placeholders filled from `args`.
    #[must_use]
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.t(key), args)
    }
}

/// Fills `{name}` placeholders of `template` from `args` in one left-to-right pass, so a value
/// (user text such as a statement or a name) is copied verbatim and never expanded itself.
/// An unknown or unclosed `{…}` is kept as written.
fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn leak_missing(key: &str) -> &'static str {
    tracing::warn!(key, "missing translation");
    "?"
}

type Table = HashMap<String, String>;

fn tables() -> &'static (Table, Table) {
    static TABLES: OnceLock<(Table, Table)> = OnceLock::new();
    TABLES.get_or_init(|| {
        (
            flatten(include_str!("../frontend/locales/zh-CN.toml")),
            flatten(include_str!("../frontend/locales/en.toml")),
        )
    })
}

/// All keys of a locale file, for the completeness test.
#[must_use]
pub fn keys(locale: Locale) -> Vec<String> {
    let t = tables();
    let table = if locale == Locale::ZhCn { &t.0 } else { &t.1 };
    let mut keys: Vec<_> = table.keys().cloned().collect();
    keys.sort();
    keys
}

fn flatten(src: &str) -> Table {
    let value: toml::Value = src
        .parse()
        .unwrap_or(toml::Value::Table(toml::map::Map::new()));
    let mut out = Table::new();
    walk(&value, "", &mut out);
    out
}

fn walk(value: &toml::Value, prefix: &str, out: &mut Table) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(v, &key, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_locales_have_the_same_keys() {
        assert_eq!(keys(Locale::ZhCn), keys(Locale::En));
        assert!(!keys(Locale::En).is_empty());
    }

    #[test]
    fn a_placeholder_inside_a_filled_value_is_left_verbatim() {
        let s = fill("{a} and {b}", &[("a", "{b}"), ("b", "x")]);
        assert_eq!(s, "{b} and x");
        let s = fill(
            "{name} joined {group}",
            &[("group", "{name}"), ("name", "{group}")],
        );
        assert_eq!(s, "{group} joined {name}");
    }

    #[test]
    fn unknown_and_unclosed_braces_are_kept() {
        assert_eq!(fill("{x} {a", &[("a", "1")]), "{x} {a");
        assert_eq!(fill("{{a}}", &[("a", "1")]), "{1}");
    }

    #[test]
    fn placeholders_are_filled() {
        let s = Locale::En.tf("email.greeting", &[("name", "Li")]);
        assert_eq!(s, "Hello Li,");
    }
}
