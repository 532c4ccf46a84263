//! The local file-system blob store: `DATA_DIR/blobs/ab/cd/abcd…`, written to a temporary file
//! while hashing, fsynced, then renamed into place atomically.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{BlobStore, ByteStream, StageError, Staged, UploadStream, is_sha256};

/// Blobs under one directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The final path of a blob.
    ///
    /// # Errors
    /// For a key that is not a SHA-256.
    pub fn path_of(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a sha256 key",
            ));
        }
        Ok(self
            .root
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    /// Removes staging files (`tmp/*.part`) not written to for `idle`: what a crash or a
    /// dropped request left behind. An upload in progress writes continuously, so its file is
    /// never that old, even when several instances share the directory.
    ///
    /// # Errors
    /// When the staging directory cannot be read.
    pub fn sweep_parts(&self, idle: Duration) -> io::Result<usize> {
        let entries = match std::fs::read_dir(self.tmp_dir()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "part") {
                continue;
            }
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= idle));
            if stale && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn staged_path(&self, staged: &Staged) -> io::Result<PathBuf> {
        let name = Path::new(&staged.handle).file_name().map(|n| n.to_owned());
        match name {
            Some(n) if staged.handle.ends_with(".part") => Ok(self.tmp_dir().join(n)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a staged handle",
            )),
        }
    }
}

/// A staging file removed when dropped while still armed.
struct PartGuard(Option<PathBuf>);

impl Drop for PartGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[async_trait::async_trait(?Send)]
impl BlobStore for LocalStore {
    async fn stage(&self, mut content: UploadStream<'_>, limit: u64) -> Result<Staged, StageError> {
        let tmp_dir = self.tmp_dir();
        crate::private_fs::create_dir_all_async(&tmp_dir).await?;
        let name = format!("{}.part", uuid::Uuid::new_v4());
        let path = tmp_dir.join(&name);
        let mut file = crate::private_fs::file_options_async().open(&path).await?;
        // Removes the file should this future be dropped mid-upload (the client went away).
        let mut guard = PartGuard(Some(path.clone()));
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let result: Result<(), StageError> = async {
            while let Some(chunk) = content.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(StageError::TooLarge { limit });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            file.sync_all().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&path).await;
            guard.0 = None;
            return Err(e);
        }
        guard.0 = None;
        Ok(Staged {
            sha256: hex::encode(hasher.finalize()),
            size,
            handle: name,
        })
    }

    async fn commit(&self, staged: &Staged) -> io::Result<()> {
        let from = self.staged_path(staged)?;
        let to = self.path_of(&staged.sha256)?;
        if tokio::fs::try_exists(&to).await? {
            let _ = tokio::fs::remove_file(&from).await;
            return Ok(());
        }
        if let Some(dir) = to.parent() {
            crate::private_fs::create_dir_all_async(dir).await?;
        }
        tokio::fs::rename(&from, &to).await?;
        // Make the rename itself durable.
        if let Some(dir) = to.parent()
            && let Ok(d) = tokio::fs::File::open(dir).await
        {
            let _ = d.sync_all().await;
        }
        Ok(())
    }

    async fn discard(&self, staged: &Staged) {
        if let Ok(path) = self.staged_path(staged) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    async fn get(&self, sha256: &str) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(self.path_of(sha256)?).await?;
        Ok(Box::pin(ReaderStream::with_capacity(file, 64 * 1024)))
    }

    async fn delete(&self, sha256: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path_of(sha256)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn exists(&self, sha256: &str) -> io::Result<bool> {
        tokio::fs::try_exists(self.path_of(sha256)?).await
    }

    fn sweep(&self, idle: Duration) -> io::Result<usize> {
        self.sweep_parts(idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: &[&'static [u8]]) -> Vec<io::Result<actix_web::web::Bytes>> {
        parts
            .iter()
            .map(|p| Ok(actix_web::web::Bytes::from_static(p)))
            .collect()
    }

    #[tokio::test]
    async fn content_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().expect("dir");
        let store = LocalStore::new(dir.path().to_path_buf());
        let mut a = std::pin::pin!(futures_util::stream::iter(stream(&[b"hello ", b"world"])));
        let first = store.put(a.as_mut(), 100).await.expect("put");
        let mut b = std::pin::pin!(futures_util::stream::iter(stream(&[b"hello world"])));
        let second = store.put(b.as_mut(), 100).await.expect("put");
        assert_eq!(first.sha256, second.sha256);
        assert_eq!(first.sha256, hex::encode(Sha256::digest(b"hello world")));
        assert!(store.exists(&first.sha256).await.expect("exists"));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0
        );
        let mut read = store.get(&first.sha256).await.expect("get");
        let mut bytes = Vec::new();
        while let Some(c) = read.next().await {
            bytes.extend_from_slice(&c.expect("chunk"));
        }
        assert_eq!(bytes, b"hello world");
    }

    #[tokio::test]
    async fn too_large_content_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("dir");
        let store = LocalStore::new(dir.path().to_path_buf());
        let mut s = std::pin::pin!(futures_util::stream::iter(stream(&[
            b"0123456789",
            b"0123456789"
        ])));
        let err = store.stage(s.as_mut(), 15).await;
        assert!(matches!(err, Err(StageError::TooLarge { limit: 15 })));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0
        );
    }

    #[test]
    fn keys_that_are_not_hashes_are_refused() {
        let store = LocalStore::new(PathBuf::from("/tmp/x"));
        assert!(store.path_of("../../etc/passwd").is_err());
        assert!(store.path_of(&"A".repeat(64)).is_err());
    }
}
