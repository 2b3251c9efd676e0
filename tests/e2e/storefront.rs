//! The storefront's pages over HTTP, as a person's browser sends them (forms, cookies,
//! redirects): they show what the JSON API answers, they are Thai first, every POST needs the
//! session's CSRF token, a double-submitted checkout places one checkout, a line that cannot
//! be reserved comes back in Thai with nothing written, and an order is paid through the real
//! payment path.

use std::collections::BTreeMap;

use otop_e2e::web::{WebVisitor, ADDRESS};
use otop_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

async fn count_events(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

/// Listings of two different vendors from the demo catalog.
async fn two_vendors_listings(app: &TestApp, head: i64) -> (String, String) {
    let reply = app
        .get(
            &format!("/v1/search?min_position={head}&in_stock=true&per_page=50"),
            None,
        )
        .await;
    let hits = reply.body["hits"].as_array().expect("hits").clone();
    let first = &hits[0];
    let other = hits
        .iter()
        .find(|h| h["vendor_id"] != first["vendor_id"])
        .expect("a second vendor among 50 hits");
    (
        first["id"].as_str().expect("id").to_string(),
        other["id"].as_str().expect("id").to_string(),
    )
}

#[tokio::test]
async fn the_search_page_shows_what_v1_search_returns_for_the_same_query() {
    let app = TestApp::spawn().await;
    let head = app.seed_demo().await;
    let visitor = WebVisitor::new(&app.base_url);
    for query in [
        "q=%E0%B8%9C%E0%B9%89%E0%B8%B2%E0%B9%84%E0%B8%AB%E0%B8%A1", // ผ้าไหม
        "q=silk&sort=price_asc",
        "q=slik",
        "district=3201&in_stock=true",
        "category=FOOD&sort=best_selling&page=2",
        "q=%E0%B8%82%E0%B9%89%E0%B8%B2%E0%B8%A7&stars_min=3&price_max=50000", // ข้าว
    ] {
        let api = app
            .get(&format!("/v1/search?{query}&min_position={head}"), None)
            .await;
        assert_eq!(api.status, StatusCode::OK, "{query}: {:?}", api.body);
        let page = visitor.get(&format!("/search?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        let api_ids: Vec<String> = api.body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().expect("id").to_string())
            .collect();
        assert!(
            !api_ids.is_empty(),
            "{query} finds something in the demo catalog"
        );
        assert_eq!(
            page.result_ids(),
            api_ids,
            "{query}: the same hits in the same order"
        );
        let total = api.body["total"].as_u64().expect("total").to_string();
        assert_eq!(page.attribute_values("data-total"), vec![total], "{query}");
        // Each district the API counts is a facet link on the page with the same count.
        let districts: BTreeMap<String, Value> =
            serde_json::from_value(api.body["facets"]["district_code"].clone())
                .expect("district facets");
        assert!(!districts.is_empty(), "{query}");
        // Every count the API gives for a district, a price band and stock is on the page,
        // as the count of that value's link.
        for facet in ["district_code", "price_band", "in_stock"] {
            let counts: BTreeMap<String, u64> =
                serde_json::from_value(api.body["facets"][facet].clone())
                    .unwrap_or_else(|error| panic!("{query}: facet {facet}: {error}"));
            assert!(!counts.is_empty(), "{query}: the API counts {facet}");
            for (value, count) in counts {
                if facet == "in_stock" && value == "false" {
                    continue; // the page offers "in stock" only
                }
                let shown = format!("data-count=\"{count}\" data-facet=\"{facet}:{value}\"");
                assert!(
                    page.html.contains(&shown),
                    "{query}: the page shows {facet} {value} with {count}"
                );
            }
        }
    }
    // A bad parameter is the API's 422, as a page.
    let bad = visitor.get("/search?stars_min=9").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("stars_min"), "{}", bad.html);
    app.cleanup().await;
}

#[tokio::test]
async fn pages_are_thai_first_and_english_on_request_for_the_rest_of_the_visit() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let visitor = WebVisitor::new(&app.base_url);
    let home = visitor.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.html.contains("<html lang=\"th\">"));
    assert!(home.html.contains("ตลาดโอทอปสุรินทร์"));
    assert!(home.html.contains("ปราสาท"), "district names in Thai");
    assert!(home.html.contains('฿'), "prices in baht");
    let english = visitor.get("/?lang=en").await;
    assert!(english.html.contains("<html lang=\"en\">"));
    assert!(english.html.contains("Surin OTOP Market"));
    let next = visitor.get("/search?q=silk").await;
    assert!(
        next.html.contains("<html lang=\"en\">"),
        "the session keeps English"
    );
    let back = visitor.get("/?lang=th").await;
    assert!(back.html.contains("<html lang=\"th\">"));
    // No script is needed, none is fetched from elsewhere.
    assert!(!home.html.contains("<script src"));
    assert!(!home.html.contains("https://cdn"));
    app.cleanup().await;
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let head = app.seed_demo().await;
    let (listing, _) = two_vendors_listings(&app, head).await;
    let visitor = WebVisitor::new(&app.base_url);
    // A session with a token of its own...
    let product = visitor.get(&format!("/listings/{listing}")).await;
    let token = product.hidden("csrf").expect("a token");
    for forged in ["", "0000", &format!("{token}x")] {
        let refused = visitor
            .post_form(
                "/cart/add",
                &[
                    ("csrf", forged),
                    ("listing_id", &listing),
                    ("quantity", "1"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "token {forged:?}");
    }
    let cart = visitor.get("/cart").await;
    assert!(cart.html.contains("ตะกร้ายังว่างอยู่"), "nothing was added");
    // ...and the control: the real token adds the line.
    let added = visitor
        .post_form(
            "/cart/add",
            &[
                ("csrf", &token),
                ("listing_id", &listing),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    let cart = visitor.get("/cart").await;
    assert!(cart.attribute_values("data-listing-id").contains(&listing));
    app.cleanup().await;
}

#[tokio::test]
async fn a_checkout_submitted_twice_places_one_checkout_and_its_order_is_paid_through_the_payment_path(
) {
    let app = TestApp::spawn().await;
    let head = app.seed_demo().await;
    let (first, second) = two_vendors_listings(&app, head).await;
    let visitor = WebVisitor::new(&app.base_url);
    visitor.add_to_cart(&first, 1).await;
    visitor.add_to_cart(&second, 2).await;
    // Checking out needs a signed-in shopper.
    let anonymous = visitor.get("/cart").await;
    assert!(anonymous.html.contains("/sign-in?next=%2Fcart"));
    let cart = visitor.sign_in_as_shopper("somsri").await;
    assert!(
        cart.url.ends_with("/cart"),
        "back to the cart: {}",
        cart.url
    );
    assert_eq!(cart.attribute_values("data-listing-id").len(), 2);
    let csrf = cart.hidden("csrf").expect("token");
    let key = cart.hidden("idempotency_key").expect("the form's key");
    let mut form: Vec<(&str, &str)> = ADDRESS.to_vec();
    form.push(("csrf", &csrf));
    form.push(("idempotency_key", &key));
    let placed_before = count_events(&app, "OrderPlaced").await;
    // The same form twice at once, then once more (the back button).
    let (one, two) = tokio::join!(
        visitor.post_form("/checkout", &form),
        visitor.post_form("/checkout", &form)
    );
    let three = visitor.post_form("/checkout", &form).await;
    for page in [&one, &two, &three] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    }
    let order_url =
        |page: &otop_e2e::web::Page| page.url.split('?').next().expect("a path").to_string();
    assert_eq!(order_url(&one), order_url(&two));
    assert_eq!(order_url(&one), order_url(&three));
    assert_eq!(
        count_events(&app, "OrderPlaced").await - placed_before,
        2,
        "one checkout: one order for each of the two vendors"
    );
    let checkouts: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT payload -> 'OrderPlaced' ->> 'checkout_id') FROM events
          WHERE event_type = 'OrderPlaced'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count checkouts");
    assert_eq!(checkouts, 1);
    // The order page shows its PromptPay QR code and the other order of the checkout.
    assert!(one.html.contains("id=\"promptpay-qr\""), "{}", one.html);
    assert!(one.html.contains("<svg"));
    assert!(one.html.contains("data-status=\"awaiting_payment\""));
    let order_path = order_url(&one)
        .trim_start_matches(&app.base_url)
        .to_string();
    let order_id = order_path.trim_start_matches("/orders/").to_string();
    let csrf = one.hidden("csrf").expect("token");
    let paid_before = count_events(&app, "OrderPaid").await;
    let paid = visitor
        .post_form(&format!("{order_path}/pay-demo"), &[("csrf", &csrf)])
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.html);
    assert!(paid.html.contains("data-status=\"paid\""), "{}", paid.html);
    assert!(
        !paid.html.contains("id=\"promptpay-qr\""),
        "a paid order shows no QR"
    );
    assert_eq!(count_events(&app, "OrderPaid").await - paid_before, 1);
    // Paid through the provider's path: the payment's reference has its own stream.
    let references: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'PaymentReference'
            AND payload::text LIKE '%' || $1 || '%'",
    )
    .bind(&order_id)
    .fetch_one(&app.pool)
    .await
    .expect("count references");
    assert_eq!(references, 1);
    // The checkout's other order is listed on the page; its shopper cancels it there.
    let sibling = one
        .attribute_values("data-order-id")
        .into_iter()
        .find(|id| *id != order_id)
        .expect("the other order of the checkout");
    let sibling_page = visitor.get(&format!("/orders/{sibling}")).await;
    let csrf = sibling_page.hidden("csrf").expect("token");
    let cancelled_before = count_events(&app, "OrderCancelled").await;
    let cancelled = visitor
        .post_form(
            &format!("/orders/{sibling}/cancel"),
            &[("csrf", &csrf), ("reason", "สั่งผิดสี")],
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.html);
    assert!(
        cancelled.html.contains("data-status=\"cancelled\""),
        "{}",
        cancelled.html
    );
    assert_eq!(
        count_events(&app, "OrderCancelled").await - cancelled_before,
        1
    );
    // Someone else's order is not theirs to see.
    let stranger = WebVisitor::new(&app.base_url);
    stranger.sign_in_as_shopper("stranger").await;
    let hidden = stranger.get(&order_path).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // The control for the count above: a changed cart is a new form, a new checkout.
    visitor.add_to_cart(&first, 1).await;
    let cart = visitor.get("/cart").await;
    let new_key = cart.hidden("idempotency_key").expect("key");
    assert_ne!(new_key, key);
    let csrf = cart.hidden("csrf").expect("token");
    let mut form: Vec<(&str, &str)> = ADDRESS.to_vec();
    form.push(("csrf", &csrf));
    form.push(("idempotency_key", &new_key));
    let again = visitor.post_form("/checkout", &form).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(count_events(&app, "OrderPlaced").await - placed_before, 3);
    app.cleanup().await;
}

#[tokio::test]
async fn a_line_that_cannot_be_reserved_comes_back_in_thai_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าบ้านนาโพธิ์").await;
    let scarce = app.published_listing(vendor, 1).await.to_string();
    // The product page reads the catalog, which may not have the listing yet: wait for the
    // catalog to reach the log's head first.
    let head = crate::staff_pages::log_head(&app).await;
    let seen = app
        .get(&format!("/v1/listings/{scarce}?min_position={head}"), None)
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    let visitor = WebVisitor::new(&app.base_url);
    visitor.sign_in_as_shopper("somchai").await;
    let added = visitor.add_to_cart(&scarce, 1).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.html);
    // Someone else buys the last unit in the meantime.
    let other = app.shopper("other-shopper");
    let taken = app
        .post(
            "/v1/checkouts",
            &other,
            serde_json::json!({"lines": [{"listing_id": scarce, "quantity": 1}],
                "shipping_address": {"name": "x", "phone": "0812345678", "line1": "1",
                    "province": "สุรินทร์", "postcode": "32000"}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{:?}", taken.body);
    let cart = visitor.get("/cart").await;
    let csrf = cart.hidden("csrf").expect("token");
    let key = cart.hidden("idempotency_key").expect("key");
    let mut form: Vec<(&str, &str)> = ADDRESS.to_vec();
    form.push(("csrf", &csrf));
    form.push(("idempotency_key", &key));
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let refused = visitor.post_form("/checkout", &form).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(
        refused.html.contains("ยังไม่มีการเรียกเก็บเงิน"),
        "says in Thai that nothing was charged: {}",
        refused.html
    );
    assert!(refused.html.contains("line-problem"), "names the line");
    assert!(refused.html.contains("สมศรี ใจดี"), "keeps the address typed");
    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(events_after, events_before, "nothing was written");
    // A bad address is a 422 naming the field, also with nothing written.
    let mut bad: Vec<(&str, &str)> = ADDRESS.to_vec();
    bad.retain(|(name, _)| *name != "shipping_address.postcode");
    bad.push(("shipping_address.postcode", "12"));
    bad.push(("csrf", &csrf));
    bad.push(("idempotency_key", &key));
    let invalid = visitor.post_form("/checkout", &bad).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        invalid.html.contains("must be five digits"),
        "{}",
        invalid.html
    );
    app.cleanup().await;
}

#[tokio::test]
async fn the_product_page_carries_structured_data_and_the_sitemap_lists_it() {
    let app = TestApp::spawn().await;
    let head = app.seed_demo().await;
    let (listing, _) = two_vendors_listings(&app, head).await;
    let visitor = WebVisitor::new(&app.base_url);
    let page = visitor.get(&format!("/listings/{listing}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let start = page
        .html
        .find("<script type=\"application/ld+json\">")
        .expect("JSON-LD")
        + "<script type=\"application/ld+json\">".len();
    let end = page.html[start..].find("</script>").expect("its end") + start;
    let product: Value = serde_json::from_str(&page.html[start..end]).expect("valid JSON-LD");
    let api = app.get(&format!("/v1/listings/{listing}"), None).await;
    assert_eq!(product["@type"], "Product");
    assert_eq!(product["name"], api.body["title_th"]);
    assert_eq!(product["offers"]["priceCurrency"], "THB");
    let satang = api.body["price_satang"].as_u64().expect("price");
    let price: String = product["offers"]["price"]
        .as_str()
        .expect("price")
        .to_string();
    let expected = if satang % 100 == 0 {
        (satang / 100).to_string()
    } else {
        format!("{}.{:02}", satang / 100, satang % 100)
    };
    assert_eq!(price, expected);
    assert!(page.html.contains(&format!(
        "rel=\"canonical\" href=\"http://127.0.0.1/listings/{listing}\""
    )));
    assert!(page.html.contains("<meta name=\"description\""));
    assert!(
        page.html.contains("<svg"),
        "drawn artwork in place of a photo"
    );
    let sitemap = visitor.get("/sitemap.xml").await;
    assert!(sitemap.html.contains(&format!("/listings/{listing}</loc>")));
    assert_eq!(sitemap.html.matches("<loc>").count(), 600 + 2);
    let robots = visitor.get("/robots.txt").await;
    assert!(robots
        .html
        .contains("Sitemap: http://127.0.0.1/sitemap.xml"));
    // Unknown paths: a page for people, a problem document under /v1/.
    let missing = visitor.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.html.contains("<html lang=\"th\">"));
    let api_missing = app.get("/v1/no-such-route", None).await;
    api_missing.assert_problem(404);
    let not_an_id = visitor.get("/listings/not-an-id").await;
    assert_eq!(not_an_id.status, StatusCode::NOT_FOUND);
    app.cleanup().await;
}

#[tokio::test]
async fn development_sign_in_exists_only_under_demo() {
    let app = TestApp::spawn_with(|config| config.demo = false).await;
    let visitor = WebVisitor::new(&app.base_url);
    let page = visitor.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("/sign-in/dev"), "no development form");
    // Refused before anything is read, whatever the form carries.
    let refused = visitor
        .post_form("/sign-in/dev", &[("csrf", "any"), ("role", "admin")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let orders = visitor.get("/orders").await;
    assert!(
        orders.url.contains("/sign-in"),
        "still signed out: {}",
        orders.url
    );
    app.cleanup().await;
}
