//! The compact JWS over a dossier's manifest (RFC 7515, `alg: EdDSA` per RFC 8037), made and
//! checked with ed25519-dalek directly. The payload is the exact bytes of `manifest.json`.
//!
//! The protected header also names `letter.pdf` with its SHA-256 and size: the letter prints
//! the manifest's hash in its verification box, so the manifest cannot list the letter's own
//! hash (that would be a cycle); the signed header binds the letter instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// `typ` of the JWS.
pub const TYP: &str = "JOSE";
/// `cty` of the JWS: what the payload is.
pub const CTY: &str = "lianming-manifest+json";

/// A file named in the protected header, with its hash and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Path inside the bundle.
    pub path: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The protected header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// `EdDSA`.
    pub alg: String,
    /// `JOSE`.
    #[serde(default)]
    pub typ: Option<String>,
    /// `lianming-manifest+json`.
    #[serde(default)]
    pub cty: Option<String>,
    /// The signing key's RFC 7638 thumbprint.
    #[serde(default)]
    pub kid: Option<String>,
    /// The letter, bound by the signature.
    #[serde(default)]
    pub letter: Option<FileRef>,
}

/// Signs `payload` with `key`; returns the compact serialisation.
///
/// # Errors
/// Never in practice (the header always serialises).
pub fn sign(
    key: &SigningKey,
    kid: &str,
    letter: &FileRef,
    payload: &[u8],
) -> Result<String, serde_json::Error> {
    let header = Header {
        alg: "EdDSA".into(),
        typ: Some(TYP.into()),
        cty: Some(CTY.into()),
        kid: Some(kid.into()),
        letter: Some(letter.clone()),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// A compact JWS taken apart (not yet verified).
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The protected header.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
    signing_input: String,
    signature: Signature,
}

/// Why a JWS could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Splits and decodes a compact JWS.
///
/// # Errors
/// When it is not three base64url parts, the header is not JSON or names another algorithm,
/// or the signature is not 64 bytes.
pub fn decode(compact: &str) -> Result<Decoded, Malformed> {
    let compact = compact.trim();
    let mut parts = compact.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed(
            "not a compact JWS (three dot-separated parts)".into(),
        ));
    };
    let b64 = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| Malformed(format!("the {what} is not base64url: {e}")))
    };
    let header: Header = serde_json::from_slice(&b64(h, "header")?)
        .map_err(|e| Malformed(format!("the protected header is not valid: {e}")))?;
    if header.alg != "EdDSA" {
        return Err(Malformed(format!("alg {:?} is not EdDSA", header.alg)));
    }
    let payload = b64(p, "payload")?;
    let signature = Signature::from_slice(&b64(s, "signature")?)
        .map_err(|_| Malformed("the signature is not 64 bytes".into()))?;
    Ok(Decoded {
        header,
        payload,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

impl Decoded {
    /// Whether `key` made the signature (strict RFC 8032 verification).
    #[must_use]
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_payload_verifies_and_a_changed_one_does_not() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let letter = FileRef {
            path: "letter.pdf".into(),
            sha256: "00".repeat(32),
            size: 3,
        };
        let jws = sign(&key, "kid-1", &letter, b"{\"a\":1}\n").expect("sign");
        let decoded = decode(&jws).expect("decode");
        assert_eq!(decoded.payload, b"{\"a\":1}\n");
        assert_eq!(decoded.header.letter.as_ref(), Some(&letter));
        assert!(decoded.verify(&key.verifying_key()));

        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(b"{\"a\":2}\n");
        let forged = decode(&parts.join(".")).expect("decode");
        assert!(!forged.verify(&key.verifying_key()));
        assert!(decode("a.b").is_err());
    }
}
