//! RFC 3161 messages: the request we send, and the checks of a token we are given: the
//! imprint, the CMS signature of the TSA over its signed attributes, and whether the signing
//! certificate is one of the configured ones or directly issued by one of them (one level of
//! chain: a TSA's certificate is usually issued by its CA directly; longer chains are refused
//! rather than half-checked).
//!
//! The ASN.1 is the RustCrypto `der` family's (`x509-tsp`, `cms`, `x509-cert`); RSA PKCS#1 v1.5
//! (SHA-256/384/512) and ECDSA P-256/P-384 (SHA-256/384/512) signatures are checked with
//! `rsa`, `p256` and `p384`, over digests computed here with `sha2`.

use chrono::{DateTime, Utc};
use cms::cert::x509::Certificate;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, Int, OctetString};
use der::oid::ObjectIdentifier;
use der::oid::db::{rfc5280, rfc5911, rfc5912};
use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// `id-ct-TSTInfo` (RFC 3161 §2.4.2), the content type of a timestamp token.
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// A DER time as a chrono one.
fn utc(since_epoch: std::time::Duration) -> DateTime<Utc> {
    DateTime::from_timestamp(
        i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
        since_epoch.subsec_nanos(),
    )
    .unwrap_or_default()
}

/// The certificates a token's signer must be, or be issued by (`LIANMING_TSA_CERT`).
#[derive(Debug, Clone)]
pub struct Anchors {
    certs: Vec<Certificate>,
}

impl Anchors {
    /// Every certificate of a PEM file's text.
    ///
    /// # Errors
    /// When it holds no certificate, or one that does not parse.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs =
            Certificate::load_pem_chain(pem).map_err(|e| format!("not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("no certificate in it".into());
        }
        Ok(Self { certs })
    }

    /// The configured certificates' subjects, for messages.
    #[must_use]
    pub fn subjects(&self) -> Vec<String> {
        self.certs
            .iter()
            .map(|c| c.tbs_certificate.subject.to_string())
            .collect()
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a time-stamp response or token.
    #[error("not an RFC 3161 timestamp: {0}")]
    Malformed(String),
    /// The TSA did not grant the request.
    #[error("the TSA refused the request: {0}")]
    Refused(String),
    /// The token is for other data.
    #[error("the timestamp is for other data (message imprint {got}, expected {expected})")]
    WrongImprint {
        /// The token's imprint, hex.
        got: String,
        /// The digest expected, hex.
        expected: String,
    },
    /// The signature does not hold.
    #[error("the timestamp's signature is not valid: {0}")]
    BadSignature(String),
}

/// Whether the signer chains to the configured certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The signer is a configured certificate or issued by one.
    Trusted,
    /// It is not (the reason says how).
    Untrusted(String),
    /// No certificate was configured to check against.
    NotChecked,
}

/// What a token says, once its imprint and signature hold.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The TSA's time.
    pub gen_time: DateTime<Utc>,
    /// The TSA: its certificate's subject, else the name in the token.
    pub tsa: Option<String>,
    /// Whether the signer chains to the configured certificates.
    pub trust: Trust,
    /// The request's nonce echoed by the token, big-endian.
    pub nonce: Option<Vec<u8>>,
}

/// A DER `TimeStampReq` for a SHA-256 digest, with `nonce` (big-endian, positive) and
/// `certReq` set, so the token carries the TSA's certificate.
///
/// # Errors
/// Never in practice (the fields are well-formed).
pub fn request(sha256: &[u8], nonce: &[u8]) -> Result<Vec<u8>, String> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint(rfc5912::ID_SHA_256, sha256)?,
        req_policy: None,
        nonce: Some(Int::new(nonce).map_err(|e| e.to_string())?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(|e| e.to_string())
}

/// A hash algorithm and value: the `MessageImprint` of RFC 3161, which has the shape of
/// PKCS#1's `DigestInfo` too.
fn imprint(alg: ObjectIdentifier, digest: &[u8]) -> Result<MessageImprint, String> {
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: alg,
            parameters: Some(Any::null()),
        },
        hashed_message: OctetString::new(digest).map_err(|e| e.to_string())?,
    })
}

/// The token (CMS `ContentInfo`) of a `TimeStampResp` whose status is granted, or of a bare
/// token (what `openssl ts -reply -token_out` writes).
fn token_of(bytes: &[u8]) -> Result<ContentInfo, TokenError> {
    match TimeStampResp::from_der(bytes) {
        Ok(resp) => {
            // granted (0) or grantedWithMods (1).
            let status = resp.status.status as u8;
            if status > 1 {
                let text = resp
                    .status
                    .status_string
                    .as_ref()
                    .map(|t| {
                        t.iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                return Err(TokenError::Refused(format!("status {status} {text}")));
            }
            resp.time_stamp_token
                .ok_or_else(|| TokenError::Malformed("a granted response without a token".into()))
        }
        Err(resp_err) => ContentInfo::from_der(bytes)
            .map_err(|_| TokenError::Malformed(format!("not a TimeStampResp: {resp_err}"))),
    }
}

fn malformed(what: &str) -> impl Fn(der::Error) -> TokenError + '_ {
    move |e| TokenError::Malformed(format!("{what}: {e}"))
}

/// Checks `bytes` (a `TimeStampResp`, as in a `.tsr` file, or a bare token) as a timestamp of
/// the data whose SHA-256 is `sha256`: the imprint, the TSA's signature, and — with `anchors` —
/// that the signer is, or is issued by, one of them.
///
/// # Errors
/// When it is malformed, refused, for other data, or its signature does not hold.
pub fn check(
    bytes: &[u8],
    sha256: &[u8],
    anchors: Option<&Anchors>,
) -> Result<Checked, TokenError> {
    let token = token_of(bytes)?;
    if token.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(TokenError::Malformed(
            "the token is not CMS SignedData".into(),
        ));
    }
    let signed: SignedData = token
        .content
        .decode_as()
        .map_err(malformed("the token's SignedData"))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(TokenError::Malformed(
            "the token does not hold a TSTInfo".into(),
        ));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TokenError::Malformed("the token holds no TSTInfo".into()))?;
    let tst_der = econtent
        .decode_as::<OctetString>()
        .map_err(malformed("the token's content"))?;
    let tst = TstInfo::from_der(tst_der.as_bytes()).map_err(malformed("the TSTInfo"))?;

    let got = &tst.message_imprint;
    if got.hash_algorithm.oid != rfc5912::ID_SHA_256 || got.hashed_message.as_bytes() != sha256 {
        return Err(TokenError::WrongImprint {
            got: hex::encode(got.hashed_message.as_bytes()),
            expected: hex::encode(sha256),
        });
    }

    let signer_info = match signed.signer_infos.0.as_slice() {
        [one] => one,
        _ => {
            return Err(TokenError::Malformed(
                "a timestamp token has exactly one signer".into(),
            ));
        }
    };
    let signer = find_signer(&signed, signer_info, anchors).ok_or_else(|| {
        TokenError::BadSignature(
            "the token does not carry the TSA's certificate, and it is not configured".into(),
        )
    })?;
    verify_signer_info(signer_info, &signer, tst_der.as_bytes())?;

    let gen_time = utc(tst.gen_time.to_unix_duration());
    let trust = match anchors {
        None => Trust::NotChecked,
        Some(a) => trust(&signer, a, gen_time),
    };
    let tsa = Some(signer.tbs_certificate.subject.to_string()).or_else(|| {
        tst.tsa.as_ref().map(|n| match n {
            x509_cert::ext::pkix::name::GeneralName::DirectoryName(d) => d.to_string(),
            other => format!("{other:?}"),
        })
    });
    Ok(Checked {
        gen_time,
        tsa,
        trust,
        nonce: tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
    })
}

/// The signer's certificate: from the token's certificates, else the configured ones.
fn find_signer(
    signed: &SignedData,
    info: &SignerInfo,
    anchors: Option<&Anchors>,
) -> Option<Certificate> {
    let carried = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c),
            _ => None,
        });
    let configured = anchors.into_iter().flat_map(|a| a.certs.iter());
    carried
        .chain(configured)
        .find(|c| identifies(&info.sid, c))
        .cloned()
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(i) => {
            i.issuer == cert.tbs_certificate.issuer
                && i.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .is_some_and(|(_, own)| own == *ski),
    }
}

/// The CMS checks of RFC 5652 §5.4: the signed attributes name TSTInfo as the content type and
/// carry its digest, and the signature over their DER holds with the signer's key.
fn verify_signer_info(
    info: &SignerInfo,
    signer: &Certificate,
    econtent: &[u8],
) -> Result<(), TokenError> {
    let bad = |m: &str| TokenError::BadSignature(m.to_owned());
    let attrs = info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("the signer has no signed attributes"))?;
    let single = |oid: ObjectIdentifier| -> Result<&Any, TokenError> {
        let attr = attrs
            .iter()
            .find(|a| a.oid == oid)
            .ok_or_else(|| bad(&format!("no signed attribute {oid}")))?;
        match attr.values.as_slice() {
            [v] => Ok(v),
            _ => Err(bad(&format!("attribute {oid} must have one value"))),
        }
    };
    let content_type: ObjectIdentifier = single(rfc5911::ID_CONTENT_TYPE)?
        .decode_as()
        .map_err(|e| bad(&format!("content-type attribute: {e}")))?;
    if content_type != ID_CT_TST_INFO {
        return Err(bad("the signed content type is not TSTInfo"));
    }
    let digest: OctetString = single(rfc5911::ID_MESSAGE_DIGEST)?
        .decode_as()
        .map_err(|e| bad(&format!("message-digest attribute: {e}")))?;
    let want = hash(&info.digest_alg.oid, econtent).map_err(|e| bad(&e))?;
    if digest.as_bytes() != want.as_slice() {
        return Err(bad("the signed digest does not match the TSTInfo"));
    }
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| bad(&format!("signed attributes: {e}")))?;
    verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        &info.signature_algorithm.oid,
        Some(&info.digest_alg.oid),
        &signed_bytes,
        info.signature.as_bytes(),
    )
    .map_err(|e| bad(&e))
}

/// Whether `signer` is one of `anchors` or directly issued by one, is a time-stamping
/// certificate, and was valid at `at`.
fn trust(signer: &Certificate, anchors: &Anchors, at: DateTime<Utc>) -> Trust {
    let tbs = &signer.tbs_certificate;
    let validity = &tbs.validity;
    let from = utc(validity.not_before.to_unix_duration());
    let until = utc(validity.not_after.to_unix_duration());
    if at < from || at > until {
        return Trust::Untrusted(format!(
            "the TSA certificate was not valid at the timestamp's time ({from} to {until})"
        ));
    }
    let time_stamping = tbs
        .get::<x509_cert::ext::pkix::ExtendedKeyUsage>()
        .ok()
        .flatten()
        .is_some_and(|(_, eku)| eku.0.contains(&rfc5280::ID_KP_TIME_STAMPING));
    if !time_stamping {
        return Trust::Untrusted(
            "the signing certificate is not for time-stamping (no extended key usage \
             timeStamping)"
                .into(),
        );
    }
    let Ok(signer_der) = signer.to_der() else {
        return Trust::Untrusted("the signing certificate cannot be encoded".into());
    };
    for anchor in &anchors.certs {
        if anchor.to_der().is_ok_and(|d| d == signer_der) {
            return Trust::Trusted;
        }
        if anchor.tbs_certificate.subject == tbs.issuer {
            let Ok(tbs_der) = tbs.to_der() else { continue };
            if verify_signature(
                &anchor.tbs_certificate.subject_public_key_info,
                &signer.signature_algorithm.oid,
                None,
                &tbs_der,
                signer.signature.raw_bytes(),
            )
            .is_ok()
            {
                return Trust::Trusted;
            }
        }
    }
    Trust::Untrusted(format!(
        "the TSA certificate ({}, issued by {}) is neither a configured certificate nor issued \
         by one",
        tbs.subject, tbs.issuer
    ))
}

/// The digest of `data` by the hash algorithm `alg`.
fn hash(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match *alg {
        rfc5912::ID_SHA_256 => sha2::Sha256::digest(data).to_vec(),
        rfc5912::ID_SHA_384 => sha2::Sha384::digest(data).to_vec(),
        rfc5912::ID_SHA_512 => sha2::Sha512::digest(data).to_vec(),
        other => return Err(format!("unsupported digest algorithm {other}")),
    })
}

/// Checks `signature` over `message` with the key of `spki`. `sig_alg` names the signature
/// algorithm; when it names only the key type (CMS allows `rsaEncryption`), `digest_alg` names
/// the hash.
fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    digest_alg: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let (family, hash_alg) = match *sig_alg {
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => (Family::Rsa, rfc5912::ID_SHA_256),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => (Family::Rsa, rfc5912::ID_SHA_384),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => (Family::Rsa, rfc5912::ID_SHA_512),
        rfc5912::ECDSA_WITH_SHA_256 => (Family::Ecdsa, rfc5912::ID_SHA_256),
        rfc5912::ECDSA_WITH_SHA_384 => (Family::Ecdsa, rfc5912::ID_SHA_384),
        rfc5912::ECDSA_WITH_SHA_512 => (Family::Ecdsa, rfc5912::ID_SHA_512),
        rfc5912::RSA_ENCRYPTION => (
            Family::Rsa,
            *digest_alg.ok_or("rsaEncryption without a digest algorithm")?,
        ),
        rfc5912::ID_EC_PUBLIC_KEY => (
            Family::Ecdsa,
            *digest_alg.ok_or("id-ecPublicKey without a digest algorithm")?,
        ),
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    let digest = hash(&hash_alg, message)?;
    match (family, spki.algorithm.oid) {
        (Family::Rsa, rfc5912::RSA_ENCRYPTION) => {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            let key = rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
                .map_err(|e| format!("the RSA key: {e}"))?;
            // EMSA-PKCS1-v1_5 signs the DER of DigestInfo { algorithm, digest }.
            let digest_info = imprint(hash_alg, &digest)?
                .to_der()
                .map_err(|e| e.to_string())?;
            key.verify(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info, signature)
                .map_err(|_| "the RSA signature does not match".to_owned())
        }
        (Family::Ecdsa, rfc5912::ID_EC_PUBLIC_KEY) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .ok_or("an EC key without a named curve")?
                .decode_as()
                .map_err(|e| format!("the EC key's curve: {e}"))?;
            let point = spki.subject_public_key.raw_bytes();
            let ok = match curve {
                rfc5912::SECP_256_R_1 => {
                    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|e| format!("the P-256 key: {e}"))?;
                    let sig = p256::ecdsa::Signature::from_der(signature)
                        .map_err(|e| format!("the ECDSA signature: {e}"))?;
                    key.verify_prehash(&digest, &sig).is_ok()
                }
                rfc5912::SECP_384_R_1 => {
                    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|e| format!("the P-384 key: {e}"))?;
                    let sig = p384::ecdsa::Signature::from_der(signature)
                        .map_err(|e| format!("the ECDSA signature: {e}"))?;
                    key.verify_prehash(&digest, &sig).is_ok()
                }
                other => return Err(format!("unsupported curve {other}")),
            };
            if ok {
                Ok(())
            } else {
                Err("the ECDSA signature does not match".into())
            }
        }
        (_, key) => Err(format!(
            "signature algorithm {sig_alg} does not fit the key type {key}"
        )),
    }
}

#[derive(Clone, Copy)]
enum Family {
    Rsa,
    Ecdsa,
}
