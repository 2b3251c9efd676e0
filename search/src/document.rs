//! [`ListingDocument`], what the index holds for one published listing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One listing as the search index sees it: its own fields plus the names of its vendor,
/// district, category and sub-type (denormalised so they can be searched).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingDocument {
    /// The listing's id.
    pub id: Uuid,
    /// The selling vendor.
    pub vendor_id: Uuid,
    /// The vendor's Thai name.
    pub vendor_name_th: String,
    /// The vendor's English name, when it has one.
    pub vendor_name_en: Option<String>,
    /// Thai title.
    pub title_th: String,
    /// English title.
    pub title_en: Option<String>,
    /// Thai description.
    pub description_th: Option<String>,
    /// English description.
    pub description_en: Option<String>,
    /// Free tags, Thai and English mixed; matched case-insensitively.
    pub tags: Vec<String>,
    /// District geocode (`3201`..`3217`).
    pub district_code: String,
    /// District name in Thai.
    pub district_name_th: String,
    /// District name in English.
    pub district_name_en: String,
    /// OTOP category code (`TEXTILE`, ...).
    pub category_code: String,
    /// Category name in Thai.
    pub category_name_th: String,
    /// Category name in English.
    pub category_name_en: String,
    /// Sub-type code (`TEX_SILK_MUDMEE`, ...).
    pub subtype_code: String,
    /// Sub-type name in Thai.
    pub subtype_name_th: String,
    /// Sub-type name in English.
    pub subtype_name_en: String,
    /// Price in satang (1 THB = 100 satang).
    pub price_satang: u64,
    /// Units that can be ordered now.
    pub available_stock: u64,
    /// OTOP star level 1-5, when the product has one.
    pub otop_stars: Option<u8>,
    /// When the listing was published; sorts (newest first) at whole-second precision.
    pub published_at: DateTime<Utc>,
    /// Units sold so far; sorts best sellers first.
    pub units_sold: u64,
    /// The listing's first image (a photo of ours is `/photos/{key}/large.jpg`); shown on
    /// cards, never searched. Absent in documents indexed before photos existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}
