//! What each event does to the batch: the vendors, listings and orders this projection
//! remembers, and the additive facts an order's payment, refund or cancellation makes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use otop_domain::listing::ListingEvent;
use otop_domain::order::OrderEvent;
use otop_domain::vendor::VendorEvent;
use uuid::Uuid;

use super::rules::{allocate, bangkok_day, order_cells, Measures, SaleLine};
use super::UNKNOWN;
use crate::log::RecordedEvent;
use crate::projection::ProjectionError;
use crate::read_models::recorded_at;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FactKey {
    pub(super) day: NaiveDate,
    pub(super) district_code: String,
    pub(super) category_code: String,
    pub(super) subtype_code: String,
    pub(super) vendor_id: Uuid,
}

#[derive(Debug, Clone)]
pub(super) struct VendorMemory {
    pub(super) district_code: String,
    pub(super) name_th: String,
    pub(super) name_en: Option<String>,
    pub(super) last_position: i64,
}

#[derive(Debug, Clone)]
pub(super) struct ListingMemory {
    pub(super) vendor_id: Uuid,
    pub(super) category_code: String,
    pub(super) subtype_code: String,
    pub(super) title_th: String,
    pub(super) title_en: Option<String>,
    pub(super) last_position: i64,
}

#[derive(Debug, Clone)]
pub(super) struct OrderMemory {
    pub(super) vendor_id: Uuid,
    pub(super) district_code: String,
    pub(super) lines: Vec<SaleLine>,
    pub(super) paid_day: Option<NaiveDate>,
    pub(super) reversed: bool,
    pub(super) last_position: i64,
}

/// What the batch changes, applied at its end.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) vendors: HashMap<Uuid, VendorMemory>,
    pub(super) listings: HashMap<Uuid, ListingMemory>,
    pub(super) orders: HashMap<Uuid, OrderMemory>,
    pub(super) changed_vendors: BTreeSet<Uuid>,
    pub(super) changed_listings: BTreeSet<Uuid>,
    pub(super) changed_orders: BTreeSet<Uuid>,
    pub(super) facts: BTreeMap<FactKey, Measures>,
    pub(super) listing_facts: BTreeMap<(NaiveDate, Uuid), (Uuid, Measures)>,
}

impl Batch {
    /// Adds `delta` to the line's cell and, with `listing_orders` as its order count, to the
    /// line's listing.
    fn fact(
        &mut self,
        day: NaiveDate,
        order: &OrderMemory,
        line: &SaleLine,
        delta: Measures,
        listing_orders: i64,
    ) {
        let key = FactKey {
            day,
            district_code: order.district_code.clone(),
            category_code: line.category_code.clone(),
            subtype_code: line.subtype_code.clone(),
            vendor_id: order.vendor_id,
        };
        self.facts.entry(key).or_default().add(delta);
        let listing = self
            .listing_facts
            .entry((day, line.listing_id))
            .or_insert((order.vendor_id, Measures::default()));
        // Per listing the order count is `orders_overall`: an order has one line per listing.
        listing.1.add(Measures {
            orders_by_subtype: 0,
            orders_by_category: 0,
            orders_overall: listing_orders,
            ..delta
        });
    }

    /// Counts (sign +1) or takes back (sign -1) the order's units and order counts.
    fn count_order(&mut self, day: NaiveDate, order: &OrderMemory, sign: i64) {
        let cells = order_cells(&order.lines);
        let mut counted: BTreeSet<(String, String)> = BTreeSet::new();
        for line in &order.lines {
            let cell = (line.category_code.clone(), line.subtype_code.clone());
            // The order counts once per cell: on its first line in it.
            let (by_subtype, by_category, overall) = if counted.insert(cell.clone()) {
                cells.get(&cell).copied().unwrap_or((0, 0, 0))
            } else {
                (0, 0, 0)
            };
            let delta = Measures {
                orders_by_subtype: sign * by_subtype,
                orders_by_category: sign * by_category,
                orders_overall: sign * overall,
                units: sign * i64::from(line.quantity),
                ..Measures::default()
            };
            self.fact(day, order, line, delta, sign);
        }
    }
}

/// The events this projection reads, decoded.
pub(super) enum Relevant<'a> {
    Vendor(&'a RecordedEvent, Uuid, VendorEvent),
    Listing(&'a RecordedEvent, Uuid, ListingEvent),
    Order(&'a RecordedEvent, Uuid, OrderEvent),
}

pub(super) fn is_relevant(event: &RecordedEvent) -> bool {
    match event.aggregate_type.as_str() {
        "Vendor" => matches!(
            event.event_type.as_str(),
            "VendorApplied" | "VendorProfileUpdated"
        ),
        "Listing" => matches!(
            event.event_type.as_str(),
            "ListingCreated" | "ListingDetailsUpdated"
        ),
        "Order" => matches!(
            event.event_type.as_str(),
            "OrderPlaced" | "OrderPaid" | "OrderRefunded" | "OrderCancelled"
        ),
        _ => false,
    }
}

pub(super) fn amount_i64(event: &RecordedEvent, amount: u64) -> Result<i64, ProjectionError> {
    i64::try_from(amount).map_err(|_| ProjectionError::bad_event(event, "amount out of range"))
}

pub(super) fn apply_vendor(
    batch: &mut Batch,
    event: &RecordedEvent,
    id: Uuid,
    payload: VendorEvent,
) {
    match payload {
        VendorEvent::VendorApplied { profile, .. } => {
            batch.vendors.insert(
                id,
                VendorMemory {
                    district_code: profile.district_code.as_str().to_string(),
                    name_th: profile.name_th,
                    name_en: profile.name_en,
                    last_position: event.position,
                },
            );
            batch.changed_vendors.insert(id);
        }
        VendorEvent::VendorProfileUpdated { patch } => {
            if let Some(vendor) = batch.vendors.get_mut(&id) {
                if let Some(district) = &patch.district_code {
                    vendor.district_code = district.as_str().to_string();
                }
                if let Some(name_th) = patch.name_th {
                    vendor.name_th = name_th;
                }
                if let Some(name_en) = patch.name_en {
                    vendor.name_en = Some(name_en);
                }
                vendor.last_position = event.position;
                batch.changed_vendors.insert(id);
            }
        }
        _ => {}
    }
}

pub(super) fn apply_listing(
    batch: &mut Batch,
    event: &RecordedEvent,
    id: Uuid,
    payload: ListingEvent,
) {
    match payload {
        ListingEvent::ListingCreated {
            vendor_id, details, ..
        } => {
            batch.listings.insert(
                id,
                ListingMemory {
                    vendor_id,
                    category_code: details.category_code.as_str().to_string(),
                    subtype_code: details.subtype_code.as_str().to_string(),
                    title_th: details.title_th,
                    title_en: details.title_en,
                    last_position: event.position,
                },
            );
            batch.changed_listings.insert(id);
        }
        ListingEvent::ListingDetailsUpdated { patch } => {
            if let Some(listing) = batch.listings.get_mut(&id) {
                if let Some(category) = &patch.category_code {
                    listing.category_code = category.as_str().to_string();
                }
                if let Some(subtype) = &patch.subtype_code {
                    listing.subtype_code = subtype.as_str().to_string();
                }
                if let Some(title_th) = patch.title_th {
                    listing.title_th = title_th;
                }
                if let Some(title_en) = patch.title_en {
                    listing.title_en = Some(title_en);
                }
                listing.last_position = event.position;
                batch.changed_listings.insert(id);
            }
        }
        _ => {}
    }
}

/// Shares `amount` going back among the lines, in proportion to what each has paid and not
/// had back yet, and books it as refunds on `day`.
pub(super) fn refund(
    batch: &mut Batch,
    event: &RecordedEvent,
    order: &mut OrderMemory,
    day: NaiveDate,
    amount: u64,
) -> Result<(), ProjectionError> {
    let remaining: Vec<u64> = order
        .lines
        .iter()
        .map(|l| l.paid_satang.saturating_sub(l.refunded_satang))
        .collect();
    let left: u64 = remaining.iter().sum();
    if amount > left {
        return Err(ProjectionError::bad_event(
            event,
            format!("refunds {amount} satang when only {left} satang is left to refund"),
        ));
    }
    let shares = allocate(amount, &remaining);
    for (index, share) in shares.into_iter().enumerate() {
        if share == 0 {
            continue;
        }
        order.lines[index].refunded_satang += share;
        let line = order.lines[index].clone();
        let delta = Measures {
            refunds: amount_i64(event, share)?,
            ..Measures::default()
        };
        batch.fact(day, order, &line, delta, 0);
    }
    Ok(())
}

pub(super) fn apply_order(
    batch: &mut Batch,
    event: &RecordedEvent,
    id: Uuid,
    payload: OrderEvent,
) -> Result<(), ProjectionError> {
    let day = bangkok_day(recorded_at(event));
    if let OrderEvent::OrderPlaced {
        vendor_id, lines, ..
    } = &payload
    {
        let district_code = batch
            .vendors
            .get(vendor_id)
            .map(|v| v.district_code.clone())
            .unwrap_or_else(|| UNKNOWN.to_string());
        let mut sale_lines = Vec::with_capacity(lines.len());
        for line in lines {
            let listing = batch.listings.get(&line.listing_id);
            let amount = line
                .unit_price
                .get()
                .checked_mul(u64::from(line.quantity))
                .ok_or_else(|| ProjectionError::bad_event(event, "line amount out of range"))?;
            sale_lines.push(SaleLine {
                listing_id: line.listing_id,
                quantity: line.quantity,
                amount_satang: amount,
                category_code: listing
                    .map(|l| l.category_code.clone())
                    .unwrap_or_else(|| UNKNOWN.to_string()),
                subtype_code: listing
                    .map(|l| l.subtype_code.clone())
                    .unwrap_or_else(|| UNKNOWN.to_string()),
                paid_satang: 0,
                refunded_satang: 0,
            });
        }
        batch.orders.insert(
            id,
            OrderMemory {
                vendor_id: *vendor_id,
                district_code,
                lines: sale_lines,
                paid_day: None,
                reversed: false,
                last_position: event.position,
            },
        );
        batch.changed_orders.insert(id);
        return Ok(());
    }
    let Some(mut order) = batch.orders.remove(&id) else {
        return Err(ProjectionError::bad_event(
            event,
            format!("order {id} has events but was never placed"),
        ));
    };
    let outcome = apply_to_order(batch, event, &mut order, day, payload);
    order.last_position = event.position;
    batch.orders.insert(id, order);
    batch.changed_orders.insert(id);
    outcome
}

pub(super) fn apply_to_order(
    batch: &mut Batch,
    event: &RecordedEvent,
    order: &mut OrderMemory,
    day: NaiveDate,
    payload: OrderEvent,
) -> Result<(), ProjectionError> {
    match payload {
        OrderEvent::OrderPaid { amount, .. } => {
            if order.paid_day.is_some() {
                return Err(ProjectionError::bad_event(
                    event,
                    "the order was already paid",
                ));
            }
            let weights: Vec<u64> = order.lines.iter().map(|l| l.amount_satang).collect();
            let shares = allocate(amount.get(), &weights);
            for (line, share) in order.lines.iter_mut().zip(shares) {
                line.paid_satang = share;
            }
            order.paid_day = Some(day);
            batch.count_order(day, order, 1);
            for line in order.lines.clone() {
                let share = amount_i64(event, line.paid_satang)?;
                let delta = Measures {
                    gross: share,
                    ..Measures::default()
                };
                batch.fact(day, order, &line, delta, 0);
            }
        }
        OrderEvent::OrderRefunded { amount, .. } => {
            if order.paid_day.is_none() {
                return Err(ProjectionError::bad_event(
                    event,
                    "money goes back on an order that was never paid",
                ));
            }
            refund(batch, event, order, day, amount.get())?;
        }
        OrderEvent::OrderCancelled { refund_satang, .. } => {
            if order.paid_day.is_none() {
                if refund_satang > 0 {
                    return Err(ProjectionError::bad_event(
                        event,
                        "money goes back on an order that was never paid",
                    ));
                }
                return Ok(());
            }
            if !order.reversed {
                order.reversed = true;
                batch.count_order(day, order, -1);
            }
            refund(batch, event, order, day, refund_satang)?;
        }
        _ => {}
    }
    Ok(())
}
