//! The analytics queries: which rows of the sales projection answer a request (the coarsest
//! rollup that holds each piece of its range), the SQL that sums them, and the rows built from
//! what it returns.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use otop_domain::{reference, Actor, FieldError};
use otop_projections::ProjectionKind;
use sqlx::Row;
use uuid::Uuid;

use super::params::{check_min_position, check_range, parse_day, parse_vendors, SalesRequest};
use super::periods::{self, Levels};
use super::*;
use crate::auth::require_role;
use crate::error::AppError;
use crate::read_your_writes::wait_for;
use crate::state::AppState;

/// Memory for one analytics query's grouping: a year of a large catalog is hundreds of
/// thousands of fact rows, which the default 4 MB sorts on disk instead of hashing.
pub(super) const ANALYTICS_WORK_MEM: &str = "SET LOCAL work_mem = '64MB'";

pub(super) fn measures(orders_column: &str) -> String {
    format!(
        "coalesce(sum({orders_column}), 0)::bigint AS orders,
         coalesce(sum(units), 0)::bigint AS units,
         coalesce(sum(gross_satang), 0)::bigint AS gross_satang,
         coalesce(sum(refunds_satang), 0)::bigint AS refunds_satang,
         coalesce(sum(net_satang), 0)::bigint AS net_satang"
    )
}

pub(super) const SALES_FILTER: &str = "WHERE ($1::date IS NULL OR day >= $1)
      AND ($2::date IS NULL OR day <= $2)
      AND ($3::text[] IS NULL OR district_code = ANY($3))
      AND ($4::text IS NULL OR category_code = $4)
      AND ($5::text IS NULL OR subtype_code = $5)
      AND ($6::uuid[] IS NULL OR vendor_id = ANY($6))";

/// The columns of a (district, category, sub-type) cell in the facts and the month rollup.
pub(super) const CELL_COLUMNS: &str =
    "district_code, category_code, subtype_code, orders_by_subtype,
      orders_by_category, orders_overall, units, gross_satang, refunds_satang, net_satang";

/// What a sales query reads, aliased `facts`, for [`SALES_FILTER`] to apply to. The day
/// facts, unless no grouping or filter needs the vendor or the day and the range holds a
/// whole month: then the month rollup for its whole months (a year is a few thousand rows,
/// against one per vendor, day and cell) and the day facts only for the odd days at either
/// end. The rollup has no vendor (a null one, never filtered on since no vendor is asked
/// for); its month rows stand at their month's first day, which lies inside the range
/// whenever the month does, so the filter's day bounds hold for them too.
pub(super) fn sales_source(requests: &[SalesRequest]) -> String {
    let facts = || "sales_facts".to_string();
    let Some(first) = requests.first() else {
        return facts();
    };
    if requests.iter().any(SalesRequest::needs_vendor_or_day) {
        return facts();
    }
    let split = periods::split(first.from, first.to, Levels::Months);
    if !split.uses_rollups() {
        return facts();
    }
    format!(
        "(SELECT day, vendor_id, {CELL_COLUMNS} FROM sales_facts WHERE {days}
          UNION ALL
          SELECT month, NULL::uuid, {CELL_COLUMNS} FROM sales_month_facts WHERE {months})
         AS facts",
        days = split.days_condition("day"),
        months = split.months_condition("month"),
    )
}

/// A grouped code's Thai and English labels (unknown when the reference data lacks it).
pub(super) fn named(names: Option<(&str, &str)>) -> (Label, Label) {
    (
        Label::of(names.map(|n| n.0.to_string())),
        Label::of(names.map(|n| n.1.to_string())),
    )
}

/// Sales grouped by any of district, category, subtype, vendor and day or month, with their
/// totals. Days are Asia/Bangkok days; a sale counts when paid, refunds and cancellations
/// after payment reverse it on their own day. One grouping reads its source
/// ([`sales_source`]) twice, for the rows and the totals, each a hash aggregate: over the day
/// facts that measured faster than one `GROUPING SETS` statement, which sorts
/// (docs/benchmarks.md).
pub async fn sales(
    state: &AppState,
    actor: &Actor,
    query: &SalesQuery,
) -> Result<SalesReport, AppError> {
    require_role(actor, ANALYTICS_ROLES, "sales analytics")?;
    let request = SalesRequest::parse(query)?;
    wait_for(state, ProjectionKind::Sales, query.min_position).await?;

    let group_by = &request.group_by;
    let (select, group) = if group_by.is_empty() {
        (String::new(), String::new())
    } else {
        let select: Vec<&str> = group_by.iter().map(|d| d.select()).collect();
        let group: Vec<&str> = group_by.iter().map(|d| d.group()).collect();
        (
            format!("{}, ", select.join(", ")),
            format!(" GROUP BY {0} ORDER BY {0}", group.join(", ")),
        )
    };
    let source = sales_source(std::slice::from_ref(&request));
    let rows_sql = format!(
        "SELECT {select}{} FROM {source} {SALES_FILTER}{group}",
        measures(request.orders_column(true))
    );
    let totals_sql = format!(
        "SELECT {} FROM {source} {SALES_FILTER}",
        measures(request.orders_column(false))
    );

    // One snapshot for the rows and the totals.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(ANALYTICS_WORK_MEM).execute(&mut *tx).await?;
    fn bind<'q>(
        sql: &'q str,
        request: &SalesRequest,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(request.from)
            .bind(request.to)
            .bind(request.districts.clone())
            .bind(request.category.clone())
            .bind(request.subtype.clone())
            .bind(request.vendors.clone())
    }
    let found = bind(&rows_sql, &request).fetch_all(&mut *tx).await?;
    let totals_row = bind(&totals_sql, &request).fetch_one(&mut *tx).await?;
    let vendor_ids: Vec<Uuid> = if group_by.contains(&Dimension::Vendor) {
        let mut ids = BTreeSet::new();
        for row in &found {
            ids.insert(row.try_get::<Uuid, _>("vendor_id")?);
        }
        ids.into_iter().collect()
    } else {
        Vec::new()
    };
    let vendor_names = vendor_names(&mut tx, &vendor_ids).await?;
    tx.commit().await?;

    // The measures are aliased `orders` (the count exact for this grouping) and the sums.
    let rows = found
        .iter()
        .map(|row| sales_row(row, &request, "orders", &vendor_names))
        .collect::<Result<Vec<_>, _>>()?;
    let totals = totals_of(&totals_row, "orders")?;

    Ok(SalesReport {
        from: request.from,
        to: request.to,
        group_by: group_by.iter().map(|d| d.name().to_string()).collect(),
        rows,
        totals,
    })
}

/// The same period and filters under several groupings (`groupings`, each as `group_by`
/// takes it), in one scan of the facts: one `GROUPING SETS` statement computes every
/// grouping and the totals together. Each report equals what [`sales`] gives for its
/// grouping, row for row and in the same order. What the dashboard draws its charts from.
pub async fn sales_grouped_many(
    state: &AppState,
    actor: &Actor,
    query: &SalesQuery,
    groupings: &[&str],
) -> Result<Vec<SalesReport>, AppError> {
    require_role(actor, ANALYTICS_ROLES, "sales analytics")?;
    let mut requests = Vec::with_capacity(groupings.len());
    for grouping in groupings {
        let asked = SalesQuery {
            group_by: Some((*grouping).to_string()),
            ..query.clone()
        };
        requests.push(SalesRequest::parse(&asked)?);
    }
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    wait_for(state, ProjectionKind::Sales, query.min_position).await?;

    let sets = GroupingSets::of(&requests);
    let sql = sets.sql(sales_source(&requests));
    // One snapshot for every grouping, the totals and the vendors' names.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(ANALYTICS_WORK_MEM).execute(&mut *tx).await?;
    let found = sqlx::query(&sql)
        .bind(first.from)
        .bind(first.to)
        .bind(first.districts.clone())
        .bind(first.category.clone())
        .bind(first.subtype.clone())
        .bind(first.vendors.clone())
        .fetch_all(&mut *tx)
        .await?;
    let vendor_names = if sets.used.contains(&Dimension::Vendor) {
        let mut ids = BTreeSet::new();
        for row in &found {
            if let Some(id) = row.try_get::<Option<Uuid>, _>("vendor_id")? {
                ids.insert(id);
            }
        }
        let ids: Vec<Uuid> = ids.into_iter().collect();
        vendor_names(&mut tx, &ids).await?
    } else {
        HashMap::new()
    };
    tx.commit().await?;

    let mut reports: Vec<SalesReport> = requests
        .iter()
        .map(|request| SalesReport {
            from: request.from,
            to: request.to,
            group_by: request
                .group_by
                .iter()
                .map(|d| d.name().to_string())
                .collect(),
            rows: Vec::new(),
            totals: SalesTotals::default(),
        })
        .collect();
    for row in &found {
        let mask: i32 = row.try_get("grouping_mask")?;
        for (request, report) in requests.iter().zip(reports.iter_mut()) {
            if mask == sets.mask_of(&[]) {
                report.totals = totals_of(row, request.orders_column(false))?;
            }
            // No grouping is one row: the totals (as the API has always answered it).
            if mask == sets.mask_of(&request.group_by) {
                let orders = request.orders_column(true);
                report
                    .rows
                    .push(sales_row(row, request, orders, &vendor_names)?);
            }
        }
    }
    Ok(reports)
}

/// The groupings of one statement: every dimension any of them uses (in `Dimension` order,
/// which is the order of `GROUPING(...)`'s bits), and each grouping once, the totals' `()`
/// among them.
pub(super) struct GroupingSets {
    pub(super) used: Vec<Dimension>,
    pub(super) sets: Vec<Vec<Dimension>>,
}

impl GroupingSets {
    fn of(requests: &[SalesRequest]) -> GroupingSets {
        let used: Vec<Dimension> = Dimension::ALL
            .into_iter()
            .filter(|d| requests.iter().any(|r| r.group_by.contains(d)))
            .collect();
        let mut sets: Vec<Vec<Dimension>> = vec![Vec::new()];
        for request in requests {
            if !sets.contains(&request.group_by) {
                sets.push(request.group_by.clone());
            }
        }
        GroupingSets { used, sets }
    }

    /// What `GROUPING(used...)` gives for the rows of `set`: a bit per used dimension, the
    /// first the most significant, set when the dimension is not grouped.
    fn mask_of(&self, set: &[Dimension]) -> i32 {
        self.used.iter().fold(0, |mask, dimension| {
            (mask << 1) | i32::from(!set.contains(dimension))
        })
    }

    /// The statement over `source` (see [`sales_source`]).
    fn sql(&self, source: String) -> String {
        let grouping_mask = if self.used.is_empty() {
            "0".to_string()
        } else {
            let exprs: Vec<&str> = self.used.iter().map(|d| d.group()).collect();
            format!("GROUPING({})", exprs.join(", "))
        };
        let mut select: Vec<String> = self.used.iter().map(|d| d.select().to_string()).collect();
        select.push(format!("{grouping_mask} AS grouping_mask"));
        let sets: Vec<String> = self
            .sets
            .iter()
            .map(|set| {
                let exprs: Vec<&str> = set.iter().map(|d| d.group()).collect();
                format!("({})", exprs.join(", "))
            })
            .collect();
        // Each grouping's rows in the order `ORDER BY` its own dimensions gives (as text in
        // the database's collation, which orders dates, days and ids as their own types do).
        let longest = self.sets.iter().map(Vec::len).max().unwrap_or(0);
        let mut order = vec!["grouping_mask".to_string()];
        for position in 0..longest {
            let cases: Vec<String> = self
                .sets
                .iter()
                .filter_map(|set| {
                    set.get(position)
                        .map(|d| format!("WHEN {} THEN ({})::text", self.mask_of(set), d.group()))
                })
                .collect();
            order.push(format!("CASE {grouping_mask} {} END", cases.join(" ")));
        }
        format!(
            "SELECT {}, {} FROM {source} {SALES_FILTER}
              GROUP BY GROUPING SETS ({})
              ORDER BY {}",
            select.join(", "),
            MEASURES,
            sets.join(", "),
            order.join(", ")
        )
    }
}

/// Every order count a grouping may need (which one is exact depends on the grouping and
/// the filters: `SalesRequest::orders_column`), and the sums.
pub(super) const MEASURES: &str = "coalesce(sum(orders_overall), 0)::bigint AS orders_overall,
         coalesce(sum(orders_by_category), 0)::bigint AS orders_by_category,
         coalesce(sum(orders_by_subtype), 0)::bigint AS orders_by_subtype,
         coalesce(sum(units), 0)::bigint AS units,
         coalesce(sum(gross_satang), 0)::bigint AS gross_satang,
         coalesce(sum(refunds_satang), 0)::bigint AS refunds_satang,
         coalesce(sum(net_satang), 0)::bigint AS net_satang";

pub(super) fn totals_of(
    row: &sqlx::postgres::PgRow,
    orders_column: &str,
) -> Result<SalesTotals, AppError> {
    Ok(SalesTotals {
        orders: row.try_get(orders_column)?,
        units: row.try_get("units")?,
        gross_satang: row.try_get("gross_satang")?,
        refunds_satang: row.try_get("refunds_satang")?,
        net_satang: row.try_get("net_satang")?,
    })
}

/// One row of `request`'s grouping; `orders_column` names the column holding its exact
/// order count.
pub(super) fn sales_row(
    row: &sqlx::postgres::PgRow,
    request: &SalesRequest,
    orders_column: &str,
    vendor_names: &HashMap<Uuid, String>,
) -> Result<SalesRow, AppError> {
    let mut out = SalesRow {
        orders: row.try_get(orders_column)?,
        units: row.try_get("units")?,
        gross_satang: row.try_get("gross_satang")?,
        refunds_satang: row.try_get("refunds_satang")?,
        net_satang: row.try_get("net_satang")?,
        ..SalesRow::default()
    };
    for dimension in &request.group_by {
        match dimension {
            Dimension::District => {
                let code: String = row.try_get("district_code")?;
                let names =
                    reference::district(&code).map(|d| (d.name_th.as_str(), d.name_en.as_str()));
                (out.district_name_th, out.district_name_en) = named(names);
                out.district_code = Some(code);
            }
            Dimension::Category => {
                let code: String = row.try_get("category_code")?;
                let names =
                    reference::category(&code).map(|c| (c.name_th.as_str(), c.name_en.as_str()));
                (out.category_name_th, out.category_name_en) = named(names);
                out.category_code = Some(code);
            }
            Dimension::Subtype => {
                let code: String = row.try_get("subtype_code")?;
                let names =
                    reference::subtype(&code).map(|s| (s.name_th.as_str(), s.name_en.as_str()));
                (out.subtype_name_th, out.subtype_name_en) = named(names);
                out.subtype_code = Some(code);
            }
            Dimension::Vendor => {
                let id: Uuid = row.try_get("vendor_id")?;
                out.vendor_name_th = Label::of(vendor_names.get(&id).cloned());
                out.vendor_id = Some(id);
            }
            Dimension::Day => out.day = Some(row.try_get("day")?),
            Dimension::Month => out.month = Some(row.try_get("month")?),
        }
    }
    Ok(out)
}

/// The best-selling listings over a range of Bangkok days, by units or by net revenue.
pub async fn top_listings(
    state: &AppState,
    actor: &Actor,
    query: &TopListingsQuery,
) -> Result<TopListings, AppError> {
    require_role(actor, ANALYTICS_ROLES, "sales analytics")?;
    let mut errors = Vec::new();
    let from = parse_day("from", query.from.as_deref(), &mut errors);
    let to = parse_day("to", query.to.as_deref(), &mut errors);
    check_range(from, to, &mut errors);
    let by = match query.by.as_deref().map(str::trim) {
        None | Some("revenue") => "revenue",
        Some("units") => "units",
        Some(other) => {
            errors.push(FieldError::new(
                "by",
                format!("{other:?} is not units or revenue"),
            ));
            "revenue"
        }
    };
    let limit = query.limit.unwrap_or(DEFAULT_TOP_LIMIT);
    if !(1..=MAX_TOP_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be from 1 to {MAX_TOP_LIMIT}"),
        ));
    }
    let vendors = parse_vendors(query.vendor.as_deref(), &mut errors);
    check_min_position(query.min_position, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    wait_for(state, ProjectionKind::Sales, query.min_position).await?;
    let order = if by == "units" {
        "units DESC, net_satang DESC"
    } else {
        "net_satang DESC, units DESC"
    };
    let mut tx = state.pool.begin().await?;
    sqlx::query(ANALYTICS_WORK_MEM).execute(&mut *tx).await?;
    let per_listing = per_listing_sql(from, to, order);
    let rows: Vec<TopListing> = sqlx::query_as(&format!(
        "WITH per_listing AS ({per_listing})
         SELECT row_number() OVER (ORDER BY {order}, p.listing_id) AS rank,
                p.listing_id, p.vendor_id, l.title_th, l.title_en, l.category_code,
                l.subtype_code, p.orders, p.units, p.gross_satang, p.refunds_satang,
                p.net_satang
           FROM per_listing p
           LEFT JOIN sales_listings l ON l.listing_id = p.listing_id
          ORDER BY {order}, p.listing_id"
    ))
    .bind(vendors)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    Ok(TopListings {
        from,
        to,
        by: by.to_string(),
        limit,
        rows,
    })
}

/// The listings' measures to rank, best first, at most `$2` of them (`$1`: the vendors, or
/// all). One whole year is the first rows of the year rollup's index in that order. Any other
/// range sums per listing the coarsest pieces that hold it (years, months, then the odd days
/// from the day facts), keeps the best `$2`, and only then are titles joined (grouping by
/// the joined text columns made the database carry them through the whole aggregation).
pub(super) fn per_listing_sql(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    order: &str,
) -> String {
    const MEASURES: &str = "orders, units, gross_satang, refunds_satang, net_satang";
    const VENDORS: &str = "($1::uuid[] IS NULL OR vendor_id = ANY($1))";
    let split = periods::split(from, to, Levels::MonthsAndYears);
    let one_year = split.years.and_then(|years| years.single_year());
    if let (Some(year), true) = (one_year, split.days.is_empty() && split.months.is_empty()) {
        return format!(
            "SELECT listing_id, vendor_id, {MEASURES} FROM sales_listing_year_facts
              WHERE year = DATE '{year}' AND {VENDORS}
              ORDER BY {order}, listing_id
              LIMIT $2"
        );
    }
    let mut pieces = vec![("sales_listing_facts", split.days_condition("day"))];
    if !split.months.is_empty() {
        pieces.push(("sales_listing_month_facts", split.months_condition("month")));
    }
    if let Some(years) = split.years {
        pieces.push(("sales_listing_year_facts", years.condition("year")));
    }
    let pieces: Vec<String> = pieces
        .iter()
        .map(|(table, period)| {
            format!("SELECT listing_id, vendor_id, {MEASURES} FROM {table} WHERE ({period}) AND {VENDORS}")
        })
        .collect();
    format!(
        "SELECT listing_id, vendor_id,
                sum(orders)::bigint AS orders, sum(units)::bigint AS units,
                sum(gross_satang)::bigint AS gross_satang,
                sum(refunds_satang)::bigint AS refunds_satang,
                sum(net_satang)::bigint AS net_satang
           FROM ({}) AS pieces
          GROUP BY listing_id, vendor_id
          ORDER BY {order}, listing_id
          LIMIT $2",
        pieces.join(" UNION ALL ")
    )
}

/// The Thai names of `ids`, as the sales projection knows its vendors.
async fn vendor_names(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, AppError> {
    let pairs: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT vendor_id, name_th FROM sales_vendors WHERE vendor_id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(pairs.into_iter().collect())
}
