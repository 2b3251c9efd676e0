//! Listing search: the document, the index trait and its Meilisearch and embedded backends.
//!
//! Nothing lives here yet: search is built on the read side, which comes first. The crate
//! exists so the workspace has the design card's layout from the start.
