//! The pages, one module per part of the shop. Each handler reads its request into the typed
//! input of an `otop_app` function (the same one the JSON API calls), and renders the answer.

pub mod admin;
pub mod analytics;
pub mod audit;
pub mod cart;
pub mod home;
pub mod listing;
pub mod orders;
pub mod photos;
pub mod search;
pub mod seo;
pub mod sign_in;
pub mod vendor;

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use otop_app::search::SearchHitView;

use crate::artwork::artwork_svg;
use crate::error::PageError;
use crate::format::{baht, Lang};
use crate::i18n::district_name;

/// A rendered page: HTML that is never cached by a shared cache (it may show who is signed
/// in, and the cart).
pub fn html(page: &impl Template) -> Result<Response, PageError> {
    let body = page.render()?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        body,
    )
        .into_response())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A product as a card in a grid.
pub struct Card {
    pub id: String,
    pub title: String,
    pub price: String,
    pub place: String,
    pub stars: Option<u8>,
    pub in_stock: bool,
    pub art: String,
    /// The photo drawn in place of the artwork, when the listing has one.
    pub photo: Option<String>,
}

impl Card {
    pub fn from_hit(hit: &SearchHitView, lang: Lang) -> Card {
        let title = match lang {
            Lang::En => hit.title_en.clone().unwrap_or_else(|| hit.title_th.clone()),
            Lang::Th => hit.title_th.clone(),
        };
        Card {
            id: hit.id.to_string(),
            art: artwork_svg(&hit.subtype_code, &hit.category_code, &title),
            title,
            price: baht(hit.price_satang),
            place: district_name(&hit.district_code, lang),
            stars: hit.otop_stars,
            in_stock: hit.available_stock > 0,
            photo: hit.image_url.as_deref().map(card_image),
        }
    }
}

/// The image a card shows for a listing's first image: our photo's thumbnail, or the
/// address the vendor gave.
pub fn card_image(image_url: &str) -> String {
    otop_app::photos::thumbnail_url(image_url).unwrap_or_else(|| image_url.to_string())
}

/// `next` for after sign-in: only a path of this site (never `//host` or a full address).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// A form body (`application/x-www-form-urlencoded`) into `T`; one that cannot be read is
/// a 422 page naming why.
pub fn read_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|error| PageError::BadForm(format!("the form is not readable: {error}")))
}

/// The request id the server's request-id layer gave this request.
pub fn request_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A CSV export offered as a download named `filename` (the pages' twin of the API's
/// `csv_response`).
pub fn csv_download(text: String, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/cart")), "/cart");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_escape("/orders?x=1"), "%2Forders%3Fx%3D1");
        assert_eq!(query_escape("ผ้า"), "%E0%B8%9C%E0%B9%89%E0%B8%B2");
    }
}
