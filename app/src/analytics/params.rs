//! The parameters of an analytics query, checked: a range of Bangkok days, the groupings and
//! the filters, each bad one named.

use chrono::NaiveDate;
use otop_domain::{reference, FieldError};
use otop_projections::read_models::sales::UNKNOWN;
use uuid::Uuid;

use super::*;
use crate::error::AppError;

pub(super) fn parse_day(
    field: &str,
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    let raw = raw?.trim();
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                format!("{raw:?} is not a day like 2026-01-31"),
            ));
            None
        }
    }
}

/// Comma-separated values, each trimmed; an empty item is an error.
pub(super) fn list<'a>(field: &str, raw: &'a str, errors: &mut Vec<FieldError>) -> Vec<&'a str> {
    let items: Vec<&str> = raw.split(',').map(str::trim).collect();
    if items.iter().any(|item| item.is_empty()) {
        errors.push(FieldError::new(field, "has an empty item"));
        return Vec::new();
    }
    if items.len() > MAX_FILTER_VALUES {
        errors.push(FieldError::new(
            field,
            format!("at most {MAX_FILTER_VALUES} values"),
        ));
        return Vec::new();
    }
    items
}

pub(super) fn single<'a>(
    field: &str,
    raw: Option<&'a str>,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    let raw = raw?.trim();
    if raw.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
        return None;
    }
    if raw.contains(',') {
        errors.push(FieldError::new(
            field,
            format!("one {field} at a time (orders are counted exactly per {field})"),
        ));
        return None;
    }
    Some(raw)
}

pub(super) fn parse_vendors(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<Vec<Uuid>> {
    let raw = raw?;
    let mut vendors = Vec::new();
    for item in list("vendor", raw, errors) {
        match Uuid::parse_str(item) {
            Ok(id) => vendors.push(id),
            Err(_) => errors.push(FieldError::new(
                "vendor",
                format!("{item:?} is not a vendor id (a UUID)"),
            )),
        }
    }
    Some(vendors)
}

pub(super) fn check_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    errors: &mut Vec<FieldError>,
) {
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            errors.push(FieldError::new(
                "to",
                format!("{to} is before from ({from})"),
            ));
        }
    }
}

pub(super) fn check_min_position(min_position: Option<i64>, errors: &mut Vec<FieldError>) {
    if min_position.is_some_and(|p| p < 0) {
        errors.push(FieldError::new(
            "min_position",
            "must be a log position (0 or more)",
        ));
    }
}

/// A validated sales query.
#[derive(Debug)]
pub(super) struct SalesRequest {
    pub(super) from: Option<NaiveDate>,
    pub(super) to: Option<NaiveDate>,
    pub(super) group_by: Vec<Dimension>,
    pub(super) districts: Option<Vec<String>>,
    pub(super) category: Option<String>,
    pub(super) subtype: Option<String>,
    pub(super) vendors: Option<Vec<Uuid>>,
}

impl SalesRequest {
    pub(super) fn parse(query: &SalesQuery) -> Result<SalesRequest, AppError> {
        let mut errors = Vec::new();
        let from = parse_day("from", query.from.as_deref(), &mut errors);
        let to = parse_day("to", query.to.as_deref(), &mut errors);
        check_range(from, to, &mut errors);
        let mut group_by = Vec::new();
        if let Some(raw) = query.group_by.as_deref().filter(|r| !r.trim().is_empty()) {
            for item in list("group_by", raw, &mut errors) {
                match Dimension::ALL.into_iter().find(|d| d.name() == item) {
                    Some(dimension) if group_by.contains(&dimension) => errors.push(
                        FieldError::new("group_by", format!("{item} is listed twice")),
                    ),
                    Some(dimension) => group_by.push(dimension),
                    None => errors.push(FieldError::new(
                        "group_by",
                        format!(
                            "{item:?} is not one of district, category, subtype, vendor, day, month"
                        ),
                    )),
                }
            }
            if group_by.contains(&Dimension::Day) && group_by.contains(&Dimension::Month) {
                errors.push(FieldError::new(
                    "group_by",
                    "group by day or by month, not both",
                ));
            }
        }
        let districts = query.district.as_deref().map(|raw| {
            let mut codes = Vec::new();
            for item in list("district", raw, &mut errors) {
                if item == UNKNOWN || reference::district(item).is_some() {
                    codes.push(item.to_string());
                } else {
                    errors.push(FieldError::new(
                        "district",
                        format!("{item:?} is not a Surin district code"),
                    ));
                }
            }
            codes
        });
        let category = single("category", query.category.as_deref(), &mut errors);
        if let Some(code) = category {
            if code != UNKNOWN && reference::category(code).is_none() {
                errors.push(FieldError::new(
                    "category",
                    format!("{code:?} is not an OTOP category code"),
                ));
            }
        }
        let subtype = single("subtype", query.subtype.as_deref(), &mut errors);
        if let Some(code) = subtype {
            match reference::subtype(code) {
                None if code != UNKNOWN => errors.push(FieldError::new(
                    "subtype",
                    format!("{code:?} is not an OTOP sub-type code"),
                )),
                Some(found) if category.is_some_and(|c| c != found.category_code) => {
                    errors.push(FieldError::new(
                        "subtype",
                        format!(
                            "{code} belongs to the category {}, not {}",
                            found.category_code,
                            category.unwrap_or_default()
                        ),
                    ))
                }
                _ => {}
            }
        }
        let vendors = parse_vendors(query.vendor.as_deref(), &mut errors);
        check_min_position(query.min_position, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(SalesRequest {
            from,
            to,
            group_by,
            districts,
            category: category.map(str::to_string),
            subtype: subtype.map(str::to_string),
            vendors,
        })
    }

    /// Whether the rollups, which keep neither the vendor nor the day, cannot answer this.
    pub(super) fn needs_vendor_or_day(&self) -> bool {
        self.vendors.is_some()
            || self
                .group_by
                .iter()
                .any(|d| matches!(d, Dimension::Vendor | Dimension::Day))
    }

    /// Which order count is exact for a grouping (or filter) at this product level.
    pub(super) fn orders_column(&self, grouped: bool) -> &'static str {
        let by = |d: Dimension| grouped && self.group_by.contains(&d);
        if by(Dimension::Subtype) || self.subtype.is_some() {
            "orders_by_subtype"
        } else if by(Dimension::Category) || self.category.is_some() {
            "orders_by_category"
        } else {
            "orders_overall"
        }
    }
}
