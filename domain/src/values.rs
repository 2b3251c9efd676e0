//! Newtypes that parse: a value of one of these types has passed its rule, so aggregates and
//! events never hold an unchecked code, amount or text. Each `parse` names the field it
//! checks so that errors reach the client as `{field, message}`.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::reference;

/// Largest amount accepted anywhere: 10 million THB. Far above any OTOP product, low enough
/// that sums of many lines stay far from overflow.
pub const MAX_SATANG: u64 = 1_000_000_000;
pub const MAX_STOCK: u32 = 1_000_000;
pub const MAX_QUANTITY: u32 = 10_000;
pub const MAX_WEIGHT_GRAMS: u32 = 1_000_000;
pub const MAX_TAGS: usize = 30;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_IMAGES: usize = 10;
pub const MAX_URL_CHARS: usize = 2_000;
pub const NAME_MAX_CHARS: usize = 200;
pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;
pub const REASON_MAX_CHARS: usize = 1_000;

/// A positive amount of money in satang (1 THB = 100 satang).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Satang(u64);

impl Satang {
    pub fn parse(field: &str, amount: i64) -> Result<Satang, FieldError> {
        if amount <= 0 {
            return Err(FieldError::new(
                field,
                "must be a positive whole number of satang",
            ));
        }
        let amount = amount as u64;
        if amount > MAX_SATANG {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_SATANG} satang"),
            ));
        }
        Ok(Satang(amount))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// Trimmed text with at least one character and at most `max_chars` characters.
pub fn parse_text(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters (got {chars})"),
        ));
    }
    if trimmed
        .chars()
        .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if trimmed.chars().any(is_private_use) {
        // The search backends mark highlights with private-use characters: text that
        // carried them could forge a highlight (or break out of one) in every reply.
        return Err(FieldError::new(
            field,
            "must not contain private-use characters (U+E000 to U+F8FF, planes 15 and 16)",
        ));
    }
    Ok(trimmed.to_string())
}

/// A code point of a Unicode private-use area: no meaning of its own, free for software to
/// use as markers.
pub fn is_private_use(ch: char) -> bool {
    matches!(ch, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

/// Like [`parse_text`], but an absent or blank value is `None`.
pub fn parse_optional_text(
    field: &str,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_text(field, text, max_chars).map(Some),
    }
}

/// One of the 17 official district codes of Surin (3201..3217).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DistrictCode(String);

impl DistrictCode {
    pub fn parse(field: &str, raw: &str) -> Result<DistrictCode, FieldError> {
        let code = raw.trim();
        match reference::district(code) {
            Some(_) => Ok(DistrictCode(code.to_string())),
            None => Err(FieldError::new(
                field,
                format!("{code:?} is not a district code of Surin (3201 to 3217)"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An OTOP product category code (FOOD, BEV, TEXTILE, CRAFT, HERBAL).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn parse(field: &str, raw: &str) -> Result<CategoryCode, FieldError> {
        let code = raw.trim();
        match reference::category(code) {
            Some(_) => Ok(CategoryCode(code.to_string())),
            None => {
                let known: Vec<_> = reference::categories().map(|c| c.code.as_str()).collect();
                Err(FieldError::new(
                    field,
                    format!(
                        "{code:?} is not an OTOP category (one of {})",
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An OTOP sub-type code; always checked against its category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubtypeCode(String);

impl SubtypeCode {
    pub fn parse(
        field: &str,
        raw: &str,
        category: &CategoryCode,
    ) -> Result<SubtypeCode, FieldError> {
        let code = raw.trim();
        match reference::subtype(code) {
            Some(subtype) if subtype.category_code == category.as_str() => {
                Ok(SubtypeCode(code.to_string()))
            }
            Some(subtype) => Err(FieldError::new(
                field,
                format!(
                    "{code:?} belongs to category {}, not {}",
                    subtype.category_code,
                    category.as_str()
                ),
            )),
            None => Err(FieldError::new(
                field,
                format!("{code:?} is not an OTOP sub-type"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> Option<&'static str> {
        reference::subtype(&self.0).map(|s| s.category_code.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProducerType {
    CommunityGroup,
    SoleOwner,
    Sme,
}

impl ProducerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProducerType::CommunityGroup => "community_group",
            ProducerType::SoleOwner => "sole_owner",
            ProducerType::Sme => "sme",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<ProducerType, FieldError> {
        match raw.trim() {
            "community_group" => Ok(ProducerType::CommunityGroup),
            "sole_owner" => Ok(ProducerType::SoleOwner),
            "sme" => Ok(ProducerType::Sme),
            other => Err(FieldError::new(
                field,
                format!("{other:?} is not one of community_group, sole_owner, sme"),
            )),
        }
    }
}

/// A Thai phone number, kept as written without spaces and dashes: `0` and 8 or 9 digits, or
/// `+66` and 8 or 9 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, raw: &str) -> Result<Phone, FieldError> {
        let compact: String = raw.chars().filter(|ch| !matches!(ch, ' ' | '-')).collect();
        let digits = compact
            .strip_prefix("+66")
            .or_else(|| compact.strip_prefix('0'));
        match digits {
            Some(rest)
                if (8..=9).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit()) =>
            {
                Ok(Phone(compact))
            }
            _ => Err(FieldError::new(
                field,
                "must be a Thai phone number: 0 or +66 followed by 8 or 9 digits",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldError> {
        let email = raw.trim();
        let valid = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(email.to_string()))
        } else {
            Err(FieldError::new(field, "must be an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A PromptPay payout id: a mobile number (10 digits), a national or tax id (13 digits) or an
/// e-wallet id (15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PromptPayId(String);

impl PromptPayId {
    pub fn parse(field: &str, raw: &str) -> Result<PromptPayId, FieldError> {
        let compact: String = raw.chars().filter(|ch| !matches!(ch, ' ' | '-')).collect();
        if matches!(compact.len(), 10 | 13 | 15) && compact.chars().all(|c| c.is_ascii_digit()) {
            Ok(PromptPayId(compact))
        } else {
            Err(FieldError::new(
                field,
                "must be a PromptPay id: 10, 13 or 15 digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// OTOP Product Champion star level, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stars(u8);

impl Stars {
    pub fn parse(field: &str, raw: i64) -> Result<Stars, FieldError> {
        if (1..=5).contains(&raw) {
            Ok(Stars(raw as u8))
        } else {
            Err(FieldError::new(
                field,
                "must be an OTOP star level from 1 to 5",
            ))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Units of stock: 0 to [`MAX_STOCK`].
pub fn parse_stock(field: &str, raw: i64) -> Result<u32, FieldError> {
    if (0..=MAX_STOCK as i64).contains(&raw) {
        Ok(raw as u32)
    } else {
        Err(FieldError::new(
            field,
            format!("must be a whole number from 0 to {MAX_STOCK}"),
        ))
    }
}

/// A quantity ordered: 1 to [`MAX_QUANTITY`].
pub fn parse_quantity(field: &str, raw: i64) -> Result<u32, FieldError> {
    if (1..=MAX_QUANTITY as i64).contains(&raw) {
        Ok(raw as u32)
    } else {
        Err(FieldError::new(
            field,
            format!("must be a whole number from 1 to {MAX_QUANTITY}"),
        ))
    }
}

pub fn parse_weight_grams(field: &str, raw: i64) -> Result<u32, FieldError> {
    if (1..=MAX_WEIGHT_GRAMS as i64).contains(&raw) {
        Ok(raw as u32)
    } else {
        Err(FieldError::new(
            field,
            format!("must be from 1 to {MAX_WEIGHT_GRAMS} grams"),
        ))
    }
}

/// Tags: each trimmed, non-empty, at most [`MAX_TAG_CHARS`]; duplicates (ignoring case)
/// dropped; at most [`MAX_TAGS`].
pub fn parse_tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_TAGS {
        return Err(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (index, tag) in raw.iter().enumerate() {
        let tag = parse_text(&format!("{field}[{index}]"), tag, MAX_TAG_CHARS)?;
        if !tags
            .iter()
            .any(|seen| seen.to_lowercase() == tag.to_lowercase())
        {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// A photo this site stores: `/photos/{32 hex digits}/{thumb|large}.jpg`, as
/// `POST /v1/photos` gives it.
pub fn is_own_photo_path(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("/photos/") else {
        return false;
    };
    let Some((key, file)) = rest.split_once('/') else {
        return false;
    };
    let key_ok = key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    key_ok && matches!(file, "thumb.jpg" | "large.jpg")
}

pub fn parse_image_urls(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_IMAGES {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_IMAGES} images"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(index, url)| {
            let field = format!("{field}[{index}]");
            let url = parse_text(&field, url, MAX_URL_CHARS)?;
            if is_own_photo_path(&url) {
                return Ok(url);
            }
            let has_scheme = url.starts_with("https://") || url.starts_with("http://");
            if !has_scheme || url.chars().any(char::is_whitespace) {
                return Err(FieldError::new(
                    field,
                    "must be an http(s) URL, or a photo's url from POST /v1/photos",
                ));
            }
            Ok(url)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satang_must_be_positive_and_bounded() {
        assert!(Satang::parse("price", 0).is_err());
        assert!(Satang::parse("price", -5).is_err());
        assert!(Satang::parse("price", MAX_SATANG as i64 + 1).is_err());
        assert_eq!(
            Satang::parse("price", 350_000).map(Satang::get),
            Ok(350_000)
        );
    }

    #[test]
    fn text_is_trimmed_and_limited() {
        assert_eq!(parse_text("t", "  ผ้าไหม  ", 10), Ok("ผ้าไหม".to_string()));
        assert!(parse_text("t", "   ", 10).is_err());
        // Thai characters count as characters, not bytes.
        assert!(parse_text("t", "ผ้าไหมมัดหมี่", 13).is_ok());
        assert!(parse_text("t", "ผ้าไหมมัดหมี่", 12).is_err());
        assert!(parse_text("t", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn subtype_must_belong_to_its_category() {
        let textile = CategoryCode::parse("c", "TEXTILE").expect("known category");
        assert!(SubtypeCode::parse("s", "TEX_SILK_HOL", &textile).is_ok());
        let error = SubtypeCode::parse("s", "CRF_WOOD", &textile).expect_err("wrong category");
        assert!(error.message.contains("CRAFT"), "{error}");
        assert!(SubtypeCode::parse("s", "NOPE", &textile).is_err());
        assert!(CategoryCode::parse("c", "TOYS").is_err());
    }

    #[test]
    fn contact_fields_parse() {
        assert!(Phone::parse("p", "044-511-234").is_ok());
        assert!(Phone::parse("p", "+66 81 234 5678").is_ok());
        assert!(Phone::parse("p", "12345").is_err());
        assert!(Email::parse("e", "group@example.co.th").is_ok());
        assert!(Email::parse("e", "not an email").is_err());
        assert!(PromptPayId::parse("pp", "0812345678").is_ok());
        assert!(PromptPayId::parse("pp", "1234567890123").is_ok());
        assert!(PromptPayId::parse("pp", "12345").is_err());
        assert!(DistrictCode::parse("d", "3217").is_ok());
        assert!(DistrictCode::parse("d", "3218").is_err());
    }

    #[test]
    fn text_with_private_use_characters_is_refused_so_no_highlight_mark_can_be_forged() {
        for forged in [
            "ผ้าไหม\u{E000}มัดหมี่\u{E001}",
            "\u{F8FF}",
            "silk \u{F0000}",
            "\u{10FFFD}",
        ] {
            let refused = parse_text("title_th", forged, 200).unwrap_err();
            assert!(refused.message.contains("private-use"), "{forged:?}");
            assert!(parse_tags("tags", &[forged.to_string()]).is_err());
        }
        // The characters either side of the areas stay accepted.
        assert!(parse_text("title_th", "\u{D7FF}", 10).is_ok());
        assert!(parse_text("title_th", "\u{F900}", 10).is_ok());
    }

    #[test]
    fn tags_are_deduplicated_ignoring_case() {
        let tags = parse_tags("tags", &["Silk".into(), " silk ".into(), "ผ้าไหม".into()]);
        assert_eq!(tags, Ok(vec!["Silk".to_string(), "ผ้าไหม".to_string()]));
        assert!(parse_tags("tags", &["".into()]).is_err());
        assert!(parse_image_urls("img", &["ftp://x".into()]).is_err());
        assert!(parse_image_urls("img", &["https://img.example/a.jpg".into()]).is_ok());
        let own = "/photos/0123456789abcdef0123456789abcdef/large.jpg";
        assert!(parse_image_urls("img", &[own.into()]).is_ok());
        assert!(parse_image_urls("img", &["/photos/../../etc/passwd".into()]).is_err());
        assert!(parse_image_urls("img", &["/admin".into()]).is_err());
    }
}
