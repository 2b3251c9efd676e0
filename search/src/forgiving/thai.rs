//! The sound key of Thai text: the spellings a shopper's typos make of a word fold to the
//! key of the word itself, so the index can match them without knowing the typo.
//!
//! What folds (the ways people mistype Thai, `docs/THAI-SEARCH.md`):
//! - tone marks (่ ้ ๊ ๋), the shortener ็ and the silencer ์ are dropped;
//! - short and long vowels are one: ะ ั → า, ิ → ี, ึ → ื, ุ → ู;
//! - consonants that sound the same are one: ส ศ ษ, ค ข ฆ ฃ ฅ, ท ธ ฑ ฒ ฐ ถ, พ ภ ผ, น ณ,
//!   ล ฬ, ช ฉ, ด ฎ, ต ฏ, ย ญ, ฟ ฝ, ฮ ห, and ทร → ซ;
//! - ร or ล as the second letter of a cluster is dropped (กระ → กะ, ปลา → ปา);
//! - a letter repeated by the folds above is kept once.
//!
//! Two spellings with one key are at distance zero. No further edit is forgiven: one more
//! letter changed in a short Thai word is another syllable, and usually another word.

/// Whether `c` is a Thai letter, vowel sign or tone mark (U+0E01..U+0E4E).
pub fn is_thai(c: char) -> bool {
    ('\u{0e01}'..='\u{0e4e}').contains(&c)
}

fn fold_consonant(c: char) -> char {
    match c {
        'ศ' | 'ษ' => 'ส',
        'ข' | 'ฆ' | 'ฃ' | 'ฅ' => 'ค',
        'ธ' | 'ฑ' | 'ฒ' | 'ฐ' | 'ถ' => 'ท',
        'ภ' | 'ผ' => 'พ',
        'ณ' => 'น',
        'ฬ' => 'ล',
        'ฉ' => 'ช',
        'ฎ' => 'ด',
        'ฏ' => 'ต',
        'ญ' => 'ย',
        'ฝ' => 'ฟ',
        'ฮ' => 'ห',
        'ะ' | 'ั' => 'า',
        'ิ' => 'ี',
        'ึ' => 'ื',
        'ุ' => 'ู',
        other => other,
    }
}

fn is_consonant(c: char) -> bool {
    ('\u{0e01}'..='\u{0e2e}').contains(&c)
}

/// The sound key of a Thai word or run of words; characters that are not Thai are dropped.
/// Empty when no Thai letter is left.
pub fn sound_key(text: &str) -> String {
    let chars: Vec<char> = text
        .chars()
        .filter(|&c| is_thai(c) && !matches!(c, '่' | '้' | '๊' | '๋' | '็' | '์'))
        .collect();
    let mut folded: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == 'ท' && chars.get(i + 1) == Some(&'ร') {
            folded.push('ซ');
            i += 2;
            continue;
        }
        let previous = folded.last().copied();
        let at_end = i + 1 == chars.len();
        if matches!(c, 'ร' | 'ล') && !at_end && previous.is_some_and(is_consonant) {
            // A cluster's second letter, followed by the rest of the syllable.
            let cluster_head = previous.is_some_and(|p| "กคปพตทบดฟส".contains(p));
            if cluster_head && chars.get(i + 1).is_some_and(|n| !matches!(n, 'ร' | 'ล')) {
                i += 1;
                continue;
            }
        }
        let c = fold_consonant(c);
        if previous != Some(c) {
            folded.push(c);
        }
        i += 1;
    }
    folded.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::sound_key;

    #[test]
    fn typos_fold_to_the_words_key() {
        for (word, typo) in [
            ("กระเป๋า", "กระเปา"),
            ("กระเป๋า", "กระเป้า"),
            ("มัดหมี่", "มัดหมี"),
            ("ลูก", "ลุก"),
            ("เม็ด", "เมด"),
            ("ศรีสะเกษ", "สีสะเกส"),
            ("ข้าว", "ค้าว"),
            ("ธูป", "ทูป"),
            ("ภูมิ", "พูมิ"),
            ("โบราณ", "โบราน"),
            ("ทราย", "ซาย"),
            ("กระเทียม", "กะเทียม"),
            ("ปลา", "ปา"),
        ] {
            assert_eq!(sound_key(word), sound_key(typo), "{word} / {typo}");
        }
    }

    #[test]
    fn different_words_keep_different_keys() {
        assert_ne!(sound_key("ไหม"), sound_key("ฝ้าย"));
        assert_ne!(sound_key("เงิน"), sound_key("ทอง"));
        assert_eq!(sound_key("silk"), "");
    }
}
