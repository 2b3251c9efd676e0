//! Paging for list queries: `page` from 1, `per_page` from 1 to 100 (default 20), and the
//! reply shape `{items, page, per_page, total}`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;
/// Offset paging reaches at most this deep (`page × per_page`): deeper offsets make the
/// database count past every row before them, so a crawler could keep it busy for nothing.
/// Lists that go deeper page by key (`after=`).
pub const MAX_OFFSET_DEPTH: i64 = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Paging, AppError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        let mut errors = Vec::new();
        if !(1..=1_000_000).contains(&page) {
            errors.push(otop_domain::FieldError::new(
                "page",
                "must be from 1 to 1000000",
            ));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(otop_domain::FieldError::new(
                "per_page",
                format!("must be from 1 to {MAX_PER_PAGE}"),
            ));
        }
        if errors.is_empty() && page * per_page > MAX_OFFSET_DEPTH {
            errors.push(otop_domain::FieldError::new(
                "page",
                format!(
                    "page × per_page may be at most {MAX_OFFSET_DEPTH}; \
                     beyond that, page on with after= (the next_after of a page)"
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Paging { page, per_page })
        } else {
            Err(AppError::Invalid(errors))
        }
    }

    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// Where a keyset page starts (`after=`): just after the item at (time, id) in a list ordered
/// newest first, ties broken by id. Opaque to clients: they pass back a page's `next_after`.
pub struct KeysetAfter;

impl KeysetAfter {
    /// The `after=` of a request, refused beside a `page` (one or the other).
    pub fn parse(
        text: Option<&str>,
        page: Option<i64>,
    ) -> Result<Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)>, AppError> {
        let Some(text) = text else {
            return Ok(None);
        };
        if page.is_some() {
            return Err(AppError::invalid(
                "page",
                "give either page or after, not both",
            ));
        }
        let invalid = || AppError::invalid("after", "must be the next_after of an earlier page");
        let (at, id) = text.rsplit_once('_').ok_or_else(invalid)?;
        let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| invalid())?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Some((at.with_timezone(&chrono::Utc), id)))
    }

    pub fn format(at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
        format!(
            "{}_{id}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    /// How many items match, over all pages.
    pub total: i64,
    /// For lists that page by key: the `after=` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, paging: Paging, total: i64) -> Self {
        Page {
            items,
            page: paging.page,
            per_page: paging.per_page,
            total,
            next_after: None,
        }
    }
}
