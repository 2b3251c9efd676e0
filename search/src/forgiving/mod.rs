//! Search that forgives how people type: Thai typos, romanized Thai, district words and
//! English for Thai-only words (and the reverse). Pure functions, shared by both backends.
//!
//! - [`thai::sound_key`] folds the typos people make in Thai (tone marks, vowel length,
//!   confusable consonants, dropped cluster letters) into one key per spelling.
//! - [`romanize::romanize_word`] writes a Thai word in RTGS and [`latin::sound_key`] folds
//!   RTGS and informal spellings (`mudmee`, `krapao`) to one key.
//! - [`districts::find`] reads a district named in a query, and [`understand`] turns it
//!   into a district filter.
//! - [`glossary`] holds the bilingual glossary of OTOP words (`data/glossary.csv`).
//!
//! What the index holds for these is [`derived`]: the romanized words of a listing's Thai
//! title and tags, and the sound keys of its Thai words and of runs of 2 and 3 of them.
//! Matches through any of these rank below exact matches.

pub mod districts;
pub mod glossary;
pub mod latin;
pub mod romanize;
pub mod thai;

use std::borrow::Cow;

use crate::document::ListingDocument;
use crate::query::SearchQuery;
use crate::tokenizer::{query_words, words, QueryWords};

/// How much a search forgives.
///
/// [`Matching::Forgiving`] is the product. [`Matching::Literal`] is search as it was before
/// forgiving matching: no derived fields in the documents, no sound-key, romanized or
/// glossary alternatives, no district read from the text and no stop words dropped. It is
/// kept so that `otop-bench search` can measure what forgiving costs against a baseline
/// built in the same run, on the same documents; nothing else uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Matching {
    /// Typos, romanizations, districts, glossary and stop words (the product).
    #[default]
    Forgiving,
    /// The query's words as typed, and nothing else (the benchmark's baseline).
    Literal,
}

impl Matching {
    /// True when queries and documents get the forgiving alternatives.
    pub fn forgives(self) -> bool {
        self == Matching::Forgiving
    }

    /// The query as the index runs it: [`understand`] when forgiving, else as asked.
    pub fn understand(self, query: &SearchQuery) -> Cow<'_, SearchQuery> {
        match self {
            Matching::Forgiving => Cow::Owned(understand(query)),
            Matching::Literal => Cow::Borrowed(query),
        }
    }

    /// The words of `text` the index matches: without [`STOP_WORDS`] when forgiving.
    pub fn words(self, text: &str) -> QueryWords {
        let words = query_words(text);
        match self {
            Matching::Forgiving => words.without(STOP_WORDS),
            Matching::Literal => words,
        }
    }
}

/// Words that say nothing about what is searched for; a query drops them unless nothing
/// else is left ("silk from Tha Tum"). Meilisearch gets them as its `stopWords` setting.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "from",
    "in",
    "for",
    "and",
    "with",
    "by",
    "at",
    "จาก",
    "ของ",
    "ที่",
    "และ",
    "ใน",
    "อำเภอ",
    "อ",
];

/// Most consecutive Thai words whose joined sound key is indexed as one.
pub const MAX_SOUND_SPAN: usize = 3;

/// The query as the index runs it: a district named in its text becomes a district filter
/// (and leaves the text), unless the query already filters by other districts.
pub fn understand(query: &SearchQuery) -> SearchQuery {
    let mut understood = query.clone();
    let Some(text) = query.text() else {
        return understood;
    };
    let Some(mention) = districts::find(text) else {
        return understood;
    };
    if !query.districts.is_empty() && !query.districts.contains(&mention.code) {
        return understood;
    }
    let rest = format!("{} {}", &text[..mention.start], &text[mention.end..]);
    tracing::debug!(district = %mention.code, "the query names a district");
    understood.districts = vec![mention.code];
    understood.text = Some(rest.trim().to_string());
    understood
}

/// The searchable text a listing gets besides its own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    /// RTGS romanizations of the Thai words of the title and tags, and their Latin sound
    /// keys, space-separated.
    pub romanized: String,
    /// Thai sound keys of the title's, tags' and names' words and of runs of up to
    /// [`MAX_SOUND_SPAN`] of them, space-separated.
    pub sounds: String,
}

/// The Thai runs of a text: words the segmenter found with nothing between them, as their
/// original slices.
pub fn thai_runs(text: &str) -> Vec<Vec<&str>> {
    let mut runs: Vec<Vec<&str>> = Vec::new();
    let mut last_end = None;
    for word in words(text) {
        let slice = &text[word.start..word.end];
        if !slice.chars().any(thai::is_thai) {
            last_end = None;
            continue;
        }
        match (runs.last_mut(), last_end) {
            (Some(run), Some(end)) if end == word.start => run.push(slice),
            _ => runs.push(vec![slice]),
        }
        last_end = Some(word.end);
    }
    runs
}

fn push_unique(out: &mut Vec<String>, token: String) {
    if !token.is_empty() && !out.contains(&token) {
        out.push(token);
    }
}

/// What the index holds for a listing to forgive typos, romanization and spacing.
pub fn derived(listing: &ListingDocument) -> Derived {
    let mut romanized = Vec::new();
    let mut sounds = Vec::new();
    let romanizable =
        std::iter::once(listing.title_th.as_str()).chain(listing.tags.iter().map(String::as_str));
    for text in romanizable {
        for run in thai_runs(text) {
            for word in &run {
                let rtgs = romanize::romanize_word(word);
                let key = latin::sound_key(&rtgs);
                push_unique(&mut romanized, rtgs);
                push_unique(&mut romanized, key);
            }
        }
    }
    let sounded = [
        listing.title_th.as_str(),
        listing.vendor_name_th.as_str(),
        listing.subtype_name_th.as_str(),
    ]
    .into_iter()
    .chain(listing.tags.iter().map(String::as_str));
    for text in sounded {
        for run in thai_runs(text) {
            for start in 0..run.len() {
                for end in start + 1..=(start + MAX_SOUND_SPAN).min(run.len()) {
                    push_unique(&mut sounds, thai::sound_key(&run[start..end].concat()));
                }
            }
        }
    }
    Derived {
        romanized: romanized.join(" "),
        sounds: sounds.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_district_in_the_text_becomes_the_filter_and_leaves_the_text() {
        let query = SearchQuery {
            text: Some("silk from Tha Tum".into()),
            ..SearchQuery::default()
        };
        let understood = understand(&query);
        assert_eq!(understood.districts, ["3203"]);
        assert_eq!(understood.text.as_deref(), Some("silk from"));
        let other = SearchQuery {
            districts: vec!["3201".into()],
            ..query.clone()
        };
        assert_eq!(understand(&other), other, "another district's filter stays");
        let plain = SearchQuery {
            text: Some("silk scarf".into()),
            ..SearchQuery::default()
        };
        assert_eq!(understand(&plain), plain);
    }

    #[test]
    fn thai_runs_keep_words_typed_together() {
        assert_eq!(
            thai_runs("ผ้าไหมมัดหมี่ silk ลายโบราณ"),
            vec![vec!["ผ้าไหม", "มัดหมี่"], vec!["ลาย", "โบราณ"]]
        );
    }
}
