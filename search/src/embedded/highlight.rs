//! Highlights: the matching title with the matched words wrapped in `<em>`.

use crate::document::ListingDocument;
use crate::html::push_escaped;
use crate::tokenizer::{typo_budget, words, QueryWords};

/// Opening mark of a matched word.
pub(crate) const PRE_TAG: &str = "<em>";
/// Closing mark of a matched word.
pub(crate) const POST_TAG: &str = "</em>";

/// The Thai title, else the English title, with its matched words marked; `None` when no
/// word of either title matches the query.
pub(crate) fn highlight(document: &ListingDocument, query: &QueryWords) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    std::iter::once(document.title_th.as_str())
        .chain(document.title_en.as_deref())
        .find_map(|title| mark(title, query))
}

fn mark(title: &str, query: &QueryWords) -> Option<String> {
    let mut out = String::with_capacity(title.len() + 16);
    let mut done = 0;
    let mut any = false;
    for word in words(title) {
        if matches(&word.lemma, query) {
            push_escaped(&mut out, title.get(done..word.start)?);
            out.push_str(PRE_TAG);
            push_escaped(&mut out, title.get(word.start..word.end)?);
            out.push_str(POST_TAG);
            done = word.end;
            any = true;
        }
    }
    if !any {
        return None;
    }
    push_escaped(&mut out, title.get(done..)?);
    Some(out)
}

fn matches(lemma: &str, query: &QueryWords) -> bool {
    let last = query.words.len().saturating_sub(1);
    query.words.iter().enumerate().any(|(i, word)| {
        let prefix = query.last_is_prefix && i == last;
        lemma == word
            || (prefix && lemma.starts_with(word.as_str()))
            || within_typos(lemma, word, prefix, typo_budget(word))
    }) || query
        .prefix_ngrams()
        .iter()
        .any(|(_, joined)| lemma.starts_with(joined.as_str()))
}

/// Whether `lemma` (or, for a prefix, one of its beginnings) is within `typos` edits
/// (insertions, deletions, substitutions or swaps of neighbours) of `word`.
fn within_typos(lemma: &str, word: &str, prefix: bool, typos: u8) -> bool {
    if typos == 0 {
        return false;
    }
    let typos = usize::from(typos);
    let lemma: Vec<char> = lemma.chars().collect();
    let word: Vec<char> = word.chars().collect();
    if !prefix {
        return edit_distance(&lemma, &word) <= typos;
    }
    let shortest = word.len().saturating_sub(typos);
    (shortest..=word.len() + typos)
        .filter(|&len| len <= lemma.len())
        .any(|len| edit_distance(&lemma[..len], &word) <= typos)
}

/// Optimal string alignment distance (Levenshtein plus swaps of neighbours).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[(i - 1) * width + j] + 1)
                .min(rows[i * width + j - 1] + 1)
                .min(rows[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[(i - 2) * width + j - 2] + 1);
            }
            rows[i * width + j] = best;
        }
    }
    rows[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::query_words;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance(&chars("slik"), &chars("silk")), 1);
        assert_eq!(edit_distance(&chars("silk"), &chars("silk")), 0);
        assert_eq!(edit_distance(&chars("sik"), &chars("silk")), 1);
        assert_eq!(edit_distance(&chars("slki"), &chars("silk")), 2);
    }

    #[test]
    fn marks_matched_words_and_escapes_the_rest() {
        let q = query_words("slik");
        assert_eq!(
            mark("Silk <Scarf> & Silky", &q).as_deref(),
            Some("<em>Silk</em> &lt;Scarf&gt; &amp; <em>Silky</em>")
        );
        assert_eq!(mark("Rice", &q), None);
        let q = query_words("มัดหมี่");
        let marked = mark("ผ้าไหมมัดหมี่ ลายนาค", &q).unwrap_or_default();
        assert_eq!(marked, "ผ้าไหม<em>มัดหมี่</em> ลายนาค");
    }
}
