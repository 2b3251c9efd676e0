//! `GET /v1/search` over the demo catalog, seeded through real commands: Thai and English
//! text, filters, facets that agree with the catalog read model, sorts, paging, hostile
//! input, and changes that reach the index.

use std::collections::BTreeMap;

use otop_e2e::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The demo catalog, seeded, with the index caught up; returns the log head.
async fn seeded() -> (TestApp, i64) {
    let app = TestApp::spawn().await;
    otop_api::seed::seed(app.state(), otop_api::seed::DEMO_CATALOG)
        .await
        .expect("seed the demo catalog");
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("head");
    (app, head)
}

async fn search(app: &TestApp, query: &str, head: i64) -> Reply {
    let separator = if query.is_empty() { "" } else { "&" };
    app.get(
        &format!("/v1/search?min_position={head}{separator}{query}"),
        None,
    )
    .await
}

fn titles(reply: &Reply, field: &str) -> Vec<String> {
    reply.body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h[field].as_str().map(str::to_string))
        .collect()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Counts from the catalog read model: published listings of approved vendors, grouped.
async fn catalog_counts(app: &TestApp, column: &str, filter: &str) -> BTreeMap<String, u64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT {column}::text, count(*) FROM listing_catalog
          WHERE status = 'published' AND vendor_status = 'approved' AND {filter}
          GROUP BY 1"
    ))
    .fetch_all(&app.pool)
    .await
    .expect("catalog counts");
    rows.into_iter().map(|(k, v)| (k, v as u64)).collect()
}

fn facet(reply: &Reply, name: &str) -> BTreeMap<String, u64> {
    reply.body["facets"][name]
        .as_object()
        .expect("facet")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect()
}

async fn thai_and_english_text_find_their_listings(app: &TestApp, head: i64) {
    let mudmee = search(app, &format!("q={}&per_page=100", encode("มัดหมี่")), head).await;
    assert_eq!(mudmee.status, StatusCode::OK, "{mudmee:?}");
    assert_eq!(mudmee.body["backend"], "embedded");
    let found = titles(&mudmee, "title_th");
    // Every listing with the word in its title is found, and those rank first (the rest
    // carry it in their tags or description: hol and amprom are mudmee weaves too).
    let with_word: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM listing_catalog
          WHERE status = 'published' AND vendor_status = 'approved' AND title_th LIKE '%มัดหมี่%'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert!(with_word >= 20, "{with_word}");
    let in_title = found.iter().take_while(|t| t.contains("มัดหมี่")).count();
    assert_eq!(in_title as i64, with_word, "{found:?}");
    // Written without a space, the compound still finds them.
    let joined = search(app, &format!("q={}", encode("ผ้าไหมมัดหมี่")), head).await;
    let joined_titles = titles(&joined, "title_th");
    assert!(!joined_titles.is_empty());
    assert!(
        joined_titles
            .iter()
            .take(10)
            .all(|t| t.contains("ผ้าไหมมัดหมี่")),
        "{joined_titles:?}"
    );
    // An English typo and a prefix.
    let typo = search(app, "q=slik", head).await;
    assert!(titles(&typo, "title_en")
        .iter()
        .any(|t| t.to_lowercase().contains("silk")));
    let prefix = search(app, "q=brocad", head).await;
    assert!(titles(&prefix, "title_en")
        .iter()
        .any(|t| t.to_lowercase().contains("brocade")));
}

async fn filters_narrow_and_facets_agree_with_the_catalog(app: &TestApp, head: i64) {
    let all = search(app, "per_page=1", head).await;
    let published = catalog_counts(app, "'all'", "true").await;
    assert_eq!(all.body["total"].as_u64(), published.get("all").copied());
    assert_eq!(
        facet(&all, "district_code"),
        catalog_counts(app, "district_code", "true").await
    );
    assert_eq!(
        facet(&all, "category_code"),
        catalog_counts(app, "category_code", "true").await
    );

    let textile = search(
        app,
        "category=TEXTILE&district=3216,3201&per_page=100",
        head,
    )
    .await;
    let filter = "category_code = 'TEXTILE' AND district_code IN ('3216', '3201')";
    assert_eq!(
        facet(&textile, "subtype_code"),
        catalog_counts(app, "subtype_code", filter).await
    );
    assert_eq!(
        facet(&textile, "otop_stars"),
        catalog_counts(
            app,
            "otop_stars",
            &format!("{filter} AND otop_stars IS NOT NULL")
        )
        .await
    );
    for hit in textile.body["hits"].as_array().expect("hits") {
        assert_eq!(hit["category_code"], "TEXTILE");
        assert!(
            hit["district_code"] == "3216" || hit["district_code"] == "3201",
            "{hit}"
        );
    }
    let narrowed = search(
        app,
        "category=TEXTILE&stars_min=5&price_max=500000&in_stock=true&per_page=100",
        head,
    )
    .await;
    let expected = catalog_counts(
        app,
        "'n'",
        "category_code = 'TEXTILE' AND otop_stars >= 5 AND price_satang <= 500000 AND available_stock > 0",
    )
    .await;
    assert_eq!(
        narrowed.body["total"].as_u64(),
        Some(expected.get("n").copied().unwrap_or(0))
    );
    for hit in narrowed.body["hits"].as_array().expect("hits") {
        assert!(
            hit["otop_stars"].as_u64() == Some(5) && hit["price_satang"].as_u64() <= Some(500_000)
        );
        assert!(hit["available_stock"].as_u64() > Some(0));
    }
    // Sorted by price, paged without overlap.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = search(
            app,
            &format!("category=CRAFT&sort=price_asc&per_page=10&page={page}"),
            head,
        )
        .await;
        let prices: Vec<u64> = reply.body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .filter_map(|h| h["price_satang"].as_u64())
            .collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
        seen.extend(
            reply.body["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .map(|h| h["id"].clone()),
        );
    }
    let unique: std::collections::BTreeSet<String> = seen.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), seen.len(), "pages never overlap");
}

async fn every_parameter_is_validated_and_text_never_widens_a_filter(app: &TestApp, head: i64) {
    for bad in [
        "stars_min=6",
        "stars_min=abc",
        "price_min=-1",
        "price_min=12.5",
        "price_min=500&price_max=100",
        "sort=cheapest",
        "in_stock=yes",
        "vendor=not-a-uuid",
        "per_page=0",
        "page=0",
        &format!("district={}", encode("3201\" OR district_code = \"3216")),
        &format!("category={}", encode("TEXTILE OR category_code=FOOD")),
        &format!("subtype={}", encode("TEX_SILK_HOL]")),
        &format!("district={}", encode("สุรินทร์")),
    ] {
        search(app, bad, head).await.assert_problem(422);
    }
    for text in [
        "\"silk\" OR 1=1",
        "silk AND (",
        "TO 5",
        "[ผ้าไหม]",
        "back\\slash",
    ] {
        let reply = search(app, &format!("q={}&category=FOOD", encode(text)), head).await;
        assert_eq!(reply.status, StatusCode::OK, "{text}: {reply:?}");
        for hit in reply.body["hits"].as_array().expect("hits") {
            assert_eq!(hit["category_code"], "FOOD", "{text} widened the filter");
        }
    }
}

async fn changes_reach_the_index_and_hidden_listings_leave_it(app: &TestApp, head: i64) {
    let listing = "36d926c4-c73d-449b-ac2c-c50f608531b4";
    let vendor: uuid::Uuid = "1602b1c3-c8cc-4791-9de5-9687bc0833cc"
        .parse()
        .expect("uuid");
    let mine = |head: i64| async move {
        search(app, &format!("vendor={vendor}&per_page=100"), head).await
    };
    let before = mine(head).await;
    let count = before.body["total"].as_u64().expect("total");
    assert!(count > 1);
    let token = app.vendor(vendor);
    let priced = app
        .request(
            reqwest::Method::PUT,
            &format!("/v1/listings/{listing}/price"),
            Some(&token),
            Some(&json!({"price_satang": 12_345})),
            &[],
        )
        .await;
    let after_price = mine(priced.position()).await;
    let hit = after_price.body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|h| h["id"] == listing)
        .cloned()
        .expect("still there");
    assert_eq!(hit["price_satang"], 12_345);
    let unpublished = app
        .post(
            &format!("/v1/listings/{listing}/unpublish"),
            &token,
            Value::Null,
        )
        .await;
    let after_unpublish = mine(unpublished.position()).await;
    assert_eq!(after_unpublish.body["total"].as_u64(), Some(count - 1));
    assert!(after_unpublish.body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .all(|h| h["id"] != listing));
    let suspended = app
        .post(
            &format!("/v1/vendors/{vendor}/suspend"),
            &app.admin(),
            json!({"reason": "inspection"}),
        )
        .await;
    assert_eq!(
        mine(suspended.position()).await.body["total"],
        0,
        "a suspended vendor's listings leave search"
    );
    let reinstated = app
        .post(
            &format!("/v1/vendors/{vendor}/reinstate"),
            &app.admin(),
            Value::Null,
        )
        .await;
    assert_eq!(
        mine(reinstated.position()).await.body["total"].as_u64(),
        Some(count - 1)
    );
}

/// One seeded catalog serves every scenario (seeding is the slow part); the scenario that
/// changes listings runs last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_over_the_demo_catalog() {
    let (app, head) = seeded().await;
    thai_and_english_text_find_their_listings(&app, head).await;
    filters_narrow_and_facets_agree_with_the_catalog(&app, head).await;
    every_parameter_is_validated_and_text_never_widens_a_filter(&app, head).await;
    changes_reach_the_index_and_hidden_listings_leave_it(&app, head).await;
    app.cleanup().await;
}

/// With an embedded index every replica feeds its own, and the `search` row of
/// `projection_checkpoints` they share says only how far the fastest got: `min_position` on
/// a search waits for this process's own index. Here the shared row is moved to the log's
/// head, as another replica would, while this process's index has nothing yet.
#[tokio::test]
async fn a_search_waits_for_its_own_embedded_index_not_for_another_replicas() {
    let app = TestApp::spawn_with(|config| {
        config.run_projections = false;
        config.min_position_wait = std::time::Duration::from_millis(600);
    })
    .await;
    let vendor = app.approved_vendor("กลุ่มทอผ้าแบบจำลอง").await;
    app.published_listing(vendor, 5).await;
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("head");
    let at_head = otop_projections::log::cursor_of(&app.pool, head)
        .await
        .expect("cursor")
        .expect("the head event");
    otop_projections::checkpoint::ensure(&app.pool, "search")
        .await
        .expect("search row");
    let mut conn = app.pool.acquire().await.expect("connection");
    otop_projections::checkpoint::advance(&mut conn, "search", at_head, 1)
        .await
        .expect("another replica's index got to the head");
    drop(conn);

    let url = format!("/v1/search?min_position={head}");
    let behind = app.get(&url, None).await;
    assert_eq!(
        behind.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "this process's index has not reached the head; the shared row has: {:?}",
        behind.body
    );

    // This process's own index catches up (the catalog first, which it reads), and the same
    // search answers, with the listing.
    let catalog = otop_projections::ProjectionKind::Catalog.build("");
    otop_projections::runner::catch_up(&app.pool, catalog.as_ref(), 500)
        .await
        .expect("catalog caught up");
    let feed = otop_projections::search_feed::SearchFeed::new(
        app.pool.clone(),
        app.state().search.clone(),
    );
    otop_projections::runner::catch_up(&app.pool, &feed, 500)
        .await
        .expect("index caught up");
    let answered = app.get(&url, None).await;
    assert_eq!(answered.status, StatusCode::OK, "{:?}", answered.body);
    assert_eq!(answered.body["total"], 1, "{:?}", answered.body);
    app.cleanup().await;
}
