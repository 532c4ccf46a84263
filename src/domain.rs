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

/// An ISO 4217 currency code.
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

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    fn slugs_keep_ascii_words() {
        assert_eq!(slugify("Alipay 退款 Delay!!", 40), "alipay-delay");
        assert_eq!(slugify("退款", 40), "");
    }
}
