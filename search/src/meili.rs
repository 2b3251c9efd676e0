//! The Meilisearch backend (meilisearch-sdk 0.33, server 1.x).
//!
//! Documents are the [`ListingDocument`] fields plus `published_at_unix` (seconds, for
//! sorting). The checkpoint lives in a separate one-document index `<uid>_meta`, written
//! only after every task of a batch has succeeded.

mod filter;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetingSettings, MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::document::ListingDocument;
use crate::error::SearchError;
use crate::html::push_escaped;
use crate::index::{IndexBatch, SearchIndex};
use crate::query::{
    Facets, PriceRange, SearchHit, SearchQuery, SearchResults, SortOrder, MAX_TOTAL_HITS,
};
use crate::tokenizer::OTOP_DICTIONARY;

/// Searchable attributes, most important first.
pub const SEARCHABLE: &[&str] = &[
    "title_th",
    "title_en",
    "tags",
    "description_th",
    "description_en",
    "vendor_name_th",
    "vendor_name_en",
    "district_name_th",
    "district_name_en",
    "category_name_th",
    "category_name_en",
    "subtype_name_th",
    "subtype_name_en",
    "romanized",
];

/// Thai attributes: typo tolerance is off there, as in the embedded backend.
const THAI_ATTRIBUTES: &[&str] = &[
    "title_th",
    "description_th",
    "vendor_name_th",
    "district_name_th",
    "category_name_th",
    "subtype_name_th",
];

/// Filterable attributes.
pub const FILTERABLE: &[&str] = &[
    "district_code",
    "category_code",
    "subtype_code",
    "otop_stars",
    "price_satang",
    "available_stock",
    "vendor_id",
    "price_band",
    "in_stock",
];

/// Sortable attributes.
pub const SORTABLE: &[&str] = &["price_satang", "published_at_unix", "units_sold", "id"];

/// Ranking rules. `sort` comes first so an asked order is strict (not only a tie-breaker
/// of relevance); `id:asc` makes equal relevance stable.
pub const RANKING_RULES: &[&str] = &[
    "sort",
    "words",
    "typo",
    "proximity",
    "attribute",
    "exactness",
    "id:asc",
];

const FACETS: &[&str] = &[
    "district_code",
    "category_code",
    "subtype_code",
    "otop_stars",
    "price_band",
    "in_stock",
];
const HIGHLIGHTED: &[&str] = &["title_th", "title_en"];
const PRICE_ONLY: &[&str] = &["price_satang"];
const PRICE_ASC: &[&str] = &["price_satang:asc"];
const PRICE_DESC: &[&str] = &["price_satang:desc"];
// Private-use characters mark highlights; they become <em> after the title is escaped.
const PRE_MARK: &str = "\u{E000}";
const POST_MARK: &str = "\u{E001}";
const CHECKPOINT_ID: &str = "checkpoint";
const DOCUMENTS_PER_REQUEST: usize = 1000;
const TASK_POLL: Duration = Duration::from_millis(50);
const TASK_TIMEOUT: Duration = Duration::from_secs(600);

/// A listing as stored in Meilisearch.
#[derive(Debug, Serialize, Deserialize)]
struct MeiliDocument {
    #[serde(flatten)]
    listing: ListingDocument,
    published_at_unix: i64,
    /// Facet values derived from the listing: its [`crate::PRICE_BANDS`] code, and whether
    /// it has stock. Documents written before these existed read without them.
    #[serde(default)]
    price_band: String,
    #[serde(default)]
    in_stock: bool,
    /// RTGS romanizations of the Thai title and tags and their Latin sound keys
    /// ([`crate::forgiving::derived`]), searched last: an English word in the English title
    /// ranks above a romanization.
    #[serde(default)]
    romanized: String,
}

/// The checkpoint document of the meta index.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointDocument {
    id: String,
    checkpoint: String,
}

/// A listing index in a Meilisearch server.
#[derive(Debug)]
pub struct MeiliIndex {
    client: Client,
    /// The server's address as configured, without a trailing `/`.
    url: String,
    uid: String,
}

fn is_missing(error: &MeiliError) -> bool {
    matches!(
        error,
        MeiliError::Meilisearch(e)
            if matches!(e.error_code, ErrorCode::IndexNotFound | ErrorCode::DocumentNotFound)
    )
}

fn valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 300
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl MeiliIndex {
    /// Connects to the server at `url` (e.g. `http://127.0.0.1:7700`) and checks that it is
    /// up. `index_uid` may hold ASCII letters, digits, `-` and `_`. Only `http://` URLs
    /// work: the client is built without TLS.
    pub async fn connect(
        url: &str,
        api_key: Option<&str>,
        index_uid: &str,
    ) -> Result<MeiliIndex, SearchError> {
        if !valid_uid(index_uid) {
            return Err(SearchError::Config(format!(
                "invalid Meilisearch index uid {index_uid:?}"
            )));
        }
        let url = url.trim_end_matches('/');
        let client = Client::new(url, api_key)?;
        client.health().await?;
        Ok(MeiliIndex {
            client,
            url: url.to_string(),
            uid: index_uid.to_string(),
        })
    }

    /// Deletes the listing index and its checkpoint index from the server (for indexes a
    /// test or a benchmark made for itself).
    /// Both are tried; the first failure is returned.
    pub async fn delete(&self) -> Result<(), SearchError> {
        let mut outcome = Ok(());
        for index in [self.index(), self.meta_index()] {
            let deleted = match self.client.delete_index(&index.uid).await {
                Ok(task) => self.wait(task).await,
                Err(error) => Err(error.into()),
            };
            outcome = outcome.and(deleted);
        }
        outcome
    }

    /// The uid of the listing index.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    fn index(&self) -> Index {
        self.client.index(&self.uid)
    }

    fn meta_index(&self) -> Index {
        self.client.index(format!("{}_meta", self.uid))
    }

    async fn wait(&self, task: TaskInfo) -> Result<(), SearchError> {
        match self
            .client
            .wait_for_task(task, Some(TASK_POLL), Some(TASK_TIMEOUT))
            .await?
        {
            Task::Succeeded { .. } => Ok(()),
            Task::Failed { content } => Err(SearchError::TaskFailed {
                task_uid: content.task.uid,
                message: content.error.error_message,
            }),
            other => Err(SearchError::TaskFailed {
                task_uid: other.get_uid(),
                message: "the task did not finish".into(),
            }),
        }
    }

    async fn wait_all(&self, tasks: Vec<TaskInfo>) -> Result<(), SearchError> {
        for task in tasks {
            self.wait(task).await?;
        }
        Ok(())
    }

    async fn set_settings(&self, index: &Index) -> Result<(), SearchError> {
        let task = index.set_settings(&settings()).await?;
        self.wait(task).await
    }

    /// Sends the documents without waiting; returns the tasks to wait for.
    async fn send_documents(
        &self,
        index: &Index,
        docs: &[ListingDocument],
    ) -> Result<Vec<TaskInfo>, SearchError> {
        let mut tasks = Vec::new();
        for chunk in docs.chunks(DOCUMENTS_PER_REQUEST) {
            let chunk: Vec<MeiliDocument> = chunk
                .iter()
                .map(|listing| MeiliDocument {
                    published_at_unix: listing.published_at.timestamp(),
                    price_band: crate::price_band(listing.price_satang).to_string(),
                    in_stock: listing.available_stock > 0,
                    romanized: crate::forgiving::derived(listing).romanized,
                    listing: listing.clone(),
                })
                .collect();
            tasks.push(index.add_or_replace(&chunk, Some("id")).await?);
        }
        Ok(tasks)
    }

    async fn write_checkpoint(&self, checkpoint: &str) -> Result<(), SearchError> {
        let document = CheckpointDocument {
            id: CHECKPOINT_ID.to_string(),
            checkpoint: checkpoint.to_string(),
        };
        let task = self
            .meta_index()
            .add_or_replace(&[document], Some("id"))
            .await?;
        self.wait(task).await
    }

    async fn fill_and_swap(
        &self,
        building: &Index,
        docs: &[ListingDocument],
    ) -> Result<(), SearchError> {
        let created = self.client.create_index(&building.uid, Some("id")).await?;
        self.wait(created).await?;
        self.set_settings(building).await?;
        let tasks = self.send_documents(building, docs).await?;
        self.wait_all(tasks).await?;
        // Swapping needs both indexes; creating the live one fails harmlessly if it exists.
        let created = self.client.create_index(&self.uid, Some("id")).await?;
        if let Err(error) = self.wait(created).await {
            tracing::debug!(%error, "live index already exists");
        }
        let swap = SwapIndexes {
            indexes: (self.uid.clone(), building.uid.clone()),
            rename: None,
        };
        let swapped = self.client.swap_indexes([&swap]).await?;
        self.wait(swapped).await
    }
}

fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_filterable_attributes(FILTERABLE)
        .with_sortable_attributes(SORTABLE)
        .with_ranking_rules(RANKING_RULES)
        .with_dictionary(OTOP_DICTIONARY)
        .with_synonyms(
            crate::forgiving::glossary::meili_synonyms()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .with_stop_words(crate::forgiving::STOP_WORDS)
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: Some(THAI_ATTRIBUTES.iter().map(|a| a.to_string()).collect()),
            disable_on_words: Some(Vec::new()),
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(4),
                two_typos: Some(9),
            }),
            disable_on_numbers: None,
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_TOTAL_HITS,
        })
        .with_faceting(FacetingSettings {
            max_values_per_facet: 1000,
            sort_facet_values_by: None,
        })
}

fn sort_rules(sort: SortOrder) -> &'static [&'static str] {
    match sort {
        SortOrder::Relevance => &[],
        SortOrder::PriceAsc => &["price_satang:asc", "id:asc"],
        SortOrder::PriceDesc => &["price_satang:desc", "id:asc"],
        SortOrder::Newest => &["published_at_unix:desc", "id:asc"],
        SortOrder::BestSelling => &["units_sold:desc", "id:asc"],
    }
}

/// The first marked title of a hit's `_formatted`, escaped, with `<em>` marks.
fn highlight(formatted: Option<&serde_json::Map<String, Value>>) -> Option<String> {
    let formatted = formatted?;
    HIGHLIGHTED.iter().find_map(|attribute| {
        let title = formatted.get(*attribute)?.as_str()?;
        if !title.contains(PRE_MARK) {
            return None;
        }
        let mut out = String::with_capacity(title.len() + 16);
        let mut text = String::new();
        for c in title.chars() {
            let mark = match c {
                '\u{E000}' => "<em>",
                '\u{E001}' => "</em>",
                c => {
                    text.push(c);
                    continue;
                }
            };
            push_escaped(&mut out, &text);
            text.clear();
            out.push_str(mark);
        }
        push_escaped(&mut out, &text);
        Some(out)
    })
}

fn facet_counts(
    distribution: &HashMap<String, HashMap<String, usize>>,
    facet: &str,
) -> BTreeMap<String, u64> {
    distribution
        .get(facet)
        .map(|counts| {
            counts
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(value, count)| (value.clone(), *count as u64))
                .collect()
        })
        .unwrap_or_default()
}

fn first_price(results: &meilisearch_sdk::search::SearchResults<Value>) -> Option<u64> {
    results.hits.first()?.result.get("price_satang")?.as_u64()
}

#[async_trait]
impl SearchIndex for MeiliIndex {
    fn backend(&self) -> &'static str {
        "meilisearch"
    }

    /// One index on one server, shared by every replica: fed by one of them at a time.
    fn lock_key(&self) -> Option<String> {
        Some(format!("otop-search:meilisearch:{}/{}", self.url, self.uid))
    }

    async fn apply_settings(&self) -> Result<(), SearchError> {
        self.set_settings(&self.index()).await
    }

    async fn apply(&self, batch: IndexBatch) -> Result<(), SearchError> {
        let index = self.index();
        let mut tasks = self.send_documents(&index, &batch.upserts).await?;
        if !batch.deletes.is_empty() {
            let ids: Vec<String> = batch
                .deletes
                .iter()
                .map(|id| id.hyphenated().to_string())
                .collect();
            tasks.push(index.delete_documents(&ids).await?);
        }
        self.wait_all(tasks).await?;
        self.write_checkpoint(&batch.checkpoint).await
    }

    async fn checkpoint(&self) -> Result<Option<String>, SearchError> {
        match self
            .meta_index()
            .get_document::<CheckpointDocument>(CHECKPOINT_ID)
            .await
        {
            Ok(document) => Ok(Some(document.checkpoint)),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        query.offset()?;
        let query = &crate::forgiving::understand(query);
        let index = self.index();
        let text = query.text().map(filter::plain_text);
        let filter = filter::filter_expression(query);
        let sort = sort_rules(query.sort);

        let mut page = index.search();
        page.with_page(query.page)
            .with_hits_per_page(query.per_page)
            .with_matching_strategy(MatchingStrategies::LAST)
            .with_facets(Selectors::Some(FACETS))
            .with_attributes_to_highlight(Selectors::Some(HIGHLIGHTED))
            .with_highlight_pre_tag(PRE_MARK)
            .with_highlight_post_tag(POST_MARK);
        let mut cheapest = index.search();
        cheapest
            .with_limit(1)
            .with_matching_strategy(MatchingStrategies::LAST)
            .with_sort(PRICE_ASC)
            .with_attributes_to_retrieve(Selectors::Some(PRICE_ONLY));
        let mut dearest = index.search();
        dearest
            .with_limit(1)
            .with_matching_strategy(MatchingStrategies::LAST)
            .with_sort(PRICE_DESC)
            .with_attributes_to_retrieve(Selectors::Some(PRICE_ONLY));
        if !sort.is_empty() {
            page.with_sort(sort);
        }
        for search in [&mut page, &mut cheapest, &mut dearest] {
            if let Some(text) = &text {
                search.with_query(text);
            }
            if let Some(filter) = &filter {
                search.with_filter(filter);
            }
        }
        let response = self
            .client
            .multi_search()
            .with_search_query(page.build())
            .with_search_query(cheapest.build())
            .with_search_query(dearest.build())
            .execute::<Value>()
            .await?;
        let [page, cheapest, dearest]: [_; 3] = response
            .results
            .try_into()
            .map_err(|_| SearchError::Corrupt("multi-search returned a wrong count".into()))?;

        let mut hits = Vec::with_capacity(page.hits.len());
        for hit in page.hits {
            let highlight = highlight(hit.formatted_result.as_ref());
            let stored: MeiliDocument = serde_json::from_value(hit.result)
                .map_err(|error| SearchError::Corrupt(error.to_string()))?;
            hits.push(SearchHit {
                document: stored.listing,
                highlight,
            });
        }
        let total = page.total_hits.unwrap_or(0) as u64;
        let facets = page
            .facet_distribution
            .as_ref()
            .map(|distribution| Facets {
                district_code: facet_counts(distribution, "district_code"),
                category_code: facet_counts(distribution, "category_code"),
                subtype_code: facet_counts(distribution, "subtype_code"),
                otop_stars: facet_counts(distribution, "otop_stars"),
                price_band: facet_counts(distribution, "price_band"),
                in_stock: facet_counts(distribution, "in_stock"),
            })
            .unwrap_or_default();
        let price = match (first_price(&cheapest), first_price(&dearest)) {
            (Some(min_satang), Some(max_satang)) => Some(PriceRange {
                min_satang,
                max_satang,
            }),
            _ => None,
        };
        Ok(SearchResults {
            hits,
            total,
            facets,
            price,
        })
    }

    async fn count(&self) -> Result<u64, SearchError> {
        let index = self.index();
        let mut search = index.search();
        search.with_page(1).with_hits_per_page(0);
        match search.execute::<Value>().await {
            Ok(results) => Ok(results.total_hits.unwrap_or(0) as u64),
            Err(error) if is_missing(&error) => Ok(0),
            Err(error) => Err(error.into()),
        }
    }

    async fn rebuild(
        &self,
        docs: Vec<ListingDocument>,
        checkpoint: String,
    ) -> Result<(), SearchError> {
        let building =
            self.client
                .index(format!("{}_rebuild_{}", self.uid, Uuid::new_v4().simple()));
        let swapped = self.fill_and_swap(&building, &docs).await;
        // After a swap the building uid holds the old contents; before it, a partial index.
        // Either way it goes.
        let deleted = match self.client.delete_index(&building.uid).await {
            Ok(task) => self.wait(task).await,
            Err(error) => Err(error.into()),
        };
        if let Err(error) = deleted {
            tracing::warn!(%error, uid = %building.uid, "could not delete a rebuild index");
        }
        swapped?;
        // A crash before this line leaves the new contents with the old checkpoint; replaying
        // from it re-applies upserts and deletes, which is harmless.
        self.write_checkpoint(&checkpoint).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_serialise_with_the_lowered_typo_threshold_and_dictionary() {
        let json = serde_json::to_value(settings()).unwrap_or_default();
        assert_eq!(
            json["typoTolerance"]["minWordSizeForTypos"]["oneTypo"],
            Value::from(4)
        );
        let dictionary = json["dictionary"].as_array().cloned().unwrap_or_default();
        assert!(dictionary.contains(&Value::from("มัดหมี่")));
        assert!(dictionary.contains(&Value::from("ประเกือม")));
        assert_eq!(json["rankingRules"][0], Value::from("sort"));
        assert_eq!(
            json["filterableAttributes"].as_array().map(Vec::len),
            Some(9)
        );
    }

    #[test]
    fn highlight_marks_become_em_and_text_is_escaped() {
        let mut formatted = serde_json::Map::new();
        formatted.insert("title_th".into(), Value::from("ไม่มี"));
        formatted.insert(
            "title_en".into(),
            Value::from("\u{E000}Silk\u{E001} <b> & \u{E000}Scarf\u{E001}"),
        );
        assert_eq!(
            highlight(Some(&formatted)).as_deref(),
            Some("<em>Silk</em> &lt;b&gt; &amp; <em>Scarf</em>")
        );
        formatted.remove("title_en");
        assert_eq!(highlight(Some(&formatted)), None);
    }

    #[test]
    fn uids_are_checked() {
        assert!(valid_uid("listings_test-1"));
        assert!(!valid_uid(""));
        assert!(!valid_uid("a/b"));
        assert!(!valid_uid("a b"));
    }
}
