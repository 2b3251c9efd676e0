//! The tantivy schema of the embedded index and the conversion of a [`ListingDocument`].

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{TantivyDocument, Term};
use uuid::Uuid;

use crate::document::ListingDocument;
use crate::error::SearchError;
use crate::forgiving::Matching;
use crate::tokenizer::TOKENIZER_NAME;

/// Handles of every field of the schema.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    /// Listing id, hyphenated, as one raw term (for deletes).
    pub id: Field,
    /// High 64 bits of the id (fast), the first tie-breaker.
    pub id_hi: Field,
    /// Low 64 bits of the id (fast).
    pub id_lo: Field,
    /// Vendor id, hyphenated, raw term.
    pub vendor_id: Field,
    /// Thai and English titles.
    pub title: Field,
    /// Tags.
    pub tags: Field,
    /// Vendor, district, category and sub-type names, Thai and English.
    pub names: Field,
    /// Thai and English descriptions.
    pub description: Field,
    /// RTGS romanizations of the Thai title and tags, and their Latin sound keys
    /// ([`crate::forgiving::derived`]).
    pub romanized: Field,
    /// Thai sound keys of the title's, tags' and names' words and runs of them.
    pub sounds: Field,
    /// District code, raw term and fast.
    pub district_code: Field,
    /// Category code, raw term and fast.
    pub category_code: Field,
    /// Sub-type code, raw term and fast.
    pub subtype_code: Field,
    /// OTOP stars (absent when the listing has none).
    pub otop_stars: Field,
    /// Price in satang.
    pub price_satang: Field,
    /// Available stock.
    pub available_stock: Field,
    /// Publication time, unix seconds.
    pub published_at: Field,
    /// Units sold.
    pub units_sold: Field,
    /// The whole document as JSON, stored only.
    pub source: Field,
}

/// Names of the fast fields read while collecting.
pub(crate) mod names {
    pub const ID_HI: &str = "id_hi";
    pub const ID_LO: &str = "id_lo";
    pub const DISTRICT_CODE: &str = "district_code";
    pub const CATEGORY_CODE: &str = "category_code";
    pub const SUBTYPE_CODE: &str = "subtype_code";
    pub const OTOP_STARS: &str = "otop_stars";
    pub const PRICE_SATANG: &str = "price_satang";
    pub const AVAILABLE_STOCK: &str = "available_stock";
    pub const PUBLISHED_AT: &str = "published_at";
    pub const UNITS_SOLD: &str = "units_sold";
}

impl Fields {
    /// The searchable text fields with their weights, most important first.
    pub fn searchable(&self) -> [(Field, f32); 4] {
        [
            (self.title, 4.0),
            (self.tags, 2.0),
            (self.names, 1.5),
            (self.description, 1.0),
        ]
    }

    /// The raw term of a listing id.
    pub fn id_term(&self, id: Uuid) -> Term {
        Term::from_field_text(self.id, &id.hyphenated().to_string())
    }
}

/// Builds the schema; an index opened from disk must have exactly this schema.
pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    // Derived keys are already normalised and space-separated.
    let keys = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("whitespace")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING),
        id_hi: builder.add_u64_field(names::ID_HI, FAST),
        id_lo: builder.add_u64_field(names::ID_LO, FAST),
        vendor_id: builder.add_text_field("vendor_id", STRING),
        title: builder.add_text_field("title", text.clone()),
        tags: builder.add_text_field("tags", text.clone()),
        names: builder.add_text_field("names", text.clone()),
        description: builder.add_text_field("description", text),
        romanized: builder.add_text_field("romanized", keys.clone()),
        sounds: builder.add_text_field("sounds", keys),
        district_code: builder.add_text_field(names::DISTRICT_CODE, STRING | FAST),
        category_code: builder.add_text_field(names::CATEGORY_CODE, STRING | FAST),
        subtype_code: builder.add_text_field(names::SUBTYPE_CODE, STRING | FAST),
        otop_stars: builder.add_u64_field(names::OTOP_STARS, INDEXED | FAST),
        price_satang: builder.add_u64_field(names::PRICE_SATANG, INDEXED | FAST),
        available_stock: builder.add_u64_field(names::AVAILABLE_STOCK, INDEXED | FAST),
        published_at: builder.add_i64_field(names::PUBLISHED_AT, FAST),
        units_sold: builder.add_u64_field(names::UNITS_SOLD, FAST),
        source: builder.add_text_field("source", STORED),
    };
    (builder.build(), fields)
}

/// The tantivy document of a listing.
pub(crate) fn to_document(
    fields: &Fields,
    listing: &ListingDocument,
    matching: Matching,
) -> Result<TantivyDocument, SearchError> {
    let source =
        serde_json::to_string(listing).map_err(|error| SearchError::Corrupt(error.to_string()))?;
    let mut doc = TantivyDocument::default();
    let id = listing.id.as_u128();
    doc.add_text(fields.id, listing.id.hyphenated().to_string());
    doc.add_u64(fields.id_hi, (id >> 64) as u64);
    doc.add_u64(fields.id_lo, id as u64);
    doc.add_text(fields.vendor_id, listing.vendor_id.hyphenated().to_string());
    doc.add_text(fields.title, &listing.title_th);
    let optional = [
        (fields.title, &listing.title_en),
        (fields.names, &listing.vendor_name_en),
        (fields.description, &listing.description_th),
        (fields.description, &listing.description_en),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            doc.add_text(field, value);
        }
    }
    for tag in &listing.tags {
        doc.add_text(fields.tags, tag);
    }
    for name in [
        &listing.vendor_name_th,
        &listing.district_name_th,
        &listing.district_name_en,
        &listing.category_name_th,
        &listing.category_name_en,
        &listing.subtype_name_th,
        &listing.subtype_name_en,
    ] {
        doc.add_text(fields.names, name);
    }
    if matching.forgives() {
        let derived = crate::forgiving::derived(listing);
        doc.add_text(fields.romanized, &derived.romanized);
        doc.add_text(fields.sounds, &derived.sounds);
    }
    doc.add_text(fields.district_code, &listing.district_code);
    doc.add_text(fields.category_code, &listing.category_code);
    doc.add_text(fields.subtype_code, &listing.subtype_code);
    if let Some(stars) = listing.otop_stars {
        doc.add_u64(fields.otop_stars, u64::from(stars));
    }
    doc.add_u64(fields.price_satang, listing.price_satang);
    doc.add_u64(fields.available_stock, listing.available_stock);
    doc.add_i64(fields.published_at, listing.published_at.timestamp());
    doc.add_u64(fields.units_sold, listing.units_sold);
    doc.add_text(fields.source, source);
    Ok(doc)
}
