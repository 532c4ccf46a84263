//! A read cache of public group views (and the other public parts of a group page). The public view holds only counts, aggregates and the
//! public timeline (no personal data, the same for every viewer), so one shared entry per group
//! serves everyone. An entry is used while no write has been committed in this process since it
//! was made (every commit through [`AppState::write`](crate::state::AppState::write) or the join
//! writer bumps an epoch) and for at most [`MAX_AGE`], which bounds what another instance's
//! writes can leave stale.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use super::dto::GroupView;
use super::service::{by_slug, view};
use crate::error::AppResult;

/// The longest a cached view is served.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Entries kept at most; past that the cache starts again empty (cheap, and a view is one
/// load away).
const MAX_ENTRIES: usize = 4096;

struct Entry {
    epoch: u64,
    at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

/// Public group views (and the other public parts of a group page) by slug.
#[derive(Default)]
pub struct ViewCache {
    epoch: AtomicU64,
    entries: Mutex<HashMap<(TypeId, String), Entry>>,
}

impl std::fmt::Debug for ViewCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewCache")
            .field("epoch", &self.epoch)
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl ViewCache {
    /// Marks every cached value stale: called after each committed write.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The public view of the group `slug`, from the cache when fresh.
    ///
    /// # Errors
    /// 404 unknown group; database failures.
    pub async fn public_view(
        &self,
        conn: &impl ConnectionTrait,
        slug: &str,
    ) -> AppResult<Arc<GroupView>> {
        self.cached(slug, async {
            let group = by_slug(conn, slug).await?;
            view(conn, group).await
        })
        .await
    }

    /// The value of type `T` for `key`, from the cache when fresh, else from `load`. Only for
    /// values that are the same for every viewer (public figures, never personal data).
    ///
    /// # Errors
    /// Whatever `load` fails with (nothing is cached then).
    pub async fn cached<T: Any + Send + Sync>(
        &self,
        key: &str,
        load: impl std::future::Future<Output = AppResult<T>>,
    ) -> AppResult<Arc<T>> {
        let id = (TypeId::of::<T>(), key.to_owned());
        // Read before loading: a write committed while loading makes this entry stale at once.
        let epoch = self.epoch.load(Ordering::Acquire);
        let hit = self
            .lock()
            .get(&id)
            .and_then(|e| (e.epoch == epoch && e.at.elapsed() < MAX_AGE).then(|| e.value.clone()));
        if let Some(value) = hit.and_then(|v| v.downcast::<T>().ok()) {
            return Ok(value);
        }
        let fresh = Arc::new(load.await?);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            id,
            Entry {
                epoch,
                at: Instant::now(),
                value: fresh.clone(),
            },
        );
        Ok(fresh)
    }

    /// [`Self::cached`] serialised: the JSON answer itself is kept, so a hit costs no
    /// serialisation. `key` must name what is serialised (it shares the space of other byte
    /// entries, such as rendered pages).
    ///
    /// # Errors
    /// Whatever `load` fails with.
    pub async fn cached_json<T: serde::Serialize>(
        &self,
        key: &str,
        load: impl std::future::Future<Output = AppResult<T>>,
    ) -> AppResult<actix_web::web::Bytes> {
        let bytes = self
            .cached(key, async {
                let value = load.await?;
                serde_json::to_vec(&value)
                    .map(actix_web::web::Bytes::from)
                    .map_err(|e| crate::error::AppError::Internal(e.into()))
            })
            .await?;
        Ok(actix_web::web::Bytes::clone(&bytes))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TypeId, String), Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
