//! [`SearchQuery`] (text, filters, sort, page) and [`SearchResults`] (hits, total, facets,
//! price range).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::document::ListingDocument;
use crate::error::SearchError;

/// Largest page size a search accepts.
pub const MAX_PER_PAGE: usize = 1000;

/// Deepest result a search can page to (`page * per_page`); Meilisearch's
/// `pagination.maxTotalHits` is set to the same number.
pub const MAX_TOTAL_HITS: usize = 100_000;

/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: usize = 20;

/// One search: free text, filters (all of which must hold), order and page.
///
/// Filter lists match any of their values; an empty list does not filter. Values that are
/// not known codes simply match nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words to look for; `None`, empty or only punctuation matches every listing.
    pub text: Option<String>,
    /// District codes (any of).
    pub districts: Vec<String>,
    /// Category codes (any of).
    pub categories: Vec<String>,
    /// Sub-type codes (any of).
    pub subtypes: Vec<String>,
    /// At least this many OTOP stars (listings without stars are excluded).
    pub stars_min: Option<u8>,
    /// Lowest price in satang, inclusive.
    pub price_min: Option<u64>,
    /// Highest price in satang, inclusive.
    pub price_max: Option<u64>,
    /// Only listings with stock available.
    pub in_stock: bool,
    /// Only this vendor's listings.
    pub vendor: Option<Uuid>,
    /// Order of the hits.
    pub sort: SortOrder,
    /// Page number, from 1.
    pub page: usize,
    /// Hits per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: None,
            districts: Vec::new(),
            categories: Vec::new(),
            subtypes: Vec::new(),
            stars_min: None,
            price_min: None,
            price_max: None,
            in_stock: false,
            vendor: None,
            sort: SortOrder::Relevance,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl SearchQuery {
    /// Checks the page numbers; returns the number of hits to skip.
    pub fn offset(&self) -> Result<usize, SearchError> {
        if self.page == 0 {
            return Err(SearchError::InvalidQuery("page starts at 1".into()));
        }
        if self.per_page == 0 || self.per_page > MAX_PER_PAGE {
            return Err(SearchError::InvalidQuery(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        match (self.page - 1).checked_mul(self.per_page) {
            Some(offset) if offset + self.per_page <= MAX_TOTAL_HITS => Ok(offset),
            _ => Err(SearchError::InvalidQuery(format!(
                "results can be paged through only up to hit {MAX_TOTAL_HITS}"
            ))),
        }
    }

    /// The text to search for, if there is any non-blank text.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref().filter(|t| !t.trim().is_empty())
    }
}

/// Order of the hits. Every order ends with the listing id (ascending), so equal keys keep
/// one order and paging is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best text match first (listing id order without text).
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Most recently published first.
    Newest,
    /// Most units sold first.
    BestSelling,
}

impl SortOrder {
    /// The name used in the API (`relevance`, `price_asc`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::PriceAsc => "price_asc",
            SortOrder::PriceDesc => "price_desc",
            SortOrder::Newest => "newest",
            SortOrder::BestSelling => "best_selling",
        }
    }
}

impl FromStr for SortOrder {
    type Err = SearchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SortOrder::Relevance,
            SortOrder::PriceAsc,
            SortOrder::PriceDesc,
            SortOrder::Newest,
            SortOrder::BestSelling,
        ]
        .into_iter()
        .find(|order| order.as_str() == s)
        .ok_or_else(|| SearchError::InvalidQuery(format!("unknown sort order {s:?}")))
    }
}

/// One page of hits, with figures over every listing that matched.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchResults {
    /// The hits of the page asked for, in order.
    pub hits: Vec<SearchHit>,
    /// How many listings match the text and all filters.
    pub total: u64,
    /// Value counts over all matching listings (not just this page).
    pub facets: Facets,
    /// Lowest and highest price over all matching listings; `None` when nothing matched.
    pub price: Option<PriceRange>,
}

/// One hit: the listing and, when its title matched, the title with the matches marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The listing.
    pub document: ListingDocument,
    /// The Thai or English title with matched words wrapped in `<em>`..`</em>`; the rest of
    /// the text is HTML-escaped. `None` when no title word matched.
    pub highlight: Option<String>,
}

/// Facet counts: value → number of matching listings, over all matching listings
/// (Meilisearch's `facetDistribution`). Values with no matching listing are left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facets {
    /// Per district code.
    pub district_code: BTreeMap<String, u64>,
    /// Per category code.
    pub category_code: BTreeMap<String, u64>,
    /// Per sub-type code.
    pub subtype_code: BTreeMap<String, u64>,
    /// Per star level (`"1"`..`"5"`); listings without stars are not counted.
    pub otop_stars: BTreeMap<String, u64>,
    /// Per price band (the codes of [`PRICE_BANDS`]).
    #[serde(default)]
    pub price_band: BTreeMap<String, u64>,
    /// Per stock state: `"true"` for listings with stock available, `"false"` for the rest
    /// (as Meilisearch counts a boolean attribute).
    #[serde(default)]
    pub in_stock: BTreeMap<String, u64>,
}

/// A band of prices that facet counts group listings into; both ends inclusive, in satang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceBand {
    /// The band's name in facet counts.
    pub code: &'static str,
    /// Lowest price in the band; `None` from zero.
    pub min_satang: Option<u64>,
    /// Highest price in the band; `None` without limit.
    pub max_satang: Option<u64>,
}

/// The price bands, cheapest first, covering every price once: under ฿300, ฿300 to under
/// ฿1,000, ฿1,000 to under ฿3,000, and ฿3,000 up (the spread of OTOP prices, from a bag
/// of rice to a length of silk).
pub const PRICE_BANDS: [PriceBand; 4] = [
    PriceBand {
        code: "under_300",
        min_satang: None,
        max_satang: Some(29_999),
    },
    PriceBand {
        code: "300_1000",
        min_satang: Some(30_000),
        max_satang: Some(99_999),
    },
    PriceBand {
        code: "1000_3000",
        min_satang: Some(100_000),
        max_satang: Some(299_999),
    },
    PriceBand {
        code: "3000_up",
        min_satang: Some(300_000),
        max_satang: None,
    },
];

/// The index in [`PRICE_BANDS`] of the band that holds `price_satang`.
pub fn price_band_index(price_satang: u64) -> usize {
    PRICE_BANDS
        .iter()
        .position(|band| band.max_satang.is_none_or(|max| price_satang <= max))
        .unwrap_or(PRICE_BANDS.len() - 1)
}

/// The code of the band that holds `price_satang`.
pub fn price_band(price_satang: u64) -> &'static str {
    PRICE_BANDS[price_band_index(price_satang)].code
}

/// A price range in satang, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRange {
    /// Lowest price.
    pub min_satang: u64,
    /// Highest price.
    pub max_satang: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_price_falls_in_exactly_one_band() {
        for price in [
            0,
            1,
            29_999,
            30_000,
            99_999,
            100_000,
            299_999,
            300_000,
            u64::MAX,
        ] {
            let holding: Vec<&str> = PRICE_BANDS
                .iter()
                .filter(|band| {
                    band.min_satang.is_none_or(|min| price >= min)
                        && band.max_satang.is_none_or(|max| price <= max)
                })
                .map(|band| band.code)
                .collect();
            assert_eq!(holding, [price_band(price)], "{price}");
        }
        assert_eq!(price_band(29_999), "under_300");
        assert_eq!(price_band(30_000), "300_1000");
        assert_eq!(price_band(300_000), "3000_up");
    }

    #[test]
    fn paging_is_checked() {
        let query = SearchQuery {
            page: 3,
            per_page: 20,
            ..SearchQuery::default()
        };
        assert_eq!(query.offset().ok(), Some(40));
        for (page, per_page) in [(0, 20), (1, 0), (1, MAX_PER_PAGE + 1), (usize::MAX, 2)] {
            let query = SearchQuery {
                page,
                per_page,
                ..SearchQuery::default()
            };
            assert!(query.offset().is_err(), "{page} {per_page}");
        }
    }

    #[test]
    fn sort_orders_round_trip_through_their_api_names() {
        for name in [
            "relevance",
            "price_asc",
            "price_desc",
            "newest",
            "best_selling",
        ] {
            let order: SortOrder = name.parse().expect("known order");
            assert_eq!(order.as_str(), name);
        }
        assert!("price".parse::<SortOrder>().is_err());
    }
}
