//! The shopper's whole journey in a real headless Chromium on a phone-sized window, with
//! JavaScript on and with it off: search in Thai, filter by district, open a product, add
//! products of two producer groups, sign in, check out, see the PromptPay QR code, pay
//! (demo), and see the order paid. A failing journey keeps a screenshot.

use otop_e2e::browser::{self, Browser};
use otop_e2e::web::ADDRESS;
use otop_e2e::TestApp;

async fn journey(javascript: bool) {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let base = app.base_url.clone();
    let name = if javascript {
        "journey-javascript-on"
    } else {
        "journey-javascript-off"
    };
    let browser = Browser::start(name, javascript).await;
    // The control: scripts really run, or really do not.
    assert_eq!(browser.runs_scripts().await, javascript);
    browser
        .journey(async |b: &Browser| {
            b.client.goto(&format!("{base}/")).await.expect("open home");
            assert!(b.text("a.brand").await.contains("ตลาดโอทอปสุรินทร์"));
            if javascript {
                b.keep("home").await;
            }
            // Search in Thai, without spaces.
            b.fill("#q", "ผ้าไหมมัดหมี่").await;
            b.click("form.search button").await;
            let results = b.find("#results").await;
            let all: u64 = b
                .find("[data-total]")
                .await
                .attr("data-total")
                .await
                .expect("attr")
                .and_then(|t| t.parse().ok())
                .expect("a total");
            assert!(all > 1, "Thai search finds silk");
            drop(results);
            assert!(b.url().await.contains("q="));
            // Filter by a district: its facet link.
            let facet = b.find(".facet a[aria-current=false]").await;
            let district_name = facet.text().await.expect("text");
            b.follow(facet, "the district's facet").await;
            b.find("#results").await;
            assert!(b.url().await.contains("district="), "{}", b.url().await);
            let filtered: u64 = b
                .find("[data-total]")
                .await
                .attr("data-total")
                .await
                .expect("attr")
                .and_then(|t| t.parse().ok())
                .expect("a total");
            assert!(filtered <= all, "{district_name}: {filtered} of {all}");
            if javascript {
                b.keep("search").await;
            }
            let place = b.text("#results .card .muted").await;
            let district_only = district_name.split(" (").next().unwrap_or_default();
            assert!(
                place.contains(district_only),
                "{place} is in {district_only}"
            );
            // Open a product and add it to the cart.
            b.click("#results .card a").await;
            let first_vendor = b.text(".product a[href^='/search?vendor=']").await;
            if javascript {
                b.keep("product").await;
            }
            b.click("#add-to-cart button").await;
            b.find(".notice").await;
            // A product of another producer group: rice.
            b.client
                .goto(&format!("{base}/search?category=FOOD"))
                .await
                .expect("open rice");
            let cards = b
                .client
                .find_all(fantoccini::Locator::Css("#results .card a"))
                .await
                .expect("cards");
            let mut hrefs = Vec::new();
            for card in cards {
                if let Some(href) = card.attr("href").await.expect("href") {
                    hrefs.push(href);
                }
            }
            let mut added_second = false;
            for href in hrefs {
                b.client
                    .goto(&format!("{base}{href}"))
                    .await
                    .expect("open a product");
                let vendor = b.text(".product a[href^='/search?vendor=']").await;
                if vendor != first_vendor {
                    b.fill("#quantity", "2").await;
                    b.click("#add-to-cart button").await;
                    b.find(".notice").await;
                    added_second = true;
                    break;
                }
            }
            assert!(added_second, "a second producer group's product");
            // The cart holds both groups; checking out asks to sign in first.
            b.click("#cart-link").await;
            let groups = b
                .client
                .find_all(fantoccini::Locator::Css(".cart-group"))
                .await
                .expect("groups");
            assert_eq!(groups.len(), 2);
            if javascript {
                b.keep("cart").await;
            }
            b.click("a[href^='/sign-in?next=']").await;
            b.fill("#subject", "browser-shopper").await;
            b.click("#dev-sign-in button").await;
            // Back in the cart, signed in: the address, then check out.
            b.find("#checkout").await;
            for (field, value) in ADDRESS {
                b.fill(&format!("[name='{field}']"), value).await;
            }
            b.click("#checkout button[type=submit]").await;
            // The order awaits payment and shows its QR code.
            b.find("#promptpay-qr svg").await;
            let status = b.find("#order-status").await;
            assert_eq!(
                status.attr("data-status").await.expect("attr").as_deref(),
                Some("awaiting_payment")
            );
            assert!(b.url().await.contains("/orders/"));
            if javascript {
                b.keep("order-promptpay").await;
            }
            // Pay (demo), and see it paid.
            // The click navigates: wait for the new page's status (the old page's element
            // goes stale under a read that races the navigation).
            b.click("#pay-demo button").await;
            b.find("#order-status[data-status=paid]").await;
            // The checkout's other order, of the other group, is listed and awaits payment.
            b.click("[data-order-id] a").await;
            b.find("#promptpay-qr svg").await;
        })
        .await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_shopper_searches_fills_a_cart_from_two_groups_checks_out_and_pays_with_javascript() {
    journey(true).await;
}

#[tokio::test]
async fn the_same_journey_works_with_javascript_off() {
    journey(false).await;
}

/// The provincial office approves an application from its desk, in Chromium with
/// JavaScript off (the desk's forms are plain posts), and the API then says approved.
#[tokio::test]
async fn the_office_approves_an_application_from_its_desk() {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    let applied = app
        .post(
            "/v1/vendors",
            &app.shopper("applicant"),
            serde_json::json!({
                "name_th": "กลุ่มทอผ้าไหมบ้านจารพัต",
                "district_code": "3203",
                "producer_type": "community_group",
                "phone": "044-511-234",
            }),
        )
        .await;
    let vendor_id = applied.body["id"].as_str().expect("vendor id").to_string();
    let applied_at = applied.position();
    let base = app.base_url.clone();
    let browser = Browser::start("office-approves", false).await;
    assert!(
        !browser.runs_scripts().await,
        "the control: scripts are off"
    );
    browser
        .journey(async |b: &Browser| {
            b.client
                .goto(&format!("{base}/admin"))
                .await
                .expect("open the desk");
            // Not signed in: the sign-in page, which comes back to the desk.
            assert!(b.url().await.contains("/sign-in"), "{}", b.url().await);
            b.find("#role option[value=admin]")
                .await
                .click()
                .await
                .expect("choose admin");
            b.fill("#subject", "office-1").await;
            b.click("#dev-sign-in button").await;
            assert!(b.url().await.ends_with("/admin"), "{}", b.url().await);
            // The desk as of the application (its list is a read model).
            b.client
                .goto(&format!("{base}/admin?min_position={applied_at}"))
                .await
                .expect("open the desk");
            let row = format!("li[data-vendor-id='{vendor_id}']");
            assert!(b.text(&row).await.contains("กลุ่มทอผ้าไหมบ้านจารพัต"));
            b.keep("admin").await;
            b.click(&format!(
                "form[action='/admin/vendors/{vendor_id}/approve'] button"
            ))
            .await;
            let notice = b.find("#notice").await;
            assert_eq!(
                notice.attr("data-id").await.expect("attr").as_deref(),
                Some(vendor_id.as_str())
            );
            assert!(b.text("#notice").await.contains("อนุมัติแล้ว"));
        })
        .await;
    let head = crate::staff_pages::log_head(&app).await;
    let vendor = app
        .get(
            &format!("/v1/vendors/{vendor_id}?min_position={head}"),
            None,
        )
        .await;
    assert_eq!(vendor.body["status"], "approved", "{:?}", vendor.body);
    app.cleanup().await;
}

/// An analyst reads the dashboard in Chromium and its figures are the API's.
#[tokio::test]
async fn the_dashboards_figures_are_the_apis() {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    let head = crate::staff_pages::paid_sales(&app).await;
    let api = app
        .get(
            &format!("/v1/analytics/sales?group_by=district&min_position={head}"),
            Some(&crate::staff_pages::analyst(&app)),
        )
        .await;
    let net = api.body["totals"]["net_satang"].to_string();
    let base = app.base_url.clone();
    let browser = Browser::start("analyst-dashboard", true).await;
    browser
        .journey(async |b: &Browser| {
            b.client
                .goto(&format!("{base}/sign-in?next=/analytics"))
                .await
                .expect("open sign-in");
            b.find("#role option[value=analyst]")
                .await
                .click()
                .await
                .expect("choose analyst");
            b.fill("#subject", "analyst-1").await;
            b.click("#dev-sign-in button").await;
            b.client
                .goto(&format!("{base}/analytics?min_position={head}"))
                .await
                .expect("open the dashboard");
            let totals = b.find("#totals").await;
            assert_eq!(
                totals.attr("data-net-satang").await.expect("attr"),
                Some(net.clone())
            );
            // The charts are drawn (an image each) and the table has a row per district.
            let charts = b
                .client
                .find_all(fantoccini::Locator::Css("svg.chart[role=img]"))
                .await
                .expect("charts");
            assert_eq!(charts.len(), 4);
            let rows = b
                .client
                .find_all(fantoccini::Locator::Css("#sales-table tbody tr"))
                .await
                .expect("rows");
            assert_eq!(rows.len(), api.body["rows"].as_array().map_or(0, Vec::len));
            b.keep("analytics").await;
        })
        .await;
    app.cleanup().await;
}

/// An auditor opens an order from the audit desk in Chromium and reads its hashes, which
/// are the API's.
#[tokio::test]
async fn the_auditor_reads_an_orders_hashes() {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (_, orders) = crate::staff_pages::paid_orders(&app).await;
    let order = orders[0].clone();
    let api = app
        .get(
            &format!("/v1/audit/orders/{order}/history"),
            Some(&crate::staff_pages::auditor(&app)),
        )
        .await;
    let hashes: Vec<String> = api.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["hash"].as_str().unwrap_or_default().to_string())
        .collect();
    let base = app.base_url.clone();
    let browser = Browser::start("auditor-hashes", false).await;
    browser
        .journey(async |b: &Browser| {
            b.client
                .goto(&format!("{base}/sign-in?next=/audit"))
                .await
                .expect("open sign-in");
            b.find("#role option[value=auditor]")
                .await
                .click()
                .await
                .expect("choose auditor");
            b.fill("#subject", "auditor-1").await;
            b.click("#dev-sign-in button").await;
            b.fill("#order_id", &order).await;
            b.click("#find-order button").await;
            b.find("#timeline").await;
            let items = b
                .client
                .find_all(fantoccini::Locator::Css("#timeline > li"))
                .await
                .expect("events");
            let mut shown = Vec::new();
            for item in items {
                shown.push(
                    item.attr("data-hash")
                        .await
                        .expect("attr")
                        .unwrap_or_default(),
                );
            }
            assert_eq!(shown, hashes);
            let first_hash = b.text("#timeline > li code.hash").await;
            assert_eq!(first_hash, hashes[0]);
            b.keep("audit").await;
        })
        .await;
    app.cleanup().await;
}

/// A producer group's member changes a price and ships an order from the console in
/// Chromium, on a phone-sized window with JavaScript off.
#[tokio::test]
async fn a_vendor_changes_a_price_and_ships_an_order_from_the_console() {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    let (vendor, listing, order, head) = crate::staff_pages::vendor_with_a_paid_order(&app).await;
    let base = app.base_url.clone();
    let vendor_id = vendor.to_string();
    let browser = Browser::start("vendor-console", false).await;
    browser
        .journey(async |b: &Browser| {
            sign_in_as_a_member(b, &base, &vendor_id).await;
            b.client
                .goto(&format!("{base}/vendor?min_position={head}"))
                .await
                .expect("open the console");
            b.keep("vendor").await;
            let price_form = format!("form[action='/vendor/listings/{listing}/price']");
            b.fill(&format!("{price_form} input[name=price_baht]"), "990")
                .await;
            b.click(&format!("{price_form} button")).await;
            b.find("#notice").await;
            for verb in ["accept", "pack"] {
                b.click(&format!(
                    "form[action='/vendor/orders/{order}/{verb}'] button"
                ))
                .await;
                b.find("#notice").await;
            }
            let ship = format!("form[action='/vendor/orders/{order}/ship']");
            b.fill(&format!("{ship} input[name=carrier]"), "Kerry")
                .await;
            b.fill(&format!("{ship} input[name=tracking_number]"), "KER0001")
                .await;
            b.click(&format!("{ship} button")).await;
            let row = b.find(&format!("li[data-order-id='{order}']")).await;
            assert_eq!(
                row.attr("data-status").await.expect("attr").as_deref(),
                Some("shipped")
            );
        })
        .await;
    let head = crate::staff_pages::log_head(&app).await;
    let state = app
        .get(
            &format!("/v1/listings/{listing}?min_position={head}"),
            Some(&app.vendor(vendor)),
        )
        .await;
    assert_eq!(state.body["price_satang"], 99_000, "{:?}", state.body);
    app.cleanup().await;
}

/// Signs in on the development form as a member of `vendor_id`.
async fn sign_in_as_a_member(b: &Browser, base: &str, vendor_id: &str) {
    b.client
        .goto(&format!("{base}/sign-in?next=/vendor"))
        .await
        .expect("open sign-in");
    b.find("#role option[value=vendor]")
        .await
        .click()
        .await
        .expect("choose vendor");
    b.fill("#subject", "member-1").await;
    b.fill("#vendor_id", vendor_id).await;
    b.click("#dev-sign-in button").await;
}

/// Chromium on a phone with JavaScript off: a member fills the console's create form with a
/// photo chosen from the phone, publishes the draft, and the product page shows the photo.
#[tokio::test]
async fn a_vendor_lists_a_product_with_a_photo_from_the_console() {
    if !browser::available() {
        return;
    }
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าไหมบ้านจันรม").await;
    let base = app.base_url.clone();
    let vendor_id = vendor.to_string();
    let photo_file = tempfile::Builder::new()
        .suffix(".jpg")
        .tempfile()
        .expect("a temporary file");
    let pixels = image::RgbImage::from_fn(1024, 768, |x, y| {
        image::Rgb([(x % 200) as u8 + 40, 20, (y % 200) as u8 + 30])
    });
    image::DynamicImage::ImageRgb8(pixels)
        .save_with_format(photo_file.path(), image::ImageFormat::Jpeg)
        .expect("write the photo");
    let photo_path = photo_file.path().to_string_lossy().to_string();
    let browser = Browser::start("vendor-new-listing", false).await;
    let mut listing_id = String::new();
    browser
        .journey(async |b: &Browser| {
            sign_in_as_a_member(b, &base, &vendor_id).await;
            b.client
                .goto(&format!("{base}/vendor"))
                .await
                .expect("open the console");
            listing_id = b
                .find("form.new-listing input[name=id]")
                .await
                .attr("value")
                .await
                .expect("attr")
                .expect("the form's listing id");
            b.fill("#f-title-th", "ผ้าไหมโฮล สีครามเข้ม").await;
            b.find("#f-subtype option[value=TEX_SILK_HOL]")
                .await
                .click()
                .await
                .expect("choose the sub-type");
            b.fill("#f-price", "1,890").await;
            b.fill("#f-stock", "5").await;
            b.find("#f-photos")
                .await
                .send_keys(&photo_path)
                .await
                .expect("choose the photo");
            b.keep("vendor-new-listing").await;
            b.click("form.new-listing button[type=submit]").await;
            b.find("#notice").await;
            b.click(&format!(
                "form[action='/vendor/listings/{listing_id}/publish'] button"
            ))
            .await;
            b.find("#notice").await;
            let head = crate::staff_pages::log_head(&app).await;
            b.client
                .goto(&format!("{base}/listings/{listing_id}?min_position={head}"))
                .await
                .expect("open the product");
            let src = b
                .find(".product .art img")
                .await
                .attr("src")
                .await
                .expect("attr")
                .expect("the photo's address");
            assert!(
                src.starts_with("/photos/") && src.ends_with("/large.jpg"),
                "{src}"
            );
        })
        .await;
    let head = crate::staff_pages::log_head(&app).await;
    let listing = app
        .get(
            &format!("/v1/listings/{listing_id}?min_position={head}"),
            None,
        )
        .await;
    assert_eq!(listing.body["status"], "published", "{:?}", listing.body);
    assert_eq!(listing.body["price_satang"], 189_000);
    let url = listing.body["image_urls"][0]
        .as_str()
        .expect("a photo")
        .to_string();
    let served = app.get(&url, None).await;
    assert_eq!(served.status, reqwest::StatusCode::OK);
    app.cleanup().await;
}
