//! The search projection: keeps the search index (embedded or Meilisearch) in step with the
//! log. It follows the catalog read model: for each batch of events it waits until the
//! catalog has applied them, then rebuilds the documents of every listing the batch touched
//! (and every listing of every vendor it touched) from the catalog. A listing is in the index
//! exactly when it is published and its vendor approved.
//!
//! It runs on the projection runner ([`BatchMode::OwnCheckpoint`]), with the runner's lock,
//! backoff and failure recording. The index keeps its own checkpoint, committed with each
//! batch (`IndexBatch::checkpoint`), so after a crash the feed resumes where the index really
//! is; the runner mirrors it into the `search` row of `projection_checkpoints` for
//! `/readyz`, `/metrics` and `?min_position=`.
//!
//! The runner's advisory lock is the index's ([`SearchIndex::lock_key`]), not the feed's:
//! one Meilisearch index is fed by one replica at a time (else a slow replica could re-add a
//! document another one deleted), while an embedded index is local to its process, so every
//! replica feeds its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use otop_domain::reference;
use otop_search::{IndexBatch, ListingDocument, SearchIndex};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::checkpoint;
use crate::log::{LogCursor, RecordedEvent};
use crate::projection::{BatchMode, Projection, ProjectionError};
use crate::read_models::ProjectionKind;
use crate::wait::{self, Patience};

/// The checkpoint name of the search feed: `min_position` on a search waits for it.
pub const SEARCH_PROJECTION: &str = "search";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("search index: {0}")]
    Search(#[from] otop_search::SearchError),
    #[error("the catalog read model has not reached the batch yet")]
    CatalogBehind,
}

impl From<FeedError> for ProjectionError {
    fn from(error: FeedError) -> Self {
        match error {
            FeedError::Database(error) => ProjectionError::Database(error),
            // The index or the catalog will be there again: the runner backs off and retries.
            other => ProjectionError::Transient(other.to_string()),
        }
    }
}

pub fn format_cursor(cursor: LogCursor) -> String {
    format!("{}:{}", cursor.transaction_id, cursor.position)
}

pub fn parse_cursor(text: &str) -> Option<LogCursor> {
    let (transaction_id, position) = text.split_once(':')?;
    Some(LogCursor {
        transaction_id: transaction_id.parse().ok()?,
        position: position.parse().ok()?,
    })
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    listing_id: Uuid,
    vendor_id: Uuid,
    vendor_name_th: Option<String>,
    vendor_name_en: Option<String>,
    title_th: String,
    title_en: Option<String>,
    description_th: Option<String>,
    description_en: Option<String>,
    tags: sqlx::types::Json<Vec<String>>,
    district_code: Option<String>,
    category_code: String,
    subtype_code: String,
    price_satang: i64,
    available_stock: i64,
    otop_stars: Option<i16>,
    published_at: Option<DateTime<Utc>>,
    units_sold: i64,
    image_url: Option<String>,
    visible: bool,
}

const DOCUMENT_SELECT: &str = "SELECT l.listing_id, l.vendor_id, v.name_th AS vendor_name_th,
        v.name_en AS vendor_name_en, l.title_th, l.title_en, l.description_th, l.description_en,
        l.tags, l.district_code, l.category_code, l.subtype_code, l.price_satang,
        l.available_stock, l.otop_stars, l.published_at, l.units_sold,
        l.image_urls->>0 AS image_url,
        (l.status = 'published' AND l.vendor_status = 'approved') AS visible
   FROM listing_catalog l LEFT JOIN vendor_directory v ON v.vendor_id = l.vendor_id";

fn document(row: DocumentRow) -> ListingDocument {
    let district_code = row.district_code.unwrap_or_default();
    let district = reference::district(&district_code);
    let category = reference::category(&row.category_code);
    let subtype = reference::subtype(&row.subtype_code);
    ListingDocument {
        id: row.listing_id,
        vendor_id: row.vendor_id,
        vendor_name_th: row.vendor_name_th.unwrap_or_default(),
        vendor_name_en: row.vendor_name_en,
        title_th: row.title_th,
        title_en: row.title_en,
        description_th: row.description_th,
        description_en: row.description_en,
        tags: row.tags.0,
        district_name_th: district.map(|d| d.name_th.clone()).unwrap_or_default(),
        district_name_en: district.map(|d| d.name_en.clone()).unwrap_or_default(),
        district_code,
        category_name_th: category.map(|c| c.name_th.clone()).unwrap_or_default(),
        category_name_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
        category_code: row.category_code,
        subtype_name_th: subtype.map(|s| s.name_th.clone()).unwrap_or_default(),
        subtype_name_en: subtype.map(|s| s.name_en.clone()).unwrap_or_default(),
        subtype_code: row.subtype_code,
        price_satang: u64::try_from(row.price_satang).unwrap_or_default(),
        available_stock: u64::try_from(row.available_stock).unwrap_or_default(),
        otop_stars: row.otop_stars.and_then(|s| u8::try_from(s).ok()),
        published_at: row.published_at.unwrap_or(DateTime::UNIX_EPOCH),
        units_sold: u64::try_from(row.units_sold).unwrap_or_default(),
        image_url: row.image_url,
    }
}

/// How long a batch waits for the catalog to reach it before the runner retries it.
const CATALOG_WAIT: Duration = Duration::from_secs(30);

/// Waits (bounded) until the catalog read model has applied everything up to `cursor`.
async fn catalog_reached(
    pool: &PgPool,
    cursor: LogCursor,
    within: Duration,
) -> Result<(), FeedError> {
    let patience = Patience {
        first: Duration::from_millis(1),
        longest: Duration::from_millis(5),
        within,
    };
    let reached = wait::until(patience, || async {
        let catalog = checkpoint::read(pool, ProjectionKind::Catalog.name()).await?;
        Ok::<_, sqlx::Error>(catalog.filter(|at| *at >= cursor))
    })
    .await?;
    reached.map(|_| ()).ok_or(FeedError::CatalogBehind)
}

/// The search index as a consumer of the log, run by the projection runner.
pub struct SearchFeed {
    /// Where it waits for the catalog to reach a batch (a connection of its own, not the
    /// batch's).
    pool: PgPool,
    index: Arc<dyn SearchIndex>,
}

impl SearchFeed {
    pub fn new(pool: PgPool, index: Arc<dyn SearchIndex>) -> Self {
        SearchFeed { pool, index }
    }

    /// Rebuilds the documents of every listing `events` touched (and of every listing of
    /// every vendor they touched) from the catalog, and commits them to the index with the
    /// batch's checkpoint.
    async fn feed(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), FeedError> {
        let Some(last) = events.last().map(|e| e.cursor()) else {
            return Ok(());
        };
        let mut listings = BTreeSet::new();
        let mut vendors = BTreeSet::new();
        for event in events {
            let Ok(id) = event.aggregate_id.parse::<Uuid>() else {
                continue;
            };
            match event.aggregate_type.as_str() {
                "Listing" => {
                    listings.insert(id);
                }
                "Vendor" => {
                    vendors.insert(id);
                }
                _ => {}
            }
        }
        let mut batch = IndexBatch {
            checkpoint: format_cursor(last),
            ..IndexBatch::default()
        };
        if !listings.is_empty() || !vendors.is_empty() {
            catalog_reached(&self.pool, last, CATALOG_WAIT).await?;
            let listings: Vec<Uuid> = listings.into_iter().collect();
            let vendors: Vec<Uuid> = vendors.into_iter().collect();
            let rows: Vec<DocumentRow> = sqlx::query_as(&format!(
                "{DOCUMENT_SELECT} WHERE l.listing_id = ANY($1) OR l.vendor_id = ANY($2)"
            ))
            .bind(&listings)
            .bind(&vendors)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                if row.visible {
                    batch.upserts.push(document(row));
                } else {
                    batch.deletes.push(row.listing_id);
                }
            }
        }
        self.index.apply(batch).await?;
        Ok(())
    }
}

impl Projection for SearchFeed {
    fn name(&self) -> &str {
        SEARCH_PROJECTION
    }

    fn batch_mode(&self) -> BatchMode {
        BatchMode::OwnCheckpoint
    }

    fn lock_key(&self) -> Option<String> {
        self.index.lock_key()
    }

    fn own_checkpoint(&self) -> BoxFuture<'_, Result<Option<LogCursor>, ProjectionError>> {
        Box::pin(async move {
            let stored = self.index.checkpoint().await.map_err(FeedError::from)?;
            Ok(stored.as_deref().and_then(parse_cursor))
        })
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move { Ok(self.feed(conn, events).await?) })
    }
}

async fn mirror_checkpoint(
    pool: &PgPool,
    cursor: LogCursor,
    events: i64,
) -> Result<(), sqlx::Error> {
    checkpoint::ensure(pool, SEARCH_PROJECTION).await?;
    let mut conn = pool.acquire().await?;
    checkpoint::advance(&mut conn, SEARCH_PROJECTION, cursor, events).await
}

/// Rebuilds the whole index from the catalog read model (after bringing the catalog up to
/// date) and swaps it in. Returns how many listings are searchable.
pub async fn reindex(pool: &PgPool, index: &dyn SearchIndex) -> Result<usize, FeedError> {
    let catalog = ProjectionKind::Catalog.build("");
    crate::runner::catch_up(pool, catalog.as_ref(), 1_000)
        .await
        .map_err(|error| match error {
            ProjectionError::Database(db) => FeedError::Database(db),
            _ => FeedError::CatalogBehind,
        })?;
    let cursor = checkpoint::read(pool, ProjectionKind::Catalog.name())
        .await?
        .unwrap_or(LogCursor::START);
    let rows: Vec<DocumentRow> = sqlx::query_as(&format!(
        "{DOCUMENT_SELECT} WHERE l.status = 'published' AND l.vendor_status = 'approved'"
    ))
    .fetch_all(pool)
    .await?;
    let documents: Vec<ListingDocument> = rows.into_iter().map(document).collect();
    let count = documents.len();
    index.rebuild(documents, format_cursor(cursor)).await?;
    mirror_checkpoint(pool, cursor, 0).await?;
    Ok(count)
}
