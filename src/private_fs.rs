//! Files only the server's own user may read: the data directory holds personal data
//! (statements, evidence, mail, dossiers) and secrets, so directories are created 0700 and files
//! 0600 whatever the umask, and permissions are fixed on what an older version left readable.

use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Mode of directories under the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of files under the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700.
///
/// # Errors
/// When a directory cannot be created.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)
}

/// [`create_dir_all`] for async code.
///
/// # Errors
/// When a directory cannot be created.
pub async fn create_dir_all_async(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir).await
}

/// Options that create a file with mode 0600 (truncating one that exists).
#[must_use]
pub fn file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// [`file_options`] for async code.
#[must_use]
pub fn file_options_async() -> tokio::fs::OpenOptions {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// Writes `bytes` to a new (or truncated) 0600 file.
///
/// # Errors
/// When the file cannot be written.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    file_options().open(path)?.write_all(bytes)
}

/// [`write`] for async code.
///
/// # Errors
/// When the file cannot be written.
pub async fn write_async(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = file_options_async().open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// Sets `path` to `mode` when it exists (an existing deployment's files were created 0644).
///
/// # Errors
/// When the permissions cannot be changed (e.g. the file belongs to someone else).
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}
