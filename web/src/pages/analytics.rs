//! `/analytics`: the analysts' dashboard. It reads the query parameters of
//! `GET /v1/analytics/sales` (period, `group_by`, filters) into the same `SalesQuery` and runs
//! the same `otop_app::analytics` functions: a table of exactly what the API returns for
//! those parameters (grouped by district when `group_by` is left out), its totals, and four
//! charts drawn on the server over the same period and filters (net sales by district as
//! bars, by month and category stacked, by month as a line, and the top listings), each with
//! the table of its figures beside it and a CSV download of exactly that table.
//! Analysts and admins only, as the API.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use otop_app::analytics::{SalesQuery, SalesRow, TopListingsQuery};
use otop_app::AppState;
use otop_domain::Actor;

use super::{csv_download, html, query_escape};
use crate::charts;
use crate::error::PageError;
use crate::format::{baht, month, Lang};
use crate::i18n::{category_name, district_name, subtype_name};
use crate::layout::Layout;
use crate::session::Visitor;

/// The grouping of the main table when the query names none.
const DEFAULT_GROUP_BY: &str = "district";

pub struct DashTexts {
    pub title: &'static str,
    pub period: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub group_by: &'static str,
    pub show: &'static str,
    pub totals: &'static str,
    pub orders: &'static str,
    pub units: &'static str,
    pub gross: &'static str,
    pub refunds: &'static str,
    pub net: &'static str,
    pub download_csv: &'static str,
    pub by_district: &'static str,
    pub by_district_desc: &'static str,
    pub by_category: &'static str,
    pub by_category_desc: &'static str,
    pub by_month: &'static str,
    pub by_month_desc: &'static str,
    pub top: &'static str,
    pub top_desc: &'static str,
    pub axis_baht: &'static str,
    pub no_sales: &'static str,
    pub table: &'static str,
}

const DASH_TH: DashTexts = DashTexts {
    title: "ภาพรวมยอดขาย",
    period: "ช่วงเวลา",
    from: "ตั้งแต่วันที่",
    to: "ถึงวันที่",
    group_by: "จัดกลุ่มตาม (district, category, subtype, vendor, day, month)",
    show: "แสดง",
    totals: "ยอดรวม",
    orders: "คำสั่งซื้อ",
    units: "ชิ้น",
    gross: "ยอดขาย",
    refunds: "คืนเงิน",
    net: "ยอดสุทธิ",
    download_csv: "ดาวน์โหลด CSV",
    by_district: "ยอดขายสุทธิตามอำเภอ",
    by_district_desc: "แผนภูมิแท่งแนวนอน ยอดขายสุทธิเป็นบาทของแต่ละอำเภอ เรียงจากมากไปน้อย",
    by_category: "ยอดขายสุทธิรายเดือนตามหมวดสินค้า",
    by_category_desc: "แผนภูมิแท่งซ้อน ยอดขายสุทธิเป็นบาทของแต่ละเดือน แยกตามหมวดสินค้า",
    by_month: "ยอดขายสุทธิรายเดือน",
    by_month_desc: "แผนภูมิเส้น ยอดขายสุทธิเป็นบาทของแต่ละเดือน",
    top: "สินค้าขายดี",
    top_desc: "แผนภูมิแท่งแนวนอน สินค้าสิบอันดับแรกตามยอดขายสุทธิเป็นบาท",
    axis_baht: "ยอดขายสุทธิ (บาท)",
    no_sales: "ยังไม่มียอดขายในช่วงนี้",
    table: "ตาราง",
};

const DASH_EN: DashTexts = DashTexts {
    title: "Sales dashboard",
    period: "Period",
    from: "From",
    to: "To",
    group_by: "Group by (district, category, subtype, vendor, day, month)",
    show: "Show",
    totals: "Totals",
    orders: "Orders",
    units: "Units",
    gross: "Gross",
    refunds: "Refunds",
    net: "Net",
    download_csv: "Download CSV",
    by_district: "Net sales by district",
    by_district_desc: "Horizontal bars: each district's net sales in baht, largest first",
    by_category: "Net sales by month and category",
    by_category_desc: "Stacked columns: each month's net sales in baht, split by category",
    by_month: "Net sales by month",
    by_month_desc: "Line: each month's net sales in baht",
    top: "Top listings",
    top_desc: "Horizontal bars: the ten listings with the most net sales, in baht",
    axis_baht: "Net sales (baht)",
    no_sales: "No sales in this period yet",
    table: "Table",
};

fn dash_texts(lang: Lang) -> &'static DashTexts {
    match lang {
        Lang::Th => &DASH_TH,
        Lang::En => &DASH_EN,
    }
}

/// One row of a figures table: the group's label and its figures.
pub struct FigureRow {
    pub label: String,
    pub orders: i64,
    pub units: i64,
    pub gross_satang: i64,
    pub refunds_satang: i64,
    pub net_satang: i64,
    pub gross: String,
    pub refunds: String,
    pub net: String,
}

fn money(satang: i64) -> String {
    if satang < 0 {
        format!("-{}", baht(satang.unsigned_abs()))
    } else {
        baht(satang.unsigned_abs())
    }
}

fn figure_row(label: String, row: &SalesRow) -> FigureRow {
    FigureRow {
        label,
        orders: row.orders,
        units: row.units,
        gross_satang: row.gross_satang,
        refunds_satang: row.refunds_satang,
        net_satang: row.net_satang,
        gross: money(row.gross_satang),
        refunds: money(row.refunds_satang),
        net: money(row.net_satang),
    }
}

/// A grouped row's label: its dimensions' names in the reader's language, joined.
fn row_label(row: &SalesRow, lang: Lang) -> String {
    let mut parts = Vec::new();
    if let Some(code) = &row.district_code {
        parts.push(district_name(code, lang));
    }
    if let Some(code) = &row.category_code {
        parts.push(category_name(code, lang));
    }
    if let Some(code) = &row.subtype_code {
        parts.push(subtype_name(code, lang));
    }
    if let Some(id) = &row.vendor_id {
        parts.push(
            row.vendor_name_th
                .text()
                .map_or_else(|| id.to_string(), str::to_string),
        );
    }
    if let Some(day) = &row.day {
        parts.push(day.clone());
    }
    if let Some(ym) = &row.month {
        parts.push(month(ym, lang));
    }
    parts.join(" · ")
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub svg: String,
    pub rows: Vec<FigureRow>,
    /// The CSV of exactly this chart's table.
    pub csv_href: String,
}

#[derive(Template)]
#[template(path = "analytics.html")]
pub struct DashboardPage {
    pub l: Layout,
    pub d: &'static DashTexts,
    pub from: String,
    pub to: String,
    pub group_by: String,
    pub table: Vec<FigureRow>,
    pub totals: FigureRow,
    pub csv_href: String,
    pub charts: Vec<Chart>,
}

/// `name=value` pairs of the given parameters that are set, escaped.
fn pairs(fields: &[(&str, &Option<String>)]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("{name}={}", query_escape(v)))
        })
        .collect()
}

/// The dashboard's query string for the same period and filters with another grouping.
fn with_group_by(query: &SalesQuery, group_by: &str) -> String {
    let mut parts = pairs(&[
        ("from", &query.from),
        ("to", &query.to),
        ("district", &query.district),
        ("category", &query.category),
        ("subtype", &query.subtype),
        ("vendor", &query.vendor),
    ]);
    parts.push(format!("group_by={}", query_escape(group_by)));
    parts.join("&")
}

/// The top listings' query string: the period and vendors (the filters they take).
fn top_listings_query(query: &SalesQuery) -> String {
    pairs(&[
        ("from", &query.from),
        ("to", &query.to),
        ("vendor", &query.vendor),
    ])
    .join("&")
}

fn read_query(raw: Option<String>) -> Result<SalesQuery, PageError> {
    let raw = raw.unwrap_or_default();
    let mut query: SalesQuery = serde_urlencoded::from_str(&raw)
        .map_err(|error| PageError::BadForm(format!("the query is not readable: {error}")))?;
    // A blank form field is no filter, as a left-out parameter is.
    for field in [
        &mut query.from,
        &mut query.to,
        &mut query.group_by,
        &mut query.district,
        &mut query.category,
        &mut query.subtype,
        &mut query.vendor,
    ] {
        if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *field = None;
        }
    }
    Ok(query)
}

fn require_signed_in(visitor: &Visitor) -> Result<&Actor, PageError> {
    visitor.require_actor("/analytics")
}

pub async fn dashboard(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let actor = require_signed_in(&visitor)?.clone();
    let lang = visitor.lang;
    let d = dash_texts(lang);
    let query = read_query(raw)?;
    let group_by = query
        .group_by
        .clone()
        .unwrap_or_else(|| DEFAULT_GROUP_BY.to_string());
    // The main table and the three charts' groupings in one scan of the facts (it checks
    // the role and every parameter, as the API does), and the top listings beside it on a
    // connection of their own.
    let groupings = [group_by.as_str(), "district", "month,category", "month"];
    let top_query = TopListingsQuery {
        from: query.from.clone(),
        to: query.to.clone(),
        vendor: query.vendor.clone(),
        ..TopListingsQuery::default()
    };
    let (reports, top) = tokio::try_join!(
        otop_app::analytics::sales_grouped_many(&state, &actor, &query, &groupings),
        otop_app::analytics::top_listings(&state, &actor, &top_query),
    )?;
    let mut reports = reports.into_iter();
    let (Some(main), Some(by_district), Some(by_month_category), Some(by_month)) = (
        reports.next(),
        reports.next(),
        reports.next(),
        reports.next(),
    ) else {
        return Err(PageError::internal(
            "a grouping of the dashboard is missing",
        ));
    };

    let mut charts = Vec::new();
    // By district, largest first.
    let mut districts: Vec<&SalesRow> = by_district.rows.iter().collect();
    districts.sort_by_key(|r| std::cmp::Reverse(r.net_satang));
    charts.push(Chart {
        id: "by-district",
        title: d.by_district,
        svg: charts::bars(
            "by-district",
            d.by_district,
            d.by_district_desc,
            d.axis_baht,
            &districts
                .iter()
                .map(|r| (row_label(r, lang), r.net_satang))
                .collect::<Vec<_>>(),
        ),
        rows: districts
            .iter()
            .map(|r| figure_row(row_label(r, lang), r))
            .collect(),
        csv_href: format!("/analytics/sales.csv?{}", with_group_by(&query, "district")),
    });
    // By month and category, stacked.
    let months: Vec<String> = by_month
        .rows
        .iter()
        .filter_map(|r| r.month.clone())
        .collect();
    let mut categories: Vec<String> = by_month_category
        .rows
        .iter()
        .filter_map(|r| r.category_code.clone())
        .collect();
    categories.sort();
    categories.dedup();
    let series: Vec<(String, Vec<i64>)> = categories
        .iter()
        .map(|category| {
            let values = months
                .iter()
                .map(|m| {
                    by_month_category
                        .rows
                        .iter()
                        .filter(|r| {
                            r.month.as_ref() == Some(m)
                                && r.category_code.as_ref() == Some(category)
                        })
                        .map(|r| r.net_satang)
                        .sum()
                })
                .collect();
            (category_name(category, lang), values)
        })
        .collect();
    let month_labels: Vec<String> = months.iter().map(|m| month(m, lang)).collect();
    charts.push(Chart {
        id: "by-category",
        title: d.by_category,
        svg: charts::stacked(
            "by-category",
            d.by_category,
            d.by_category_desc,
            d.axis_baht,
            &month_labels,
            &series,
        ),
        rows: by_month_category
            .rows
            .iter()
            .map(|r| figure_row(row_label(r, lang), r))
            .collect(),
        csv_href: format!(
            "/analytics/sales.csv?{}",
            with_group_by(&query, "month,category")
        ),
    });
    charts.push(Chart {
        id: "by-month",
        title: d.by_month,
        svg: charts::line(
            "by-month",
            d.by_month,
            d.by_month_desc,
            d.axis_baht,
            &by_month
                .rows
                .iter()
                .map(|r| (row_label(r, lang), r.net_satang))
                .collect::<Vec<_>>(),
        ),
        rows: by_month
            .rows
            .iter()
            .map(|r| figure_row(row_label(r, lang), r))
            .collect(),
        csv_href: format!("/analytics/sales.csv?{}", with_group_by(&query, "month")),
    });
    let top_label = |title_th: &Option<String>, title_en: &Option<String>| match lang {
        Lang::En => title_en.clone().or_else(|| title_th.clone()),
        Lang::Th => title_th.clone(),
    };
    charts.push(Chart {
        id: "top-listings",
        title: d.top,
        svg: charts::bars(
            "top-listings",
            d.top,
            d.top_desc,
            d.axis_baht,
            &top.rows
                .iter()
                .map(|r| {
                    (
                        top_label(&r.title_th, &r.title_en)
                            .unwrap_or_else(|| r.listing_id.to_string()),
                        r.net_satang,
                    )
                })
                .collect::<Vec<_>>(),
        ),
        rows: top
            .rows
            .iter()
            .map(|r| FigureRow {
                label: top_label(&r.title_th, &r.title_en)
                    .unwrap_or_else(|| r.listing_id.to_string()),
                orders: r.orders,
                units: r.units,
                gross_satang: r.gross_satang,
                refunds_satang: r.refunds_satang,
                net_satang: r.net_satang,
                gross: money(r.gross_satang),
                refunds: money(r.refunds_satang),
                net: money(r.net_satang),
            })
            .collect(),
        csv_href: format!("/analytics/top-listings.csv?{}", top_listings_query(&query)),
    });

    let t = &main.totals;
    let totals = FigureRow {
        label: d.totals.to_string(),
        orders: t.orders,
        units: t.units,
        gross_satang: t.gross_satang,
        refunds_satang: t.refunds_satang,
        net_satang: t.net_satang,
        gross: money(t.gross_satang),
        refunds: money(t.refunds_satang),
        net: money(t.net_satang),
    };
    let table = main
        .rows
        .iter()
        .map(|r| figure_row(row_label(r, lang), r))
        .collect();
    let l = Layout::new(
        &state,
        &visitor,
        "/analytics",
        d.title.to_string(),
        d.title.to_string(),
        false,
    )
    .await?;
    html(&DashboardPage {
        l,
        d,
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
        csv_href: format!("/analytics/sales.csv?{}", with_group_by(&query, &group_by)),
        group_by,
        table,
        totals,
        charts,
    })
}

/// `/analytics/sales.csv`: the rows of the dashboard's table for these parameters, as
/// `GET /v1/analytics/sales` with `Accept: text/csv` gives them.
pub async fn sales_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let actor = require_signed_in(&visitor)?.clone();
    let mut query = read_query(raw)?;
    if query.group_by.is_none() {
        query.group_by = Some(DEFAULT_GROUP_BY.to_string());
    }
    let report = otop_app::analytics::sales(&state, &actor, &query).await?;
    let text = otop_app::analytics::sales_csv(&report).finish()?;
    Ok(csv_download(text, "sales.csv"))
}

/// `/analytics/top-listings.csv`: the top listings' table, as the API's CSV gives it.
pub async fn top_listings_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let actor = require_signed_in(&visitor)?.clone();
    let query: TopListingsQuery = serde_urlencoded::from_str(&raw.unwrap_or_default())
        .map_err(|error| PageError::BadForm(format!("the query is not readable: {error}")))?;
    let report = otop_app::analytics::top_listings(&state, &actor, &query).await?;
    let text = otop_app::analytics::top_listings_csv(&report).finish()?;
    Ok(csv_download(text, "top-listings.csv"))
}
