//! Reference data compiled into the binary: the 17 districts of Surin, the OTOP product
//! categories and their sub-types. The CSV files live in `data/` at the repository root and
//! are the single source; nothing here reads the file system at run time.

use std::collections::BTreeMap;
use std::sync::LazyLock;

const DISTRICTS_CSV: &str = include_str!("../../data/surin_districts.csv");
const CATEGORIES_CSV: &str = include_str!("../../data/otop_categories.csv");
const SUBTYPES_CSV: &str = include_str!("../../data/otop_subtypes.csv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub code: String,
    pub name_th: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub code: String,
    pub name_th: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtype {
    pub code: String,
    pub category_code: String,
    pub name_th: String,
    pub name_en: String,
}

static DISTRICTS: LazyLock<BTreeMap<String, District>> = LazyLock::new(|| {
    parse_csv(DISTRICTS_CSV)
        .into_iter()
        .map(|row| {
            let district = District {
                code: row[0].clone(),
                name_th: row[1].clone(),
                name_en: row[2].clone(),
            };
            (district.code.clone(), district)
        })
        .collect()
});

static CATEGORIES: LazyLock<BTreeMap<String, Category>> = LazyLock::new(|| {
    parse_csv(CATEGORIES_CSV)
        .into_iter()
        .map(|row| {
            let category = Category {
                code: row[0].clone(),
                name_th: row[1].clone(),
                name_en: row[2].clone(),
            };
            (category.code.clone(), category)
        })
        .collect()
});

static SUBTYPES: LazyLock<BTreeMap<String, Subtype>> = LazyLock::new(|| {
    parse_csv(SUBTYPES_CSV)
        .into_iter()
        .map(|row| {
            let subtype = Subtype {
                code: row[0].clone(),
                category_code: row[1].clone(),
                name_th: row[2].clone(),
                name_en: row[3].clone(),
            };
            (subtype.code.clone(), subtype)
        })
        .collect()
});

pub fn district(code: &str) -> Option<&'static District> {
    DISTRICTS.get(code)
}

pub fn districts() -> impl Iterator<Item = &'static District> {
    DISTRICTS.values()
}

pub fn category(code: &str) -> Option<&'static Category> {
    CATEGORIES.get(code)
}

pub fn categories() -> impl Iterator<Item = &'static Category> {
    CATEGORIES.values()
}

pub fn subtype(code: &str) -> Option<&'static Subtype> {
    SUBTYPES.get(code)
}

pub fn subtypes() -> impl Iterator<Item = &'static Subtype> {
    SUBTYPES.values()
}

/// Parses the small, trusted CSV files above: a header row, `,` separators, and fields that
/// may be wrapped in double quotes (which may then contain commas and doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(parse_csv_line)
        .collect()
}

fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => in_quotes = !in_quotes,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (other, _) => field.push(other),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_seventeen_surin_districts_are_known() {
        assert_eq!(districts().count(), 17);
        assert_eq!(
            district("3216").map(|d| d.name_en.as_str()),
            Some("Khwao Sinarin")
        );
        assert!(district("3218").is_none());
        assert!(district("1001").is_none());
    }

    #[test]
    fn categories_and_subtypes_are_linked() {
        assert_eq!(categories().count(), 5);
        assert_eq!(subtypes().count(), 28);
        assert_eq!(
            category("CRAFT").map(|c| c.name_en.as_str()),
            Some("Household items, decorative items and souvenirs")
        );
        for subtype in subtypes() {
            assert!(category(&subtype.category_code).is_some(), "{subtype:?}");
        }
    }
}
