//! District words in a query: a Surin district named in Thai, in RTGS or in a spelling
//! people also use (`data/district_variants.csv`) becomes a district filter, and the other
//! words of the query still have to match.

use std::sync::LazyLock;

use super::{latin, thai};

/// Word boundaries of one Thai run that are tried (a pasted essay is not scanned whole).
const MAX_THAI_BOUNDS: usize = 24;

const VARIANTS_CSV: &str = include_str!("../../../data/district_variants.csv");

/// One way of writing a district's name, as sound keys of its words joined.
struct Name {
    code: String,
    /// The Thai sound key, for a Thai name.
    thai_key: Option<String>,
    /// The Latin sound key of the whole name (its words joined), for a Latin name.
    latin_key: Option<String>,
}

static NAMES: LazyLock<Vec<Name>> = LazyLock::new(|| {
    let mut spellings: Vec<(String, String)> = otop_domain::reference::districts()
        .flat_map(|d| {
            [
                (d.code.clone(), d.name_th.clone()),
                (d.code.clone(), d.name_en.clone()),
            ]
        })
        .collect();
    spellings.extend(VARIANTS_CSV.lines().skip(1).filter_map(|line| {
        let (code, variant) = line.split_once(',')?;
        Some((code.trim().to_string(), variant.trim().to_string()))
    }));
    spellings
        .into_iter()
        .map(|(code, spelling)| {
            let thai_key = thai::sound_key(&spelling);
            let latin_key = latin::sound_key(&spelling);
            Name {
                code,
                thai_key: (!thai_key.is_empty()).then_some(thai_key),
                latin_key: (!latin_key.is_empty()).then_some(latin_key),
            }
        })
        .collect()
});

/// A district named by some words of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictMention {
    /// The district's code.
    pub code: String,
    /// Byte range of the words that name it, in the query text.
    pub start: usize,
    /// End of that range.
    pub end: usize,
}

/// The words of a text with their byte ranges, split at whitespace and punctuation; a Thai
/// run is one piece (its district name is found inside it).
fn pieces(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word_char = c.is_alphanumeric() || thai::is_thai(c);
        match (word_char, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len(), &text[s..]));
    }
    out
}

/// The first district `text` names, if any: 1 to 3 Latin words whose joined sound key is a
/// district's, or a Thai district name (or a typo of it) inside a Thai run. The word
/// อำเภอ ("district") or อ. before a Thai name is part of the mention.
pub fn find(text: &str) -> Option<DistrictMention> {
    let pieces = pieces(text);
    for (index, &(start, end, piece)) in pieces.iter().enumerate() {
        if piece.chars().any(thai::is_thai) {
            if let Some(found) = find_in_thai_run(text, start, end) {
                return Some(found);
            }
            continue;
        }
        // Longest first: "si narong" before "si".
        for length in (1..=3).rev() {
            let Some(last) = pieces.get(index + length - 1) else {
                continue;
            };
            if pieces[index..index + length]
                .iter()
                .any(|p| p.2.chars().any(thai::is_thai))
            {
                continue;
            }
            let joined: String = pieces[index..index + length].iter().map(|p| p.2).collect();
            let key = latin::sound_key(&joined);
            // Short keys ("si", "tha") name no district alone.
            if key.len() < 5 {
                continue;
            }
            if let Some(name) = NAMES.iter().find(|n| n.latin_key.as_deref() == Some(&key)) {
                return Some(DistrictMention {
                    code: name.code.clone(),
                    start,
                    end: last.1,
                });
            }
        }
    }
    None
}

/// A Thai district name inside the run `text[start..end]`: every substring starting and
/// ending at a character boundary whose sound key is a district name's.
fn find_in_thai_run(text: &str, start: usize, end: usize) -> Option<DistrictMention> {
    let run = &text[start..end];
    // Names start and end where the segmenter puts a word boundary: ลำดวน inside a longer
    // word is not the district.
    let mut bounds: Vec<usize> = crate::tokenizer::words(run)
        .iter()
        .flat_map(|word| [word.start, word.end])
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    bounds.truncate(MAX_THAI_BOUNDS);
    // Longest match first, so เขวาสินรินทร์ is not read as สุรินทร์'s neighbour.
    let mut best: Option<(usize, usize, &Name)> = None;
    for (a, &from) in bounds.iter().enumerate() {
        for &to in &bounds[a + 1..] {
            let key = thai::sound_key(&run[from..to]);
            if key.chars().count() < 3 {
                continue;
            }
            if let Some(name) = NAMES.iter().find(|n| n.thai_key.as_deref() == Some(&key)) {
                if best.is_none_or(|(f, t, _)| to - from > t - f) {
                    best = Some((from, to, name));
                }
            }
        }
    }
    let (from, to, name) = best?;
    let before = &run[..from];
    let from = ["อำเภอ", "อ."]
        .iter()
        .find_map(|word| before.strip_suffix(word).map(|rest| rest.len()))
        .unwrap_or(from);
    Some(DistrictMention {
        code: name.code.clone(),
        start: start + from,
        end: start + to,
    })
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn a_district_is_found_in_thai_rtgs_and_variant_spellings() {
        for (query, code) in [
            ("ผ้าไหม ท่าตูม", "3203"),
            ("ผ้าไหมท่าตูม", "3203"),
            ("ผ้าไหมอำเภอท่าตูม", "3203"),
            ("silk from Tha Tum", "3203"),
            ("silk tatum", "3203"),
            ("Sri Narong rice", "3215"),
            ("si narong rice", "3215"),
            ("muang surin", "3201"),
            ("เขวาสินรินทร์", "3216"),
            ("khwao sinarin silk", "3216"),
            ("Samrong Tarp", "3212"),
            ("ข้าว ศรีณรงค์", "3215"),
        ] {
            assert_eq!(
                find(query).map(|m| m.code),
                Some(code.to_string()),
                "{query}"
            );
        }
    }

    #[test]
    fn the_mention_covers_only_the_district_words() {
        let query = "silk from Tha Tum";
        let mention = find(query).expect("a district");
        assert_eq!(&query[mention.start..mention.end], "Tha Tum");
        let query = "ผ้าไหมอำเภอท่าตูม";
        let mention = find(query).expect("a district");
        assert_eq!(&query[mention.start..mention.end], "อำเภอท่าตูม");
    }

    #[test]
    fn words_that_name_no_district_find_none() {
        for query in ["silk scarf", "สุรินทร์", "surin rice", "ผ้าไหม", "si", "tha"]
        {
            assert_eq!(find(query), None, "{query}");
        }
    }
}
