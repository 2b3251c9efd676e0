//! Listing search for otop-market: the [`ListingDocument`] the index holds, the
//! [`SearchIndex`] trait, and its two backends.
//!
//! # Backends
//!
//! - [`EmbeddedIndex`] (the default): a tantivy index in a local directory
//!   (`OTOP_INDEX_DIR`). Text is segmented by charabia (see [`tokenizer`]); filters are term
//!   and range queries on indexed fast fields; one collector pass gathers the page, the total,
//!   the facet counts and the price range.
//! - [`MeiliIndex`]: a Meilisearch 1.x server (`MEILI_URL`), through meilisearch-sdk.
//!   Filters are expressions whose string values are always quoted and escaped.
//!
//! [`open_from_env_or_dir`] picks Meilisearch when a URL is given, else the embedded index.
//! Both pass the same contract tests (`tests/contract.rs`); the embedded one always, the
//! Meilisearch one when `MEILI_URL` is set.
//!
//! # Matching (both backends)
//!
//! - Every query word must match, falling back to fewer words from the end (Meilisearch's
//!   `last` matching strategy): the first word is required, and documents matching more of
//!   the query rank first. At most 10 words are used.
//! - The last word also matches as a prefix (`ผ้า` finds `ผ้าไหม`, `sil` finds `silk`),
//!   unless the text ends with a space or punctuation.
//! - Latin words of 4+ letters tolerate one typo (`slik` finds `silk`), 9+ letters two;
//!   Thai words tolerate no edit, only the folds of their sound key ([`forgiving::thai`]). Meilisearch needs `minWordSizeForTypos.oneTypo = 4` for this,
//!   set by [`SearchIndex::apply_settings`].
//! - Quotes, brackets, `-`, `AND`/`OR`/`TO` and backslashes in text are plain separators or
//!   words; filter values are literals. Nothing the user types becomes query syntax.
//! - Facet counts and the price range cover every matching listing, not just the page.
//! - Every order ends with the listing id, so pages are stable.
//! - [`forgiving`] adds what shoppers mistype: a district named in the text becomes a
//!   district filter, glossary words match their other-language equivalents, and (embedded
//!   index) Thai typos and informal romanizations match through sound keys, ranked below
//!   exact words. See `ARCHITECTURE.md` ("Forgiving search").
//!
//! # Thai
//!
//! Thai has no spaces between words. charabia's dictionary segmenter splits
//! `ผ้าไหมมัดหมี่` into `ผ้าไหม | มัดหมี่`, and [`tokenizer::OTOP_DICTIONARY`] adds Surin
//! craft words it lacks (ประเกือม, ตะเกา, อัมปรม, โฮล, ...); the embedded index uses it as
//! charabia's `words_dict` and Meilisearch as its `dictionary` setting. Documents and
//! queries go through the same segmenter and normaliser, which lower-cases Latin and, being
//! lossy, drops Thai tone marks and upper/lower vowels (`มัดหมี่` is indexed as `มดหม`), so
//! distinct words can collide.
//!
//! A compound the dictionary knows is one word: `ไหม` does not find `ผ้าไหม` (a prefix
//! matches only from a word's start), while `ผ้า` does, as a prefix. A partly typed word is
//! often split by the segmenter (`ประเก` → `ประ | เก`); the embedded index then also tries
//! the last 2-3 pieces joined back together as a prefix (`ประเก` finds `ประเกือม`), as
//! Meilisearch does with its n-grams.
//!
//! # Checkpoints
//!
//! [`SearchIndex::apply`] makes a batch and its opaque checkpoint durable together: the
//! embedded index stores the checkpoint as the payload of the tantivy commit that holds the
//! batch (one atomic `meta.json` write); Meilisearch stores it in a one-document
//! `<uid>_meta` index, written only after every task of the batch succeeded. A crash before
//! `apply` returns leaves the previous checkpoint, and replaying from it is safe because
//! upserts and deletes are idempotent.
//!
//! [`SearchIndex::rebuild`] builds a complete new index aside and swaps it in: the embedded
//! index fills a new `gen-<uuid>/` directory and renames a new `CURRENT` pointer file over
//! the old one; Meilisearch fills a new index and uses `swap_indexes`.

#![warn(missing_docs)]

pub mod document;
pub mod embedded;
pub mod error;
pub mod forgiving;
mod html;
pub mod index;
pub mod meili;
pub mod query;
pub mod tokenizer;

use std::path::PathBuf;

pub use document::ListingDocument;
pub use embedded::EmbeddedIndex;
pub use error::SearchError;
pub use forgiving::Matching;
pub use index::{IndexBatch, SearchIndex};
pub use meili::MeiliIndex;
pub use query::{
    price_band, Facets, PriceBand, PriceRange, SearchHit, SearchQuery, SearchResults, SortOrder,
    PRICE_BANDS,
};

/// The Meilisearch index that holds the listings.
pub const MEILI_INDEX_UID: &str = "otop_listings";

/// Opens the search index: Meilisearch at `meili_url` (index [`MEILI_INDEX_UID`]) when a
/// non-blank URL is given, else the embedded index in `index_dir`. Settings are applied
/// before it is returned.
pub async fn open_from_env_or_dir(
    meili_url: Option<String>,
    meili_key: Option<String>,
    index_dir: PathBuf,
) -> Result<Box<dyn SearchIndex>, SearchError> {
    let index: Box<dyn SearchIndex> = match meili_url.filter(|url| !url.trim().is_empty()) {
        Some(url) => {
            Box::new(MeiliIndex::connect(url.trim(), meili_key.as_deref(), MEILI_INDEX_UID).await?)
        }
        None => Box::new(EmbeddedIndex::open(index_dir).await?),
    };
    index.apply_settings().await?;
    Ok(index)
}
