//! `robots.txt` and `sitemap.xml`: every published listing of an approved vendor, by its
//! canonical address.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use otop_app::AppState;

use crate::error::PageError;

/// The sitemap protocol's limit of addresses in one file.
const SITEMAP_LIMIT: i64 = 50_000;

pub async fn robots(State(state): State<AppState>) -> Response {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /cart\nDisallow: /checkout\nDisallow: /orders\nDisallow: /sign-in\nDisallow: /v1/\n\nSitemap: {}/sitemap.xml\n",
        state.config.public_url
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

pub async fn sitemap(State(state): State<AppState>) -> Result<Response, PageError> {
    let ids = otop_app::listings::public_listing_ids(&state, SITEMAP_LIMIT).await?;
    let base = &state.config.public_url;
    let mut body = String::with_capacity(ids.len() * 90 + 200);
    body.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    body.push_str("\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    body.push_str(&format!("<url><loc>{base}/</loc></url>\n"));
    body.push_str(&format!("<url><loc>{base}/search</loc></url>\n"));
    for id in ids {
        body.push_str(&format!("<url><loc>{base}/listings/{id}</loc></url>\n"));
    }
    body.push_str("</urlset>\n");
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response())
}
