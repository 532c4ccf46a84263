//! The S3-compatible blob store (`LIANMING_BLOB_URL=s3://bucket[/prefix]`), through the
//! `object_store` crate: uploads stream to `prefix/staging/<uuid>` as a multipart upload while
//! being hashed, and committing copies them to `prefix/blobs/ab/cd/<sha256>` (server-side)
//! before the staged copy is removed. Endpoint, region and credentials come from the usual AWS
//! variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_ALLOW_HTTP`, …) or, overriding them, from the URL's query
//! (`s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1&allow_http=true`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use super::{BlobStore, ByteStream, StageError, Staged, UploadStream, is_sha256};

/// Parts of a multipart upload (S3 wants at least 5 MiB but the last).
const PART: usize = 8 * 1024 * 1024;
/// Parts in flight at once per upload.
const PARTS_IN_FLIGHT: usize = 2;

/// Blobs in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        other => io::Error::other(other),
    }
}

impl S3Store {
    /// The store of `url` (`s3://bucket[/prefix][?key=value…]`): settings from the AWS
    /// environment variables, then the query's keys (`endpoint`, `region`, `allow_http`,
    /// `access_key_id`, `secret_access_key`, … — the AWS names without `aws_`).
    ///
    /// # Errors
    /// A URL that is not `s3://bucket…`, an unknown query key, or settings the S3 client
    /// refuses.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url)?;
        anyhow::ensure!(
            parsed.scheme() == "s3",
            "LIANMING_BLOB_URL must look like s3://bucket[/prefix]"
        );
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| anyhow::anyhow!("LIANMING_BLOB_URL names no bucket"))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in parsed.query_pairs() {
            let config: AmazonS3ConfigKey = format!("aws_{key}")
                .parse()
                .map_err(|_| anyhow::anyhow!("LIANMING_BLOB_URL: unknown setting {key:?}"))?;
            builder = builder.with_config(config, value.into_owned());
        }
        let store = builder
            .build()
            .map_err(|e| anyhow::anyhow!("LIANMING_BLOB_URL: {e}"))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: parsed.path().trim_matches('/').to_owned(),
        })
    }

    fn path(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    fn blob_path(&self, sha256: &str) -> io::Result<Path> {
        if !is_sha256(sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a sha256 key",
            ));
        }
        Ok(self.path(&format!(
            "blobs/{}/{}/{sha256}",
            &sha256[..2],
            &sha256[2..4]
        )))
    }

    fn staged_path(&self, staged: &Staged) -> io::Result<Path> {
        if uuid::Uuid::parse_str(&staged.handle).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a staged handle",
            ));
        }
        Ok(self.path(&format!("staging/{}", staged.handle)))
    }

    fn part_path(key: &str) -> io::Result<String> {
        if key.is_empty()
            || key
                .split('/')
                .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a part key",
            ));
        }
        Ok(format!("parts/{key}"))
    }

    /// Uploads the file at `path` under `key` (e.g. a dossier part,
    /// `dossiers/<group>/<version>/bundle.zip`), streamed as a multipart upload.
    ///
    /// # Errors
    /// When the file cannot be read or the store refuses.
    pub async fn put_file(&self, key: &str, path: &std::path::Path) -> io::Result<()> {
        let location = self.path(&Self::part_path(key)?);
        let file = tokio::fs::File::open(path).await?;
        let mut chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(io_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            };
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(io_error)?;
            writer.put(chunk);
        }
        writer.finish().await.map_err(io_error)?;
        Ok(())
    }

    /// Reads what [`put_file`](Self::put_file) stored under `key`, with its length.
    ///
    /// # Errors
    /// `NotFound` when nothing is stored there; the store's failures.
    pub async fn get_file(&self, key: &str) -> io::Result<(ByteStream, u64)> {
        let found = self
            .store
            .get(&self.path(&Self::part_path(key)?))
            .await
            .map_err(io_error)?;
        let len = found.meta.size;
        Ok((Box::pin(found.into_stream().map_err(io_error)), len))
    }

    async fn sweep_staging(&self, idle: Duration) -> io::Result<usize> {
        let cutoff =
            chrono::Utc::now() - chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
        let prefix = self.path("staging");
        let stale: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .try_filter_map(|meta| async move {
                Ok((meta.last_modified < cutoff).then_some(meta.location))
            })
            .try_collect()
            .await
            .map_err(io_error)?;
        let mut removed = 0;
        for path in stale {
            if self.store.delete(&path).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[async_trait::async_trait(?Send)]
impl BlobStore for S3Store {
    async fn stage(&self, mut content: UploadStream<'_>, limit: u64) -> Result<Staged, StageError> {
        let handle = uuid::Uuid::new_v4().to_string();
        let path = self.path(&format!("staging/{handle}"));
        let upload = self.store.put_multipart(&path).await.map_err(io_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let streamed: Result<(), StageError> = async {
            while let Some(chunk) = content.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(StageError::TooLarge { limit });
                }
                hasher.update(&chunk);
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(io_error)?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            // Nothing of an aborted upload stays in the bucket.
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(io_error)?;
        Ok(Staged {
            sha256: hex::encode(hasher.finalize()),
            size,
            handle,
        })
    }

    async fn commit(&self, staged: &Staged) -> io::Result<()> {
        let from = self.staged_path(staged)?;
        let to = self.blob_path(&staged.sha256)?;
        match self.store.head(&to).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                self.store.copy(&from, &to).await.map_err(io_error)?;
            }
            Err(e) => return Err(io_error(e)),
        }
        let _ = self.store.delete(&from).await;
        Ok(())
    }

    async fn discard(&self, staged: &Staged) {
        if let Ok(path) = self.staged_path(staged) {
            let _ = self.store.delete(&path).await;
        }
    }

    async fn get(&self, sha256: &str) -> io::Result<ByteStream> {
        let found = self
            .store
            .get(&self.blob_path(sha256)?)
            .await
            .map_err(io_error)?;
        Ok(Box::pin(found.into_stream().map_err(io_error)))
    }

    async fn delete(&self, sha256: &str) -> io::Result<()> {
        match self.store.delete(&self.blob_path(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn exists(&self, sha256: &str) -> io::Result<bool> {
        match self.store.head(&self.blob_path(sha256)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    fn sweep(&self, idle: Duration) -> io::Result<usize> {
        // Called on a blocking thread of the runtime (see the trait).
        tokio::runtime::Handle::current().block_on(self.sweep_staging(idle))
    }
}
