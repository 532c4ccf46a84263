//! Server secrets: taken from configuration, or generated on first run into the data directory
//! (mode 0600) and read back on later runs.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;

/// The secret named `name`: from `configured` when given, else from `DATA_DIR/secrets/<name>`,
/// created with 32 random bytes if missing.
///
/// # Errors
/// When the file cannot be read or written.
pub fn load_or_create(
    data_dir: &Path,
    name: &str,
    configured: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = configured {
        anyhow::ensure!(
            s.len() >= 32,
            "the configured {name} must be at least 32 characters"
        );
        return Ok(s.as_bytes().to_vec());
    }
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return STANDARD
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()));
    }
    crate::private_fs::create_dir_all(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(STANDARD.encode(&bytes).as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(bytes)
}
