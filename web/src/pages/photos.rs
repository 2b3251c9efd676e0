//! `/photos/{key}/{size}.jpg`: the stored sizes of the vendors' photos (app/src/photos.rs).
//! A photo's key is a hash of what was uploaded, so a file at a path never changes: it is
//! served as immutable for a year, with an ETag for the clients that ask again anyway.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use otop_app::photos::{PhotoKey, PhotoSize};
use otop_app::AppState;

use crate::error::PageError;

/// A year, and never revalidated before: the bytes at a photo's path cannot change.
pub const PHOTO_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

pub async fn photo(
    State(state): State<AppState>,
    Path((raw_key, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (Some(key), Some(size)) = (PhotoKey::parse(&raw_key), PhotoSize::parse(&file)) else {
        return Err(PageError::NotFound);
    };
    let etag = format!("\"{}-{}\"", key.as_str(), size.name());
    let cached = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(PHOTO_CACHE_CONTROL),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(|e| PageError::internal(e.to_string()))?,
        ),
    ];
    let asked_again = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let Some(jpeg) = state.photos.get(&key, size).await? else {
        return Err(PageError::NotFound);
    };
    if asked_again {
        return Ok((StatusCode::NOT_MODIFIED, cached).into_response());
    }
    Ok((
        cached,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        jpeg,
    )
        .into_response())
}
