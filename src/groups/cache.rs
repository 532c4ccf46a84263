//! A read cache of public group views. The public view holds only counts, aggregates and the
//! public timeline (no personal data, the same for every viewer), so one shared entry per group
//! serves everyone. An entry is used while no write has been committed in this process since it
//! was made (every commit through [`AppState::write`](crate::state::AppState::write) or the join
//! writer bumps an epoch) and for at most [`MAX_AGE`], which bounds what another instance's
//! writes can leave stale.

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

#[derive(Debug)]
struct Entry {
    epoch: u64,
    at: Instant,
    view: Arc<GroupView>,
}

/// Public group views by slug.
#[derive(Debug, Default)]
pub struct ViewCache {
    epoch: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ViewCache {
    /// Marks every cached view stale: called after each committed write.
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
        // Read before loading: a write committed while loading makes this entry stale at once.
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some(hit) = self
            .lock()
            .get(slug)
            .and_then(|e| (e.epoch == epoch && e.at.elapsed() < MAX_AGE).then(|| e.view.clone()))
        {
            return Ok(hit);
        }
        let group = by_slug(conn, slug).await?;
        let fresh = Arc::new(view(conn, group).await?);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            slug.to_owned(),
            Entry {
                epoch,
                at: Instant::now(),
                view: fresh.clone(),
            },
        );
        Ok(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
