//! The bilingual glossary of OTOP words (`data/glossary.csv`: materials, motifs, colours,
//! product kinds, food, herbs, processing and quality words), applied as synonyms: a query
//! word or phrase in the glossary also matches its equivalents in the other language (and
//! its other English equivalents), so `antique` finds โบราณ and กระเทียม finds `garlic`.
//! The embedded index expands queries with [`equivalents`]; Meilisearch gets the same groups
//! as its `synonyms` setting ([`meili_synonyms`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::tokenizer::query_words;

const GLOSSARY_CSV: &str = include_str!("../../../data/glossary.csv");

/// The most words a glossary phrase has (`sticky rice`, `gold brocade silk`).
pub const MAX_PHRASE_WORDS: usize = 3;

/// One row: a Thai term and its English equivalents, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The Thai term.
    pub thai: String,
    /// Its English equivalents, lower case.
    pub english: Vec<String>,
}

static ENTRIES: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    GLOSSARY_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            let thai = fields.next()?.trim();
            let english = fields.next()?.trim();
            if thai.is_empty() || english.is_empty() {
                return None;
            }
            Some(Entry {
                thai: thai.to_string(),
                english: english
                    .split('|')
                    .map(|e| e.trim().to_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect(),
            })
        })
        .collect()
});

/// Every entry of the glossary.
pub fn entries() -> &'static [Entry] {
    &ENTRIES
}

/// The key a term is looked up by: its normalised words (as the index sees them) joined by
/// spaces.
pub fn key(term: &str) -> String {
    query_words(term).words.join(" ")
}

/// Normalised term → the normalised terms it also matches.
static EQUIVALENTS: LazyLock<BTreeMap<String, BTreeSet<String>>> = LazyLock::new(|| {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in entries() {
        let group: Vec<String> = std::iter::once(key(&entry.thai))
            .chain(entry.english.iter().map(|e| key(e)))
            .filter(|k| !k.is_empty() && k.split(' ').count() <= MAX_PHRASE_WORDS)
            .collect();
        for term in &group {
            let others = map.entry(term.clone()).or_default();
            others.extend(group.iter().filter(|other| *other != term).cloned());
        }
    }
    map
});

/// What a normalised term (words joined by spaces, as [`key`] makes them) also matches, each
/// as its normalised words.
pub fn equivalents(term: &str) -> Vec<Vec<String>> {
    EQUIVALENTS
        .get(term)
        .map(|others| {
            others
                .iter()
                .map(|other| other.split(' ').map(String::from).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// The glossary as Meilisearch's `synonyms` setting: every term maps to every other term of
/// its row, as written (Meilisearch normalises them itself).
pub fn meili_synonyms() -> BTreeMap<String, Vec<String>> {
    let mut synonyms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in entries() {
        let group: Vec<String> = std::iter::once(entry.thai.clone())
            .chain(entry.english.iter().cloned())
            .collect();
        for term in &group {
            synonyms
                .entry(term.clone())
                .or_default()
                .extend(group.iter().filter(|other| *other != term).cloned());
        }
    }
    synonyms
        .into_iter()
        .map(|(term, others)| (term, others.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_finds_thai_and_thai_finds_english() {
        assert!(equivalents(&key("antique")).contains(&vec![key("โบราณ")]));
        assert!(equivalents(&key("garlic")).contains(&vec![key("กระเทียม")]));
        assert!(equivalents(&key("กระเทียม")).contains(&vec!["garlic".to_string()]));
        assert!(equivalents(&key("laptop")).is_empty());
    }

    #[test]
    fn every_row_has_a_thai_term_and_english() {
        assert!(entries().len() >= 100, "{}", entries().len());
        for entry in entries() {
            assert!(
                entry.thai.chars().any(crate::forgiving::thai::is_thai),
                "{entry:?}"
            );
            assert!(!entry.english.is_empty(), "{entry:?}");
        }
        let synonyms = meili_synonyms();
        assert!(synonyms["antique"].contains(&"โบราณ".to_string()));
    }
}
