//! Product photos: an upload is checked to be a real picture (JPEG, PNG or WebP, decoded in
//! full by the `image` crate), turned the way the phone held it (EXIF orientation), and
//! re-encoded as two JPEG sizes, a thumbnail for cards and a large one for the product page.
//! Only the re-encoded files are kept, so no camera metadata (a farm's GPS position) is ever
//! published, and no uploaded bytes are ever served as they came.
//!
//! The files are stored through the `object_store` crate: a local directory by default
//! (`OTOP_PHOTO_DIR`), an S3-compatible bucket by configuration (`OTOP_PHOTO_BUCKET`, with the
//! usual `AWS_*` variables). A photo's key is a hash of the uploaded bytes, so its files never
//! change once written and are served as immutable (`/photos/{key}/{size}.jpg`).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use utoipa::ToSchema;

use crate::error::AppError;

/// The largest upload accepted, in bytes (a phone's full-size JPEG is 2 to 6 MB).
pub const MAX_PHOTO_BYTES: usize = 12 * 1024 * 1024;
/// The largest side accepted, in pixels; larger pictures are refused before decoding.
pub const MAX_PHOTO_SIDE: u32 = 12_000;
/// The smallest side accepted: a smaller picture looks broken on the product page.
pub const MIN_PHOTO_SIDE: u32 = 200;
/// The field a photo is uploaded in (`POST /v1/photos`, and the console's form).
pub const PHOTO_FIELD: &str = "photo";
/// JPEG quality of the stored sizes.
const JPEG_QUALITY: u8 = 82;

/// The sizes each photo is kept in: name (the file's name) and longest side in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSize {
    /// Cards in the search results and the home page.
    Thumb,
    /// The product page.
    Large,
}

impl PhotoSize {
    pub const ALL: [PhotoSize; 2] = [PhotoSize::Thumb, PhotoSize::Large];

    pub fn name(self) -> &'static str {
        match self {
            PhotoSize::Thumb => "thumb",
            PhotoSize::Large => "large",
        }
    }

    pub fn longest_side(self) -> u32 {
        match self {
            PhotoSize::Thumb => 480,
            PhotoSize::Large => 1200,
        }
    }

    pub fn parse(file_name: &str) -> Option<PhotoSize> {
        PhotoSize::ALL
            .into_iter()
            .find(|size| file_name == format!("{}.jpg", size.name()))
    }
}

/// A photo's key: 32 lowercase hex digits (the first half of the SHA-256 of the upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoKey(String);

impl PhotoKey {
    pub fn parse(raw: &str) -> Option<PhotoKey> {
        let well_formed = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| PhotoKey(raw.to_string()))
    }

    fn of_upload(bytes: &[u8]) -> PhotoKey {
        PhotoKey(hex::encode(&Sha256::digest(bytes)[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The site path the size is served at.
    pub fn url(&self, size: PhotoSize) -> String {
        format!("/photos/{}/{}.jpg", self.0, size.name())
    }

    fn store_path(&self, size: PhotoSize) -> StorePath {
        StorePath::from(format!("photos/{}/{}.jpg", self.0, size.name()))
    }
}

/// The thumbnail of a listing's image URL, when it is one of our own photos (the large
/// size's URL, as `POST /v1/photos` gives it); `None` for an image elsewhere.
pub fn thumbnail_url(image_url: &str) -> Option<String> {
    if !otop_domain::values::is_own_photo_path(image_url) {
        return None;
    }
    let (folder, _) = image_url.rsplit_once('/')?;
    Some(format!("{folder}/{}.jpg", PhotoSize::Thumb.name()))
}

/// A photo once stored: the URL to put in a listing's `image_urls`, and its sizes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredPhoto {
    /// The large size's path: what a listing's `image_urls` holds.
    pub url: String,
    /// The thumbnail's path.
    pub thumbnail_url: String,
    /// The large size's width and height, in pixels.
    pub width: u32,
    pub height: u32,
}

/// Where photos are kept.
#[derive(Debug, Clone)]
pub enum PhotoStorage {
    /// A directory on this machine (`OTOP_PHOTO_DIR`, default `otop-photos`).
    Directory(PathBuf),
    /// An S3-compatible bucket (`OTOP_PHOTO_BUCKET`).
    Bucket(BucketConfig),
}

/// An S3-compatible bucket. Whatever is not given here comes from the usual `AWS_*`
/// variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_ALLOW_HTTP`, ...), as `object_store`'s `AmazonS3Builder::from_env` reads them.
#[derive(Clone)]
pub struct BucketConfig {
    pub bucket: String,
    /// Another S3-compatible service than AWS (MinIO, Ceph, R2, ...), path-style.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<secrecy::SecretString>,
    /// Allow `http://` endpoints (a service on the same network).
    pub allow_http: bool,
}

impl BucketConfig {
    pub fn named(bucket: &str) -> BucketConfig {
        BucketConfig {
            bucket: bucket.to_string(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }
}

impl std::fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret key.
        f.debug_struct("BucketConfig")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl PhotoStorage {
    pub fn describe(&self) -> String {
        match self {
            PhotoStorage::Directory(dir) => format!("directory {}", dir.display()),
            PhotoStorage::Bucket(config) => match &config.endpoint {
                Some(endpoint) => format!("bucket {} at {endpoint}", config.bucket),
                None => format!("bucket {}", config.bucket),
            },
        }
    }
}

/// The photo store, opened on first use (so commands that never touch a photo, such as
/// `otop rebuild`, never create its directory or need its bucket).
pub struct PhotoStore {
    storage: PhotoStorage,
    opened: OnceCell<Arc<dyn ObjectStore>>,
}

impl std::fmt::Debug for PhotoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoStore")
            .field("storage", &self.storage)
            .finish()
    }
}

/// Why an upload is not a photo we keep; the message names what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAPhoto(pub String);

impl PhotoStore {
    pub fn new(storage: PhotoStorage) -> PhotoStore {
        PhotoStore {
            storage,
            opened: OnceCell::new(),
        }
    }

    async fn store(&self) -> Result<&Arc<dyn ObjectStore>, AppError> {
        self.opened
            .get_or_try_init(|| async { open(&self.storage) })
            .await
    }

    /// Keeps a checked photo's sizes. Keeping the same picture twice gives the same URL and
    /// writes the same files again.
    pub async fn keep(&self, photo: CheckedPhoto) -> Result<StoredPhoto, AppError> {
        let store = self.store().await?;
        let mut large = (0, 0);
        for (size, jpeg, dimensions) in photo.sizes {
            if size == PhotoSize::Large {
                large = dimensions;
            }
            store
                .put(&photo.key.store_path(size), PutPayload::from(jpeg))
                .await
                .map_err(storage_error)?;
        }
        tracing::info!(photo = photo.key.as_str(), storage = %self.storage.describe(), "stored a photo");
        Ok(StoredPhoto {
            url: photo.key.url(PhotoSize::Large),
            thumbnail_url: photo.key.url(PhotoSize::Thumb),
            width: large.0,
            height: large.1,
        })
    }

    /// One stored size, or `None` when there is no such photo.
    pub async fn get(&self, key: &PhotoKey, size: PhotoSize) -> Result<Option<Bytes>, AppError> {
        let store = self.store().await?;
        match store.get(&key.store_path(size)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(storage_error)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(storage_error(error)),
        }
    }
}

/// An upload that is a picture, with its sizes encoded and not yet kept.
pub struct CheckedPhoto {
    key: PhotoKey,
    sizes: Vec<SizedPhoto>,
}

/// Checks an upload and encodes its sizes; `field` names the form field in an error.
/// Decoding and encoding take tens of milliseconds of one core, so it runs off the reactor.
pub async fn check(field: &str, upload: Bytes) -> Result<CheckedPhoto, AppError> {
    let key = PhotoKey::of_upload(&upload);
    let sizes = tokio::task::spawn_blocking(move || resize(&upload))
        .await
        .map_err(|error| AppError::Internal(format!("the photo task failed: {error}")))?
        .map_err(|NotAPhoto(message)| AppError::invalid(field, message))?;
    Ok(CheckedPhoto { key, sizes })
}

/// Who may upload: a producer group's members, while their group may change its listings.
pub async fn may_upload(
    state: &crate::AppState,
    actor: &otop_domain::Actor,
) -> Result<(), AppError> {
    crate::auth::require_role(actor, &[otop_domain::Role::Vendor], "uploading a photo")?;
    crate::vendor_standing::check(state, actor, crate::vendor_standing::Intent::Change).await
}

/// A vendor's upload (`POST /v1/photos`): checked, then kept.
pub async fn upload(
    state: &crate::AppState,
    actor: &otop_domain::Actor,
    field: &str,
    bytes: Bytes,
) -> Result<StoredPhoto, AppError> {
    may_upload(state, actor).await?;
    let checked = check(field, bytes).await?;
    state.photos.keep(checked).await
}

fn open(storage: &PhotoStorage) -> Result<Arc<dyn ObjectStore>, AppError> {
    match storage {
        PhotoStorage::Directory(dir) => {
            std::fs::create_dir_all(dir).map_err(|error| {
                AppError::Unavailable(format!(
                    "the photo directory {} cannot be made: {error}",
                    dir.display()
                ))
            })?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(storage_error)?;
            Ok(Arc::new(local))
        }
        PhotoStorage::Bucket(config) => {
            use secrecy::ExposeSecret;
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
            if config.allow_http {
                builder = builder.with_allow_http(true);
            }
            if let Some(endpoint) = &config.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = &config.region {
                builder = builder.with_region(region);
            }
            if let Some(key) = &config.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &config.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose_secret());
            }
            Ok(Arc::new(builder.build().map_err(storage_error)?))
        }
    }
}

fn storage_error(error: object_store::Error) -> AppError {
    AppError::Unavailable(format!("the photo storage failed: {error}"))
}

/// One size, encoded: which, the JPEG, and its width and height.
type SizedPhoto = (PhotoSize, Vec<u8>, (u32, u32));

/// Decodes an upload in full (a file that only starts like a picture is refused), turns it
/// upright, and encodes each size as JPEG. Pure: no I/O.
pub fn resize(upload: &[u8]) -> Result<Vec<SizedPhoto>, NotAPhoto> {
    let upright = decode(upload)?;
    let flat = flatten_onto_white(&upright);
    PhotoSize::ALL
        .into_iter()
        .map(|size| {
            let side = size.longest_side();
            // Never enlarged: a small picture keeps its own pixels.
            let fitted = if flat.width() > side || flat.height() > side {
                DynamicImage::ImageRgb8(flat.clone()).thumbnail(side, side)
            } else {
                DynamicImage::ImageRgb8(flat.clone())
            };
            let rgb = fitted.to_rgb8();
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
                .encode_image(&rgb)
                .map_err(|error| NotAPhoto(format!("the photo could not be encoded: {error}")))?;
            Ok((size, jpeg, (rgb.width(), rgb.height())))
        })
        .collect()
}

fn decode(upload: &[u8]) -> Result<DynamicImage, NotAPhoto> {
    const ACCEPTED: &str = "a JPEG, PNG or WebP picture";
    if upload.is_empty() {
        return Err(NotAPhoto(format!("is empty: choose {ACCEPTED}")));
    }
    if upload.len() > MAX_PHOTO_BYTES {
        return Err(NotAPhoto(format!(
            "is larger than {} MB",
            MAX_PHOTO_BYTES / (1024 * 1024)
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| NotAPhoto(format!("is not {ACCEPTED}")))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        _ => return Err(NotAPhoto(format!("is not {ACCEPTED}"))),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PHOTO_SIDE);
    limits.max_image_height = Some(MAX_PHOTO_SIDE);
    reader.limits(limits);
    let unreadable = |error: image::ImageError| match error {
        image::ImageError::Limits(_) => {
            NotAPhoto(format!("is larger than {MAX_PHOTO_SIDE} pixels on a side"))
        }
        other => NotAPhoto(format!("is not a readable picture ({other})")),
    };
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if width.min(height) < MIN_PHOTO_SIDE {
        return Err(NotAPhoto(format!(
            "is {width}×{height} pixels: a photo needs at least {MIN_PHOTO_SIDE} on each side"
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

/// The picture as RGB, with any transparency laid over white (a JPEG has no alpha, and a
/// transparent PNG would otherwise turn black).
fn flatten_onto_white(picture: &DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.to_rgb8();
    }
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |channel: u8| -> u8 {
            let alpha = u16::from(a);
            let blended = (u16::from(channel) * alpha + 255 * (255 - alpha)) / 255;
            u8::try_from(blended).unwrap_or(u8::MAX)
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgba};

    fn png(width: u32, height: u32, alpha: u8) -> Vec<u8> {
        let picture: ImageBuffer<Rgba<u8>, Vec<u8>> =
            ImageBuffer::from_fn(width, height, |x, _| Rgba([(x % 256) as u8, 40, 90, alpha]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(picture)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode a PNG in memory");
        out
    }

    #[test]
    fn a_large_picture_is_kept_in_two_sizes_within_their_sides() {
        let sized = resize(&png(2400, 1600, 255)).expect("a PNG is a photo");
        let sides: Vec<_> = sized.iter().map(|(size, _, dims)| (*size, *dims)).collect();
        assert_eq!(
            sides,
            vec![
                (PhotoSize::Thumb, (480, 320)),
                (PhotoSize::Large, (1200, 800))
            ]
        );
        for (_, jpeg, _) in &sized {
            assert_eq!(
                image::guess_format(jpeg).expect("a known format"),
                ImageFormat::Jpeg
            );
        }
    }

    #[test]
    fn a_small_picture_is_never_enlarged() {
        let sized = resize(&png(300, 240, 255)).expect("a PNG is a photo");
        assert!(sized.iter().all(|(_, _, dims)| *dims == (300, 240)));
    }

    #[test]
    fn transparency_is_laid_over_white() {
        let sized = resize(&png(300, 300, 0)).expect("a PNG is a photo");
        let thumb = image::load_from_memory(&sized[0].1).expect("our JPEG decodes");
        let pixel = thumb.to_rgb8().get_pixel(150, 150).0;
        assert!(
            pixel.iter().all(|c| *c > 240),
            "white, not black: {pixel:?}"
        );
    }

    #[test]
    fn what_is_not_a_whole_picture_is_refused_with_a_reason() {
        let not_pictures: [(&[u8], &str); 4] = [
            (b"", "is empty"),
            (b"<?php system($_GET['c']); ?>", "is not a JPEG"),
            (b"GIF89a\x01\x00\x01\x00", "is not a JPEG"),
            // A PNG's signature and header with the rest cut off.
            (&png(400, 400, 255)[..60], "not a readable picture"),
        ];
        for (upload, reason) in not_pictures {
            let refused = resize(upload).expect_err("not a photo");
            assert!(
                refused.0.contains(reason),
                "{refused:?} should say {reason:?}"
            );
        }
        let tiny = resize(&png(120, 400, 255)).expect_err("too small");
        assert!(tiny.0.contains("at least 200"), "{tiny:?}");
    }

    #[test]
    fn keys_and_urls_are_checked_before_they_name_a_file() {
        let key = PhotoKey::of_upload(b"a photo");
        assert_eq!(PhotoKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(PhotoKey::parse("../../etc/passwd"), None);
        assert_eq!(PhotoKey::parse(&key.as_str().to_uppercase()), None);
        assert_eq!(PhotoSize::parse("large.jpg"), Some(PhotoSize::Large));
        assert_eq!(PhotoSize::parse("original.jpg"), None);
        assert_eq!(
            thumbnail_url(&key.url(PhotoSize::Large)),
            Some(key.url(PhotoSize::Thumb))
        );
        assert_eq!(thumbnail_url("https://img.example/a.jpg"), None);
    }
}
