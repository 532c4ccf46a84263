//! Small domain values parsed once at the edge: normalised emails, currencies, slugs.

use std::fmt;

/// Normalises an email address for uniqueness: trimmed and lower-cased; for providers known to
/// ignore them, dots and `+tags` in the local part are dropped, so one person cannot hold two
/// accounts (and sign twice) under variants of one address.
#[must_use]
pub fn normalize_email(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    let Some((local, domain)) = lower.rsplit_once('@') else {
        return lower;
    };
    let domain = match domain {
        "googlemail.com" => "gmail.com",
        other => other,
    };
    let strips_tags = matches!(
        domain,
        "gmail.com"
            | "outlook.com"
            | "hotmail.com"
            | "live.com"
            | "icloud.com"
            | "me.com"
            | "fastmail.com"
            | "proton.me"
            | "protonmail.com"
            | "yahoo.com"
    );
    let mut local = local.to_owned();
    if strips_tags {
        let sep = if domain == "yahoo.com" { '-' } else { '+' };
        if let Some((base, _)) = local.split_once(sep) {
            local = base.to_owned();
        }
    }
    if domain == "gmail.com" {
        local.retain(|c| c != '.');
    }
    format!("{local}@{domain}")
}

/// ISO 4217 codes in use.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB \
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY \
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR \
MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF \
SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH \
UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG";

/// Currencies whose minor unit is not the hundredth (ISO 4217): no decimals, or three.
const EXPONENT_0: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const EXPONENT_3: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// An ISO 4217 currency code, parsed once at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses an upper-case ISO 4217 code.
    ///
    /// # Errors
    /// A message for the user, with a hint for the common `RMB`.
    pub fn parse(code: &str) -> Result<Self, String> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("RMB") {
            return Err("use the ISO code CNY for renminbi".into());
        }
        let bytes = code.as_bytes();
        if bytes.len() == 3 && ISO_4217.split_ascii_whitespace().any(|c| c == code) {
            Ok(Self([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err("must be an ISO 4217 currency code such as CNY, HKD or USD".into())
        }
    }

    /// A code read back from the database (written after [`Currency::parse`]); anything else
    /// becomes `XXX`, ISO 4217's "no currency".
    #[must_use]
    pub fn from_stored(code: &str) -> Self {
        Self::parse(code).unwrap_or(Self(*b"XXX"))
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point of the currency's minor unit.
    #[must_use]
    pub fn exponent(self) -> u32 {
        let code = self.as_str();
        if EXPONENT_0.contains(&code) {
            0
        } else if EXPONENT_3.contains(&code) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Money as integer minor units of an ISO 4217 currency.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    validator::Validate,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Amount in minor units (fen for CNY): 12800 is ¥128.00.
    #[validate(range(
        min = 0,
        max = 100_000_000_000_i64,
        message = "must be between 0 and 100000000000"
    ))]
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. CNY.
    #[schema(value_type = String, example = "CNY")]
    pub currency: Currency,
}

impl Money {
    /// Money from stored columns.
    #[must_use]
    pub fn from_stored(amount_minor: i64, currency: &str) -> Self {
        Self {
            amount_minor,
            currency: Currency::from_stored(currency),
        }
    }

    /// Parses an amount typed in major units (`128`, `128.5`, `¥1,280.00`, full-width digits)
    /// in `currency`'s minor units.
    ///
    /// # Errors
    /// When the text is not a non-negative number with at most the currency's decimals.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, &'static str> {
        let cleaned: String = text
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                '．' | '。' => '.',
                _ => c,
            })
            .filter(|c| !matches!(c, ',' | '，' | ' ' | '¥' | '￥' | '$'))
            .collect();
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        let exp = currency.exponent() as usize;
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > exp {
            return Err("not_a_number");
        }
        let mut minor = String::with_capacity(whole.len() + exp);
        minor.push_str(whole);
        minor.push_str(frac);
        minor.extend(std::iter::repeat_n('0', exp - frac.len()));
        let amount_minor = minor.parse::<i64>().map_err(|_| "too_large")?;
        Ok(Self {
            amount_minor,
            currency,
        })
    }

    /// The amount in major units with the currency's decimals: `12800` CNY → `128.00`.
    #[must_use]
    pub fn decimal(&self) -> String {
        let exp = self.currency.exponent();
        let minor = self.amount_minor;
        if exp == 0 {
            return minor.to_string();
        }
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let unit = 10_u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = exp as usize
        )
    }
}

/// Makes a URL slug from ASCII letters and digits of `text` (Chinese text contributes nothing;
/// callers add a random suffix), at most `max` characters.
#[must_use]
pub fn slugify(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else {
            dash = true;
        }
        if out.len() >= max {
            break;
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// A random suffix of `n` lower-case letters and digits (no look-alikes).
#[must_use]
pub fn random_suffix(n: usize) -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_variants_normalise_to_one_address() {
        assert_eq!(
            normalize_email("  Li.Ming+wallet@GoogleMail.com "),
            "liming@gmail.com"
        );
        assert_eq!(normalize_email("li.ming@qq.com"), "li.ming@qq.com");
        assert_eq!(normalize_email("a+b@example.org"), "a+b@example.org");
    }

    #[test]
    fn currencies_are_checked_against_iso_4217() {
        assert_eq!(
            Currency::parse("CNY").map(|c| c.to_string()),
            Ok("CNY".into())
        );
        assert!(Currency::parse("RMB").is_err());
        assert!(Currency::parse("cny").is_err());
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn typed_amounts_are_read_in_the_currency_minor_unit() {
        let cny = Currency::parse("CNY").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let minor = |t, c| Money::parse_decimal(t, c).map(|m| m.amount_minor);
        assert_eq!(minor("128", cny), Ok(12800));
        assert_eq!(minor("128.5", cny), Ok(12850));
        assert_eq!(minor("¥1,280.05", cny), Ok(128_005));
        assert_eq!(minor("１２８．００", cny), Ok(12800));
        assert_eq!(minor("1200", jpy), Ok(1200));
        assert_eq!(minor("12.5", jpy), Err("not_a_number"));
        assert_eq!(minor("1.234", cny), Err("not_a_number"));
        assert_eq!(minor("-5", cny), Err("not_a_number"));
        assert_eq!(minor("", cny), Err("not_a_number"));
        assert_eq!(minor("abc", cny), Err("not_a_number"));
        assert_eq!(minor("99999999999999999999", cny), Err("too_large"));
    }

    #[test]
    fn amounts_use_the_currency_minor_unit() {
        let m = |n, c| Money::from_stored(n, c).decimal();
        assert_eq!(m(12800, "CNY"), "128.00");
        assert_eq!(m(5, "USD"), "0.05");
        assert_eq!(m(-150, "EUR"), "-1.50");
        assert_eq!(m(1200, "JPY"), "1200");
        assert_eq!(m(1234, "KWD"), "1.234");
    }

    #[test]
    fn slugs_keep_ascii_words() {
        assert_eq!(slugify("Alipay 退款 Delay!!", 40), "alipay-delay");
        assert_eq!(slugify("退款", 40), "");
    }
}

/// A same-site path to continue to after a detour (log in, register, verify the address):
/// `/groups/x/join?step=2`. Only a single leading `/` passes, so `//evil.example`,
/// `/\evil.example` and `https://…` can never turn it into an open redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    /// Accepts a relative path on this site, or nothing.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() <= 512
            && raw.starts_with('/')
            && !raw.starts_with("//")
            // Browsers read `\` as `/`; control characters have no business in a path.
            && !raw.chars().any(|c| c == '\\' || c.is_control());
        ok.then(|| Self(raw.to_owned()))
    }

    /// The path as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod local_path_tests {
    use super::LocalPath;

    #[test]
    fn only_same_site_paths_pass() {
        for good in ["/", "/groups/a/join", "/groups/a?x=1#y"] {
            assert!(LocalPath::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "groups/a",
            "/a\nb",
            "javascript:alert(1)",
        ] {
            assert!(LocalPath::parse(bad).is_none(), "{bad}");
        }
    }
}

/// The client network a join came from: the IPv4 /24 (`203.0.113.0/24`) or the IPv6 /48
/// (`2001:db8:1::/48`) of the request's address, never the address itself. Kept with a join
/// for the organisers' integrity signals (`groups::signals`), as coarse as a burst of sign-ups
/// from one place needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinNetwork(String);

impl JoinNetwork {
    /// The network of `client`, the address as the rate limiter keys it
    /// (`RateLimits::client_key`); nothing when that is not an IP address. An IPv4 address
    /// mapped into IPv6 counts as IPv4.
    #[must_use]
    pub fn of_client(client: &str) -> Option<Self> {
        let ip: std::net::IpAddr = client.trim().parse().ok()?;
        let network = match ip.to_canonical() {
            std::net::IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                format!("{prefix}/48")
            }
        };
        Some(Self(network))
    }

    /// The stored form.
    #[must_use]
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod join_network_tests {
    use super::JoinNetwork;

    fn of(s: &str) -> Option<String> {
        JoinNetwork::of_client(s).map(JoinNetwork::into_inner)
    }

    #[test]
    fn only_the_prefix_of_an_address_is_kept() {
        assert_eq!(of("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(
            of("2001:db8:1:2:3:4:5:6").as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            of("::ffff:198.51.100.9").as_deref(),
            Some("198.51.100.0/24")
        );
        assert_eq!(of("unknown"), None);
        assert_eq!(of(""), None);
    }
}
