//! Thai formatting for pages: baht amounts, the page language, and dates in Bangkok time.
//!
//! Money is held in satang (1 baht = 100 satang) as `u64` and handled with integer
//! arithmetic only. Dates are shown in Asia/Bangkok time, UTC+7 all year round (Thailand
//! keeps no daylight saving time), with Buddhist-era years in Thai.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};

/// Asia/Bangkok: UTC+7, with no daylight saving time.
pub(crate) const BANGKOK: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+7 is a valid offset"),
};

/// Years of the Buddhist era run 543 ahead of the Common Era.
const BUDDHIST_ERA_OFFSET: i32 = 543;

const MONTHS_TH: [&str; 12] = [
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
];

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An amount for display: `฿1,280` for whole baht, `฿1,280.50` otherwise.
pub fn baht(satang: u64) -> String {
    let mut out = String::from("฿");
    out.push_str(&group_thousands(satang / 100));
    push_satang(&mut out, satang % 100);
    out
}

/// An amount for a form field, as `parse_baht` reads it back: `1280` or `1280.50`.
pub fn baht_input(satang: u64) -> String {
    let mut out = (satang / 100).to_string();
    push_satang(&mut out, satang % 100);
    out
}

fn push_satang(out: &mut String, satang: u64) {
    if satang != 0 {
        out.push('.');
        if satang < 10 {
            out.push('0');
        }
        out.push_str(&satang.to_string());
    }
}

/// `1234567` as `1,234,567`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let mut out = String::with_capacity(len + len / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Reads what a person typed into the price field named `field` as satang.
///
/// Accepts surrounding spaces, a leading `฿` or a trailing `บาท`, commas between groups of
/// three digits (`1,280`), up to two decimal places (`1280.5`, `1280.50`, `.50`) and Thai
/// digits (`๑,๒๘๐`). Rejects, with an English message that names the field, an empty
/// field, a negative amount, more than two decimal places, anything that is not a number,
/// and an amount too large to hold.
pub fn parse_baht(field: &str, raw: &str) -> Result<u64, String> {
    const EXAMPLE: &str = "for example 1,280 or 1280.50";
    let not_a_number = || format!("{field} must be an amount in baht, {EXAMPLE}");
    let too_large = || format!("{field} is too large");

    let mut text = raw.trim();
    if let Some(rest) = text.strip_prefix('฿') {
        text = rest.trim_start();
    }
    if let Some(rest) = text.strip_suffix("บาท") {
        text = rest.trim_end();
    }
    if text.is_empty() {
        return Err(format!(
            "{field} is empty: enter an amount in baht, {EXAMPLE}"
        ));
    }
    if text.starts_with(['-', '\u{2212}']) {
        return Err(format!("{field} cannot be negative"));
    }
    let text: String = text.chars().map(ascii_digit).collect();

    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text.as_str(), ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(not_a_number());
    }
    let whole = if whole.contains(',') {
        ungroup(whole).ok_or_else(|| {
            format!(
                "{field}: put commas only between groups of three digits, as in 1,280, \
                 and a dot before satang, as in 1280.50"
            )
        })?
    } else {
        whole.to_owned()
    };
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    if fraction.len() > 2 {
        return Err(format!(
            "{field} can have at most 2 decimal places (satang), as in 1280.50"
        ));
    }

    let mut baht: u64 = 0;
    for digit in whole.bytes() {
        baht = baht
            .checked_mul(10)
            .and_then(|b| b.checked_add(u64::from(digit - b'0')))
            .ok_or_else(too_large)?;
    }
    let satang = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(2)
        .fold(0, |acc, digit| acc * 10 + u64::from(digit - b'0'));
    baht.checked_mul(100)
        .and_then(|b| b.checked_add(satang))
        .ok_or_else(too_large)
}

/// Thai digits (๐–๙) as ASCII digits; any other character unchanged.
fn ascii_digit(c: char) -> char {
    match c {
        '๐'..='๙' => char::from_digit(u32::from(c) - u32::from('๐'), 10).unwrap_or(c),
        _ => c,
    }
}

/// `1,280,000` as `1280000`, if every comma stands between groups of three digits.
fn ungroup(whole: &str) -> Option<String> {
    let mut groups = whole.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut out = first.to_owned();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(group);
    }
    Some(out)
}

/// The language a page is shown in: Thai unless English is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Th,
    En,
}

impl Lang {
    /// The language of a `?lang=` query value: `en` (any case, spaces ignored) is English,
    /// anything else, or nothing, Thai.
    pub fn from_query(raw: Option<&str>) -> Lang {
        match raw {
            Some(value) if value.trim().eq_ignore_ascii_case("en") => Lang::En,
            _ => Lang::Th,
        }
    }

    /// The language's code, for `<html lang>` and links: `th` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Th => "th",
            Lang::En => "en",
        }
    }
}

/// The Bangkok date of `at`: `1 ธ.ค. 2569` in Thai (Buddhist era), `1 Dec 2026` in English.
pub fn date(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&BANGKOK);
    let month = local.month0() as usize;
    match lang {
        Lang::Th => format!(
            "{} {} {}",
            local.day(),
            MONTHS_TH[month],
            local.year() + BUDDHIST_ERA_OFFSET
        ),
        Lang::En => format!("{} {} {}", local.day(), MONTHS_EN[month], local.year()),
    }
}

/// The Bangkok date and time of `at`, to the minute: `1 ธ.ค. 2569 14:05 น.` in Thai,
/// `1 Dec 2026, 14:05` in English.
/// A month `YYYY-MM` (as analytics name it) the way readers expect: `มี.ค. 2569` in Thai
/// (Buddhist era), `Mar 2026` in English; anything else as it came.
pub fn month(year_month: &str, lang: Lang) -> String {
    let Some((year, month)) = year_month.split_once('-') else {
        return year_month.to_string();
    };
    let (Ok(year), Ok(month)) = (year.parse::<i32>(), month.parse::<usize>()) else {
        return year_month.to_string();
    };
    if !(1..=12).contains(&month) {
        return year_month.to_string();
    }
    match lang {
        Lang::Th => format!("{} {}", MONTHS_TH[month - 1], year + BUDDHIST_ERA_OFFSET),
        Lang::En => format!("{} {year}", MONTHS_EN[month - 1]),
    }
}

pub fn date_time(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&BANGKOK);
    let (hour, minute) = (local.hour(), local.minute());
    match lang {
        Lang::Th => format!("{} {hour:02}:{minute:02} น.", date(at, lang)),
        Lang::En => format!("{}, {hour:02}:{minute:02}", date(at, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn baht_shows_whole_baht_without_satang() {
        assert_eq!(baht(0), "฿0");
        assert_eq!(baht(100), "฿1");
        assert_eq!(baht(99_900), "฿999");
        assert_eq!(baht(100_000), "฿1,000");
        assert_eq!(baht(128_000), "฿1,280");
        assert_eq!(baht(12_345_678_900), "฿123,456,789");
        assert_eq!(baht(100_000_000_000), "฿1,000,000,000");
    }

    #[test]
    fn baht_shows_satang_with_two_digits() {
        assert_eq!(baht(5), "฿0.05");
        assert_eq!(baht(50), "฿0.50");
        assert_eq!(baht(128_050), "฿1,280.50");
        assert_eq!(baht(128_005), "฿1,280.05");
        assert_eq!(baht(99_999), "฿999.99");
        assert_eq!(baht(u64::MAX), "฿184,467,440,737,095,516.15");
    }

    #[test]
    fn baht_input_has_no_symbol_or_separators() {
        assert_eq!(baht_input(0), "0");
        assert_eq!(baht_input(5), "0.05");
        assert_eq!(baht_input(128_000), "1280");
        assert_eq!(baht_input(128_050), "1280.50");
        assert_eq!(baht_input(100_000_000_000), "1000000000");
        assert_eq!(baht_input(u64::MAX), "184467440737095516.15");
    }

    #[test]
    fn parse_baht_reads_what_people_type() {
        let cases = [
            ("1,280", 128_000),
            ("1280", 128_000),
            ("1280.5", 128_050),
            ("1280.50", 128_050),
            ("1280.05", 128_005),
            ("1,280.50", 128_050),
            (" 99 ", 9_900),
            ("฿99", 9_900),
            ("฿ 1,280", 128_000),
            ("99 บาท", 9_900),
            ("0", 0),
            ("0.00", 0),
            ("007", 700),
            (".5", 50),
            ("12.", 1_200),
            ("1,234,567.89", 123_456_789),
            ("๑,๒๘๐", 128_000),
            ("๙๙.๕๐", 9_950),
        ];
        for (raw, satang) in cases {
            assert_eq!(parse_baht("Price", raw), Ok(satang), "{raw:?}");
        }
    }

    #[test]
    fn parse_baht_rejects_empty_negative_and_non_numbers() {
        let empty = parse_baht("Price", "  ").unwrap_err();
        assert!(empty.starts_with("Price is empty"), "{empty}");
        assert_eq!(parse_baht("Price", "฿"), Err(empty.clone()));
        assert!(parse_baht("Price", "").is_err());

        for raw in ["-5", "-0.50", " -1,280", "฿-5", "\u{2212}5"] {
            assert_eq!(
                parse_baht("Price", raw),
                Err("Price cannot be negative".to_owned()),
                "{raw:?}"
            );
        }
        for raw in [
            "abc", "12a", "1..2", "1.2.3", ".", "+5", "1 280", "1e3", "0x10", "1.-5", "๑a",
        ] {
            let err = parse_baht("Price", raw).unwrap_err();
            assert!(
                err.starts_with("Price must be an amount in baht"),
                "{raw:?}: {err}"
            );
        }
    }

    #[test]
    fn parse_baht_rejects_misplaced_commas() {
        for raw in [
            "12,80", "1,2800", ",100", "1,,280", "1280,000", "1,280,", "1,28a",
        ] {
            let err = parse_baht("Price", raw).unwrap_err();
            assert!(err.contains("groups of three digits"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn parse_baht_rejects_more_than_two_decimals() {
        for raw in ["1.234", "1280.500", "0.001"] {
            let err = parse_baht("Price", raw).unwrap_err();
            assert!(err.contains("at most 2 decimal places"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn parse_baht_rejects_overflow_and_accepts_the_largest_amount() {
        assert_eq!(parse_baht("Price", "184467440737095516.15"), Ok(u64::MAX));
        for raw in [
            "184467440737095516.16",
            "184467440737095517",
            "18446744073709551616",
            "99999999999999999999999999",
        ] {
            assert_eq!(
                parse_baht("Price", raw),
                Err("Price is too large".to_owned()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn parse_baht_names_the_field() {
        let err = parse_baht("Shipping fee", "free").unwrap_err();
        assert!(err.starts_with("Shipping fee "), "{err}");
    }

    #[test]
    fn formatted_amounts_parse_back() {
        let amounts = (0..2_000).chain([
            99_999,
            100_000,
            128_050,
            12_345_678_901,
            u64::MAX - 1,
            u64::MAX,
        ]);
        for satang in amounts {
            assert_eq!(parse_baht("Price", &baht(satang)), Ok(satang));
            assert_eq!(parse_baht("Price", &baht_input(satang)), Ok(satang));
        }
    }

    #[test]
    fn lang_from_query_is_thai_unless_english_is_asked_for() {
        assert_eq!(Lang::from_query(Some("en")), Lang::En);
        assert_eq!(Lang::from_query(Some(" EN ")), Lang::En);
        assert_eq!(Lang::from_query(Some("th")), Lang::Th);
        assert_eq!(Lang::from_query(Some("fr")), Lang::Th);
        assert_eq!(Lang::from_query(Some("english")), Lang::Th);
        assert_eq!(Lang::from_query(Some("")), Lang::Th);
        assert_eq!(Lang::from_query(None), Lang::Th);
        assert_eq!(Lang::default(), Lang::Th);
    }

    #[test]
    fn lang_code() {
        assert_eq!(Lang::Th.code(), "th");
        assert_eq!(Lang::En.code(), "en");
        for lang in [Lang::Th, Lang::En] {
            assert_eq!(Lang::from_query(Some(lang.code())), lang);
        }
    }

    #[test]
    fn date_in_thai_uses_the_buddhist_era_and_in_english_the_common_era() {
        let at = utc(2026, 12, 1, 7, 5, 0);
        assert_eq!(date(at, Lang::Th), "1 ธ.ค. 2569");
        assert_eq!(date(at, Lang::En), "1 Dec 2026");
    }

    #[test]
    fn date_names_every_month() {
        for month in 1..=12 {
            let at = utc(2026, month, 15, 5, 0, 0);
            let i = month as usize - 1;
            assert_eq!(date(at, Lang::Th), format!("15 {} 2569", MONTHS_TH[i]));
            assert_eq!(date(at, Lang::En), format!("15 {} 2026", MONTHS_EN[i]));
        }
        assert_eq!(date(utc(2026, 4, 13, 5, 0, 0), Lang::Th), "13 เม.ย. 2569");
        assert_eq!(date(utc(2026, 2, 14, 5, 0, 0), Lang::Th), "14 ก.พ. 2569");
    }

    #[test]
    fn date_follows_the_bangkok_day_boundary() {
        // 17:00 UTC is midnight in Bangkok.
        assert_eq!(
            date(utc(2026, 11, 30, 16, 59, 59), Lang::Th),
            "30 พ.ย. 2569"
        );
        assert_eq!(date(utc(2026, 11, 30, 17, 0, 0), Lang::Th), "1 ธ.ค. 2569");
        assert_eq!(date(utc(2026, 11, 30, 17, 30, 0), Lang::Th), "1 ธ.ค. 2569");
        assert_eq!(date(utc(2026, 11, 30, 17, 30, 0), Lang::En), "1 Dec 2026");
        assert_eq!(date(utc(2026, 11, 30, 16, 59, 59), Lang::En), "30 Nov 2026");
    }

    #[test]
    fn date_follows_the_bangkok_year_boundary() {
        assert_eq!(
            date(utc(2026, 12, 31, 16, 59, 59), Lang::Th),
            "31 ธ.ค. 2569"
        );
        assert_eq!(date(utc(2026, 12, 31, 17, 0, 0), Lang::Th), "1 ม.ค. 2570");
        assert_eq!(date(utc(2026, 12, 31, 17, 0, 0), Lang::En), "1 Jan 2027");
        assert_eq!(
            date_time(utc(2026, 12, 31, 17, 0, 0), Lang::Th),
            "1 ม.ค. 2570 00:00 น."
        );
        assert_eq!(
            date_time(utc(2026, 12, 31, 16, 59, 0), Lang::En),
            "31 Dec 2026, 23:59"
        );
    }

    #[test]
    fn date_handles_a_leap_day() {
        assert_eq!(date(utc(2028, 2, 28, 17, 0, 0), Lang::Th), "29 ก.พ. 2571");
        assert_eq!(date(utc(2028, 2, 29, 17, 0, 0), Lang::En), "1 Mar 2028");
    }

    #[test]
    fn date_time_in_bangkok_time_to_the_minute() {
        let at = utc(2026, 12, 1, 7, 5, 59);
        assert_eq!(date_time(at, Lang::Th), "1 ธ.ค. 2569 14:05 น.");
        assert_eq!(date_time(at, Lang::En), "1 Dec 2026, 14:05");
        let at = utc(2026, 11, 30, 17, 30, 0);
        assert_eq!(date_time(at, Lang::Th), "1 ธ.ค. 2569 00:30 น.");
        assert_eq!(date_time(at, Lang::En), "1 Dec 2026, 00:30");
        let at = utc(2026, 6, 9, 2, 0, 0);
        assert_eq!(date_time(at, Lang::Th), "9 มิ.ย. 2569 09:00 น.");
        assert_eq!(date_time(at, Lang::En), "9 Jun 2026, 09:00");
    }
}
