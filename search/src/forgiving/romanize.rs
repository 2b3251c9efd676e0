//! Thai words in the Latin alphabet, in the Royal Thai General System (RTGS).
//!
//! A port of PyThaiNLP's rule-based `royin` romanizer (Apache-2.0, © PyThaiNLP Project,
//! `pythainlp/transliterate/royin.py`, version 5.4.0): vowel patterns are rewritten first,
//! then consonants become their initial or final sound, with an implicit `a` or `o` where
//! Thai writes none. Two changes: a leading ห before a sonorant (ห นำ: หมี่, เหนียว) is
//! dropped before the vowel patterns run, so the patterns see one consonant; and a leading
//! vowel also spans a consonant cluster (เพรา → phrao). It romanizes one word at a time; the
//! caller segments text first. The result is what RTGS would say for most words of this
//! marketplace, not for every word of Thai: the search matches it loosely anyway
//! (see [`super::latin`]).

use std::sync::LazyLock;

use regex::Regex;

const CONSONANTS: &str = "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ";

/// Vowel patterns, `*` standing for the consonant, in the order they are tried.
const VOWEL_PATTERNS: &[(&str, &str)] = &[
    ("เ*ียว", "iao"),
    ("แ*็ว", "aeo"),
    ("เ*ือย", "ueai"),
    ("แ*ว", "aeo"),
    ("เ*็ว", "eo"),
    ("เ*ว", "eo"),
    ("*ิว", "io"),
    ("*วย", "uai"),
    ("เ*ย", "oei"),
    ("*อย", "oi"),
    ("โ*ย", "oi"),
    ("*ุย", "ui"),
    ("*าย", "ai"),
    ("ไ*ย", "ai"),
    ("*ัย", "ai"),
    ("ไ*", "ai"),
    ("ใ*", "ai"),
    ("*ัวะ", "ua"),
    ("*ัว", "ua"),
    ("เ*ือะ", "uea"),
    ("เ*ือ", "uea"),
    ("เ*ียะ", "ia"),
    ("เ*ีย", "ia"),
    ("เ*อะ", "oe"),
    ("เ*อ", "oe"),
    ("เ*ิ", "oe"),
    ("*อ", "o"),
    ("เ*าะ", "o"),
    ("เ*็", "e"),
    ("โ*ะ", "o"),
    ("โ*", "o"),
    ("แ*ะ", "ae"),
    ("แ*", "ae"),
    ("*าว", "ao"),
    ("เ*า", "ao"),
    ("เ*", "e"),
    ("*ู", "u"),
    ("*ุ", "u"),
    ("*ื", "ue"),
    ("*ึ", "ue"),
    ("*ี", "i"),
    ("*ิ", "i"),
    ("*ำ", "am"),
    ("*า", "a"),
    ("*ั", "a"),
    ("*ะ", "a"),
];

struct Patterns {
    vowels: Vec<(Regex, String)>,
    /// `*ว*`: ว between two consonants is the vowel `ua` (ขวด is khuat, not khwot).
    wo_between: Regex,
    /// Silent letters, tone marks and other signs that RTGS does not write.
    silent: Regex,
    /// ห นำ: a ห that only changes the tone of the sonorant after it.
    ho_nam: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let consonant = format!("[{CONSONANTS}]");
    let regex = |pattern: &str| Regex::new(pattern).expect("a valid built-in pattern");
    let vowels = VOWEL_PATTERNS
        .iter()
        .map(|(thai, latin)| {
            // A leading vowel with more after the consonant (เ*า, เ*ีย) is written around
            // the whole initial cluster; a bare one (โ*) is not, or the ร of โบราณ's next
            // syllable would be taken.
            let slot = if thai.starts_with(['เ', 'แ', 'โ', 'ใ', 'ไ']) && !thai.ends_with('*')
            {
                format!("({consonant}[รลว]?)")
            } else {
                format!("({consonant})")
            };
            (regex(&thai.replace('*', &slot)), format!("${{1}}{latin}"))
        })
        .collect();
    Patterns {
        vowels,
        wo_between: regex(&format!("({consonant})ว({consonant})")),
        silent: regex(&format!(
            "จน์|มณ์|ณฑ์|ทร์|ตร์|{consonant}\u{0e4c}|{consonant}[\u{0e30}-\u{0e39}]\u{0e4c}|[\u{0e2f}\u{0e46}\u{0e48}-\u{0e4f}\u{0e5a}\u{0e5b}]"
        )),
        ho_nam: regex("ห([งญนมยรลว])"),
    }
});

/// Initial and final sound of a consonant.
fn sounds(consonant: char) -> Option<(&'static str, &'static str)> {
    Some(match consonant {
        'ก' => ("k", "k"),
        'ข' | 'ฃ' | 'ค' | 'ฅ' | 'ฆ' => ("kh", "k"),
        'ง' => ("ng", "ng"),
        'จ' | 'ฉ' | 'ช' | 'ฌ' => ("ch", "t"),
        'ซ' | 'ศ' | 'ษ' | 'ส' => ("s", "t"),
        'ญ' => ("y", "n"),
        'ฎ' | 'ด' => ("d", "t"),
        'ฏ' | 'ต' => ("t", "t"),
        'ฐ' | 'ฑ' | 'ฒ' | 'ถ' | 'ท' | 'ธ' => ("th", "t"),
        'ณ' | 'น' => ("n", "n"),
        'บ' => ("b", "p"),
        'ป' => ("p", "p"),
        'ผ' | 'พ' | 'ภ' => ("ph", "p"),
        'ฝ' | 'ฟ' => ("f", "p"),
        'ม' => ("m", "m"),
        'ย' => ("y", ""),
        'ร' => ("r", "n"),
        'ล' | 'ฬ' => ("l", "n"),
        'ว' => ("w", ""),
        'ห' | 'ฮ' => ("h", ""),
        'อ' => ("", ""),
        _ => return None,
    })
}

fn is_romanized_vowel(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| "aeiou".contains(c))
}

/// The consonants of a word whose vowels are already Latin: each becomes its initial sound,
/// its final sound, or an initial with the implicit `a` or `o` Thai leaves unwritten.
fn replace_consonants(word: &[char]) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut vowel_seen = false;
    let mut skip = false;
    for (i, &c) in word.iter().enumerate() {
        if skip {
            skip = false;
            continue;
        }
        let Some((initial, final_sound)) = sounds(c) else {
            vowel_seen = true;
            out.push(latin_char(c));
            continue;
        };
        let is_last = i + 1 >= word.len();
        // รร is the vowel "an" at the end of a word, "a" inside it (ธรรม, สรร).
        if c == 'ร' && word.get(i + 1) == Some(&'ร') {
            out.push(if i + 2 == word.len() { "an" } else { "a" });
            skip = true;
            vowel_seen = true;
            continue;
        }
        if vowel_seen {
            let next_is_consonant = word.get(i + 1).is_some_and(|&n| sounds(n).is_some());
            if !is_last && !next_is_consonant {
                out.push(initial);
                vowel_seen = false;
            } else {
                out.push(final_sound);
            }
            continue;
        }
        let has_initial = out
            .iter()
            .any(|piece| !piece.is_empty() && !is_romanized_vowel(piece));
        // The first consonant, or ร ล ว as the second of a cluster (กรม is krom).
        if !has_initial || (matches!(c, 'ร' | 'ล' | 'ว') && !is_last) {
            out.push(initial);
        } else if !is_last {
            out.push("a");
            out.push(initial);
        } else {
            out.push("o");
            out.push(final_sound);
            vowel_seen = true;
        }
    }
    out.concat()
}

/// The Latin letters vowel rewriting left as chars.
fn latin_char(c: char) -> &'static str {
    match c {
        'a' => "a",
        'e' => "e",
        'i' => "i",
        'o' => "o",
        'u' => "u",
        'm' => "m",
        'n' => "n",
        'g' => "g",
        _ => "",
    }
}

/// One Thai word in RTGS, lower case; empty when it holds no Thai consonant.
pub fn romanize_word(word: &str) -> String {
    let patterns = &*PATTERNS;
    if word == "ห" || !word.chars().any(|c| sounds(c).is_some()) {
        return String::new();
    }
    let mut text = patterns.silent.replace_all(word, "").into_owned();
    text = patterns.ho_nam.replace_all(&text, "$1").into_owned();
    text = patterns
        .wo_between
        .replace_all(&text, "${1}ua${2}")
        .into_owned();
    for (pattern, replacement) in &patterns.vowels {
        text = pattern
            .replace_all(&text, replacement.as_str())
            .into_owned();
    }
    // ฤ after these consonants is "rue", else "ri".
    text = text.replace('ฤ', "ri");
    let mut chars: Vec<char> = text.chars().collect();
    let consonants = chars.iter().filter(|c| sounds(**c).is_some()).count();
    if chars.len() == 2 && consonants == 2 {
        chars.insert(1, 'o');
    }
    let roman = replace_consonants(&chars);
    roman.chars().filter(|c| c.is_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::romanize_word;

    #[test]
    fn marketplace_words_romanize_as_rtgs_writes_them() {
        for (thai, rtgs) in [
            ("ผ้าไหม", "phamai"),
            ("มัดหมี่", "matmi"),
            ("ข้าว", "khao"),
            ("เหนียว", "niao"),
            ("กระเป๋า", "krapao"),
            ("โบราณ", "boran"),
            ("เงิน", "ngoen"),
            ("ท่าตูม", "thatum"),
            ("หอมมะลิ", "hommali"),
            ("คราม", "khram"),
            ("สุรินทร์", "surin"),
            ("กระเทียม", "krathiam"),
            ("ขวด", "khuat"),
            ("เพรา", "phrao"),
        ] {
            assert_eq!(romanize_word(thai), rtgs, "{thai}");
        }
    }

    #[test]
    fn what_is_not_thai_romanizes_to_nothing() {
        assert_eq!(romanize_word("silk"), "");
        assert_eq!(romanize_word(""), "");
        assert_eq!(romanize_word("่"), "");
    }
}
