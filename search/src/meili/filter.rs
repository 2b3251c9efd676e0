//! Meilisearch filter expressions built from a [`SearchQuery`]'s values. Every string value
//! is quoted and escaped, so whatever it contains (`"`, `\`, `AND`, `OR`, `TO`, brackets)
//! stays one literal; numbers come from integer types. User text never becomes syntax.

use crate::query::SearchQuery;

/// `value` as a double-quoted filter string: `\` becomes `\\` and `"` becomes `\"`.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

fn any_of(attribute: &str, values: &[String]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let list: Vec<String> = values.iter().map(|value| quote(value)).collect();
    Some(format!("{attribute} IN [{}]", list.join(", ")))
}

/// The filter expression of `query`, or `None` when it has no filter. Conditions are
/// joined by `AND`.
pub(crate) fn filter_expression(query: &SearchQuery) -> Option<String> {
    let mut conditions: Vec<String> = [
        any_of("district_code", &query.districts),
        any_of("category_code", &query.categories),
        any_of("subtype_code", &query.subtypes),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(stars) = query.stars_min {
        conditions.push(format!("otop_stars >= {stars}"));
    }
    if let Some(min) = query.price_min {
        conditions.push(format!("price_satang >= {min}"));
    }
    if let Some(max) = query.price_max {
        conditions.push(format!("price_satang <= {max}"));
    }
    if query.in_stock {
        conditions.push("available_stock > 0".to_string());
    }
    if let Some(vendor) = query.vendor {
        conditions.push(format!(
            "vendor_id = {}",
            quote(&vendor.hyphenated().to_string())
        ));
    }
    (!conditions.is_empty()).then(|| conditions.join(" AND "))
}

/// Query text for Meilisearch with its operators made plain: `"` (phrase) and a `-` that
/// starts a word (negation) become spaces, so the text means what it means to the embedded
/// backend, where they are separators.
pub(crate) fn plain_text(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        let neutral = c == '"' || (c == '-' && at_word_start);
        plain.push(if neutral { ' ' } else { c });
        at_word_start = neutral || c.is_whitespace();
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// Splits a filter into its syntax (with each quoted string replaced by `$`) and the
    /// decoded values of the quoted strings, the way Meilisearch's parser reads them.
    fn parse(filter: &str) -> (String, Vec<String>) {
        let mut syntax = String::new();
        let mut values = Vec::new();
        let mut chars = filter.chars();
        while let Some(c) = chars.next() {
            if c != '"' {
                syntax.push(c);
                continue;
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            assert!(closed, "unterminated string in {filter}");
            syntax.push('$');
            values.push(value);
        }
        (syntax, values)
    }

    const NASTY: &[&str] = &[
        "3201\" OR district_code != \"x",
        "a\\",
        "\\\" OR 1 = 1 OR \"",
        "TO",
        "1 TO 9",
        "AND",
        "OR",
        "] OR [",
        "(x) AND NOT (y)",
        "ผ้าไหม\"มัดหมี่\\",
        "",
    ];

    #[test]
    fn every_value_stays_one_literal() {
        let values: Vec<String> = NASTY.iter().map(|v| v.to_string()).collect();
        let query = SearchQuery {
            districts: values.clone(),
            categories: values.clone(),
            subtypes: values.clone(),
            ..SearchQuery::default()
        };
        let filter = filter_expression(&query).expect("a filter");
        let (syntax, decoded) = parse(&filter);
        let list = vec!["$"; NASTY.len()].join(", ");
        assert_eq!(
            syntax,
            format!(
                "district_code IN [{list}] AND category_code IN [{list}] AND subtype_code IN [{list}]"
            )
        );
        let expected: Vec<String> = values
            .iter()
            .cycle()
            .take(3 * values.len())
            .cloned()
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn numbers_and_vendor_are_formatted_from_typed_values() {
        let vendor = Uuid::from_u128(0x0af8d216_04e1_439c_a29e_29cd17f42eec);
        let query = SearchQuery {
            stars_min: Some(4),
            price_min: Some(10_000),
            price_max: Some(250_000),
            in_stock: true,
            vendor: Some(vendor),
            ..SearchQuery::default()
        };
        assert_eq!(
            filter_expression(&query).as_deref(),
            Some(
                "otop_stars >= 4 AND price_satang >= 10000 AND price_satang <= 250000 \
                 AND available_stock > 0 AND vendor_id = \"0af8d216-04e1-439c-a29e-29cd17f42eec\""
            )
        );
        assert_eq!(filter_expression(&SearchQuery::default()), None);
    }

    #[test]
    fn quote_escapes_quotes_and_backslashes_only() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("มัดหมี่"), "\"มัดหมี่\"");
    }

    #[test]
    fn query_operators_become_spaces() {
        assert_eq!(plain_text("\"silk scarf\" -rice"), " silk scarf   rice");
        assert_eq!(plain_text("t-shirt 3-4"), "t-shirt 3-4");
        assert_eq!(plain_text("--x"), "  x");
    }
}
