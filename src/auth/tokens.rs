//! Access tokens (short-lived HS256 JWTs with pinned algorithm, issuer, audience and `typ`) and
//! opaque refresh tokens (random, stored only as SHA-256).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The audience every access token is issued for.
pub const AUDIENCE: &str = "lianming-api";

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session (refresh-token family) the token was issued in; checked on every request so
    /// ending the session ends its access tokens at once.
    sid: String,
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess {
    /// The user the token was issued to.
    pub user_id: i64,
    /// The session (refresh-token family id) it belongs to.
    pub session_id: String,
}

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Derives a key for one purpose from the server secret, so a token made for one purpose can
/// never pass as another.
#[must_use]
pub fn derive_key(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"lianming/key/");
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(secret);
    h.finalize().to_vec()
}

impl TokenService {
    /// A token service for `issuer` keyed from the server secret.
    #[must_use]
    pub fn new(secret: &[u8], issuer: String, ttl: Duration) -> Self {
        let key = derive_key(secret, "access-token");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the application clock below, not the system clock.
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            issuer,
            ttl,
        }
    }

    /// Seconds an access token lives.
    #[must_use]
    pub fn ttl_secs(&self) -> i64 {
        self.ttl.num_seconds()
    }

    /// Issues an access token for `user_id` in the session `session_id`.
    ///
    /// # Errors
    /// Only when signing fails.
    pub fn issue(
        &self,
        user_id: i64,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("signing access token: {e}")))
    }

    /// Checks an access token and returns the user and session it was issued to. Whether the
    /// session is still open is the caller's question (it needs the database).
    ///
    /// # Errors
    /// 401 `invalid_token` for anything but a well-formed, unexpired token of this server
    /// (a token without a session id included).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedAccess, AppError> {
        let invalid =
            || AppError::Unauthorized("invalid_token", "the access token is invalid".into());
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid())?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(invalid());
        }
        if data.claims.exp <= now.timestamp() {
            return Err(AppError::Unauthorized(
                "token_expired",
                "the access token has expired".into(),
            ));
        }
        if data.claims.sid.is_empty() {
            return Err(invalid());
        }
        Ok(VerifiedAccess {
            user_id: data.claims.sub.parse().map_err(|_| invalid())?,
            session_id: data.claims.sid,
        })
    }
}

/// A new random token: the text given to the client and the SHA-256 hex that is stored.
#[must_use]
pub fn random_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let plain = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256_hex(plain.as_bytes());
    (plain, hash)
}

/// Lower-case hex SHA-256 of `data`.
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
