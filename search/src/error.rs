//! [`SearchError`], the one error of the search crate.

use std::path::PathBuf;

/// Everything that can go wrong while indexing or searching.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be run as asked (page 0, page size out of range). Text and filter
    /// values never cause this: odd text just matches less.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// The search backend is configured wrongly (a bad index name or URL).
    #[error("search configuration: {0}")]
    Config(String),
    /// The embedded tantivy index failed.
    #[error("embedded index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Reading or writing the embedded index's directory failed.
    #[error("index directory {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A request to Meilisearch failed.
    #[error("meilisearch: {0}")]
    Meilisearch(#[from] meilisearch_sdk::errors::Error),
    /// A Meilisearch task was processed and failed.
    #[error("meilisearch task {task_uid} failed: {message}")]
    TaskFailed {
        /// The task's uid.
        task_uid: u32,
        /// Meilisearch's error message.
        message: String,
    },
    /// A stored document or setting could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A blocking index operation panicked or was cancelled.
    #[error("background index work failed: {0}")]
    Background(String),
}

impl SearchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SearchError::Io {
            path: path.into(),
            source,
        }
    }
}
