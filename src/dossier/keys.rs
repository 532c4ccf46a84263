//! The Ed25519 keyring that signs dossiers. Keys live in `DATA_DIR/keys/`: one PKCS#8 PEM file
//! per private key (mode 0600) and `keyring.json` listing every key's `kid`, public `x`, status
//! (`current` | `retired`) and creation time. A key given by configuration
//! (`LIANMING_SIGNING_KEY_FILE`) is the current one; its public half is recorded in the keyring
//! so dossiers it signed keep verifying after it is replaced. Rotation makes a new current key
//! and retires the old one, which stays published. The keyring is read from disk on every use,
//! so a `lianming keys rotate` takes effect without a restart.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Whether a key signs new dossiers or only verifies old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new dossiers.
    Current,
    /// Kept so older dossiers verify.
    Retired,
}

/// One entry of `keyring.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
    /// Current or retired.
    pub status: KeyStatus,
    /// When the key was made (or first seen, for a configured key).
    pub created_at: DateTime<Utc>,
    /// The private key's PEM file in the keys directory; absent for configured keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    keys: Vec<KeyRecord>,
}

/// A public key as published in the JWKS (RFC 8037 `OKP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// RFC 7638 thumbprint.
    #[serde(default)]
    pub kid: Option<String>,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    /// The keys, current first.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The Ed25519 public key named `kid`, if the set has one.
    #[must_use]
    pub fn find(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys
            .iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519")
            .find(|k| k.kid.as_deref() == Some(kid) || thumbprint_of_x(&k.x) == kid)
            .and_then(|k| public_from_x(&k.x))
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key.
#[must_use]
pub fn thumbprint(key: &VerifyingKey) -> String {
    thumbprint_of_x(&URL_SAFE_NO_PAD.encode(key.as_bytes()))
}

fn thumbprint_of_x(x: &str) -> String {
    // Members in lexicographic order, no white space (RFC 7638 §3.2).
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn public_from_x(x: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn jwk(key: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
        kid: Some(thumbprint(key)),
        alg: Some("EdDSA".into()),
        use_: Some("sig".into()),
    }
}

/// The key that signs, with its `kid`.
#[derive(Debug)]
pub struct CurrentKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// The private key.
    pub key: SigningKey,
}

/// Where the keys are: the data directory's keyring, and optionally a configured key file.
#[derive(Debug, Clone)]
pub struct KeySource {
    dir: PathBuf,
    configured: Option<PathBuf>,
}

impl KeySource {
    /// Keys in `DATA_DIR/keys`, with `configured` as the current key when given.
    #[must_use]
    pub fn new(data_dir: &Path, configured: Option<PathBuf>) -> Self {
        Self {
            dir: data_dir.join("keys"),
            configured,
        }
    }

    fn keyring_path(&self) -> PathBuf {
        self.dir.join("keyring.json")
    }

    fn read(&self) -> anyhow::Result<KeyringFile> {
        let path = self.keyring_path();
        if !path.exists() {
            return Ok(KeyringFile::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a keyring", path.display()))
    }

    fn write(&self, ring: &KeyringFile) -> anyhow::Result<()> {
        crate::private_fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let tmp = self
            .dir
            .join(format!(".keyring-{}.json", uuid::Uuid::new_v4()));
        let text = serde_json::to_string_pretty(ring).map_err(anyhow::Error::from)?;
        crate::private_fs::write(&tmp, (text + "\n").as_bytes())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, self.keyring_path()).context("replacing keyring.json")?;
        Ok(())
    }

    /// Makes sure a current key exists: generates one on first start, or records the configured
    /// key's public half. Returns the current `kid`.
    ///
    /// # Errors
    /// When the keys directory or the configured file cannot be used.
    pub fn ensure(&self, now: DateTime<Utc>) -> anyhow::Result<String> {
        if let Some(path) = &self.configured {
            let key = read_pem(path)?;
            let kid = thumbprint(&key.verifying_key());
            let mut ring = self.read()?;
            let known = ring
                .keys
                .iter()
                .any(|k| k.kid == kid && k.status == KeyStatus::Current);
            if !known {
                for k in &mut ring.keys {
                    k.status = KeyStatus::Retired;
                }
                ring.keys.retain(|k| k.kid != kid);
                ring.keys.push(KeyRecord {
                    kid: kid.clone(),
                    x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                    status: KeyStatus::Current,
                    created_at: now,
                    file: None,
                });
                self.write(&ring)?;
            }
            return Ok(kid);
        }
        let ring = self.read()?;
        match ring.keys.iter().find(|k| k.status == KeyStatus::Current) {
            Some(k) => Ok(k.kid.clone()),
            None => self.rotate(now),
        }
    }

    /// Makes a new current key; the previous ones stay, retired, so what they signed verifies.
    ///
    /// # Errors
    /// When a key is configured (rotate by replacing that file) or the directory is unusable.
    pub fn rotate(&self, now: DateTime<Utc>) -> anyhow::Result<String> {
        anyhow::ensure!(
            self.configured.is_none(),
            "the signing key is configured (LIANMING_SIGNING_KEY_FILE); rotate by pointing it \
             at a new PKCS#8 PEM file — the old public key stays published as retired"
        );
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = SigningKey::from_bytes(&secret);
        let kid = thumbprint(&key.verifying_key());
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
        crate::private_fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let file = format!("{kid}.pem");
        let path = self.dir.join(&file);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        out.write_all(pem.as_bytes())?;
        out.sync_all()?;
        let mut ring = self.read()?;
        for k in &mut ring.keys {
            k.status = KeyStatus::Retired;
        }
        ring.keys.push(KeyRecord {
            kid: kid.clone(),
            x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            status: KeyStatus::Current,
            created_at: now,
            file: Some(file),
        });
        self.write(&ring)?;
        tracing::info!(kid, "generated a new dossier signing key");
        Ok(kid)
    }

    /// The key that signs new dossiers.
    ///
    /// # Errors
    /// When there is none or it cannot be read.
    pub fn current(&self) -> anyhow::Result<CurrentKey> {
        if let Some(path) = &self.configured {
            let key = read_pem(path)?;
            return Ok(CurrentKey {
                kid: thumbprint(&key.verifying_key()),
                key,
            });
        }
        let ring = self.read()?;
        let record = ring
            .keys
            .iter()
            .find(|k| k.status == KeyStatus::Current)
            .context("the keyring has no current key")?;
        let file = record
            .file
            .as_deref()
            .context("the current key has no private key file")?;
        anyhow::ensure!(
            !file.contains(['/', '\\']) && !file.starts_with('.'),
            "keyring.json names an unusable key file {file:?}"
        );
        let key = read_pem(&self.dir.join(file))?;
        let kid = thumbprint(&key.verifying_key());
        anyhow::ensure!(
            kid == record.kid,
            "the key file {file} does not match its kid"
        );
        Ok(CurrentKey { kid, key })
    }

    /// Every published key (current first, then retired, newest first).
    ///
    /// # Errors
    /// When the keyring cannot be read.
    pub fn records(&self) -> anyhow::Result<Vec<KeyRecord>> {
        let mut keys = self.read()?.keys;
        keys.sort_by(|a, b| {
            (
                a.status == KeyStatus::Retired,
                std::cmp::Reverse(a.created_at),
            )
                .cmp(&(
                    b.status == KeyStatus::Retired,
                    std::cmp::Reverse(b.created_at),
                ))
        });
        Ok(keys)
    }

    /// The JWKS: current and retired public keys.
    ///
    /// # Errors
    /// When the keyring cannot be read.
    pub fn jwks(&self) -> anyhow::Result<Jwks> {
        let mut out = Jwks::default();
        for record in self.records()? {
            if let Some(key) = public_from_x(&record.x) {
                out.keys.push(jwk(&key));
            }
        }
        if let Some(path) = &self.configured {
            let key = read_pem(path)?.verifying_key();
            if !out
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(&thumbprint(&key)))
            {
                out.keys.insert(0, jwk(&key));
            }
        }
        Ok(out)
    }
}

fn read_pem(path: &Path) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an Ed25519 PKCS#8 PEM private key: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of its example Ed25519 key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        assert_eq!(
            thumbprint_of_x(x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rotation_keeps_old_keys_published_and_signs_with_the_new_one() {
        let dir = tempfile::tempdir().expect("dir");
        let source = KeySource::new(dir.path(), None);
        let now = Utc::now();
        let first = source.ensure(now).expect("first key");
        assert_eq!(source.ensure(now).expect("same key"), first);
        let second = source.rotate(now).expect("rotate");
        assert_ne!(first, second);
        assert_eq!(source.current().expect("current").kid, second);
        let jwks = source.jwks().expect("jwks");
        assert_eq!(jwks.keys.len(), 2);
        assert_eq!(jwks.keys[0].kid.as_deref(), Some(second.as_str()));
        assert!(jwks.find(&first).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("keys").join(format!("{first}.pem")))
                .expect("pem")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
