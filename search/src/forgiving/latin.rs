//! The sound key of a Latin spelling of a Thai word: the RTGS romanization the index holds
//! and the informal spellings people type (`mudmee`, `krapao`, `pa mai`) fold to one key.
//!
//! The key folds what informal spellings vary in: aspiration (`ph`/`p`, `kh`/`k`, `th`/`t`),
//! `ch`/`j`, voiced and voiceless finals (`d`/`t`, `b`/`p`, `g`/`k`), doubled letters,
//! long vowels written twice (`ee`, `oo`, `aa`) and the common English-style spellings of
//! Thai vowels (`ee` for i, `oo` for u, `ow`/`aw` for ao, `ay` for ai, `eow` for iao),
//! `r` and `l` as the second letter of a cluster, and `h` after a vowel. What is left differs
//! between informal spellings by a letter or so, which the typo tolerance of the romanized
//! field forgives (`mutmi` for `matmi`).

/// The sound key of `word` (ASCII letters; anything else is dropped). Empty when nothing
/// is left.
pub fn sound_key(word: &str) -> String {
    let mut text: String = word
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for (from, to) in [
        ("eow", "iao"),
        ("eaw", "iao"),
        ("iew", "iao"),
        ("ieo", "iao"),
        ("ph", "p"),
        ("kh", "k"),
        ("th", "t"),
        ("ch", "c"),
        ("sh", "s"),
        ("j", "c"),
        ("ee", "i"),
        ("ea", "i"),
        ("oo", "u"),
        ("ou", "u"),
        ("ow", "ao"),
        ("aw", "ao"),
        ("ay", "ai"),
        ("ue", "u"),
        ("eu", "u"),
        ("q", "k"),
        ("x", "k"),
        ("z", "s"),
        ("v", "w"),
    ] {
        text = text.replace(from, to);
    }
    let chars: Vec<char> = text.chars().collect();
    let is_vowel = |c: char| "aeiou".contains(c);
    let mut key = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let folded = match c {
            'd' => 't',
            'b' => 'p',
            'g' if previous != Some('n') => 'k',
            other => other,
        };
        // r or l after a consonant: the second letter of a cluster, which people drop.
        if matches!(c, 'r' | 'l') && previous.is_some_and(|p| !is_vowel(p)) && i > 0 {
            continue;
        }
        // h after a vowel marks nothing (`nah`, `tuh`).
        if c == 'h' && previous.is_some_and(is_vowel) && next.is_none_or(|n| !is_vowel(n)) {
            continue;
        }
        if key.ends_with(folded) {
            continue;
        }
        key.push(folded);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::sound_key;

    #[test]
    fn informal_spellings_fold_to_the_rtgs_key() {
        for (rtgs, informal) in [
            ("phamai", "pamai"),
            ("khaoniao", "kaoneow"),
            ("kaphrao", "krapao"),
            ("thatum", "tatoom"),
            ("chak san", "jaksan"),
            ("hommali", "hommalee"),
            ("krathiam", "katiam"),
        ] {
            assert_eq!(sound_key(rtgs), sound_key(informal), "{rtgs} / {informal}");
        }
    }

    #[test]
    fn distinct_words_keep_distinct_keys() {
        assert_ne!(sound_key("silk"), sound_key("silver"));
        assert_ne!(sound_key("matmi"), sound_key("mali"));
        assert_eq!(sound_key("ไหม"), "");
    }
}
