//! Sales for the provincial office's analysts (and admins), from the `sales` projection:
//! what `/v1/analytics` and the `/analytics` dashboard both run. Days are Asia/Bangkok days; a sale counts on the day it is paid, and refunds
//! and cancellations after payment reverse it on their own day. Money is integer satang.
//!
//! `orders` counts each order once per row of the grouping: an order whose lines fall in two
//! sub-types is one order in each sub-type's row, and one order in `totals`.

use chrono::NaiveDate;
use otop_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

mod params;
mod periods;
mod query;
mod render;

pub use query::{sales, sales_grouped_many, top_listings};
pub use render::{sales_csv, top_listings_csv};

pub(super) const ANALYTICS_ROLES: &[Role] = &[Role::Analyst, Role::Admin];

/// At most this many values in a list filter.
pub(super) const MAX_FILTER_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    District,
    Category,
    Subtype,
    Vendor,
    Day,
    Month,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::District,
        Dimension::Category,
        Dimension::Subtype,
        Dimension::Vendor,
        Dimension::Day,
        Dimension::Month,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::District => "district",
            Dimension::Category => "category",
            Dimension::Subtype => "subtype",
            Dimension::Vendor => "vendor",
            Dimension::Day => "day",
            Dimension::Month => "month",
        }
    }

    /// The SQL expression of the dimension, named after its first output column.
    pub(super) fn select(self) -> &'static str {
        match self {
            Dimension::District => "district_code",
            Dimension::Category => "category_code",
            Dimension::Subtype => "subtype_code",
            Dimension::Vendor => "vendor_id",
            Dimension::Day => "to_char(day, 'YYYY-MM-DD') AS day",
            Dimension::Month => "to_char(date_trunc('month', day)::date, 'YYYY-MM') AS month",
        }
    }

    pub(super) fn group(self) -> &'static str {
        match self {
            Dimension::District => "district_code",
            Dimension::Category => "category_code",
            Dimension::Subtype => "subtype_code",
            Dimension::Vendor => "vendor_id",
            Dimension::Day => "to_char(day, 'YYYY-MM-DD')",
            // Grouped by the month's first day (cheap per row), formatted once per group.
            Dimension::Month => "date_trunc('month', day)::date",
        }
    }

    pub(super) fn csv_columns(self) -> &'static [&'static str] {
        match self {
            Dimension::District => &["district_code", "district_name_th", "district_name_en"],
            Dimension::Category => &["category_code", "category_name_th", "category_name_en"],
            Dimension::Subtype => &["subtype_code", "subtype_name_th", "subtype_name_en"],
            Dimension::Vendor => &["vendor_id", "vendor_name_th"],
            Dimension::Day => &["day"],
            Dimension::Month => &["month"],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct SalesQuery {
    /// First Bangkok day included (YYYY-MM-DD); no lower bound when left out.
    pub from: Option<String>,
    /// Last Bangkok day included (YYYY-MM-DD); no upper bound when left out.
    pub to: Option<String>,
    /// Comma-separated: district, category, subtype, vendor, and day or month.
    pub group_by: Option<String>,
    /// District codes, comma-separated (UNKNOWN: vendors the projection never saw).
    pub district: Option<String>,
    /// One OTOP category code.
    pub category: Option<String>,
    /// One OTOP sub-type code (of `category` when both are given).
    pub subtype: Option<String>,
    /// Vendor ids, comma-separated.
    pub vendor: Option<String>,
    /// Wait until the sales read model has applied the event at this log position.
    pub min_position: Option<i64>,
}

/// One group of sales. Only the grouped dimensions appear; names are null for a code the
/// reference data does not know (`UNKNOWN`).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SalesRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district_code: Option<String>,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub district_name_th: Label,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub district_name_en: Label,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_code: Option<String>,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub category_name_th: Label,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub category_name_en: Label,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype_code: Option<String>,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub subtype_name_th: Label,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub subtype_name_en: Label,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Label::is_absent")]
    #[schema(value_type = Option<String>)]
    pub vendor_name_th: Label,
    /// Bangkok day, YYYY-MM-DD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// Bangkok month, YYYY-MM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// Paid orders, less those cancelled after payment (on the cancellation's day).
    pub orders: i64,
    /// Units paid for, less those of orders cancelled after payment.
    pub units: i64,
    pub gross_satang: i64,
    pub refunds_satang: i64,
    /// gross_satang - refunds_satang.
    pub net_satang: i64,
}

/// A name beside a code in a row: absent when the row is not grouped by that dimension (the
/// field is left out), unknown when the reference data has no name for the code (`null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Label {
    #[default]
    Absent,
    Unknown,
    Known(String),
}

impl Label {
    /// The label of a grouped code: its name, or unknown.
    pub fn of(name: Option<String>) -> Label {
        name.map_or(Label::Unknown, Label::Known)
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Label::Absent)
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Label::Known(name) => Some(name),
            Label::Absent | Label::Unknown => None,
        }
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.text() {
            Some(name) => serializer.serialize_str(name),
            None => serializer.serialize_none(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SalesTotals {
    /// Each order once, whatever the grouping.
    pub orders: i64,
    pub units: i64,
    pub gross_satang: i64,
    pub refunds_satang: i64,
    pub net_satang: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub group_by: Vec<String>,
    pub rows: Vec<SalesRow>,
    pub totals: SalesTotals,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TopListingsQuery {
    /// First Bangkok day included (YYYY-MM-DD).
    pub from: Option<String>,
    /// Last Bangkok day included (YYYY-MM-DD).
    pub to: Option<String>,
    /// `units` (units sold, net of cancellations) or `revenue` (net_satang, the default).
    pub by: Option<String>,
    /// How many listings, 1 to 100 (default 10).
    pub limit: Option<i64>,
    /// Vendor ids, comma-separated.
    pub vendor: Option<String>,
    /// Wait until the sales read model has applied the event at this log position.
    pub min_position: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TopListing {
    pub rank: i64,
    pub listing_id: Uuid,
    pub vendor_id: Uuid,
    /// The listing's current title, category and sub-type.
    pub title_th: Option<String>,
    pub title_en: Option<String>,
    pub category_code: Option<String>,
    pub subtype_code: Option<String>,
    pub orders: i64,
    pub units: i64,
    pub gross_satang: i64,
    pub refunds_satang: i64,
    pub net_satang: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopListings {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// `units` or `revenue`.
    pub by: String,
    pub limit: i64,
    pub rows: Vec<TopListing>,
}

pub const DEFAULT_TOP_LIMIT: i64 = 10;
pub const MAX_TOP_LIMIT: i64 = 100;
