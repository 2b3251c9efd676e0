//! The sales rules, pure: Bangkok days, months and years, how an amount is shared among an
//! order's lines, how an order counts in each cell, and the additive measures of a fact.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::BANGKOK_OFFSET_HOURS;

/// The Asia/Bangkok calendar day of an instant.
pub fn bangkok_day(at: DateTime<Utc>) -> NaiveDate {
    at.checked_add_signed(chrono::Duration::hours(BANGKOK_OFFSET_HOURS))
        .unwrap_or(at)
        .date_naive()
}

/// Splits `amount` among `weights` in proportion, in whole units: each gets the floor of its
/// exact share, then the units left over go one each to the largest remainders (ties: the
/// earlier index). The shares add up to `amount` exactly. With no weight at all, the first
/// entry takes everything.
pub fn allocate(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut shares = vec![0u64; weights.len()];
    if weights.is_empty() {
        return shares;
    }
    if total == 0 {
        shares[0] = amount;
        return shares;
    }
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u64 = 0;
    for (index, &weight) in weights.iter().enumerate() {
        let exact = u128::from(amount) * u128::from(weight);
        // exact / total <= amount, so it fits in u64.
        let share = u64::try_from(exact / total).unwrap_or(u64::MAX);
        shares[index] = share;
        given = given.saturating_add(share);
        remainders.push((exact % total, index));
    }
    // Largest remainder first, then the earlier line.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = amount.saturating_sub(given);
    for (_, index) in remainders
        .into_iter()
        .take(usize::try_from(left).unwrap_or(0))
    {
        shares[index] += 1;
    }
    shares
}

/// One line of an order as the sales projection remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    pub listing_id: Uuid,
    pub quantity: u32,
    /// unit price × quantity, as placed.
    pub amount_satang: u64,
    pub category_code: String,
    pub subtype_code: String,
    /// This line's share of the payment.
    pub paid_satang: u64,
    /// This line's share of everything refunded so far.
    pub refunded_satang: u64,
}

/// How one order counts in each of its (category, sub-type) cells: `(by_subtype,
/// by_category, overall)`, each 0 or 1, such that summing over any grouping's rows counts
/// each order once per group.
pub fn order_cells(lines: &[SaleLine]) -> BTreeMap<(String, String), (i64, i64, i64)> {
    let cells: BTreeSet<(String, String)> = lines
        .iter()
        .map(|l| (l.category_code.clone(), l.subtype_code.clone()))
        .collect();
    let overall = cells.iter().next().cloned();
    let mut first_of_category: BTreeMap<&str, &str> = BTreeMap::new();
    for (category, subtype) in &cells {
        first_of_category
            .entry(category.as_str())
            .or_insert(subtype.as_str());
    }
    cells
        .iter()
        .map(|cell| {
            let by_category =
                i64::from(first_of_category.get(cell.0.as_str()) == Some(&cell.1.as_str()));
            let is_overall = i64::from(overall.as_ref() == Some(cell));
            (cell.clone(), (1, by_category, is_overall))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Measures {
    pub(super) orders_by_subtype: i64,
    pub(super) orders_by_category: i64,
    pub(super) orders_overall: i64,
    pub(super) units: i64,
    pub(super) gross: i64,
    pub(super) refunds: i64,
}

impl Measures {
    pub(super) fn add(&mut self, other: Measures) {
        self.orders_by_subtype += other.orders_by_subtype;
        self.orders_by_category += other.orders_by_category;
        self.orders_overall += other.orders_overall;
        self.units += other.units;
        self.gross += other.gross;
        self.refunds += other.refunds;
    }
}

/// The first day of the month of `day`.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// 1 January of the year of `day`.
pub fn year_of(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_and_proportional() {
        assert_eq!(allocate(100, &[1, 1, 1]), [34, 33, 33]);
        assert_eq!(allocate(100, &[1, 1, 2]), [25, 25, 50]);
        assert_eq!(allocate(1, &[1, 1]), [1, 0]);
        assert_eq!(allocate(0, &[5, 7]), [0, 0]);
        assert_eq!(allocate(7, &[0, 0]), [7, 0]);
        assert_eq!(allocate(5, &[]), Vec::<u64>::new());
        // 10 over 3:7 -> 3, 7; 11 over 3:7 -> 3.3, 7.7 -> 3, 8.
        assert_eq!(allocate(11, &[3, 7]), [3, 8]);
        for amount in [0u64, 1, 2, 99, 1_000_000_007] {
            let weights = [350_000u64, 12_345, 1, 99_999];
            let shares = allocate(amount, &weights);
            assert_eq!(shares.iter().sum::<u64>(), amount);
        }
    }

    #[test]
    fn refunds_never_pass_a_line_and_a_full_refund_zeroes_every_line() {
        let paid = [1u64, 1, 1, 7];
        let mut refunded = [0u64; 4];
        for amount in [1u64, 1, 1, 2] {
            let remaining: Vec<u64> = paid.iter().zip(&refunded).map(|(p, r)| p - r).collect();
            for (r, share) in refunded.iter_mut().zip(allocate(amount, &remaining)) {
                *r += share;
            }
            assert!(refunded.iter().zip(&paid).all(|(r, p)| r <= p));
        }
        let remaining: Vec<u64> = paid.iter().zip(&refunded).map(|(p, r)| p - r).collect();
        let left: u64 = remaining.iter().sum();
        for (r, share) in refunded.iter_mut().zip(allocate(left, &remaining)) {
            *r += share;
        }
        assert_eq!(refunded, paid);
    }

    #[test]
    fn bangkok_days_start_at_17_utc() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("time")
                .with_timezone(&Utc)
        };
        assert_eq!(
            bangkok_day(at("2026-01-31T16:59:59Z")).to_string(),
            "2026-01-31"
        );
        assert_eq!(
            bangkok_day(at("2026-01-31T17:00:00Z")).to_string(),
            "2026-02-01"
        );
    }

    fn line(category: &str, subtype: &str) -> SaleLine {
        SaleLine {
            listing_id: Uuid::new_v4(),
            quantity: 1,
            amount_satang: 100,
            category_code: category.into(),
            subtype_code: subtype.into(),
            paid_satang: 100,
            refunded_satang: 0,
        }
    }

    #[test]
    fn an_order_counts_once_per_group_at_every_level() {
        let lines = [
            line("TEXTILE", "TEX_SILK_MUDMEE"),
            line("TEXTILE", "TEX_SCARF"),
            line("TEXTILE", "TEX_SCARF"),
            line("CRAFT", "CRF_WOOD"),
        ];
        let cells = order_cells(&lines);
        assert_eq!(cells.len(), 3);
        let sum = |f: fn(&(i64, i64, i64)) -> i64| cells.values().map(f).sum::<i64>();
        assert_eq!(sum(|c| c.0), 3, "one per sub-type");
        assert_eq!(sum(|c| c.1), 2, "one per category");
        assert_eq!(sum(|c| c.2), 1, "one overall");
        assert_eq!(
            cells[&("TEXTILE".to_string(), "TEX_SCARF".to_string())],
            (1, 1, 0),
            "the lowest sub-type code of the category holds its count"
        );
        assert_eq!(
            cells[&("CRAFT".to_string(), "CRF_WOOD".to_string())],
            (1, 1, 1)
        );
    }
}
