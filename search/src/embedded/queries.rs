//! tantivy queries built from a [`SearchQuery`]: the text query (every word, falling back
//! to fewer words like Meilisearch's `last` matching strategy) and the filters, as term and
//! range queries on indexed/fast fields. No query language is ever parsed.

use std::ops::Bound;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use super::match_once::MatchOnce;
use super::schema::Fields;
use crate::forgiving::{glossary, latin, thai, Matching};
use crate::query::SearchQuery;
use crate::tokenizer::{typo_budget, QueryWords};

/// Score weight of a prefix match relative to the whole word.
const PREFIX_WEIGHT: f32 = 0.6;
/// Score weight of a match with one typo relative to the exact word.
const TYPO_WEIGHT: f32 = 0.3;
/// Score of a match through a sound key or a romanization: a constant below what an exact
/// word in any field scores, so exact matches rank first.
const FORGIVEN_SCORE: f32 = 0.4;
/// Score weight of a glossary equivalent relative to the word itself.
const GLOSSARY_WEIGHT: f32 = 0.5;
/// Shortest Latin sound key matched against romanizations (shorter ones collide).
const MIN_LATIN_KEY: usize = 4;
/// Shortest Latin key (in characters) that also forgives one more edit.
const MIN_FUZZY_KEY: usize = 5;
/// Score unit of a matched level (the first k words all present). It dwarfs the text
/// scores, so documents matching more of the query rank first.
const WORDS_BUCKET: f32 = 1_000.0;

fn boxed(query: impl Query) -> Box<dyn Query> {
    Box::new(query)
}

/// Matches one query word in any searchable field: the word itself, a word it starts
/// (`prefix`), and, for Latin words of 4+ letters, a word a typo or two away.
fn word_query(fields: &Fields, word: &str, prefix: bool) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let typos = typo_budget(word);
    for (field, weight) in fields.searchable() {
        let term = Term::from_field_text(field, word);
        clauses.push((
            Occur::Should,
            boxed(BoostQuery::new(
                boxed(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                weight,
            )),
        ));
        if prefix {
            clauses.push((
                Occur::Should,
                boxed(BoostQuery::new(
                    boxed(FuzzyTermQuery::new_prefix(term.clone(), 0, true)),
                    weight * PREFIX_WEIGHT,
                )),
            ));
        }
        if typos > 0 {
            let fuzzy = if prefix {
                FuzzyTermQuery::new_prefix(term, typos, true)
            } else {
                FuzzyTermQuery::new(term, typos, true)
            };
            clauses.push((
                Occur::Should,
                boxed(BoostQuery::new(boxed(fuzzy), weight * TYPO_WEIGHT)),
            ));
        }
    }
    boxed(BooleanQuery::new(clauses))
}

/// Matches one word exactly (no prefix, no typo) in any searchable field: a glossary
/// equivalent is already a second guess, and a typo on top of it finds noise.
fn exact_word_query(fields: &Fields, word: &str) -> Box<dyn Query> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = fields
        .searchable()
        .into_iter()
        .map(|(field, weight)| {
            let term = Term::from_field_text(field, word);
            (
                Occur::Should,
                boxed(BoostQuery::new(
                    boxed(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                    weight,
                )),
            )
        })
        .collect();
    boxed(BooleanQuery::new(clauses))
}

/// A forgiving match of the query words `start..end` together: their sound key, their
/// romanization, or a glossary equivalent.
struct Alternative {
    start: usize,
    end: usize,
    query: Box<dyn Query>,
    /// Whether its score ranks (a glossary equivalent, weighted by field), rather than only
    /// letting a document match (a sound key, scored a constant).
    ranks: bool,
}

/// Matches `key` in the derived field `field` as a whole token (or a prefix), forgiving one
/// more edit in a long key when `fuzzy` (Latin keys: one edit in a Thai key is another
/// syllable); scores [`FORGIVEN_SCORE`].
fn key_query(field: Field, key: &str, prefix: bool, fuzzy: bool) -> Box<dyn Query> {
    let term = Term::from_field_text(field, key);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
        Occur::Should,
        boxed(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
    )];
    if prefix {
        clauses.push((
            Occur::Should,
            boxed(FuzzyTermQuery::new_prefix(term.clone(), 0, true)),
        ));
    }
    if fuzzy && key.chars().count() >= MIN_FUZZY_KEY {
        clauses.push((Occur::Should, boxed(FuzzyTermQuery::new(term, 1, true))));
    }
    boxed(ConstScoreQuery::new(
        boxed(BooleanQuery::new(clauses)),
        FORGIVEN_SCORE,
    ))
}

fn is_thai_word(raw: &str) -> bool {
    raw.chars().any(thai::is_thai)
}

/// Every forgiving alternative of a query: spans of 1 to 3 words (Thai words typed
/// together, or Latin words in a row) matched by sound key, romanization or glossary.
fn alternatives(fields: &Fields, words: &QueryWords) -> Vec<Alternative> {
    let count = words.words.len();
    let mut found = Vec::new();
    for start in 0..count {
        for end in start + 1..=(start + 3).min(count) {
            let span = &words.raw[start..end];
            let ends_query = end == count && words.last_is_prefix;
            let thai_span = span.iter().all(|raw| is_thai_word(raw))
                && words.joined[start + 1..end].iter().all(|joined| *joined);
            let latin_span = span.iter().all(|raw| !is_thai_word(raw));
            if thai_span {
                let key = thai::sound_key(&span.concat());
                if key.chars().count() >= 2 {
                    found.push(Alternative {
                        start,
                        end,
                        query: key_query(fields.sounds, &key, ends_query, false),
                        ranks: false,
                    });
                }
            } else if latin_span {
                let key = latin::sound_key(&span.concat());
                if key.len() >= MIN_LATIN_KEY {
                    found.push(Alternative {
                        start,
                        end,
                        query: key_query(fields.romanized, &key, ends_query, true),
                        ranks: false,
                    });
                }
            }
            for equivalent in glossary::equivalents(&words.words[start..end].join(" ")) {
                let clauses: Vec<(Occur, Box<dyn Query>)> = equivalent
                    .iter()
                    .map(|word| (Occur::Must, exact_word_query(fields, word)))
                    .collect();
                found.push(Alternative {
                    start,
                    end,
                    query: boxed(BoostQuery::new(
                        boxed(BooleanQuery::new(clauses)),
                        GLOSSARY_WEIGHT,
                    )),
                    ranks: true,
                });
            }
        }
    }
    found
}

/// Word `index` of the query: the word itself, or any forgiving alternative that covers it.
fn covered_word(
    fields: &Fields,
    words: &QueryWords,
    alternatives: &[Alternative],
    index: usize,
    prefix: bool,
) -> Box<dyn Query> {
    let mut clauses = vec![(
        Occur::Should,
        word_query(fields, &words.words[index], prefix),
    )];
    clauses.extend(
        alternatives
            .iter()
            .filter(|alternative| alternative.start <= index && index < alternative.end)
            .map(|alternative| (Occur::Should, alternative.query.box_clone())),
    );
    if clauses.len() == 1 {
        return clauses.remove(0).1;
    }
    boxed(BooleanQuery::new(clauses))
}

/// All of the first `k` words, each as found once for the search (`each_word`).
fn all_words(each_word: &[MatchOnce], k: usize) -> Box<dyn Query> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = each_word[..k.min(each_word.len())]
        .iter()
        .map(|word| (Occur::Must, boxed(word.clone())))
        .collect();
    boxed(BooleanQuery::new(clauses))
}

/// The text query, like Meilisearch's `last` matching strategy: level k matches the first
/// k words (k = 1..n); a document must reach level 1 at least, and each level it matches
/// adds [`WORDS_BUCKET`] × k, so documents matching more of the query rank first. The full
/// level also accepts the last 2-3 words joined as one prefix when they were typed
/// without a separator (a split, partly typed Thai word). `None` for a query without words.
pub(crate) fn text_query(
    fields: &Fields,
    words: &QueryWords,
    matching: Matching,
) -> Option<Box<dyn Query>> {
    let count = words.words.len();
    let prefix = words.last_is_prefix;
    let ngrams = words.prefix_ngrams();
    if count == 0 {
        return None;
    }
    let forgiving = if matching.forgives() {
        alternatives(fields, words)
    } else {
        Vec::new()
    };
    if count == 1 {
        return Some(covered_word(fields, words, &forgiving, 0, prefix));
    }
    // Word i in any field or forgiven (the last as a prefix when typed so), found once per
    // segment: the levels name it n - i times, and only whether a document matches counts
    // there.
    // An alternative spanning several words stands in each of their matches: found once too.
    let matching_alternatives: Vec<Alternative> = forgiving
        .iter()
        .map(|alternative| Alternative {
            start: alternative.start,
            end: alternative.end,
            query: boxed(MatchOnce::new(alternative.query.box_clone())),
            ranks: alternative.ranks,
        })
        .collect();
    let each_word: Vec<MatchOnce> = (0..count)
        .map(|i| {
            MatchOnce::new(covered_word(
                fields,
                words,
                &matching_alternatives,
                i,
                prefix && i + 1 == count,
            ))
        })
        .collect();
    // The relevance within a level needs only what ranks: a sound key scores a constant
    // there, which the exact words' scores already order below them.
    let ranking_alternatives: Vec<Alternative> = forgiving
        .into_iter()
        .filter(|alternative| alternative.ranks)
        .collect();
    let mut levels: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for k in 1..=count {
        let mut level = all_words(&each_word, k);
        if k == count && !ngrams.is_empty() {
            let mut alternatives = vec![(Occur::Should, level)];
            for (size, joined) in &ngrams {
                let head = count - size;
                let mut clauses = vec![(Occur::Must, word_query(fields, joined, true))];
                if head > 0 {
                    clauses.push((Occur::Must, all_words(&each_word, head)));
                }
                alternatives.push((Occur::Should, boxed(BooleanQuery::new(clauses))));
            }
            level = boxed(BooleanQuery::new(alternatives));
        }
        levels.push((
            Occur::Should,
            boxed(ConstScoreQuery::new(level, WORDS_BUCKET * k as f32)),
        ));
    }
    // Text relevance within a level.
    let mut relevance: Vec<(Occur, Box<dyn Query>)> = words
        .words
        .iter()
        .enumerate()
        .map(|(i, _)| {
            (
                Occur::Should,
                covered_word(
                    fields,
                    words,
                    &ranking_alternatives,
                    i,
                    prefix && i + 1 == count,
                ),
            )
        })
        .collect();
    relevance.extend(
        ngrams
            .iter()
            .map(|(_, joined)| (Occur::Should, word_query(fields, joined, true))),
    );
    Some(boxed(BooleanQuery::new(vec![
        (Occur::Must, boxed(BooleanQuery::new(levels))),
        (Occur::Should, boxed(BooleanQuery::new(relevance))),
    ])))
}

fn any_of(field: Field, values: &[String]) -> Option<Box<dyn Query>> {
    (!values.is_empty()).then(|| {
        boxed(TermSetQuery::new(
            values
                .iter()
                .map(|value| Term::from_field_text(field, value)),
        ))
    })
}

fn at_least(field: Field, value: u64) -> Box<dyn Query> {
    boxed(RangeQuery::new(
        Bound::Included(Term::from_field_u64(field, value)),
        Bound::Unbounded,
    ))
}

/// One query per filter of `query`; a document must match all of them.
pub(crate) fn filter_queries(fields: &Fields, query: &SearchQuery) -> Vec<Box<dyn Query>> {
    let mut filters: Vec<Box<dyn Query>> = [
        any_of(fields.district_code, &query.districts),
        any_of(fields.category_code, &query.categories),
        any_of(fields.subtype_code, &query.subtypes),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(stars) = query.stars_min {
        filters.push(at_least(fields.otop_stars, u64::from(stars)));
    }
    if query.price_min.is_some() || query.price_max.is_some() {
        let bound = |value: Option<u64>| match value {
            Some(value) => Bound::Included(Term::from_field_u64(fields.price_satang, value)),
            None => Bound::Unbounded,
        };
        filters.push(boxed(RangeQuery::new(
            bound(query.price_min),
            bound(query.price_max),
        )));
    }
    if query.in_stock {
        filters.push(at_least(fields.available_stock, 1));
    }
    if let Some(vendor) = query.vendor {
        filters.push(boxed(TermQuery::new(
            Term::from_field_text(fields.vendor_id, &vendor.hyphenated().to_string()),
            IndexRecordOption::Basic,
        )));
    }
    filters
}

/// The whole query: the text query (or every document) and all filters, which do not
/// change the score.
pub(crate) fn search_query(
    fields: &Fields,
    words: &QueryWords,
    query: &SearchQuery,
    matching: Matching,
) -> Box<dyn Query> {
    let text = text_query(fields, words, matching).unwrap_or_else(|| boxed(AllQuery));
    let filters = filter_queries(fields, query);
    if filters.is_empty() {
        return text;
    }
    let mut clauses = vec![(Occur::Must, text)];
    clauses.extend(
        filters
            .into_iter()
            .map(|filter| (Occur::Must, boxed(ConstScoreQuery::new(filter, 0.0)))),
    );
    boxed(BooleanQuery::new(clauses))
}
