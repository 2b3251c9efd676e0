//! Product photos and the console's create-listing form: `POST /v1/photos` keeps only real
//! pictures, re-encoded in two sizes and served as immutable; the console's multipart form
//! creates a draft with its photos through the same functions as `/v1/photos` and
//! `/v1/listings`, and a refused form keeps what was typed and stores nothing; the storefront
//! shows the photos in place of the drawn artwork; the console's balance and its CSV equal
//! the API's; the office's desk pages past 50 vendors.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use otop_api::photos::{BucketConfig, PhotoStorage};
use otop_e2e::node_fixture::{self, NodeFixture};
use otop_e2e::web::WebVisitor;
use otop_e2e::TestApp;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use crate::staff_pages::{log_head, vendor_with_a_paid_order};

/// A picture of `width`×`height` in `format`, with a gradient so it is not trivially small.
fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(pixels)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encode a picture in memory");
    out
}

fn photo_dir(app: &TestApp) -> PathBuf {
    match &app.state().config.photos {
        PhotoStorage::Directory(dir) => dir.clone(),
        PhotoStorage::Bucket(bucket) => {
            panic!("these tests keep photos in a directory: {bucket:?}")
        }
    }
}

/// Every file under the photo directory (none when it was never made).
fn stored_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
    let form = Form::new().part("photo", Part::bytes(bytes).file_name(name.to_string()));
    let response = app
        .client
        .post(format!("{}/v1/photos", app.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("the API answers");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn an_uploaded_photo_is_kept_in_two_sizes_and_served_as_immutable() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มจักสานบ้านบุทม").await;
    let token = app.vendor(vendor);
    let (status, stored) =
        upload(&app, &token, picture(2000, 1500, ImageFormat::Png), "a.png").await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let url = stored["url"].as_str().expect("url").to_string();
    let thumb = stored["thumbnail_url"]
        .as_str()
        .expect("thumbnail")
        .to_string();
    assert_eq!(
        (stored["width"].clone(), stored["height"].clone()),
        (1200.into(), 900.into())
    );

    for (path, longest) in [(&url, 1200), (&thumb, 480)] {
        let served = app
            .client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("served");
        assert_eq!(served.status(), StatusCode::OK, "{path}");
        let headers = served.headers().clone();
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let etag = headers["etag"].to_str().expect("etag").to_string();
        let jpeg = served.bytes().await.expect("bytes");
        let decoded = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg)
            .expect("what is served is a JPEG");
        assert_eq!(decoded.width().max(decoded.height()), longest, "{path}");

        let again = app
            .client
            .get(format!("{}{path}", app.base_url))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("served");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    // The same picture again is the same photo; a listing takes its URL.
    let (status, same) = upload(&app, &token, picture(2000, 1500, ImageFormat::Png), "b.png").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(same["url"], stored["url"]);
    let created = app
        .post(
            "/v1/listings",
            &token,
            serde_json::json!({
                "title_th": "ตะกร้าหวายสาน", "category_code": "CRAFT",
                "subtype_code": "CRF_BASKETRY", "price_satang": 45000, "stock": 3,
                "image_urls": [url],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    for unknown in [
        "/photos/0123456789abcdef0123456789abcdef/large.jpg",
        "/photos/not-a-key/large.jpg",
        &url.replace("large.jpg", "original.png"),
    ] {
        let missing = app.get(unknown, None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{unknown}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn what_is_not_a_photo_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มเครื่องเงินบ้านโชค").await;
    let token = app.vendor(vendor);
    let dir = photo_dir(&app);
    let real = picture(600, 600, ImageFormat::Jpeg);
    // A PNG cut short (its decoder checks every chunk; a JPEG decoder fills a cut-off end in
    // grey, which is still a picture, re-encoded whole).
    let mut cut_short = picture(600, 600, ImageFormat::Png);
    cut_short.truncate(cut_short.len() / 3);
    let refusals: Vec<(Vec<u8>, &str)> = vec![
        (b"<?php echo 1; ?>".to_vec(), "is not a JPEG"),
        (b"GIF89a".to_vec(), "is not a JPEG"),
        (cut_short, "not a readable picture"),
        (picture(150, 600, ImageFormat::Png), "at least 200"),
    ];
    for (bytes, reason) in refusals {
        let (status, problem) = upload(&app, &token, bytes, "x.jpg").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
        assert_eq!(problem["errors"][0]["field"], "photo", "{problem}");
        assert!(message.contains(reason), "{problem} should say {reason:?}");
    }
    // Larger than the route's limit: refused before it is read in full.
    let too_large = vec![0xFF; otop_api::photos::MAX_PHOTO_BYTES + 200 * 1024];
    let (status, problem) = upload(&app, &token, too_large, "big.jpg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // No field named `photo`.
    let response = app
        .client
        .post(format!("{}/v1/photos", app.base_url))
        .bearer_auth(&token)
        .multipart(Form::new().text("picture", "x"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stored_files(&dir).is_empty(), "{:?}", stored_files(&dir));

    // Only a producer group's members upload, and not while their group is suspended.
    let (status, _) = upload(&app, &app.shopper("s"), real.clone(), "x.jpg").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let anonymous = app
        .client
        .post(format!("{}/v1/photos", app.base_url))
        .multipart(Form::new().part("photo", Part::bytes(real.clone())))
        .send()
        .await
        .expect("answers");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor}/suspend"),
            &app.admin(),
            serde_json::json!({"reason": "เอกสารไม่ครบ"}),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{suspended:?}");
    let (status, _) = upload(&app, &token, real, "x.jpg").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(stored_files(&dir).is_empty());
    app.cleanup().await;
}

/// The create-listing form's text fields, as a member fills them in.
fn filled_form(csrf: &str, id: &str, price_baht: &str) -> Form {
    Form::new()
        .text("csrf", csrf.to_string())
        .text("id", id.to_string())
        .text("title_th", "ผ้าไหมหางกระรอก สีเขียวขี้ม้า")
        .text("title_en", "Hang krarok silk, olive green")
        .text("subtype_code", "TEX_SILK_HOL")
        .text("price_baht", price_baht.to_string())
        .text("stock", "7")
        .text("description_th", "ทอมือ ย้อมสีธรรมชาติ")
        .text("weight_grams", "450")
        .text("otop_stars", "4")
        .text("tags", "ผ้าไหม, ของฝาก, silk")
}

fn with_photos(form: Form, photos: &[Vec<u8>]) -> Form {
    photos.iter().enumerate().fold(form, |form, (i, bytes)| {
        form.part(
            "photos",
            Part::bytes(bytes.clone())
                .file_name(format!("photo-{i}.jpg"))
                .mime_str("image/jpeg")
                .expect("mime"),
        )
    })
}

#[tokio::test]
async fn a_member_creates_a_listing_with_photos_from_the_console_and_the_shop_shows_them() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านสวาย").await;
    let member = WebVisitor::new(&app.base_url);
    member
        .sign_in_as("vendor", "member-1", Some(&vendor.to_string()), "/vendor")
        .await;
    let console = member.get("/vendor").await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.html);
    assert!(console.html.contains("enctype=\"multipart/form-data\""));
    let csrf = console.hidden("csrf").expect("csrf");
    let form_id = console
        .hidden("id")
        .expect("the form draws the new listing's id");
    let photos = [
        picture(1600, 1200, ImageFormat::Jpeg),
        picture(900, 900, ImageFormat::WebP),
    ];

    let created = member
        .post_multipart(
            "/vendor/listings",
            with_photos(filled_form(&csrf, &form_id, "2,450.50"), &photos),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    assert!(created.url.ends_with("/vendor"), "{}", created.url);
    assert!(
        created.html.contains("ผ้าไหมหางกระรอก"),
        "the notice names it"
    );

    let head = log_head(&app).await;
    let listing = app
        .get(
            &format!("/v1/listings/{form_id}?min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{listing:?}");
    let body = &listing.body;
    assert_eq!(body["status"], "draft");
    assert_eq!(body["price_satang"], 245_050);
    assert_eq!(body["available_stock"], 7);
    assert_eq!(
        body["category_code"], "TEXTILE",
        "derived from the sub-type"
    );
    assert_eq!(body["otop_stars"], 4);
    assert_eq!(body["weight_grams"], 450);
    assert_eq!(body["tags"], serde_json::json!(["ผ้าไหม", "ของฝาก", "silk"]));
    let image_urls: Vec<String> = body["image_urls"]
        .as_array()
        .expect("image urls")
        .iter()
        .map(|u| u.as_str().expect("url").to_string())
        .collect();
    assert_eq!(image_urls.len(), 2, "{body}");
    assert!(image_urls
        .iter()
        .all(|u| u.starts_with("/photos/") && u.ends_with("/large.jpg")));
    assert_eq!(
        stored_files(&photo_dir(&app)).len(),
        4,
        "two sizes of two photos"
    );

    // The same form sent again (a double tap) is the same listing, not a second one.
    let again = member
        .post_multipart(
            "/vendor/listings",
            with_photos(filled_form(&csrf, &form_id, "2,450.50"), &photos),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    let listings = app
        .get(
            &format!("/v1/listings?vendor={vendor}&min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await;
    assert_eq!(listings.body["total"], 1, "{listings:?}");

    // Published, the shop shows the photo in place of the drawing: the thumbnail on the
    // search card, the large size on the product page, the second photo in its gallery.
    let published = app
        .post(
            &format!("/v1/listings/{form_id}/publish"),
            &app.vendor(vendor),
            Value::Null,
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{published:?}");
    let head = published.position();
    let thumb = image_urls[0].replace("large.jpg", "thumb.jpg");
    let search = app
        .get(&format!("/v1/search?q=หางกระรอก&min_position={head}"), None)
        .await;
    assert_eq!(
        search.body["hits"][0]["image_url"],
        image_urls[0].as_str(),
        "{search:?}"
    );
    let shopper = WebVisitor::new(&app.base_url);
    let results = shopper
        .get(&format!("/search?q=หางกระรอก&min_position={head}"))
        .await;
    assert!(
        results.html.contains(&format!("<img src=\"{thumb}\"")),
        "{}",
        results.html
    );
    let product = shopper.get(&format!("/listings/{form_id}")).await;
    assert!(product
        .html
        .contains(&format!("<img src=\"{}\"", image_urls[0])));
    assert!(product
        .html
        .contains(&format!("<a href=\"{}\"", image_urls[1])));
    let console = member.get(&format!("/vendor?min_position={head}")).await;
    assert!(console
        .html
        .contains(&format!("class=\"thumb\" src=\"{thumb}\"")));
    app.cleanup().await;
}

#[tokio::test]
async fn a_refused_create_form_keeps_what_was_typed_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มข้าวหอมมะลิบ้านตรึม").await;
    let member = WebVisitor::new(&app.base_url);
    member
        .sign_in_as("vendor", "member-2", Some(&vendor.to_string()), "/vendor")
        .await;
    let console = member.get("/vendor").await;
    let csrf = console.hidden("csrf").expect("csrf");
    let form_id = console.hidden("id").expect("id");
    let photo = picture(800, 800, ImageFormat::Jpeg);

    // A price that is not one: the fields come back as typed, with the reason.
    let refused = member
        .post_multipart(
            "/vendor/listings",
            with_photos(
                filled_form(&csrf, &form_id, "ฟรี"),
                std::slice::from_ref(&photo),
            ),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("data-field=\"price_baht\""),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("value=\"ผ้าไหมหางกระรอก สีเขียวขี้ม้า\""));
    assert!(refused.html.contains("value=\"ฟรี\""));
    assert!(refused
        .html
        .contains("<option value=\"TEX_SILK_HOL\" selected>"));
    assert!(refused
        .html
        .contains(&format!("name=\"id\" value=\"{form_id}\"")));

    // A file that is not a picture: refused, named, and the listing is not made.
    let not_a_photo = member
        .post_multipart(
            "/vendor/listings",
            with_photos(
                filled_form(&csrf, &form_id, "450"),
                &[photo.clone(), b"%PDF-1.7 not a picture".to_vec()],
            ),
        )
        .await;
    assert_eq!(not_a_photo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        not_a_photo.html.contains("data-field=\"photos[1]\""),
        "{}",
        not_a_photo.html
    );

    // A title missing: the domain's own check, shown on the form.
    let no_title = member
        .post_multipart(
            "/vendor/listings",
            filled_form(&csrf, &form_id, "450").text("title_th", ""),
        )
        .await;
    assert_eq!(no_title.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A stale or missing CSRF token changes nothing either.
    let forged = member
        .post_multipart("/vendor/listings", filled_form("forged", &form_id, "450"))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'ListingCreated'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(created, 0, "no refused form made a listing");
    // The second form's first photo was good, but the form is checked whole before any
    // photo is kept.
    let files = stored_files(&photo_dir(&app));
    assert!(files.is_empty(), "a refused form keeps no photo: {files:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn the_console_shows_the_groups_balance_and_its_csv_equals_the_apis() {
    let app = TestApp::spawn().await;
    let (vendor, _listing, order, _) = vendor_with_a_paid_order(&app).await;
    let head = log_head(&app).await;
    let api = app
        .get(
            &format!("/v1/vendors/{vendor}/balance?min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let owed = api.body["balance_satang"].as_i64().expect("balance");
    assert!(owed > 0, "a paid order credits the vendor: {api:?}");

    let member = WebVisitor::new(&app.base_url);
    member
        .sign_in_as("vendor", "member-3", Some(&vendor.to_string()), "/vendor")
        .await;
    let console = member.get(&format!("/vendor?min_position={head}")).await;
    assert_eq!(console.status, StatusCode::OK);
    let shown = format!(
        "<dd id=\"balance-owed\">{}</dd>",
        otop_web::format::baht(u64::try_from(owed).expect("positive"))
    );
    assert!(console.html.contains(&shown), "{shown} in {}", console.html);
    assert!(console.html.contains(&format!(
        "<tr data-order-id=\"{order}\" data-kind=\"credit\">"
    )));

    let page_csv = member
        .client
        .get(format!(
            "{}/vendor/balance.csv?min_position={head}",
            app.base_url
        ))
        .send()
        .await
        .expect("csv");
    assert_eq!(page_csv.status(), StatusCode::OK);
    assert!(page_csv.headers()["content-disposition"]
        .to_str()
        .expect("header")
        .contains("balance.csv"));
    let page_csv = page_csv.text().await.expect("text");
    let api_csv = app
        .client
        .get(format!(
            "{}/v1/vendors/{vendor}/balance?min_position={head}",
            app.base_url
        ))
        .bearer_auth(app.vendor(vendor))
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert_eq!(page_csv, api_csv, "the page's CSV is the API's");
    let rows: Vec<&str> = api_csv.lines().collect();
    assert_eq!(rows.len(), 2, "a header and the one credit: {api_csv}");
    assert!(
        rows[1].contains(&order) && rows[1].ends_with(&owed.to_string()),
        "{api_csv}"
    );

    // Another group's member, and a shopper, cannot read it.
    let other = app.approved_vendor("กลุ่มอื่น").await;
    let stranger = WebVisitor::new(&app.base_url);
    stranger
        .sign_in_as("vendor", "member-x", Some(&other.to_string()), "/vendor")
        .await;
    let theirs = stranger.get("/vendor/balance.csv").await;
    assert!(!theirs.html.contains(&order), "only its own lines");
    let shopper = WebVisitor::new(&app.base_url);
    shopper.sign_in_as_shopper("s").await;
    assert_eq!(
        shopper.get("/vendor/balance.csv").await.status,
        StatusCode::FORBIDDEN
    );
    app.cleanup().await;
}

#[tokio::test]
async fn the_desk_pages_through_every_vendor_and_filters_by_status() {
    let app = TestApp::spawn().await;
    let mut applied = Vec::new();
    for i in 0..63 {
        let reply = app
            .post(
                "/v1/vendors",
                &app.shopper(&format!("applicant-{i}")),
                serde_json::json!({
                    "name_th": format!("กลุ่มที่ {i:02}"),
                    "district_code": "3201",
                    "producer_type": "community_group",
                    "phone": "044-511-234",
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        applied.push(reply.body["id"].as_str().expect("id").to_string());
    }
    let approved = app.approved_vendor("กลุ่มที่อนุมัติแล้ว").await.to_string();
    let head = log_head(&app).await;
    let office = WebVisitor::new(&app.base_url);
    office.sign_in_as("admin", "officer", None, "/admin").await;

    let ids_in = |html: &str, section: &str| -> Vec<String> {
        let start = html.find(section).expect("the section");
        let rest = &html[start..];
        let end = rest.find("</section>").unwrap_or(rest.len());
        otop_e2e::web::Page {
            status: StatusCode::OK,
            url: String::new(),
            html: rest[..end].to_string(),
        }
        .attribute_values("data-vendor-id")
    };
    let mut seen_everyone = Vec::new();
    let mut seen_applications = Vec::new();
    for page in 1..=2 {
        let desk = office
            .get(&format!(
                "/admin?page={page}&applications_page={page}&min_position={head}"
            ))
            .await;
        assert_eq!(desk.status, StatusCode::OK, "{}", desk.html);
        let everyone = ids_in(&desk.html, "id=\"vendors-h\"");
        let applications = ids_in(&desk.html, "id=\"applications-h\"");
        assert_eq!(
            everyone.len(),
            if page == 1 { 50 } else { 14 },
            "page {page}"
        );
        assert_eq!(
            applications.len(),
            if page == 1 { 50 } else { 13 },
            "page {page}"
        );
        if page == 1 {
            assert!(desk.html.contains("rel=\"next\""));
            assert!(desk.html.contains("1 / 2"));
        } else {
            assert!(desk.html.contains("rel=\"prev\""));
        }
        seen_everyone.extend(everyone);
        seen_applications.extend(applications);
    }
    let mut every_vendor: Vec<String> = applied.clone();
    every_vendor.push(approved.clone());
    for (seen, expected) in [
        (&mut seen_everyone, every_vendor),
        (&mut seen_applications, applied),
    ] {
        seen.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(*seen, expected, "every vendor once, across the pages");
    }

    let only_approved = office
        .get(&format!("/admin?status=approved&min_position={head}"))
        .await;
    assert_eq!(
        ids_in(&only_approved.html, "id=\"vendors-h\""),
        vec![approved]
    );
    let bad_status = office.get("/admin?status=sleeping").await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.cleanup().await;
}

/// Whether the S3-compatible server can run here: `npm ci` in tests/s3 (`.ci/run` does it
/// and sets `OTOP_REQUIRE_S3=1`, so there its absence fails instead of skipping).
fn s3_available() -> bool {
    node_fixture::installed("s3", "s3rver", "OTOP_REQUIRE_S3")
}

/// s3rver (`tests/s3/server.mjs`) keeping its objects in `dir`, with `bucket` made; its
/// address is the endpoint.
fn start_s3(dir: &Path, bucket: &str) -> NodeFixture {
    NodeFixture::start(
        "s3",
        "server.mjs",
        &[
            ("S3_PORT", node_fixture::free_port().to_string()),
            ("S3_DIR", dir.to_string_lossy().to_string()),
            ("S3_BUCKET", bucket.to_string()),
        ],
    )
}

/// `OTOP_PHOTO_BUCKET`: the photos go to an S3-compatible bucket (s3rver, over its real
/// S3 HTTP API), and are served from there; the local photo directory is never made.
#[tokio::test]
async fn photos_are_kept_in_an_s3_compatible_bucket_by_configuration() {
    if !s3_available() {
        return;
    }
    let s3_dir = tempfile::tempdir().expect("a directory for the S3 server");
    let server = start_s3(s3_dir.path(), "otop-photos-test");
    let endpoint = server.address.clone();
    let app = TestApp::spawn_with(|config| {
        config.photos = PhotoStorage::Bucket(BucketConfig {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            access_key_id: Some("S3RVER".into()),
            secret_access_key: Some("S3RVER".to_string().into()),
            allow_http: true,
            ..BucketConfig::named("otop-photos-test")
        })
    })
    .await;
    let vendor = app.approved_vendor("กลุ่มผ้าไหมบ้านเขวาสินรินทร์").await;
    let (status, stored) = upload(
        &app,
        &app.vendor(vendor),
        picture(1300, 1300, ImageFormat::Png),
        "p.png",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let url = stored["url"].as_str().expect("url");
    let key = url.split('/').nth(2).expect("the photo's key").to_string();
    let in_bucket: Vec<PathBuf> = stored_files(s3_dir.path())
        .into_iter()
        .filter(|path| path.to_string_lossy().contains(&key))
        .collect();
    assert!(
        in_bucket.len() >= 2,
        "both sizes are objects in the bucket: {:?}",
        stored_files(s3_dir.path())
    );
    let served = app
        .client
        .get(format!("{}{url}", app.base_url))
        .send()
        .await
        .expect("served");
    assert_eq!(served.status(), StatusCode::OK);
    let jpeg = served.bytes().await.expect("bytes");
    let decoded = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (1200, 1200));
    let missing = app
        .get(&url.replace(&key, "0123456789abcdef0123456789abcdef"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    drop(server);
    app.cleanup().await;
}
