//! `POST /v1/photos`: a vendor uploads a product photo (multipart, field `photo`), and gets
//! the URL to put in a listing's `image_urls`. Run by `otop_app::photos::upload`, as each
//! photo of the console's create-listing form is. The files are served by the pages'
//! `/photos/{key}/{size}.jpg`.

use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use otop_app::photos::{StoredPhoto, MAX_PHOTO_BYTES, PHOTO_FIELD};
use otop_app::state::AppState;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::SignedIn;
use crate::problem::{ApiError, Problem};

pub const TAG: &str = "listings";

/// What one upload may weigh in all: the photo plus the multipart framing around it.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_PHOTO_BYTES + 64 * 1024;

/// The route's own body limit (the API's default is far smaller).
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES)
}

/// The multipart form: one file in the field `photo`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhotoUpload {
    /// A JPEG, PNG or WebP picture, at most 12 MB, at least 200 pixels on each side.
    #[schema(value_type = String, format = Binary)]
    pub photo: Vec<u8>,
}

/// Upload a product photo (vendor). It is checked to be a real picture, turned upright, and
/// kept as a thumbnail (480 px) and a large size (1,200 px); camera metadata is dropped. The
/// same picture uploaded twice gives the same URL.
#[utoipa::path(post, path = "/v1/photos", tag = TAG,
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = StoredPhoto), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload_photo(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    mut form: Multipart,
) -> Result<(StatusCode, Json<StoredPhoto>), ApiError> {
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        if field.name() != Some(PHOTO_FIELD) {
            continue;
        }
        let bytes = field.bytes().await.map_err(unreadable)?;
        let stored = otop_app::photos::upload(&state, &actor, PHOTO_FIELD, bytes).await?;
        return Ok((StatusCode::CREATED, Json(stored)));
    }
    Err(ApiError::invalid(
        PHOTO_FIELD,
        "is required: a multipart form with the picture in the field `photo`",
    ))
}

fn unreadable(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::invalid(
            PHOTO_FIELD,
            format!("is larger than {} MB", MAX_PHOTO_BYTES / (1024 * 1024)),
        );
    }
    ApiError::Malformed(format!("the multipart form is not readable: {error}"))
}
