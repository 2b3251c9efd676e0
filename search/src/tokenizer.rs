//! Word segmentation shared by both backends: charabia's Thai dictionary segmenter and its
//! normaliser, plus the OTOP/Surin dictionary of words the segmenter does not know.
//!
//! The embedded index registers [`OtopTokenizer`] with tantivy and runs query text through
//! [`query_words`]; the Meilisearch backend sends [`OTOP_DICTIONARY`] as its `dictionary`
//! setting, so both segment `ผ้าไหมมัดหมี่` the same way.

use std::sync::LazyLock;

use charabia::{Token as CharabiaToken, Tokenizer, TokenizerBuilder};

/// The name [`OtopTokenizer`] is registered under in the embedded index.
pub const TOKENIZER_NAME: &str = "otop";

/// Words (mostly Thai craft, product and place vocabulary of Surin) that charabia's Thai
/// dictionary splits or misses. They are matched before the language segmenter runs, so
/// each stays one token in documents and queries alike.
pub const OTOP_DICTIONARY: &[&str] = &[
    "มัดหมี่",
    "ประเกือม",
    "ตะเกา",
    "อัมปรม",
    "โฮล",
    "โฮลเปราะ",
    "ยกทอง",
    "หอมมะลิ",
    "ลูกประคบ",
    "ลูกแก้ว",
    "หางกระรอก",
    "เกล็ดเต่า",
    "สาคู",
    "สมอ",
    "ครั่ง",
    "ขมิ้น",
    "คราม",
    "เสื่อกก",
    "กุนเชียง",
    "ผักกาดหวาน",
    "ผ้าขาวม้า",
    "โสร่ง",
    "สไบ",
    "ทอมือ",
    "ทุ่งกุลาร้องไห้",
    "แจ่วบอง",
    "หมูหยอง",
    "เม็ดบัว",
    "ไรซ์เบอร์รี่",
    "หอมนิล",
    "ข้าวแต๋น",
    "น้ำพริกตาแดง",
    "โปรตีนไหม",
    "ลิปบาล์ม",
    "ยาหม่อง",
    "ยาดม",
    "ใบหม่อน",
    "ตะไคร้หอม",
    "เขวาสินรินทร์",
    "สุรินทร์",
];

/// Longest word, in bytes, that is indexed or searched. Longer "words" (pasted junk) are
/// dropped, which also keeps typo automata small.
pub const MAX_WORD_BYTES: usize = 255;

/// Most query words that are used; the rest of a long query is ignored (as Meilisearch does
/// with its 10-word limit).
pub const MAX_QUERY_WORDS: usize = 10;

static TOKENIZER: LazyLock<Tokenizer<'static>> = LazyLock::new(|| {
    let mut builder: TokenizerBuilder<'static, Vec<u8>> = TokenizerBuilder::default();
    builder.words_dict(OTOP_DICTIONARY);
    builder.into_tokenizer()
});

/// One word of a text: where it is in the original (bytes) and its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte offset of the word's first byte in the original text.
    pub start: usize,
    /// Byte offset just past the word in the original text.
    pub end: usize,
    /// The normalised form that is indexed and matched (lower case, marks folded).
    pub lemma: String,
}

fn is_indexable(token: &CharabiaToken<'_>) -> bool {
    (token.is_word() || token.is_stopword())
        && !token.lemma().is_empty()
        && token.lemma().len() <= MAX_WORD_BYTES
}

/// Segments and normalises `text` into its words, in order.
pub fn words(text: &str) -> Vec<Word> {
    TOKENIZER
        .tokenize(text)
        .filter(is_indexable)
        .map(|token| Word {
            start: token.byte_start,
            end: token.byte_end,
            lemma: token.lemma().to_string(),
        })
        .collect()
}

/// Most query words an n-gram joins (as Meilisearch does, up to 3).
pub const MAX_NGRAM: usize = 3;

/// The words of a user's query, ready for matching.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryWords {
    /// Normalised words in query order, at most [`MAX_QUERY_WORDS`].
    pub words: Vec<String>,
    /// Each word as it was typed (the normaliser drops Thai marks the sound keys need).
    pub raw: Vec<String>,
    /// For each word, whether it follows the previous word with no separator between
    /// (a Thai run the segmenter split, like `ประเก` → `ประ | เก`).
    pub joined: Vec<bool>,
    /// Whether the last word is matched as a prefix: true unless the text ends with a
    /// separator (a space or punctuation), as in Meilisearch.
    pub last_is_prefix: bool,
}

impl QueryWords {
    /// True when the query has no word to match (empty or only punctuation).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The last 2 or 3 words joined back together, when they were typed without separators
    /// and the last word is a prefix: a partly typed Thai word that the segmenter split
    /// (`ประเก` → `ประ | เก`) still matches as a prefix (`ประเกือม`). Returns (number of
    /// words joined, joined text), shortest first.
    pub fn prefix_ngrams(&self) -> Vec<(usize, String)> {
        let mut ngrams = Vec::new();
        if !self.last_is_prefix {
            return ngrams;
        }
        let count = self.words.len();
        for size in 2..=MAX_NGRAM.min(count) {
            let start = count - size;
            if self.joined[start + 1..].iter().all(|joined| *joined) {
                ngrams.push((size, self.words[start..].concat()));
            } else {
                break;
            }
        }
        ngrams
    }
}

/// Splits a query into words exactly as documents are split. Operators and punctuation
/// (`"`, `(`, `-`, ...) are separators and never have a meaning of their own.
pub fn query_words(text: &str) -> QueryWords {
    let mut words = Vec::new();
    let mut raw = Vec::new();
    let mut joined = Vec::new();
    let mut last_is_word = false;
    for token in TOKENIZER.tokenize(text) {
        if is_indexable(&token) {
            words.push(token.lemma().to_string());
            raw.push(text[token.byte_start..token.byte_end].to_string());
            joined.push(last_is_word);
            last_is_word = true;
        } else if token.is_separator() {
            last_is_word = false;
        }
    }
    let truncated = words.len() > MAX_QUERY_WORDS;
    words.truncate(MAX_QUERY_WORDS);
    raw.truncate(MAX_QUERY_WORDS);
    joined.truncate(MAX_QUERY_WORDS);
    QueryWords {
        last_is_prefix: last_is_word && !truncated,
        words,
        raw,
        joined,
    }
}

impl QueryWords {
    /// The query without the words in `stop_words`, unless nothing else is left. A dropped
    /// word leaves a separator: the words around it are not joined.
    pub fn without(mut self, stop_words: &[&str]) -> QueryWords {
        let keep: Vec<bool> = self
            .words
            .iter()
            .map(|word| !stop_words.contains(&word.as_str()))
            .collect();
        if !keep.iter().any(|k| *k) || keep.iter().all(|k| *k) {
            return self;
        }
        if keep.last() == Some(&false) {
            self.last_is_prefix = false;
        }
        let mut out = QueryWords {
            last_is_prefix: self.last_is_prefix,
            ..QueryWords::default()
        };
        let mut gap = false;
        for (i, kept) in keep.iter().enumerate() {
            if !kept {
                gap = true;
                continue;
            }
            out.words.push(std::mem::take(&mut self.words[i]));
            out.raw.push(std::mem::take(&mut self.raw[i]));
            out.joined
                .push(self.joined[i] && !gap && !out.joined.is_empty());
            gap = false;
        }
        out
    }
}

/// Typos a normalised query word tolerates: Latin words (ASCII letters, maybe digits, at
/// least one letter) get 1 from 4 characters and 2 from 9 (Meilisearch's thresholds with
/// `oneTypo` lowered to 4), up to 64 characters. Thai words get none: normalised Thai is
/// already lossy, and one edit in a short Thai word usually makes another word.
pub fn typo_budget(word: &str) -> u8 {
    let len = word.chars().count();
    let latin = word.chars().all(|c| c.is_ascii_alphanumeric())
        && word.chars().any(|c| c.is_ascii_alphabetic());
    match len {
        _ if !latin => 0,
        4..=8 => 1,
        9..=64 => 2,
        _ => 0,
    }
}

/// A tantivy tokenizer running charabia's segmenter and normaliser with [`OTOP_DICTIONARY`].
#[derive(Debug, Clone, Default)]
pub struct OtopTokenizer;

/// The token stream of [`OtopTokenizer`]: the words of one text.
#[derive(Debug)]
pub struct OtopTokenStream {
    tokens: std::vec::IntoIter<tantivy::tokenizer::Token>,
    current: tantivy::tokenizer::Token,
}

impl tantivy::tokenizer::Tokenizer for OtopTokenizer {
    type TokenStream<'a> = OtopTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> OtopTokenStream {
        let tokens: Vec<tantivy::tokenizer::Token> = words(text)
            .into_iter()
            .enumerate()
            .map(|(position, word)| tantivy::tokenizer::Token {
                offset_from: word.start,
                offset_to: word.end,
                position,
                text: word.lemma,
                position_length: 1,
            })
            .collect();
        OtopTokenStream {
            tokens: tokens.into_iter(),
            current: tantivy::tokenizer::Token::default(),
        }
    }
}

impl tantivy::tokenizer::TokenStream for OtopTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lemmas(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.lemma).collect()
    }

    #[test]
    fn thai_compound_and_dictionary_words_segment_alike_with_and_without_spaces() {
        assert_eq!(lemmas("ผ้าไหมมัดหมี่"), lemmas("ผ้าไหม มัดหมี่"));
        assert_eq!(lemmas("ผ้าไหมมัดหมี่").len(), 2);
        assert_eq!(lemmas("ต่างหูประเกือมเงิน")[1], lemmas("ประเกือม")[0]);
        assert_eq!(lemmas("ประเกือม").len(), 1);
    }

    #[test]
    fn latin_is_lower_cased_and_offsets_point_into_the_original() {
        let text = "Silk Scarf, KDML105";
        let words = words(text);
        let lemmas: Vec<&str> = words.iter().map(|w| w.lemma.as_str()).collect();
        assert_eq!(lemmas, ["silk", "scarf", "kdml105"]);
        assert_eq!(&text[words[1].start..words[1].end], "Scarf");
    }

    #[test]
    fn query_operators_are_plain_separators() {
        let q = query_words("\"silk\" AND (rice) OR -x TO \\ [3201]");
        assert_eq!(
            q.words,
            ["silk", "and", "rice", "or", "x", "to", "3201"].map(String::from)
        );
        assert!(!q.last_is_prefix);
        assert!(query_words("sil").last_is_prefix);
        assert!(!query_words("silk ").last_is_prefix);
        assert!(query_words("\"()\\ ").is_empty());
    }

    #[test]
    fn a_split_partial_thai_word_is_joined_back_as_a_prefix() {
        let q = query_words("ผ้าไหม ประเก");
        assert_eq!(q.words.len(), 3, "{q:?}");
        assert_eq!(q.joined, [false, false, true]);
        assert_eq!(q.prefix_ngrams(), [(2, "ประเก".to_string())]);
        assert!(query_words("ประเก ").prefix_ngrams().is_empty());
        assert!(query_words("silk scarf").prefix_ngrams().is_empty());
    }

    #[test]
    fn only_latin_words_of_four_letters_or_more_tolerate_typos() {
        assert_eq!(typo_budget("slik"), 1);
        assert_eq!(typo_budget("kdml105"), 1);
        assert_eq!(typo_budget("jewellery"), 2);
        assert_eq!(typo_budget("sil"), 0);
        assert_eq!(typo_budget("2024"), 0);
        assert_eq!(typo_budget("มดหม"), 0);
        assert_eq!(typo_budget(&"a".repeat(65)), 0);
    }
}
