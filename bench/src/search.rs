//! The search benchmark: 100k listings generated from the Surin catalog's distributions,
//! indexing rate, and p50/p99 of a fixed mix of queries (Thai, English, typo, filtered,
//! faceted, sorted) on the index directly and through `GET /v1/search`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use otop_domain::reference;
use otop_search::{IndexBatch, ListingDocument, SearchIndex, SearchQuery, SortOrder};
use serde_json::Value;
use uuid::Uuid;

use crate::load::Rng;
use crate::stats::percentile;

const CATALOG: &str = include_str!("../../data/catalog_seed.jsonl");

/// `count` documents: the 600 catalog listings as templates, with fresh ids and jittered
/// price, stock, sales and publication time, so the mix of districts, categories, words and
/// prices follows the catalog.
pub fn documents(count: usize) -> anyhow::Result<Vec<ListingDocument>> {
    let mut vendors: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut templates = Vec::new();
    for line in CATALOG.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)?;
        let text = |key: &str| value[key].as_str().map(str::to_string);
        match value["type"].as_str() {
            Some("vendor") => {
                vendors.insert(
                    text("vendor_id").context("vendor id")?,
                    (text("name_th").unwrap_or_default(), text("name_en")),
                );
            }
            Some("listing") => templates.push(value),
            _ => {}
        }
    }
    let mut rng = Rng::new(2026);
    let mut documents = Vec::with_capacity(count);
    for index in 0..count {
        let template = &templates[index % templates.len()];
        let text = |key: &str| template[key].as_str().map(str::to_string);
        let district_code = text("district_code").unwrap_or_default();
        let category_code = text("category_code").unwrap_or_default();
        let subtype_code = text("subtype_code").unwrap_or_default();
        let district = reference::district(&district_code);
        let category = reference::category(&category_code);
        let subtype = reference::subtype(&subtype_code);
        let vendor_key = text("vendor_id").unwrap_or_default();
        let (vendor_name_th, vendor_name_en) =
            vendors.get(&vendor_key).cloned().unwrap_or_default();
        let price = template["price_satang"].as_u64().unwrap_or(10_000);
        documents.push(ListingDocument {
            id: Uuid::from_u128(u128::from(rng.next_u64()) << 64 | index as u128),
            vendor_id: vendor_key.parse().unwrap_or_default(),
            vendor_name_th,
            vendor_name_en,
            title_th: text("title_th").unwrap_or_default(),
            title_en: text("title_en"),
            description_th: text("description_th"),
            description_en: None,
            tags: template["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            district_name_th: district.map(|d| d.name_th.clone()).unwrap_or_default(),
            district_name_en: district.map(|d| d.name_en.clone()).unwrap_or_default(),
            district_code,
            category_name_th: category.map(|c| c.name_th.clone()).unwrap_or_default(),
            category_name_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
            category_code,
            subtype_name_th: subtype.map(|s| s.name_th.clone()).unwrap_or_default(),
            subtype_name_en: subtype.map(|s| s.name_en.clone()).unwrap_or_default(),
            subtype_code,
            price_satang: price / 2 + rng.below(price.max(2)),
            available_stock: rng.below(60),
            otop_stars: template["otop_stars"]
                .as_u64()
                .and_then(|s| u8::try_from(s).ok()),
            published_at: chrono::DateTime::from_timestamp(
                1_700_000_000 + rng.below(60_000_000) as i64,
                0,
            )
            .unwrap_or_default(),
            units_sold: rng.below(500),
            image_url: None,
        });
    }
    Ok(documents)
}

/// The fixed query mix: (name, query, the same as a URL query string).
pub fn query_mix() -> Vec<(&'static str, SearchQuery, String)> {
    let text = |q: &str| SearchQuery {
        text: Some(q.to_string()),
        ..SearchQuery::default()
    };
    vec![
        ("thai: มัดหมี่", text("มัดหมี่"), "q=%E0%B8%A1%E0%B8%B1%E0%B8%94%E0%B8%AB%E0%B8%A1%E0%B8%B5%E0%B9%88".into()),
        ("thai: ข้าวหอมมะลิ", text("ข้าวหอมมะลิ"), "q=%E0%B8%82%E0%B9%89%E0%B8%B2%E0%B8%A7%E0%B8%AB%E0%B8%AD%E0%B8%A1%E0%B8%A1%E0%B8%B0%E0%B8%A5%E0%B8%B4".into()),
        ("english: silk scarf", text("silk scarf"), "q=silk%20scarf".into()),
        ("typo: slik", text("slik"), "q=slik".into()),
        (
            "filtered: textile, 2 districts, 4+ stars, in stock",
            SearchQuery {
                categories: vec!["TEXTILE".into()],
                districts: vec!["3216".into(), "3201".into()],
                stars_min: Some(4),
                in_stock: true,
                ..SearchQuery::default()
            },
            "category=TEXTILE&district=3216,3201&stars_min=4&in_stock=true".into(),
        ),
        ("faceted: everything, facets only", SearchQuery { per_page: 1, ..SearchQuery::default() }, "per_page=1".into()),
        (
            "sorted: silver by price",
            SearchQuery { text: Some("silver".into()), sort: SortOrder::PriceAsc, ..SearchQuery::default() },
            "q=silver&sort=price_asc".into(),
        ),
    ]
}

pub struct SearchFigures {
    pub documents: usize,
    pub rebuild_docs_per_second: f64,
    pub batch_docs_per_second: f64,
    /// (name, direct p50, direct p99, http p50, http p99)
    pub queries: Vec<(String, Duration, Duration, Duration, Duration)>,
    /// The `/search` page beside `/v1/search`, and what pages weigh.
    pub pages: crate::pages::PageFigures,
}

pub async fn run(
    database_url: &str,
    pool: &sqlx::PgPool,
    count: usize,
    repeats: usize,
    dir: &Path,
) -> anyhow::Result<SearchFigures> {
    let docs = documents(count)?;
    let index = otop_search::EmbeddedIndex::open(dir.to_path_buf()).await?;
    index.apply_settings().await?;
    let started = Instant::now();
    index.rebuild(docs.clone(), "bench".into()).await?;
    let rebuild_rate = count as f64 / started.elapsed().as_secs_f64();
    // Incremental: re-upsert 10% of the documents in batches of 500, as the feed does.
    let sample: Vec<ListingDocument> = docs.iter().step_by(10).cloned().collect();
    let started = Instant::now();
    for chunk in sample.chunks(500) {
        index
            .apply(IndexBatch {
                upserts: chunk.to_vec(),
                deletes: Vec::new(),
                checkpoint: "bench".into(),
            })
            .await?;
    }
    let batch_rate = sample.len() as f64 / started.elapsed().as_secs_f64();
    drop(index);

    let mut config = otop_api::Config::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = database_url.to_string();
    config.bind = "127.0.0.1:0".parse()?;
    config.index_dir = dir.to_path_buf();
    config.meili_url = None;
    config.run_projections = false;
    config.write_rate_per_minute = 0;
    let server = otop_api::start(config, pool.clone()).await?;
    let http = reqwest::Client::new();
    let base = format!("http://{}/v1/search?", server.addr);
    let index = server.state.search.clone();
    let mut queries = Vec::new();
    for (name, query, url) in query_mix() {
        let mut direct = Vec::with_capacity(repeats);
        let mut through_http = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let started = Instant::now();
            let results = index.search(&query).await?;
            direct.push(started.elapsed());
            anyhow::ensure!(results.total > 0, "{name} found nothing");
            let started = Instant::now();
            let response = http.get(format!("{base}{url}")).send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            let _ = response.bytes().await?;
            through_http.push(started.elapsed());
        }
        direct.sort();
        through_http.sort();
        queries.push((
            name.to_string(),
            percentile(&direct, 50.0),
            percentile(&direct, 99.0),
            percentile(&through_http, 50.0),
            percentile(&through_http, 99.0),
        ));
    }
    let pages = crate::pages::measure(&format!("http://{}", server.addr), repeats, None).await?;
    server.shutdown().await?;
    Ok(SearchFigures {
        pages,
        documents: count,
        rebuild_docs_per_second: rebuild_rate,
        batch_docs_per_second: batch_rate,
        queries,
    })
}
