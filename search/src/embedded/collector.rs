//! One pass over the matching documents: the top hits in the asked order, the total, the
//! facet counts and the price range (all over every match, not just the page).

use std::collections::BTreeMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::names;
use crate::query::{price_band_index, Facets, PriceRange, SortOrder, PRICE_BANDS};

/// A document that may make the page: its sort key, its id (tie-breaker) and address.
/// Candidates order ascending by `(key, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Candidate {
    /// The sort key, mapped so that ascending order is the asked order.
    pub key: u64,
    /// The listing id as a number (same order as the id's text).
    pub id: u128,
    /// Where the document is.
    pub address: DocAddress,
}

/// What the collector returns.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// The first `keep` candidates, in order.
    pub top: Vec<Candidate>,
    /// Number of matching documents.
    pub total: u64,
    /// Facet counts.
    pub facets: Facets,
    /// Lowest and highest price.
    pub price: Option<PriceRange>,
}

/// Collects the first `keep` hits in `sort` order plus the figures over all hits.
pub(crate) struct ListingCollector {
    /// Order of the hits.
    pub sort: SortOrder,
    /// How many hits to keep (the page's offset plus its size).
    pub keep: usize,
    /// Whether relevance scores are needed.
    pub scored: bool,
}

/// A string fast field of one segment, with its terms resolved and a count per term.
struct StrFacet {
    column: Option<StrColumn>,
    /// At most one value per document.
    single_valued: bool,
    terms: Vec<String>,
    counts: Vec<u64>,
}

impl StrFacet {
    fn open(segment: &SegmentReader, field: &str) -> tantivy::Result<StrFacet> {
        let column = segment.fast_fields().str(field)?;
        let mut terms = Vec::new();
        if let Some(column) = &column {
            let num_terms = column.dictionary().num_terms() as u64;
            for ord in 0..num_terms {
                let mut term = String::new();
                column.ord_to_str(ord, &mut term)?;
                terms.push(term);
            }
        }
        let counts = vec![0; terms.len()];
        let single_valued = column.as_ref().is_some_and(|column| {
            column.ords().get_cardinality() != tantivy::columnar::Cardinality::Multivalued
        });
        Ok(StrFacet {
            column,
            single_valued,
            terms,
            counts,
        })
    }

    fn count(&mut self, doc: DocId) {
        let Some(column) = &self.column else {
            return;
        };
        // A listing has one district, category and sub-type: read the one ordinal rather
        // than iterate over a multi-valued column's range.
        if self.single_valued {
            if let Some(count) = column
                .ords()
                .first(doc)
                .and_then(|ord| usize::try_from(ord).ok())
                .and_then(|ord| self.counts.get_mut(ord))
            {
                *count += 1;
            }
            return;
        }
        for ord in column.term_ords(doc) {
            if let Some(count) = usize::try_from(ord)
                .ok()
                .and_then(|ord| self.counts.get_mut(ord))
            {
                *count += 1;
            }
        }
    }

    fn harvest(self) -> BTreeMap<String, u64> {
        self.terms
            .into_iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

/// The collector of one segment.
pub(crate) struct ListingSegmentCollector {
    segment: SegmentOrdinal,
    sort: SortOrder,
    keep: usize,
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    price: Column<u64>,
    stock: Column<u64>,
    stars: Column<u64>,
    units: Column<u64>,
    published: Column<i64>,
    districts: StrFacet,
    categories: StrFacet,
    subtypes: StrFacet,
    /// Counts of stars 0 to 7 (a listing has 1 to 5); any other value in `other_stars`.
    star_counts: [u64; 8],
    other_stars: BTreeMap<u64, u64>,
    band_counts: [u64; PRICE_BANDS.len()],
    in_stock: u64,
    total: u64,
    price_range: Option<PriceRange>,
    top: Vec<Candidate>,
    /// The last of the `keep` candidates kept at the latest trim of `top`, once there
    /// were that many.
    worst_kept: Option<Candidate>,
}

/// Maps a sort value so that ascending key order is the asked order.
fn sort_key(sort: SortOrder, score: Score, price: u64, published: i64, units: u64) -> u64 {
    match sort {
        SortOrder::Relevance => {
            let bits = if score.is_finite() && score > 0.0 {
                u64::from(score.to_bits())
            } else {
                0
            };
            u64::MAX - bits
        }
        SortOrder::PriceAsc => price,
        SortOrder::PriceDesc => u64::MAX - price,
        // Flipping the sign bit maps i64 onto u64 keeping the order.
        SortOrder::Newest => u64::MAX - ((published as u64) ^ (1 << 63)),
        SortOrder::BestSelling => u64::MAX - units,
    }
}

/// Keeps the `keep` smallest candidates, sorted.
fn keep_first(top: &mut Vec<Candidate>, keep: usize) {
    if top.len() > keep {
        top.select_nth_unstable(keep);
        top.truncate(keep);
    }
    top.sort_unstable();
}

impl SegmentCollector for ListingSegmentCollector {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        let price = self.price.first(doc).unwrap_or(0);
        self.price_range = Some(match self.price_range {
            None => PriceRange {
                min_satang: price,
                max_satang: price,
            },
            Some(range) => PriceRange {
                min_satang: range.min_satang.min(price),
                max_satang: range.max_satang.max(price),
            },
        });
        self.band_counts[price_band_index(price)] += 1;
        if self.stock.first(doc).unwrap_or(0) > 0 {
            self.in_stock += 1;
        }
        self.districts.count(doc);
        self.categories.count(doc);
        self.subtypes.count(doc);
        if let Some(stars) = self.stars.first(doc) {
            match usize::try_from(stars)
                .ok()
                .and_then(|stars| self.star_counts.get_mut(stars))
            {
                Some(count) => *count += 1,
                None => *self.other_stars.entry(stars).or_insert(0) += 1,
            }
        }
        let key = match self.sort {
            SortOrder::Relevance => sort_key(self.sort, score, 0, 0, 0),
            SortOrder::PriceAsc | SortOrder::PriceDesc => sort_key(self.sort, 0.0, price, 0, 0),
            SortOrder::Newest => {
                sort_key(self.sort, 0.0, 0, self.published.first(doc).unwrap_or(0), 0)
            }
            SortOrder::BestSelling => {
                sort_key(self.sort, 0.0, 0, 0, self.units.first(doc).unwrap_or(0))
            }
        };
        // Once the page is full, a document after its last candidate can never make it:
        // skip it without reading its id.
        if let Some(worst) = self.worst_kept {
            if key > worst.key {
                return;
            }
        }
        let id = (u128::from(self.id_hi.first(doc).unwrap_or(0)) << 64)
            | u128::from(self.id_lo.first(doc).unwrap_or(0));
        if let Some(worst) = self.worst_kept {
            if (key, id) > (worst.key, worst.id) {
                return;
            }
        }
        self.top.push(Candidate {
            key,
            id,
            address: DocAddress::new(self.segment, doc),
        });
        if self.top.len() >= 2 * self.keep.max(64) {
            keep_first(&mut self.top, self.keep);
            self.worst_kept = self
                .keep
                .checked_sub(1)
                .and_then(|last| self.top.get(last))
                .copied();
        }
    }

    fn harvest(mut self) -> Collected {
        keep_first(&mut self.top, self.keep);
        Collected {
            top: self.top,
            total: self.total,
            facets: Facets {
                district_code: self.districts.harvest(),
                category_code: self.categories.harvest(),
                subtype_code: self.subtypes.harvest(),
                otop_stars: (0u64..)
                    .zip(self.star_counts)
                    .filter(|(_, count)| *count > 0)
                    .chain(self.other_stars)
                    .map(|(stars, count)| (stars.to_string(), count))
                    .collect(),
                price_band: PRICE_BANDS
                    .iter()
                    .zip(self.band_counts)
                    .filter(|(_, count)| *count > 0)
                    .map(|(band, count)| (band.code.to_string(), count))
                    .collect(),
                in_stock: [
                    ("true", self.in_stock),
                    ("false", self.total - self.in_stock),
                ]
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .map(|(value, count)| (value.to_string(), count))
                .collect(),
            },
            price: self.price_range,
        }
    }
}

/// A numeric fast field of a segment; a segment without that column reads as having no
/// values rather than failing the search.
fn column<T>(reader: &SegmentReader, field: &str) -> tantivy::Result<Column<T>>
where
    T: tantivy::columnar::HasAssociatedColumnType + PartialOrd + Default,
    tantivy::columnar::DynamicColumn: Into<Option<Column<T>>>,
{
    Ok(reader
        .fast_fields()
        .column_opt(field)?
        .unwrap_or_else(|| Column::build_empty_column(reader.max_doc())))
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (value, count) in from {
        *into.entry(value).or_insert(0) += count;
    }
}

impl Collector for ListingCollector {
    type Fruit = Collected;
    type Child = ListingSegmentCollector;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<ListingSegmentCollector> {
        Ok(ListingSegmentCollector {
            segment,
            sort: self.sort,
            keep: self.keep,
            id_hi: column(reader, names::ID_HI)?,
            id_lo: column(reader, names::ID_LO)?,
            price: column(reader, names::PRICE_SATANG)?,
            stock: column(reader, names::AVAILABLE_STOCK)?,
            stars: column(reader, names::OTOP_STARS)?,
            units: column(reader, names::UNITS_SOLD)?,
            published: column(reader, names::PUBLISHED_AT)?,
            districts: StrFacet::open(reader, names::DISTRICT_CODE)?,
            categories: StrFacet::open(reader, names::CATEGORY_CODE)?,
            subtypes: StrFacet::open(reader, names::SUBTYPE_CODE)?,
            star_counts: [0; 8],
            other_stars: BTreeMap::new(),
            band_counts: [0; PRICE_BANDS.len()],
            in_stock: 0,
            total: 0,
            price_range: None,
            top: Vec::new(),
            worst_kept: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut merged = Collected::default();
        for fruit in fruits {
            merged.total += fruit.total;
            merged.top.extend(fruit.top);
            add_counts(&mut merged.facets.district_code, fruit.facets.district_code);
            add_counts(&mut merged.facets.category_code, fruit.facets.category_code);
            add_counts(&mut merged.facets.subtype_code, fruit.facets.subtype_code);
            add_counts(&mut merged.facets.otop_stars, fruit.facets.otop_stars);
            add_counts(&mut merged.facets.price_band, fruit.facets.price_band);
            add_counts(&mut merged.facets.in_stock, fruit.facets.in_stock);
            merged.price = match (merged.price, fruit.price) {
                (Some(a), Some(b)) => Some(PriceRange {
                    min_satang: a.min_satang.min(b.min_satang),
                    max_satang: a.max_satang.max(b.max_satang),
                }),
                (a, b) => a.or(b),
            };
        }
        keep_first(&mut merged.top, self.keep);
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_as_asked() {
        let key =
            |sort, score, price, published, units| sort_key(sort, score, price, published, units);
        assert!(key(SortOrder::Relevance, 2.5, 0, 0, 0) < key(SortOrder::Relevance, 1.0, 0, 0, 0));
        assert!(key(SortOrder::Relevance, 0.1, 0, 0, 0) < key(SortOrder::Relevance, 0.0, 0, 0, 0));
        assert!(key(SortOrder::PriceAsc, 0.0, 5, 0, 0) < key(SortOrder::PriceAsc, 0.0, 6, 0, 0));
        assert!(key(SortOrder::PriceDesc, 0.0, 6, 0, 0) < key(SortOrder::PriceDesc, 0.0, 5, 0, 0));
        assert!(key(SortOrder::Newest, 0.0, 0, 10, 0) < key(SortOrder::Newest, 0.0, 0, -10, 0));
        assert!(key(SortOrder::Newest, 0.0, 0, 1, 0) < key(SortOrder::Newest, 0.0, 0, 0, 0));
        assert!(
            key(SortOrder::BestSelling, 0.0, 0, 0, 9) < key(SortOrder::BestSelling, 0.0, 0, 0, 3)
        );
    }

    #[test]
    fn keep_first_keeps_the_smallest_in_order() {
        let candidate = |key: u64, id: u128| Candidate {
            key,
            id,
            address: DocAddress::new(0, 0),
        };
        let mut top: Vec<Candidate> = (0..100u64)
            .rev()
            .map(|k| candidate(k / 2, k.into()))
            .collect();
        keep_first(&mut top, 5);
        let keys: Vec<(u64, u128)> = top.iter().map(|c| (c.key, c.id)).collect();
        assert_eq!(keys, [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4)]);
    }
}
