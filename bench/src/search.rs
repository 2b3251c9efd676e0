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
    vec![
        ("thai: มัดหมี่", text_query("มัดหมี่"), "q=%E0%B8%A1%E0%B8%B1%E0%B8%94%E0%B8%AB%E0%B8%A1%E0%B8%B5%E0%B9%88".into()),
        ("thai: ข้าวหอมมะลิ", text_query("ข้าวหอมมะลิ"), "q=%E0%B8%82%E0%B9%89%E0%B8%B2%E0%B8%A7%E0%B8%AB%E0%B8%AD%E0%B8%A1%E0%B8%A1%E0%B8%B0%E0%B8%A5%E0%B8%B4".into()),
        ("english: silk scarf", text_query("silk scarf"), "q=silk%20scarf".into()),
        ("typo: slik", text_query("slik"), "q=slik".into()),
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

/// One query of each kind that forgiving search (issue 16) added, as typed: a Thai typo, RTGS
/// and informal romanizations, a district named in the text, an English word for a
/// Thai-only one, and Thai words in another order. (name, query, URL query string.)
pub fn forgiving_queries() -> Vec<(&'static str, SearchQuery, String)> {
    FORGIVING
        .iter()
        .map(|(name, text, _, _)| {
            let url = reqwest::Url::parse_with_params("http://search/", [("q", *text)])
                .ok()
                .and_then(|url| url.query().map(str::to_string))
                .unwrap_or_default();
            (*name, text_query(text), url)
        })
        .collect()
}

/// Each forgiving query, as typed, and the query it stands for as the catalog spells it
/// (with the district it names as a filter): what a shopper had to type before forgiving
/// search to find the same listings.
const FORGIVING: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "thai typo: ข้าวหอมมะลี (short vowel typed long)",
        "ข้าวหอมมะลี",
        "ข้าวหอมมะลิ",
        None,
    ),
    (
        "thai typo: ผาไหม (tone mark missing)",
        "ผาไหม",
        "ผ้าไหม",
        None,
    ),
    ("romanized RTGS: pha mai", "pha mai", "ผ้าไหม", None),
    ("romanized informal: mat mee", "mat mee", "มัดหมี่", None),
    (
        "district in the text: silk tha tum",
        "silk tha tum",
        "silk",
        Some("3203"),
    ),
    ("glossary: garlic", "garlic", "กระเทียม", None),
    ("word order: มัดหมี่ผ้าไหม", "มัดหมี่ผ้าไหม", "ผ้าไหมมัดหมี่", None),
];

fn text_query(text: &str) -> SearchQuery {
    SearchQuery {
        text: Some(text.to_string()),
        ..SearchQuery::default()
    }
}

/// The query a forgiving query of [`forgiving_queries`] stands for (see [`FORGIVING`]).
fn spelt_out(name: &str) -> Option<SearchQuery> {
    let (_, _, spelt, district) = FORGIVING.iter().find(|(known, ..)| *known == name)?;
    Some(SearchQuery {
        districts: district.iter().map(|code| code.to_string()).collect(),
        ..text_query(spelt)
    })
}

/// The suite's mix followed by [`forgiving_queries`].
fn every_query() -> Vec<(&'static str, SearchQuery, String)> {
    query_mix().into_iter().chain(forgiving_queries()).collect()
}

/// The query mix and [`forgiving_queries`] on the product's index beside its baselines in
/// one run, on the same documents: the embedded index as searched before forgiving matching
/// (`Matching::Literal`), and Meilisearch when `MEILI_URL` is set.
pub struct ComparedFigures {
    /// The backends, the product's embedded index first.
    pub backends: Vec<String>,
    /// Bytes on disk of the embedded index and of the literal one, just after a rebuild.
    pub index_bytes: u64,
    pub literal_index_bytes: u64,
    pub queries: Vec<ComparedQuery>,
}

pub struct ComparedQuery {
    pub name: String,
    /// Per backend, in the order of [`ComparedFigures::backends`]: p50, p99, hits.
    pub backends: Vec<(Duration, Duration, u64)>,
    /// For a forgiving query, the query it stands for as spelt (the district as a filter)
    /// on the literal index: p50, p99, hits.
    pub spelt_out: Option<(Duration, Duration, u64)>,
}

pub struct SearchFigures {
    pub documents: usize,
    pub rebuild_docs_per_second: f64,
    pub batch_docs_per_second: f64,
    /// (name, direct p50, direct p99, http p50, http p99)
    pub queries: Vec<(String, Duration, Duration, Duration, Duration)>,
    /// The `/search` page beside `/v1/search`, and what pages weigh.
    pub pages: crate::pages::PageFigures,
    pub compared: ComparedFigures,
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
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
    let index_bytes = dir_bytes(dir);
    // The baseline: the same documents in an index that forgives nothing.
    let literal_dir = dir.with_extension("literal");
    let literal = otop_search::EmbeddedIndex::open(literal_dir.clone())
        .await?
        .with_matching(otop_search::Matching::Literal);
    literal.rebuild(docs.clone(), "bench".into()).await?;
    let literal_index_bytes = dir_bytes(&literal_dir);
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
    for (name, query, url) in every_query() {
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
    let meili = match std::env::var("MEILI_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        Some(url) => Some(meili_with(&url, &docs).await?),
        None => None,
    };
    let mut backends: Vec<(&str, &dyn SearchIndex)> = vec![
        ("embedded", index.as_ref()),
        ("embedded, literal (before forgiving search)", &literal),
    ];
    if let Some(meili) = &meili {
        backends.push(("meilisearch", meili));
    }
    let compared = side_by_side(&backends, &literal, repeats).await;
    if let Some(meili) = &meili {
        if let Err(error) = meili.delete().await {
            eprintln!("could not delete the bench's Meilisearch index: {error}");
        }
    }
    let backend_names = backends.iter().map(|(name, _)| name.to_string()).collect();
    drop(backends);
    drop(literal);
    let _ = std::fs::remove_dir_all(&literal_dir);
    let pages = crate::pages::measure(&format!("http://{}", server.addr), repeats, None).await?;
    server.shutdown().await?;
    Ok(SearchFigures {
        compared: ComparedFigures {
            backends: backend_names,
            index_bytes,
            literal_index_bytes,
            queries: compared?,
        },
        pages,
        documents: count,
        rebuild_docs_per_second: rebuild_rate,
        batch_docs_per_second: batch_rate,
        queries,
    })
}

/// The documents in a fresh Meilisearch index of their own on the server at `url`.
async fn meili_with(
    url: &str,
    docs: &[ListingDocument],
) -> anyhow::Result<otop_search::MeiliIndex> {
    let uid = format!("bench_search_{}", Uuid::new_v4().simple());
    let key = std::env::var("MEILI_MASTER_KEY").ok();
    let meili = otop_search::MeiliIndex::connect(url, key.as_deref(), &uid).await?;
    meili.apply_settings().await?;
    let started = Instant::now();
    meili.rebuild(docs.to_vec(), "bench".into()).await?;
    eprintln!(
        "Meilisearch indexed {} documents at {:.0}/s",
        docs.len(),
        docs.len() as f64 / started.elapsed().as_secs_f64()
    );
    Ok(meili)
}

/// Every query on each backend in turn, run by run, so that all see the same machine; a
/// forgiving query's spelt-out twin runs on `literal` in the same turn.
async fn side_by_side(
    backends: &[(&str, &dyn SearchIndex)],
    literal: &dyn SearchIndex,
    repeats: usize,
) -> anyhow::Result<Vec<ComparedQuery>> {
    let mut figures = Vec::new();
    for (name, query, _) in every_query() {
        let spelt = spelt_out(name);
        // The runs: each backend on the query, then the literal index on the spelt query.
        let mut runs: Vec<(&dyn SearchIndex, &SearchQuery)> =
            backends.iter().map(|(_, index)| (*index, &query)).collect();
        if let Some(spelt) = &spelt {
            runs.push((literal, spelt));
        }
        let mut times = vec![Vec::with_capacity(repeats); runs.len()];
        let mut totals = vec![0; runs.len()];
        for _ in 0..repeats {
            for (at, (index, query)) in runs.iter().enumerate() {
                let started = Instant::now();
                totals[at] = index.search(query).await?.total;
                times[at].push(started.elapsed());
            }
        }
        let mut measured: Vec<(Duration, Duration, u64)> = times
            .into_iter()
            .zip(totals)
            .map(|(mut samples, total)| {
                samples.sort();
                (
                    percentile(&samples, 50.0),
                    percentile(&samples, 99.0),
                    total,
                )
            })
            .collect();
        let spelt_out = (measured.len() > backends.len())
            .then(|| measured.pop())
            .flatten();
        figures.push(ComparedQuery {
            name: name.to_string(),
            backends: measured,
            spelt_out,
        });
    }
    Ok(figures)
}
