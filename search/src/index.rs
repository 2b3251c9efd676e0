//! [`SearchIndex`], the one interface both backends implement, and [`IndexBatch`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::document::ListingDocument;
pub use crate::error::SearchError;
use crate::query::{SearchQuery, SearchResults};

/// Changes to apply together, and the projection checkpoint they bring the index to.
///
/// Upserts replace whole documents by id (the last one wins when an id repeats); deletes
/// are applied after the upserts, so an id in both ends up deleted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexBatch {
    /// Documents to add or replace.
    pub upserts: Vec<ListingDocument>,
    /// Ids to remove; unknown ids are ignored.
    pub deletes: Vec<Uuid>,
    /// Opaque position of the feeding projection, stored with the batch.
    pub checkpoint: String,
}

/// A listing search index. Object safe: the API holds a `Box<dyn SearchIndex>`.
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// `"embedded"` or `"meilisearch"`.
    fn backend(&self) -> &'static str;

    /// What the process that feeds this index locks, so that one feeds it at a time: `None`
    /// for an index local to this process (each process feeds its own), a key naming the
    /// index for one that several processes share.
    fn lock_key(&self) -> Option<String>;

    /// Makes the index's settings what this code expects (searchable, filterable and
    /// sortable fields, typo tolerance, dictionary). Idempotent.
    async fn apply_settings(&self) -> Result<(), SearchError>;

    /// Applies a batch and stores its checkpoint, durably and together: once this returns
    /// `Ok`, searches see the batch and [`SearchIndex::checkpoint`] returns its checkpoint;
    /// if it fails or the process dies first, the previous checkpoint remains, so replaying
    /// from it is always safe.
    async fn apply(&self, batch: IndexBatch) -> Result<(), SearchError>;

    /// The checkpoint of the last applied batch or rebuild; `None` for a new index.
    async fn checkpoint(&self) -> Result<Option<String>, SearchError>;

    /// Runs a search.
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError>;

    /// Number of documents in the index.
    async fn count(&self) -> Result<u64, SearchError>;

    /// Replaces the whole contents with `docs` and the checkpoint with `checkpoint`. The new
    /// index is built aside and swapped in at once: searches see the old contents or the new,
    /// never a half-built index.
    async fn rebuild(
        &self,
        docs: Vec<ListingDocument>,
        checkpoint: String,
    ) -> Result<(), SearchError>;
}
