//! Signed tokens in email links (one-click unsubscribe, outcome answers). They use keys derived
//! for their purpose and a shape of their own, so they can never pass as access tokens, and
//! one purpose's token never passes as another's. The CSRF tokens of page forms are made here
//! too, with a key of their own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::auth::tokens::derive_key;

type HmacSha256 = Hmac<Sha256>;

/// Makes and checks link tokens.
#[derive(Clone)]
pub struct LinkSigner {
    unsubscribe: Vec<u8>,
    outcome: Vec<u8>,
    csrf: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner")
    }
}

fn mac(key: &[u8], message: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty signature would never verify.
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    m.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

fn check(key: &[u8], message: &str, sig: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    m.update(message.as_bytes());
    m.verify_slice(&raw).is_ok()
}

impl LinkSigner {
    /// Signers keyed from the server secret.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            unsubscribe: derive_key(secret, "unsubscribe-link"),
            outcome: derive_key(secret, "outcome-link"),
            csrf: derive_key(secret, "page-csrf"),
        }
    }

    /// `u1~<user>~<sig>`: unsubscribes one user from bulk email.
    #[must_use]
    pub fn unsubscribe(&self, user_id: i64) -> String {
        let msg = format!("u1~{user_id}");
        format!("{msg}~{}", mac(&self.unsubscribe, &msg))
    }

    /// The user an unsubscribe token was made for.
    #[must_use]
    pub fn check_unsubscribe(&self, token: &str) -> Option<i64> {
        let mut parts = token.split('~');
        let (Some("u1"), Some(user), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        check(&self.unsubscribe, &format!("u1~{user}"), sig)
            .then(|| user.parse().ok())
            .flatten()
    }

    /// `o1~<participation>~<update>~<sig>`: answers an outcome check.
    #[must_use]
    pub fn outcome(&self, participation_id: i64, update_id: i64) -> String {
        let msg = format!("o1~{participation_id}~{update_id}");
        format!("{msg}~{}", mac(&self.outcome, &msg))
    }

    /// The (participation, update) an outcome token was made for.
    #[must_use]
    pub fn check_outcome(&self, token: &str) -> Option<(i64, i64)> {
        let mut parts = token.split('~');
        let (Some("o1"), Some(p), Some(u), Some(sig), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if !check(&self.outcome, &format!("o1~{p}~{u}"), sig) {
            return None;
        }
        Some((p.parse().ok()?, u.parse().ok()?))
    }
}

impl LinkSigner {
    /// The CSRF token of page forms for a browser's `seed` (a random cookie) and its session
    /// (empty when signed out): a signed double-submit token, so a cookie planted by another
    /// site cannot be paired with a token it could compute.
    #[must_use]
    pub fn csrf(&self, seed: &str, session: &str) -> String {
        mac(&self.csrf, &format!("c1~{seed}~{session}"))
    }

    /// Whether `token` is the CSRF token for this seed and session (compared in constant time).
    #[must_use]
    pub fn check_csrf(&self, seed: &str, session: &str, token: &str) -> bool {
        !seed.is_empty() && check(&self.csrf, &format!("c1~{seed}~{session}"), token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_do_not_cross_purposes() {
        let s = LinkSigner::new(b"0123456789abcdef0123456789abcdef");
        let u = s.unsubscribe(42);
        assert_eq!(s.check_unsubscribe(&u), Some(42));
        assert_eq!(s.check_unsubscribe(&u.replace("~42~", "~43~")), None);
        let o = s.outcome(7, 9);
        assert_eq!(s.check_outcome(&o), Some((7, 9)));
        assert_eq!(s.check_unsubscribe(&o), None);
        let forged = o.replacen("o1", "u1", 1);
        assert_eq!(s.check_unsubscribe(&forged), None);
        let other = LinkSigner::new(b"another secret, another secret!!");
        assert_eq!(other.check_unsubscribe(&u), None);
    }
}
