//! Content-addressed storage of evidence files. [`BlobStore`] is the seam: the local file
//! system backend ([`local`], the default) and an S3-compatible one ([`s3`],
//! `LIANMING_BLOB_URL`). Reference counts live in the `blobs` table (see [`refs`]).

pub mod local;
pub mod refs;
pub mod s3;

use std::io;
use std::pin::Pin;

use actix_web::web::Bytes;
use futures_util::Stream;

/// A stream of file content.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A stream being uploaded; not `Send`, because request bodies live on one worker thread.
pub type UploadStream<'a> = Pin<&'a mut (dyn Stream<Item = io::Result<Bytes>> + 'a)>;

/// Content written to the store but not yet addressable: the caller decides, in its
/// transaction, whether to [`BlobStore::commit`] or [`BlobStore::discard`] it.
#[derive(Debug)]
pub struct Staged {
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Bytes written.
    pub size: u64,
    /// Backend-specific handle of the staged content (a temporary path, an upload id).
    pub handle: String,
}

/// Why staging failed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The content exceeded the limit; nothing is kept.
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The source stream or the store failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Where blobs are kept.
#[async_trait::async_trait(?Send)]
pub trait BlobStore: std::fmt::Debug + Send + Sync {
    /// Writes `content` to a staging area while hashing it, stopping at `limit` bytes.
    async fn stage(&self, content: UploadStream<'_>, limit: u64) -> Result<Staged, StageError>;

    /// Makes staged content addressable under its SHA-256 (idempotent: content already present
    /// is kept and the staged copy dropped).
    async fn commit(&self, staged: &Staged) -> io::Result<()>;

    /// Drops staged content.
    async fn discard(&self, staged: &Staged);

    /// Reads a blob.
    async fn get(&self, sha256: &str) -> io::Result<ByteStream>;

    /// Removes a blob; removing a missing one is not an error.
    async fn delete(&self, sha256: &str) -> io::Result<()>;

    /// Whether a blob is present.
    async fn exists(&self, sha256: &str) -> io::Result<bool>;

    /// Removes staged content nobody has written to for `idle` (left by a crash); returns how
    /// many were removed. Blocking: run it off the async threads.
    fn sweep(&self, idle: std::time::Duration) -> io::Result<usize>;

    /// Stages and commits in one step.
    async fn put(&self, content: UploadStream<'_>, limit: u64) -> Result<Staged, StageError> {
        let staged = self.stage(content, limit).await?;
        self.commit(&staged).await?;
        Ok(staged)
    }
}

/// Whether `s` is a lower-case hex SHA-256 (guards paths built from keys).
#[must_use]
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
