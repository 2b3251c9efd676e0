//! `/search`: the same parameters as `GET /v1/search`, read into the same
//! [`SearchParams`] and run by the same `otop_app::search::search`; the page shows its hits
//! in its order, its facet counts as links that add or drop a filter, and pages that keep
//! the filters.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use otop_app::search::{SearchParams, SearchReply};
use otop_app::AppState;
use otop_domain::reference;
use otop_search::PRICE_BANDS;

use super::{html, query_escape, Card};
use crate::error::PageError;
use crate::format::{baht, Lang};
use crate::i18n::{category_name, district_name, subtype_name};
use crate::layout::Layout;
use crate::session::Visitor;

pub struct FacetValue {
    /// `<facet>:<value>` as the API names them (`district_code:3201`, `price_band:under_300`).
    pub facet: String,
    pub label: String,
    pub count: u64,
    pub href: String,
    pub current: bool,
}

pub struct FacetGroup {
    pub title: &'static str,
    pub values: Vec<FacetValue>,
}

pub struct SortOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub l: Layout,
    pub params: SearchParams,
    pub total: u64,
    pub cards: Vec<Card>,
    pub facets: Vec<FacetGroup>,
    pub sorts: Vec<SortOption>,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub page: usize,
    pub pages: u64,
    pub clear_href: String,
    pub in_stock: bool,
    pub hidden: Vec<(&'static str, String)>,
    pub price_span: Option<String>,
}

/// The query string of a search (without `lang`, which the session keeps).
pub fn search_href(params: &SearchParams) -> String {
    let fields: [(&str, &Option<String>); 11] = [
        ("q", &params.q),
        ("district", &params.district),
        ("category", &params.category),
        ("subtype", &params.subtype),
        ("stars_min", &params.stars_min),
        ("price_min", &params.price_min),
        ("price_max", &params.price_max),
        ("in_stock", &params.in_stock),
        ("vendor", &params.vendor),
        ("sort", &params.sort),
        ("page", &params.page),
    ];
    let query: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("{name}={}", query_escape(v)))
        })
        .collect();
    if query.is_empty() {
        "/search".to_string()
    } else {
        format!("/search?{}", query.join("&"))
    }
}

/// `list` (comma-separated codes) with `code` added, or removed when it is there.
fn toggled(list: &Option<String>, code: &str) -> (Option<String>, bool) {
    let mut codes: Vec<&str> = list
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let present = codes.contains(&code);
    if present {
        codes.retain(|c| *c != code);
    } else {
        codes.push(code);
    }
    let joined = codes.join(",");
    ((!joined.is_empty()).then_some(joined), present)
}

/// The href of this search with one filter changed (and back to page 1).
fn with(params: &SearchParams, change: impl FnOnce(&mut SearchParams)) -> String {
    let mut changed = params.clone();
    changed.page = None;
    change(&mut changed);
    search_href(&changed)
}

fn facet_group(
    title: &'static str,
    name: &'static str,
    counts: &std::collections::BTreeMap<String, u64>,
    params: &SearchParams,
    field: fn(&mut SearchParams) -> &mut Option<String>,
    label: impl Fn(&str) -> String,
) -> FacetGroup {
    let mut values: Vec<FacetValue> = counts
        .iter()
        .map(|(code, count)| {
            let mut probe = params.clone();
            let (next, current) = toggled(field(&mut probe), code);
            FacetValue {
                facet: format!("{name}:{code}"),
                label: label(code),
                count: *count,
                href: with(params, |p| *field(p) = next),
                current,
            }
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    FacetGroup { title, values }
}

fn facets(reply: &SearchReply, params: &SearchParams, lang: Lang) -> Vec<FacetGroup> {
    let t = crate::i18n::texts(lang);
    let mut groups = vec![
        facet_group(
            t.district,
            "district_code",
            &reply.facets.district_code,
            params,
            |p| &mut p.district,
            |code| district_name(code, lang),
        ),
        facet_group(
            t.category,
            "category_code",
            &reply.facets.category_code,
            params,
            |p| &mut p.category,
            |code| category_name(code, lang),
        ),
        facet_group(
            t.subtype,
            "subtype_code",
            &reply.facets.subtype_code,
            params,
            |p| &mut p.subtype,
            |code| subtype_name(code, lang),
        ),
    ];
    // Stars are "at least": each level counts the listings at it or above.
    let stars = (1..=5u8)
        .rev()
        .filter_map(|level| {
            let count: u64 = reply
                .facets
                .otop_stars
                .iter()
                .filter(|(stars, _)| stars.parse::<u8>().is_ok_and(|s| s >= level))
                .map(|(_, count)| count)
                .sum();
            (count > 0).then(|| {
                let current = params.stars_min.as_deref() == Some(&level.to_string());
                FacetValue {
                    facet: format!("stars_min:{level}"),
                    label: format!("{} {level}+", "★"),
                    count,
                    href: with(params, |p| {
                        p.stars_min = (!current).then(|| level.to_string());
                    }),
                    current,
                }
            })
        })
        .collect();
    groups.push(FacetGroup {
        title: t.stars,
        values: stars,
    });
    // A band counts the matches in it; the band being filtered on stays shown to be
    // dropped again.
    let prices = PRICE_BANDS
        .iter()
        .filter_map(|band| {
            let low_text = band.min_satang.map(|v| v.to_string());
            let high_text = band.max_satang.map(|v| v.to_string());
            let current = params.price_min == low_text && params.price_max == high_text;
            let count = reply.facets.price_band.get(band.code).copied().unwrap_or(0);
            if count == 0 && !current {
                return None;
            }
            let label = match (band.min_satang, band.max_satang) {
                (None, Some(high)) => format!("< {}", baht(high + 1)),
                (Some(low), Some(high)) => format!("{} – {}", baht(low), baht(high + 1)),
                (Some(low), None) => format!("≥ {}", baht(low)),
                (None, None) => String::new(),
            };
            Some(FacetValue {
                facet: format!("price_band:{}", band.code),
                label,
                count,
                href: with(params, |p| {
                    if current {
                        p.price_min = None;
                        p.price_max = None;
                    } else {
                        p.price_min = low_text.clone();
                        p.price_max = high_text.clone();
                    }
                }),
                current,
            })
        })
        .collect();
    groups.push(FacetGroup {
        title: t.price_range,
        values: prices,
    });
    let in_stock_now = params.in_stock.as_deref() == Some("true");
    let stocked = reply.facets.in_stock.get("true").copied().unwrap_or(0);
    let stock = (stocked > 0 || in_stock_now)
        .then(|| FacetValue {
            facet: "in_stock:true".to_string(),
            label: t.in_stock.to_string(),
            count: stocked,
            href: with(params, |p| {
                p.in_stock = (!in_stock_now).then(|| "true".to_string());
            }),
            current: in_stock_now,
        })
        .into_iter()
        .collect();
    groups.push(FacetGroup {
        title: t.in_stock_only,
        values: stock,
    });
    groups
}

/// The search page. Its query string is read exactly as `/v1/search` reads its own.
pub async fn search_page(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let raw = raw.unwrap_or_default();
    let params: SearchParams = serde_urlencoded::from_str(&raw)
        .map_err(|error| PageError::BadForm(format!("the search is not readable: {error}")))?;
    let reply = otop_app::search::search(&state, &params).await?;
    let lang = visitor.lang;
    let t = crate::i18n::texts(lang);
    let pages = reply.total.div_ceil(reply.per_page as u64).clamp(1, 5_000);
    let page_href = |page: usize| {
        let mut p = params.clone();
        p.page = (page > 1).then(|| page.to_string());
        search_href(&p)
    };
    let prev_href = (reply.page > 1).then(|| page_href(reply.page - 1));
    let next_href = ((reply.page as u64) < pages).then(|| page_href(reply.page + 1));
    let sort_now = params.sort.as_deref().unwrap_or("relevance");
    let sorts = [
        ("relevance", t.sort_relevance),
        ("price_asc", t.sort_price_asc),
        ("price_desc", t.sort_price_desc),
        ("newest", t.sort_newest),
        ("best_selling", t.sort_best_selling),
    ]
    .into_iter()
    .map(|(value, label)| SortOption {
        value,
        label,
        selected: value == sort_now,
    })
    .collect();
    // The sort form keeps every other filter as hidden fields.
    let hidden = [
        ("q", &params.q),
        ("district", &params.district),
        ("category", &params.category),
        ("subtype", &params.subtype),
        ("stars_min", &params.stars_min),
        ("price_min", &params.price_min),
        ("price_max", &params.price_max),
        ("vendor", &params.vendor),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value
            .clone()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (name, v))
    })
    .collect();
    let price_span = match (reply.price.min_satang, reply.price.max_satang) {
        (Some(low), Some(high)) => Some(format!("{} – {}", baht(low), baht(high))),
        _ => None,
    };
    let heading = params
        .q
        .clone()
        .filter(|q| !q.trim().is_empty())
        .unwrap_or_else(|| t.search_label.to_string());
    let description = format!("{heading}: {} {} · {}", reply.total, t.results, t.site_name);
    let mut l = Layout::new(
        &state,
        &visitor,
        &format!("/search?{raw}"),
        format!("{heading} · {}", t.site_name),
        description,
        false,
    )
    .await?
    .with_canonical(&state, &search_href(&params));
    l.search_q = params.q.clone().unwrap_or_default();
    let clear_href = with(&params, |p| {
        *p = SearchParams {
            q: p.q.clone(),
            ..SearchParams::default()
        }
    });
    let page = SearchPage {
        cards: reply
            .hits
            .iter()
            .map(|hit| Card::from_hit(hit, lang))
            .collect(),
        facets: facets(&reply, &params, lang),
        total: reply.total,
        page: reply.page,
        in_stock: params.in_stock.as_deref() == Some("true"),
        pages,
        prev_href,
        next_href,
        sorts,
        hidden,
        clear_href,
        price_span,
        params,
        l,
    };
    html(&page)
}

/// A name and the search it links to.
pub type NamedLink = (String, String);

/// Used by the home page: the names of every district and category, with a link each.
pub fn reference_links(lang: Lang) -> (Vec<NamedLink>, Vec<NamedLink>) {
    let categories = reference::categories()
        .map(|c| {
            (
                category_name(&c.code, lang),
                format!("/search?category={}", c.code),
            )
        })
        .collect();
    let districts = reference::districts()
        .map(|d| {
            (
                district_name(&d.code, lang),
                format!("/search?district={}", d.code),
            )
        })
        .collect();
    (categories, districts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_facet_link_adds_its_code_or_drops_it_and_goes_back_to_page_one() {
        let params = SearchParams {
            q: Some("ผ้าไหม".into()),
            district: Some("3201".into()),
            page: Some("3".into()),
            ..SearchParams::default()
        };
        let added = with(&params, |p| p.district = toggled(&p.district, "3216").0);
        assert_eq!(
            added,
            "/search?q=%E0%B8%9C%E0%B9%89%E0%B8%B2%E0%B9%84%E0%B8%AB%E0%B8%A1&district=3201%2C3216"
        );
        let (dropped, was_there) = toggled(&params.district, "3201");
        assert!(was_there);
        assert_eq!(dropped, None);
    }
}
