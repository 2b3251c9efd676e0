//! The storefront's pages beside the JSON API they share a function with: the server time of
//! `/search` against `/v1/search` for the same query (interleaved, so both meet the same
//! machine), and how much a phone downloads for a page (compressed as it is served).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::search::query_mix;
use crate::stats::p50_p99_ms;

pub struct PageFigures {
    pub json: Value,
    pub markdown: String,
}

/// The bytes of `path` on the wire with `Accept-Encoding: encoding` (the client does not
/// decompress: what it counts is what was sent).
async fn wire_bytes(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    encoding: &str,
) -> anyhow::Result<usize> {
    let response = http
        .get(format!("{base}{path}"))
        .header("accept-encoding", encoding)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    Ok(response.bytes().await?.len())
}

async fn timed(http: &reqwest::Client, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = http.get(url).send().await?;
    let status = response.status();
    response.bytes().await?;
    anyhow::ensure!(status.is_success(), "{url}: {status}");
    Ok(started.elapsed())
}

/// The query mix through `/search` and `/v1/search`, `repeats` times each, alternating; and
/// the weight of the home, search and product pages.
pub async fn measure(
    base: &str,
    repeats: usize,
    listing: Option<&str>,
) -> anyhow::Result<PageFigures> {
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut markdown = String::from(
        "## The storefront's pages\n\n\
         Server time of the search page against `/v1/search` for the same query, in one \
         interleaved loop (target: page p99 ≤ 1.2 × API p99).\n\n\
         | query | `/v1/search` p50 | p99 | `/search` page p50 | p99 | page p99 / API p99 |\n\
         |---|---|---|---|---|---|\n",
    );
    for (name, _, query) in query_mix() {
        let mut api = Vec::with_capacity(repeats);
        let mut page = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            api.push(timed(&http, &format!("{base}/v1/search?{query}")).await?);
            page.push(timed(&http, &format!("{base}/search?{query}")).await?);
        }
        let (api_p50, api_p99) = p50_p99_ms(&mut api);
        let (page_p50, page_p99) = p50_p99_ms(&mut page);
        let ratio = page_p99 / api_p99.max(f64::EPSILON);
        markdown.push_str(&format!(
            "| {name} | {api_p50:.1} ms | {api_p99:.1} ms | {page_p50:.1} ms | {page_p99:.1} ms | {ratio:.2} |\n"
        ));
        rows.push(json!({
            "query": name,
            "api_ms": {"p50": api_p50, "p99": api_p99},
            "page_ms": {"p50": page_p50, "p99": page_p99},
            "page_p99_over_api_p99": ratio,
        }));
    }
    let mut weights = serde_json::Map::new();
    markdown.push_str(
        "\nWhat a page weighs on the wire (target: ≤ 50 kB compressed for a search page):\n\n\
         | page | uncompressed | gzip | brotli |\n|---|---|---|---|\n",
    );
    let search_path = "/search?q=%E0%B8%9C%E0%B9%89%E0%B8%B2%E0%B9%84%E0%B8%AB%E0%B8%A1";
    let product_path = listing.map(|id| format!("/listings/{id}"));
    let mut pages = vec![("home", "/"), ("search", search_path)];
    if let Some(path) = product_path.as_deref() {
        pages.push(("product", path));
    }
    for (name, path) in pages {
        let plain = wire_bytes(&http, base, path, "identity").await?;
        let gzip = wire_bytes(&http, base, path, "gzip").await?;
        let brotli = wire_bytes(&http, base, path, "br").await?;
        markdown.push_str(&format!(
            "| {name} | {:.1} kB | {:.1} kB | {:.1} kB |\n",
            plain as f64 / 1000.0,
            gzip as f64 / 1000.0,
            brotli as f64 / 1000.0
        ));
        weights.insert(
            name.to_string(),
            json!({"bytes": plain, "gzip_bytes": gzip, "br_bytes": brotli}),
        );
    }
    markdown.push('\n');
    Ok(PageFigures {
        json: json!({"search_queries": rows, "weight": Value::Object(weights)}),
        markdown,
    })
}
