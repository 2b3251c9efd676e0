//! The analytics reports as CSV, exactly as the reports hold them.

use super::*;
use crate::csv::{opt, CsvWriter};

/// The report's rows as CSV: the grouped dimensions' columns (codes and names), then the
/// figures, exactly as the report holds them.
pub fn sales_csv(report: &SalesReport) -> CsvWriter {
    let group_by: Vec<Dimension> = report
        .group_by
        .iter()
        .filter_map(|name| Dimension::ALL.into_iter().find(|d| d.name() == name))
        .collect();
    let group_by = &group_by;
    let rows = &report.rows;
    let mut header: Vec<&str> = group_by
        .iter()
        .flat_map(|d| d.csv_columns().iter().copied())
        .collect();
    header.extend([
        "orders",
        "units",
        "gross_satang",
        "refunds_satang",
        "net_satang",
    ]);
    let mut csv = CsvWriter::new(header);
    let flat = |name: &Label| name.text().unwrap_or_default().to_string();
    for row in rows {
        let mut fields = Vec::new();
        for dimension in group_by {
            match dimension {
                Dimension::District => fields.extend([
                    opt(&row.district_code),
                    flat(&row.district_name_th),
                    flat(&row.district_name_en),
                ]),
                Dimension::Category => fields.extend([
                    opt(&row.category_code),
                    flat(&row.category_name_th),
                    flat(&row.category_name_en),
                ]),
                Dimension::Subtype => fields.extend([
                    opt(&row.subtype_code),
                    flat(&row.subtype_name_th),
                    flat(&row.subtype_name_en),
                ]),
                Dimension::Vendor => {
                    fields.extend([opt(&row.vendor_id), flat(&row.vendor_name_th)])
                }
                Dimension::Day => fields.push(opt(&row.day)),
                Dimension::Month => fields.push(opt(&row.month)),
            }
        }
        fields.extend([
            row.orders.to_string(),
            row.units.to_string(),
            row.gross_satang.to_string(),
            row.refunds_satang.to_string(),
            row.net_satang.to_string(),
        ]);
        csv.row(fields);
    }
    csv
}

/// The top listings as CSV, exactly as the report holds them.
pub fn top_listings_csv(report: &TopListings) -> CsvWriter {
    let rows = &report.rows;
    let mut csv = CsvWriter::new([
        "rank",
        "listing_id",
        "vendor_id",
        "title_th",
        "title_en",
        "category_code",
        "subtype_code",
        "orders",
        "units",
        "gross_satang",
        "refunds_satang",
        "net_satang",
    ]);
    for row in rows {
        csv.row([
            row.rank.to_string(),
            row.listing_id.to_string(),
            row.vendor_id.to_string(),
            opt(&row.title_th),
            opt(&row.title_en),
            opt(&row.category_code),
            opt(&row.subtype_code),
            row.orders.to_string(),
            row.units.to_string(),
            row.gross_satang.to_string(),
            row.refunds_satang.to_string(),
            row.net_satang.to_string(),
        ]);
    }
    csv
}
