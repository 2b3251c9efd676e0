//! `/listings/{id}`: one product (`otop_app::listings::get_listing`, as `GET
//! /v1/listings/{id}`), its producer group and district, more of the group's products, an
//! add-to-cart form, and schema.org `Product` data for search engines.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use otop_app::search::SearchParams;
use otop_app::AppState;
use uuid::Uuid;

use super::{html, Card};
use crate::artwork::artwork_svg;
use crate::error::PageError;
use crate::format::{baht, baht_input, Lang};
use crate::i18n::{category_name, district_name, subtype_name};
use crate::layout::Layout;
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "listing.html")]
pub struct ListingPage {
    pub l: Layout,
    pub id: String,
    pub title: String,
    pub other_title: Option<String>,
    pub price: String,
    pub available: u32,
    pub stars: Option<u8>,
    pub vendor_name: String,
    pub vendor_search_href: String,
    pub district: String,
    pub district_href: String,
    pub kind: String,
    pub description: Option<String>,
    pub art: String,
    pub image: Option<String>,
    /// The listing's other images: (thumbnail, full size).
    pub more_images: Vec<(String, String)>,
    pub more: Vec<Card>,
    pub json_ld: String,
    pub added: bool,
}

/// `</` inside a `<script>` would end it: JSON allows `<\/` for the same text.
fn script_safe(json: &str) -> String {
    json.replace("</", "<\\/")
}

pub async fn listing_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let view = otop_app::listings::get_listing(&state, visitor.actor.as_ref(), id, None).await?;
    let listing = &view.listing;
    let lang = visitor.lang;
    let t = crate::i18n::texts(lang);
    let (title, other_title) = match lang {
        Lang::En => (
            listing
                .title_en
                .clone()
                .unwrap_or_else(|| listing.title_th.clone()),
            Some(listing.title_th.clone()),
        ),
        Lang::Th => (listing.title_th.clone(), listing.title_en.clone()),
    };
    let description = match lang {
        Lang::En => listing
            .description_en
            .clone()
            .or_else(|| listing.description_th.clone()),
        Lang::Th => listing.description_th.clone(),
    };
    let district_code = view.district_code.clone().unwrap_or_default();
    let more_params = SearchParams {
        vendor: Some(listing.vendor_id.to_string()),
        per_page: Some("7".into()),
        sort: Some("best_selling".into()),
        ..SearchParams::default()
    };
    let more = otop_app::search::search(&state, &more_params)
        .await?
        .hits
        .iter()
        .filter(|hit| hit.id != id)
        .take(6)
        .map(|hit| Card::from_hit(hit, lang))
        .collect();
    let vendor_name = view.vendor_name_th.clone().unwrap_or_default();
    let canonical_path = format!("/listings/{id}");
    let availability = if listing.available_stock > 0 {
        "https://schema.org/InStock"
    } else {
        "https://schema.org/OutOfStock"
    };
    let json_ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": listing.title_th,
        "alternateName": listing.title_en,
        "description": listing.description_th,
        "sku": id.to_string(),
        "category": category_name(&listing.category_code, Lang::En),
        "brand": {"@type": "Organization", "name": vendor_name},
        "offers": {
            "@type": "Offer",
            "price": baht_input(listing.price_satang),
            "priceCurrency": "THB",
            "availability": availability,
            "url": format!("{}{canonical_path}", state.config.public_url),
        }
    });
    let meta = description
        .clone()
        .unwrap_or_else(|| title.clone())
        .chars()
        .take(155)
        .collect::<String>();
    let l = Layout::new(
        &state,
        &visitor,
        &canonical_path,
        format!("{title} · {}", t.site_name),
        meta,
        true,
    )
    .await?
    .with_canonical(&state, &canonical_path);
    let page = ListingPage {
        id: id.to_string(),
        art: artwork_svg(&listing.subtype_code, &listing.category_code, &title),
        image: listing.image_urls.first().cloned(),
        more_images: listing
            .image_urls
            .iter()
            .skip(1)
            .map(|url| (super::card_image(url), url.clone()))
            .collect(),
        price: baht(listing.price_satang),
        available: listing.available_stock,
        stars: listing.otop_stars,
        vendor_search_href: format!("/search?vendor={}", listing.vendor_id),
        district: district_name(&district_code, lang),
        district_href: format!("/search?district={district_code}"),
        kind: format!(
            "{} · {}",
            category_name(&listing.category_code, lang),
            subtype_name(&listing.subtype_code, lang)
        ),
        json_ld: script_safe(&json_ld.to_string()),
        added: query.as_deref().is_some_and(|q| q.contains("added=1")),
        vendor_name,
        description,
        title,
        other_title,
        more,
        l,
    };
    html(&page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_ld_cannot_close_its_script() {
        assert_eq!(
            super::script_safe(r#"{"name":"</script><script>x"}"#),
            r#"{"name":"<\/script><script>x"}"#
        );
    }
}
