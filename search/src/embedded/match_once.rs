//! A query whose documents are found once per segment and shared by every place it stands in
//! one search.
//!
//! The text query of `queries.rs` asks for the first word in every level (`last` matching:
//! the first 1, 2, …, n words), so a query of n words names word i in n − i levels. Each
//! word is a union over fields, typos, prefixes and the forgiving alternatives, and tantivy
//! builds a scorer for every occurrence: fuzzy and prefix terms walk the term dictionary and
//! read their postings each time. Inside a level only whether a document matches counts
//! (levels score a constant), so the word's documents can be found once and reused.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::index::SegmentId;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{BitSet, DocId, Score, SegmentReader, TantivyError};

/// The documents each segment matched, once found.
type Found = Arc<Mutex<HashMap<SegmentId, Arc<BitSet>>>>;

/// Matches what `inner` matches, with a constant score; clones share what was found.
pub(crate) struct MatchOnce {
    inner: Box<dyn Query>,
    found: Found,
}

impl MatchOnce {
    pub(crate) fn new(inner: Box<dyn Query>) -> MatchOnce {
        MatchOnce {
            inner,
            found: Arc::default(),
        }
    }
}

impl Clone for MatchOnce {
    fn clone(&self) -> Self {
        MatchOnce {
            inner: self.inner.box_clone(),
            found: Arc::clone(&self.found),
        }
    }
}

impl fmt::Debug for MatchOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchOnce")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Query for MatchOnce {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let unscored = match enable_scoring.searcher() {
            Some(searcher) => EnableScoring::disabled_from_searcher(searcher),
            None => EnableScoring::disabled_from_schema(enable_scoring.schema()),
        };
        Ok(Box::new(MatchOnceWeight {
            inner: self.inner.weight(unscored)?,
            found: Arc::clone(&self.found),
        }))
    }
}

struct MatchOnceWeight {
    inner: Box<dyn Weight>,
    found: Found,
}

impl MatchOnceWeight {
    fn documents(&self, reader: &SegmentReader) -> tantivy::Result<Arc<BitSet>> {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(documents) = found.get(&reader.segment_id()) {
            return Ok(Arc::clone(documents));
        }
        let mut documents = BitSet::with_max_value(reader.max_doc());
        self.inner.for_each_no_score(reader, &mut |docs| {
            for &doc in docs {
                documents.insert(doc);
            }
        })?;
        let documents = Arc::new(documents);
        found.insert(reader.segment_id(), Arc::clone(&documents));
        Ok(documents)
    }
}

impl Weight for MatchOnceWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let documents = BitSetDocSet::from((*self.documents(reader)?).clone());
        Ok(Box::new(ConstScorer::new(documents, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.documents(reader)?.contains(doc) {
            Ok(Explanation::new("MatchOnce", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document #{doc} does not match"
            )))
        }
    }
}
