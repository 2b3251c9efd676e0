//! The embedded backend: a tantivy index in a local directory, with Thai segmentation by
//! charabia. It is the default when no Meilisearch URL is configured.

mod collector;
mod generation;
mod highlight;
mod match_once;
mod queries;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use tantivy::schema::Value;
use tantivy::{TantivyDocument, TantivyError};

use self::collector::ListingCollector;
use self::generation::Generation;
use crate::document::ListingDocument;
use crate::error::SearchError;
use crate::forgiving::Matching;
use crate::index::{IndexBatch, SearchIndex};
use crate::query::{SearchHit, SearchQuery, SearchResults, SortOrder};

/// A tantivy index in a directory; see the crate documentation for the layout.
pub struct EmbeddedIndex {
    root: PathBuf,
    current: RwLock<Arc<Generation>>,
    /// Serialises batches and rebuilds.
    write_gate: tokio::sync::Mutex<()>,
    matching: Matching,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("root", &self.root)
            .field("generation", &self.current().name)
            .finish()
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SearchError::Background(error.to_string()))?
}

impl EmbeddedIndex {
    /// Opens the index in `dir`, or creates an empty one there (creating `dir` too).
    ///
    /// An index written with a different schema by an older version is replaced by an
    /// empty one whose checkpoint is `None`, so the feeding projection starts over.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<EmbeddedIndex, SearchError> {
        let root = dir.into();
        blocking(move || EmbeddedIndex::open_blocking(root)).await
    }

    fn open_blocking(root: PathBuf) -> Result<EmbeddedIndex, SearchError> {
        std::fs::create_dir_all(&root).map_err(|e| SearchError::io(&root, e))?;
        let live = match generation::read_pointer(&root)? {
            Some(name) if root.join(&name).is_dir() => match Generation::open(&root, &name) {
                Ok(Some(live)) => live,
                Ok(None) => {
                    tracing::warn!(generation = %name, "search index schema changed; starting an empty index");
                    fresh_generation(&root)?
                }
                // Another process writes this index: taking it over would pull it from
                // under that process.
                Err(error @ SearchError::Tantivy(TantivyError::LockFailure(..))) => {
                    return Err(error);
                }
                // The index is derived from the log: files lost or damaged (a partial copy,
                // a full disk) cost a refill from the log, never a server that cannot start.
                Err(error) => {
                    tracing::warn!(generation = %name, %error, "search index unreadable; starting an empty index that the search feed refills from the log");
                    fresh_generation(&root)?
                }
            },
            Some(name) => {
                tracing::warn!(generation = %name, "search index pointer names a missing directory; starting an empty index");
                fresh_generation(&root)?
            }
            None => fresh_generation(&root)?,
        };
        generation::remove_stale(&root, &live.name);
        Ok(EmbeddedIndex {
            root,
            current: RwLock::new(Arc::new(live)),
            write_gate: tokio::sync::Mutex::new(()),
            matching: Matching::Forgiving,
        })
    }

    /// The same index, indexing and searching with `matching` from now on (documents
    /// written before keep what they were written with).
    pub fn with_matching(mut self, matching: Matching) -> EmbeddedIndex {
        self.matching = matching;
        self
    }

    /// The directory the index lives in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn current(&self) -> Arc<Generation> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn fresh_generation(root: &Path) -> Result<Generation, SearchError> {
    let name = generation::new_name();
    let live = Generation::create(root, &name)?;
    generation::write_pointer(root, &name)?;
    Ok(live)
}

/// Builds a complete generation with `docs` and `checkpoint`, then points `CURRENT` at it.
fn build_generation(
    root: &Path,
    docs: Vec<ListingDocument>,
    checkpoint: String,
    matching: Matching,
) -> Result<Generation, SearchError> {
    let name = generation::new_name();
    let built = Generation::create(root, &name)?;
    let filled = built
        .apply(
            IndexBatch {
                upserts: docs,
                deletes: Vec::new(),
                checkpoint,
            },
            matching,
        )
        .and_then(|()| generation::write_pointer(root, &name));
    match filled {
        Ok(()) => Ok(built),
        Err(error) => {
            built.retire();
            Err(error)
        }
    }
}

fn run_search(
    live: &Generation,
    query: &SearchQuery,
    matching: Matching,
) -> Result<SearchResults, SearchError> {
    let offset = query.offset()?;
    let query = &*matching.understand(query);
    let words = query
        .text()
        .map(|text| matching.words(text))
        .unwrap_or_default();
    let tantivy_query = queries::search_query(&live.fields, &words, query, matching);
    let collector = ListingCollector {
        sort: query.sort,
        keep: offset + query.per_page,
        scored: query.sort == SortOrder::Relevance && !words.is_empty(),
    };
    let searcher = live.reader.searcher();
    let collected = searcher.search(tantivy_query.as_ref(), &collector)?;
    let mut hits = Vec::with_capacity(query.per_page);
    for candidate in collected.top.into_iter().skip(offset) {
        let stored: TantivyDocument = searcher.doc(candidate.address)?;
        let source = stored
            .get_first(live.fields.source)
            .and_then(|value| value.as_str())
            .ok_or_else(|| SearchError::Corrupt("a document has no stored source".into()))?;
        let document: ListingDocument = serde_json::from_str(source)
            .map_err(|error| SearchError::Corrupt(error.to_string()))?;
        let highlight = highlight::highlight(&document, &words);
        hits.push(SearchHit {
            document,
            highlight,
        });
    }
    Ok(SearchResults {
        hits,
        total: collected.total,
        facets: collected.facets,
        price: collected.price,
    })
}

#[async_trait]
impl SearchIndex for EmbeddedIndex {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    /// Local to this process: every replica feeds its own.
    fn lock_key(&self) -> Option<String> {
        None
    }

    /// The embedded index's settings are its schema and tokenizer, fixed in code and
    /// checked when it is opened: nothing to do.
    async fn apply_settings(&self) -> Result<(), SearchError> {
        Ok(())
    }

    async fn apply(&self, batch: IndexBatch) -> Result<(), SearchError> {
        let _gate = self.write_gate.lock().await;
        let live = self.current();
        let matching = self.matching;
        blocking(move || live.apply(batch, matching)).await
    }

    async fn checkpoint(&self) -> Result<Option<String>, SearchError> {
        let live = self.current();
        blocking(move || live.checkpoint()).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let live = self.current();
        let query = query.clone();
        let matching = self.matching;
        blocking(move || run_search(&live, &query, matching)).await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        Ok(self.current().reader.searcher().num_docs())
    }

    async fn rebuild(
        &self,
        docs: Vec<ListingDocument>,
        checkpoint: String,
    ) -> Result<(), SearchError> {
        let _gate = self.write_gate.lock().await;
        let root = self.root.clone();
        let matching = self.matching;
        let built = blocking(move || build_generation(&root, docs, checkpoint, matching)).await?;
        let replaced = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(built),
        );
        replaced.retire();
        // The last holder of the old generation (this, or a search still running) removes
        // its directory when it lets go.
        blocking(move || {
            drop(replaced);
            Ok(())
        })
        .await
    }
}
