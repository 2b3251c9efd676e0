//! How a range of Bangkok days splits into the coarsest pieces the sales rollups answer
//! exactly: whole years (per-listing rollup only), whole months, and the odd days at either
//! end, which only the day facts hold. Pure: the queries turn each piece into a condition on
//! the table that holds it.

use chrono::{Datelike, NaiveDate};
use otop_projections::read_models::sales::{month_of, year_of};

/// Half-open `[start, end)`; `None` is unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl Span {
    fn new(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Option<Span> {
        before(start, end).then_some(Span { start, end })
    }

    /// The span between two bounds of the same side of the range: nothing when they are
    /// equal (both unbounded included).
    fn between(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Option<Span> {
        if start == end {
            return None;
        }
        Span::new(start, end)
    }

    /// The SQL condition that `column` (a date) lies in the span. The bounds are dates this
    /// module computed, so writing them as literals is safe, and lets the planner see them.
    pub fn condition(&self, column: &str) -> String {
        let mut parts = Vec::new();
        if let Some(start) = self.start {
            parts.push(format!("{column} >= DATE '{start}'"));
        }
        if let Some(end) = self.end {
            parts.push(format!("{column} < DATE '{end}'"));
        }
        if parts.is_empty() {
            return "TRUE".to_string();
        }
        parts.join(" AND ")
    }

    /// The 1 January of the span when it is exactly one year: what the year rollup's index
    /// then ranks directly.
    pub fn single_year(&self) -> Option<NaiveDate> {
        let (start, end) = (self.start?, self.end?);
        (NaiveDate::from_ymd_opt(start.year() + 1, 1, 1) == Some(end)).then_some(start)
    }
}

/// The pieces of a range, each day in exactly one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// Days read from the day facts, at the start and at the end of the range.
    pub days: Vec<Span>,
    /// Spans of month starts read from a month rollup.
    pub months: Vec<Span>,
    /// A span of year starts read from a year rollup.
    pub years: Option<Span>,
}

impl Split {
    /// Whether any piece is read from a rollup.
    pub fn uses_rollups(&self) -> bool {
        !self.months.is_empty() || self.years.is_some()
    }

    /// The SQL condition selecting the day facts' part of the range (`FALSE` when none).
    pub fn days_condition(&self, column: &str) -> String {
        any(&self.days, column)
    }

    /// The SQL condition selecting the month rollup's part (`FALSE` when none).
    pub fn months_condition(&self, column: &str) -> String {
        any(&self.months, column)
    }
}

fn any(spans: &[Span], column: &str) -> String {
    if spans.is_empty() {
        return "FALSE".to_string();
    }
    let parts: Vec<String> = spans
        .iter()
        .map(|span| format!("({})", span.condition(column)))
        .collect();
    parts.join(" OR ")
}

/// Which rollups a query may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Levels {
    Months,
    MonthsAndYears,
}

/// Splits the Bangkok days `from..=to` (either side may be unbounded) into whole years (with
/// `Levels::MonthsAndYears`), whole months and the days left at either end.
pub fn split(from: Option<NaiveDate>, to: Option<NaiveDate>, levels: Levels) -> Split {
    let all_days = |end: Option<NaiveDate>| Split {
        days: Span::new(from, end).into_iter().collect(),
        ..Split::default()
    };
    // The day after the last. A range ending on the last representable day (or starting
    // past the last representable month) reads days only.
    let end = match to.map(|to| to.succ_opt()) {
        Some(None) => return all_days(None),
        Some(end) => end,
        None => None,
    };
    let Some(first_month) = lower(from, ceil_month) else {
        return all_days(end);
    };
    let end_month = end.map(month_of);
    if !before(first_month, end_month) {
        return all_days(end);
    }
    let mut out = Split::default();
    out.days.extend(Span::between(from, first_month));
    let first_year = lower(first_month, ceil_year);
    let end_year = end_month.map(year_of);
    match first_year {
        Some(first_year) if levels == Levels::MonthsAndYears && before(first_year, end_year) => {
            out.months.extend(Span::between(first_month, first_year));
            out.years = Span::new(first_year, end_year);
            out.months.extend(Span::between(end_year, end_month));
        }
        _ => out.months.extend(Span::new(first_month, end_month)),
    }
    out.days.extend(Span::between(end_month, end));
    out
}

/// A lower bound moved up by `ceil` (unbounded stays unbounded); `None` when `ceil` runs
/// past the calendar.
fn lower(
    bound: Option<NaiveDate>,
    ceil: fn(NaiveDate) -> Option<NaiveDate>,
) -> Option<Option<NaiveDate>> {
    match bound {
        None => Some(None),
        Some(day) => ceil(day).map(Some),
    }
}

/// `start < end`, where `None` is minus infinity for `start` and plus infinity for `end`.
fn before(start: Option<NaiveDate>, end: Option<NaiveDate>) -> bool {
    match (start, end) {
        (Some(start), Some(end)) => start < end,
        _ => true,
    }
}

fn ceil_month(day: NaiveDate) -> Option<NaiveDate> {
    if day.day() == 1 {
        return Some(day);
    }
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn ceil_year(day: NaiveDate) -> Option<NaiveDate> {
    if day.ordinal() == 1 {
        return Some(day);
    }
    NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn inside(span: &Span, value: NaiveDate) -> bool {
        span.start.is_none_or(|s| value >= s) && span.end.is_none_or(|e| value < e)
    }

    /// How many pieces hold `d`: day pieces by the day, month pieces by its month's first
    /// day, year pieces by its 1 January.
    fn holders(split: &Split, d: NaiveDate) -> usize {
        split.days.iter().filter(|s| inside(s, d)).count()
            + split
                .months
                .iter()
                .filter(|s| inside(s, month_of(d)))
                .count()
            + split.years.iter().filter(|s| inside(s, year_of(d))).count()
    }

    fn aligned(split: &Split) -> bool {
        let month_start = |d: &Option<NaiveDate>| d.is_none_or(|d| d.day() == 1);
        let year_start = |d: &Option<NaiveDate>| d.is_none_or(|d| d.ordinal() == 1);
        split
            .months
            .iter()
            .all(|s| month_start(&s.start) && month_start(&s.end))
            && split
                .years
                .iter()
                .all(|s| year_start(&s.start) && year_start(&s.end))
    }

    #[test]
    fn every_day_of_the_range_is_in_exactly_one_piece_and_no_other_day_is() {
        let window: Vec<NaiveDate> = day("2024-11-20")
            .iter_days()
            .take_while(|d| *d <= day("2027-02-10"))
            .collect();
        // Every month's first and last days and a few others, as bounds; and no bound.
        let mut bounds: Vec<Option<NaiveDate>> = window
            .iter()
            .filter(|d| d.day() == 1 || d.succ_opt().is_some_and(|n| n.day() == 1) || d.day() == 15)
            .map(|d| Some(*d))
            .collect();
        bounds.push(None);
        for levels in [Levels::Months, Levels::MonthsAndYears] {
            for from in &bounds {
                for to in &bounds {
                    if let (Some(f), Some(t)) = (from, to) {
                        if f > t {
                            continue;
                        }
                    }
                    let split = split(*from, *to, levels);
                    assert!(aligned(&split), "{from:?}..={to:?}: {split:?}");
                    if levels == Levels::Months {
                        assert!(split.years.is_none());
                    }
                    for d in &window {
                        let wanted = from.is_none_or(|f| *d >= f) && to.is_none_or(|t| *d <= t);
                        assert_eq!(
                            holders(&split, *d),
                            usize::from(wanted),
                            "{d} in {from:?}..={to:?}: {split:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_whole_year_is_one_year_piece_and_odd_ends_are_days() {
        let year = split(
            Some(day("2026-01-01")),
            Some(day("2026-12-31")),
            Levels::MonthsAndYears,
        );
        assert_eq!(year.days, []);
        assert_eq!(year.months, []);
        assert_eq!(
            year.years.and_then(|y| y.single_year()),
            Some(day("2026-01-01"))
        );
        let months = split(
            Some(day("2026-01-01")),
            Some(day("2026-12-31")),
            Levels::Months,
        );
        assert_eq!(months.days, []);
        assert_eq!(months.months.len(), 1);
        let odd = split(
            Some(day("2026-03-15")),
            Some(day("2026-05-10")),
            Levels::Months,
        );
        assert_eq!(odd.days.len(), 2);
        assert_eq!(
            odd.months,
            [Span {
                start: Some(day("2026-04-01")),
                end: Some(day("2026-05-01"))
            }]
        );
        let short = split(
            Some(day("2026-03-02")),
            Some(day("2026-03-30")),
            Levels::Months,
        );
        assert!(!short.uses_rollups());
        let everything = split(None, None, Levels::MonthsAndYears);
        assert_eq!(everything.days, []);
        assert_eq!(
            everything.years,
            Some(Span {
                start: None,
                end: None
            })
        );
        assert_eq!(everything.years.and_then(|y| y.single_year()), None);
    }

    #[test]
    fn conditions_name_the_bounds() {
        let span = Span {
            start: Some(day("2026-01-01")),
            end: None,
        };
        assert_eq!(span.condition("day"), "day >= DATE '2026-01-01'");
        assert_eq!(Split::default().days_condition("day"), "FALSE");
    }
}
