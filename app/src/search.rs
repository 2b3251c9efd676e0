//! Faceted listing search for shoppers, in Thai and English, through whichever index is
//! configured: `GET /v1/search` and the `/search` page both run [`search`] on the same
//! [`SearchParams`]. Every parameter is parsed into a typed value here (an error naming the
//! field otherwise), so user text never reaches a filter expression.

use std::collections::BTreeMap;
use std::str::FromStr;

use otop_domain::values::{CategoryCode, DistrictCode};
use otop_domain::{reference, FieldError, Validator};
use otop_search::{SearchQuery, SortOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;
use crate::read_your_writes;
use crate::state::AppState;

pub use otop_projections::search_feed::SEARCH_PROJECTION;
const MAX_QUERY_CHARS: usize = 200;
const MAX_PER_PAGE: i64 = 100;

#[derive(Debug, Default, Clone, Deserialize, Serialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// Words in Thai or English; Thai needs no spaces. The last word matches as a prefix.
    pub q: Option<String>,
    /// District codes, comma-separated (`3201,3216`).
    pub district: Option<String>,
    /// OTOP category codes, comma-separated (`TEXTILE,CRAFT`).
    pub category: Option<String>,
    /// Sub-type codes, comma-separated.
    pub subtype: Option<String>,
    /// At least this many OTOP stars (1 to 5).
    pub stars_min: Option<String>,
    /// Lowest price in satang, inclusive.
    pub price_min: Option<String>,
    /// Highest price in satang, inclusive.
    pub price_max: Option<String>,
    /// `true`: only listings with stock available.
    pub in_stock: Option<String>,
    /// Only this vendor's listings.
    pub vendor: Option<String>,
    /// relevance, price_asc, price_desc, newest or best_selling.
    pub sort: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
    /// Wait until the index has applied the event at this log position.
    pub min_position: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitView {
    pub id: Uuid,
    pub title_th: String,
    pub title_en: Option<String>,
    pub price_satang: u64,
    pub district_code: String,
    pub district_name_th: String,
    pub district_name_en: String,
    pub category_code: String,
    pub subtype_code: String,
    pub otop_stars: Option<u8>,
    pub vendor_id: Uuid,
    pub vendor_name_th: String,
    pub available_stock: u64,
    /// The title with matched words in `<em>`; null when the title did not match.
    pub highlight: Option<String>,
    /// The listing's first image, when it has one (`/photos/{key}/large.jpg` for a photo
    /// uploaded here, whose thumbnail is `/photos/{key}/thumb.jpg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacetsView {
    pub district_code: BTreeMap<String, u64>,
    pub category_code: BTreeMap<String, u64>,
    pub subtype_code: BTreeMap<String, u64>,
    pub otop_stars: BTreeMap<String, u64>,
    /// Per price band: `under_300`, `300_1000`, `1000_3000`, `3000_up` (baht, the upper
    /// end exclusive).
    pub price_band: BTreeMap<String, u64>,
    /// `"true"`: listings with stock available; `"false"`: the rest.
    pub in_stock: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    pub min_satang: Option<u64>,
    pub max_satang: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchReply {
    pub hits: Vec<SearchHitView>,
    pub total: u64,
    pub page: usize,
    pub per_page: usize,
    pub facets: FacetsView,
    pub price: PriceView,
    /// `embedded` or `meilisearch`.
    pub backend: &'static str,
}

fn codes<T>(
    v: &mut Validator,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, FieldError>,
) -> Vec<T> {
    raw.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .filter_map(|code| v.check(parse(code)))
            .collect()
    })
    .unwrap_or_default()
}

fn number<T: FromStr>(v: &mut Validator, field: &str, raw: Option<&str>, what: &str) -> Option<T> {
    let text = raw?.trim();
    match text.parse::<T>() {
        Ok(value) => Some(value),
        Err(_) => {
            v.push(FieldError::new(field, format!("must be {what}")));
            None
        }
    }
}

pub fn parse(params: &SearchParams) -> Result<SearchQuery, AppError> {
    let mut v = Validator::new();
    let text = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        v.push(FieldError::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let districts = codes(&mut v, params.district.as_deref(), |c| {
        DistrictCode::parse("district", c).map(|d| d.as_str().to_string())
    });
    let categories = codes(&mut v, params.category.as_deref(), |c| {
        CategoryCode::parse("category", c).map(|c| c.as_str().to_string())
    });
    let subtypes = codes(&mut v, params.subtype.as_deref(), |c| {
        reference::subtype(c)
            .map(|s| s.code.clone())
            .ok_or_else(|| FieldError::new("subtype", format!("{c:?} is not an OTOP sub-type")))
    });
    let stars_min: Option<u8> = number(
        &mut v,
        "stars_min",
        params.stars_min.as_deref(),
        "a star level from 1 to 5",
    );
    if stars_min.is_some_and(|s| !(1..=5).contains(&s)) {
        v.push(FieldError::new(
            "stars_min",
            "must be a star level from 1 to 5",
        ));
    }
    let price_min: Option<u64> = number(
        &mut v,
        "price_min",
        params.price_min.as_deref(),
        "a whole number of satang",
    );
    let price_max: Option<u64> = number(
        &mut v,
        "price_max",
        params.price_max.as_deref(),
        "a whole number of satang",
    );
    if let (Some(low), Some(high)) = (price_min, price_max) {
        if low > high {
            v.push(FieldError::new("price_min", "must not be above price_max"));
        }
    }
    let in_stock = match params.in_stock.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            v.push(FieldError::new("in_stock", "must be true or false"));
            false
        }
    };
    let vendor: Option<Uuid> = number(
        &mut v,
        "vendor",
        params.vendor.as_deref(),
        "a vendor id (UUID)",
    );
    let sort = match params.sort.as_deref().map(str::trim) {
        None | Some("") => SortOrder::Relevance,
        Some(text) => SortOrder::from_str(text).unwrap_or_else(|_| {
            v.push(FieldError::new(
                "sort",
                "must be one of relevance, price_asc, price_desc, newest, best_selling",
            ));
            SortOrder::Relevance
        }),
    };
    let page: Option<i64> = number(
        &mut v,
        "page",
        params.page.as_deref(),
        "a page number from 1",
    );
    let per_page: Option<i64> = number(
        &mut v,
        "per_page",
        params.per_page.as_deref(),
        "a whole number from 1 to 100",
    );
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    if !(1..=5_000).contains(&page) {
        v.push(FieldError::new("page", "must be from 1 to 5000"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        v.push(FieldError::new(
            "per_page",
            format!("must be from 1 to {MAX_PER_PAGE}"),
        ));
    }
    v.finish()?;
    Ok(SearchQuery {
        text: text.map(str::to_string),
        districts,
        categories,
        subtypes,
        stars_min,
        price_min,
        price_max,
        in_stock,
        vendor,
        sort,
        page: page as usize,
        per_page: per_page as usize,
    })
}

/// Runs a search: parses `params` (every field, or an error naming each bad one), waits for
/// `min_position` when given, and asks the configured backend.
pub async fn search(state: &AppState, params: &SearchParams) -> Result<SearchReply, AppError> {
    let query = parse(params)?;
    read_your_writes::wait_for_search(state, params.min_position).await?;
    let results = state
        .search
        .search(&query)
        .await
        .map_err(|error| match error {
            otop_search::SearchError::InvalidQuery(message) => AppError::invalid("page", message),
            other => AppError::Unavailable(format!("search is unavailable: {other}")),
        })?;
    let hits = results
        .hits
        .into_iter()
        .map(|hit| {
            let doc = hit.document;
            SearchHitView {
                id: doc.id,
                title_th: doc.title_th,
                title_en: doc.title_en,
                price_satang: doc.price_satang,
                district_code: doc.district_code,
                district_name_th: doc.district_name_th,
                district_name_en: doc.district_name_en,
                category_code: doc.category_code,
                subtype_code: doc.subtype_code,
                otop_stars: doc.otop_stars,
                vendor_id: doc.vendor_id,
                vendor_name_th: doc.vendor_name_th,
                available_stock: doc.available_stock,
                highlight: hit.highlight,
                image_url: doc.image_url,
            }
        })
        .collect();
    Ok(SearchReply {
        hits,
        total: results.total,
        page: query.page,
        per_page: query.per_page,
        facets: FacetsView {
            district_code: results.facets.district_code,
            category_code: results.facets.category_code,
            subtype_code: results.facets.subtype_code,
            otop_stars: results.facets.otop_stars,
            price_band: results.facets.price_band,
            in_stock: results.facets.in_stock,
        },
        price: PriceView {
            min_satang: results.price.map(|p| p.min_satang),
            max_satang: results.price.map(|p| p.max_satang),
        },
        backend: state.search.backend(),
    })
}
