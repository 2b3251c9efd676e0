//! A checkout, decided and committed inside the request as one multi-stream append.
//!
//! One cart across several producers becomes one Order per vendor. The decision loads every
//! listing of the cart, then every vendor and order it names (two queries), runs each line's
//! `Reserve` on its Listing (the stock rules stay in the Listing aggregate's `decide`), and
//! places and confirms every order; then it appends all of those streams' events in one
//! statement, each stream under the sequence it was decided on. It is all or nothing: a line
//! that cannot be reserved refuses the whole checkout, naming the line, and nothing is
//! written. When another writer changed one of the listings in between, the whole decision is
//! taken again from fresh state ([`EventStore::transact`]).
//!
//! The same module finishes orders placed by the saga this replaced (an `OrderPlaced` whose
//! stock was still to be reserved by the checkout process manager) and moves an order's
//! stock when it is cancelled, expires or ships, each as one append over the order's
//! listings.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use otop_domain::order::{OrderLine, OrderState, ShippingAddress};
use otop_domain::{
    Actor, DomainError, EventMetadata, Listing, ListingCommand, Order, OrderCommand, OrderStatus,
    Vendor, VendorStanding,
};
use uuid::Uuid;

use crate::event_store::{
    AppendBatch, AppendError, DecisionError, EventStore, Follow, Stream, StreamKey,
};

/// One line of a cart: a listing and how many units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub listing_id: Uuid,
    pub quantity: u32,
}

/// A cart to check out, already parsed.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub checkout_id: Uuid,
    pub lines: Vec<CartLine>,
    pub shipping_address: ShippingAddress,
    /// The request's metadata (actor, request id); the checkout id becomes its correlation.
    pub metadata: EventMetadata,
    /// The checkout id was derived from the caller's `Idempotency-Key`, so an earlier attempt
    /// may have placed these orders already.
    pub derived_ids: bool,
}

/// A line the checkout could not reserve, by its index in the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRefusal {
    pub index: usize,
    pub listing_id: Uuid,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Lines that cannot be reserved (unknown, not published, vendor not approved, not
    /// enough stock). Nothing was written.
    #[error("{} line(s) cannot be reserved", .0.len())]
    Lines(Vec<LineRefusal>),
    /// The checkout as a whole was refused (the caller may not place it, or part of it was
    /// placed before with other contents).
    #[error(transparent)]
    Domain(DomainError),
    #[error(transparent)]
    Store(AppendError),
}

impl From<DecisionError<CheckoutError>> for CheckoutError {
    fn from(error: DecisionError<CheckoutError>) -> Self {
        match error {
            DecisionError::Refused(refusal) => refusal,
            DecisionError::Store(store) => CheckoutError::Store(store),
        }
    }
}

/// The committed outcome of a checkout.
#[derive(Debug, Clone)]
pub struct PlacedCheckout {
    pub checkout_id: Uuid,
    /// One order per vendor, in vendor id order, as they stand after the checkout.
    pub orders: Vec<OrderState>,
    /// The log position of the checkout's last event.
    pub position: i64,
    /// True when the orders were placed by an earlier attempt of this checkout (same ids).
    pub already_placed: bool,
}

/// The id of the order a checkout places for `vendor_id`: derived, so that a retried
/// checkout finds its orders instead of placing a second set.
pub fn order_id_of(checkout_id: Uuid, vendor_id: Uuid) -> Uuid {
    Uuid::new_v5(&checkout_id, vendor_id.as_bytes())
}

/// The causation id of events caused by an order's placement.
fn placement_of(order_id: Uuid) -> String {
    format!("Order/{order_id}/1")
}

/// Places, reserves and confirms a whole checkout in one append, or refuses it whole.
pub async fn place_checkout(
    store: &EventStore,
    request: &CheckoutRequest,
) -> Result<PlacedCheckout, CheckoutError> {
    let listing_keys: Vec<StreamKey> = request
        .lines
        .iter()
        .map(|line| StreamKey::of::<Listing>(line.listing_id.to_string()))
        .collect();
    let attempts = AtomicUsize::new(0);
    let (placed, outcome) = store
        .transact(&listing_keys, || {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            decide_checkout(store, request, &listing_keys, attempt)
        })
        .await?;
    let position = if placed.already_placed {
        placed.position
    } else {
        outcome.position
    };
    Ok(PlacedCheckout { position, ..placed })
}

/// A listing's vendor, loaded with the listing: named by its `ListingCreated`.
const LISTING_VENDOR: Follow = Follow {
    event_type: "ListingCreated",
    field: "vendor_id",
    aggregate_type: <Vendor as cqrs_es::Aggregate>::TYPE,
    held: |state| {
        let listing = state.downcast_ref::<Listing>()?.state()?;
        Some(listing.vendor_id.to_string())
    },
};

/// One query loads the cart's listings and their vendors. The orders are new streams: they
/// are loaded (a second query) only when an earlier attempt may have placed them, with ids
/// derived from an Idempotency-Key, or on a retry; had they existed unseen, the append
/// would fail on their first sequence and the retry would find them.
async fn decide_checkout(
    events: &EventStore,
    request: &CheckoutRequest,
    listing_keys: &[StreamKey],
    attempt: usize,
) -> Result<(AppendBatch, PlacedCheckout), DecisionError<CheckoutError>> {
    let refuse = |refusal| DecisionError::Refused(refusal);
    let mut metadata = request.metadata.clone();
    metadata.correlation_id = request.checkout_id.to_string();

    let mut loaded = events
        .load_following(listing_keys, Some(&LISTING_VENDOR))
        .await?;
    let mut refusals = Vec::new();
    let mut listings: Vec<(usize, &CartLine, Stream<Listing>)> = Vec::new();
    let mut by_vendor: BTreeMap<Uuid, Vec<OrderLine>> = BTreeMap::new();
    for (index, line) in request.lines.iter().enumerate() {
        let stream = loaded.take::<Listing>(&line.listing_id.to_string()).await?;
        let Some(listing) = stream.aggregate().state() else {
            refusals.push(LineRefusal {
                index,
                listing_id: line.listing_id,
                reason: format!("no listing {}", line.listing_id),
            });
            continue;
        };
        by_vendor
            .entry(listing.vendor_id)
            .or_default()
            .push(OrderLine {
                listing_id: line.listing_id,
                quantity: line.quantity,
                unit_price: listing.price,
            });
        listings.push((index, line, stream));
    }

    let order_ids: BTreeMap<Uuid, Uuid> = by_vendor
        .keys()
        .map(|vendor_id| (*vendor_id, order_id_of(request.checkout_id, *vendor_id)))
        .collect();
    let mut standings: HashMap<Uuid, VendorStanding> = HashMap::new();
    for vendor_id in order_ids.keys() {
        let vendor = loaded.take::<Vendor>(&vendor_id.to_string()).await?;
        if let Some(state) = vendor.aggregate().state() {
            standings.insert(*vendor_id, VendorStanding::of(state));
        }
    }
    let order_keys: Vec<StreamKey> = order_ids
        .values()
        .map(|order_id| StreamKey::of::<Order>(order_id.to_string()))
        .collect();
    // Streams not loaded are taken as new ones.
    if request.derived_ids || attempt > 1 {
        loaded = events.load(&order_keys).await?;
    }
    let mut orders: Vec<Stream<Order>> = Vec::with_capacity(order_ids.len());
    for key in &order_keys {
        orders.push(loaded.take::<Order>(&key.aggregate_id).await?);
    }

    // Placed before by an attempt of this same checkout (a retry after a lost reply).
    let existing = orders
        .iter()
        .filter(|o| o.aggregate().state().is_some())
        .count();
    if existing > 0 && refusals.is_empty() {
        if existing < orders.len() {
            return Err(refuse(CheckoutError::Domain(DomainError::AlreadyExists {
                kind: "checkout",
            })));
        }
        let position = orders.iter().map(Stream::last_position).max().unwrap_or(0);
        let states = orders
            .iter()
            .filter_map(|o| o.aggregate().state().cloned())
            .collect();
        let placed = PlacedCheckout {
            checkout_id: request.checkout_id,
            orders: states,
            position,
            already_placed: true,
        };
        return Ok((AppendBatch::default(), placed));
    }

    // Reserve every line on its listing, under the listing's own rules. The platform
    // reserves and confirms, in the checkout's correlation, caused by the order's placement.
    let platform = |order_id: Uuid| {
        let mut caused = metadata.clone();
        caused.actor = Actor::system();
        caused.causation_id = placement_of(order_id);
        caused.to_map()
    };
    for (index, line, stream) in &mut listings {
        let Some(vendor_id) = stream.aggregate().state().map(|l| l.vendor_id) else {
            continue;
        };
        let Some(vendor) = standings.get(&vendor_id).copied() else {
            refusals.push(LineRefusal {
                index: *index,
                listing_id: line.listing_id,
                reason: "the listing's vendor does not exist".into(),
            });
            continue;
        };
        let order_id = order_ids[&vendor_id];
        let reserve = ListingCommand::Reserve {
            order_id,
            quantity: line.quantity,
            vendor,
        };
        if let Err(refusal) = stream.handle(reserve, &platform(order_id)).await {
            refusals.push(LineRefusal {
                index: *index,
                listing_id: line.listing_id,
                reason: refusal.to_string(),
            });
        }
    }
    if !refusals.is_empty() {
        refusals.sort_by_key(|r| r.index);
        return Err(refuse(CheckoutError::Lines(refusals)));
    }

    // Place and confirm one order per vendor. The batch holds what happened in the order it
    // happened: each order placed, its lines' stock reserved, the order confirmed; orders by
    // vendor id and listings by id, so two checkouts never wait for each other crosswise.
    listings.sort_by_key(|(_, line, _)| line.listing_id);
    let placed_by = metadata.to_map();
    let every = events.snapshot_every();
    let mut batch = AppendBatch::default();
    for (order, (vendor_id, lines)) in orders.iter_mut().zip(by_vendor) {
        let order_id = order_ids[&vendor_id];
        let place = OrderCommand::Place {
            order_id,
            checkout_id: request.checkout_id,
            actor: metadata.actor.clone(),
            shopper_id: metadata.actor.id.clone(),
            vendor_id,
            lines,
            shipping_address: request.shipping_address.clone(),
        };
        order
            .handle(place, &placed_by)
            .await
            .map_err(|e| refuse(CheckoutError::Domain(e)))?;
        batch.add(order, every)?;
        for (_, _, stream) in listings.iter_mut().filter(|(_, _, stream)| {
            stream.aggregate().state().map(|l| l.vendor_id) == Some(vendor_id)
        }) {
            batch.add(stream, every)?;
        }
        let confirm = OrderCommand::Confirm {
            actor: Actor::system(),
        };
        order
            .handle(confirm, &platform(order_id))
            .await
            .map_err(|e| refuse(CheckoutError::Domain(e)))?;
        batch.add(order, every)?;
    }
    let placed = PlacedCheckout {
        checkout_id: request.checkout_id,
        orders: orders
            .iter()
            .filter_map(|o| o.aggregate().state().cloned())
            .collect(),
        position: 0,
        already_placed: false,
    };
    Ok((batch, placed))
}

/// What became of an order placed by the earlier saga, whose stock was still to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedOrderOutcome {
    /// Nothing to do: unknown, or no longer pending.
    Settled,
    /// Every line reserved and the order confirmed, in one append.
    Confirmed,
    /// Some line could not be reserved: the order was rejected and whatever it held released.
    Rejected,
}

/// Reserves a pending order's lines and confirms it, in one append; or, when a line cannot
/// be reserved, releases what the order holds and rejects it, also in one append.
pub async fn settle_placed_order(
    store: &EventStore,
    order_id: Uuid,
    metadata: &HashMap<String, String>,
) -> Result<PlacedOrderOutcome, AppendError> {
    let order_key = StreamKey::of::<Order>(order_id.to_string());
    let result = store
        .transact(std::slice::from_ref(&order_key), || {
            decide_placed_order(store, order_id, metadata)
        })
        .await;
    match result {
        Ok((outcome, _)) => Ok(outcome),
        Err(DecisionError::Refused(never)) => match never {},
        Err(DecisionError::Store(error)) => Err(error),
    }
}

async fn decide_placed_order(
    events: &EventStore,
    order_id: Uuid,
    metadata: &HashMap<String, String>,
) -> Result<(AppendBatch, PlacedOrderOutcome), DecisionError<std::convert::Infallible>> {
    let order_key = StreamKey::of::<Order>(order_id.to_string());
    let mut order = events
        .load(std::slice::from_ref(&order_key))
        .await?
        .take::<Order>(&order_id.to_string())
        .await?;
    let Some(state) = order.aggregate().state().cloned() else {
        return Ok((AppendBatch::default(), PlacedOrderOutcome::Settled));
    };
    if state.status != OrderStatus::Pending {
        return Ok((AppendBatch::default(), PlacedOrderOutcome::Settled));
    }
    let vendor = events
        .load(&[StreamKey::of::<Vendor>(state.vendor_id.to_string())])
        .await?
        .take::<Vendor>(&state.vendor_id.to_string())
        .await?;
    let standing = vendor.aggregate().state().map(VendorStanding::of);
    let mut listings = load_listings(events, &state).await?;
    let mut refused: Vec<(Uuid, String)> = Vec::new();
    for stream in &mut listings {
        let listing_id = stream
            .id()
            .parse::<Uuid>()
            .map_err(|e| AppendError::Corrupt(e.to_string()))?;
        let Some(vendor) = standing else {
            refused.push((listing_id, "the vendor does not exist".into()));
            continue;
        };
        let quantity = state
            .lines
            .iter()
            .find(|line| line.listing_id == listing_id)
            .map_or(0, |line| line.quantity);
        let reserve = ListingCommand::Reserve {
            order_id,
            quantity,
            vendor,
        };
        if let Err(refusal) = stream.handle(reserve, metadata).await {
            refused.push((listing_id, refusal.to_string()));
        }
    }
    let mut batch = AppendBatch::default();
    if refused.is_empty() {
        let confirm = OrderCommand::Confirm {
            actor: Actor::system(),
        };
        for stream in &mut listings {
            batch.add(stream, events.snapshot_every())?;
        }
        // Pending was checked above, so confirming cannot be refused.
        let _ = order.handle(confirm, metadata).await;
        batch.add(&mut order, events.snapshot_every())?;
        return Ok((batch, PlacedOrderOutcome::Confirmed));
    }
    // Start from the listings as stored: release whatever this order already held.
    let mut listings = load_listings(events, &state).await?;
    for stream in &mut listings {
        let _ = stream
            .handle(ListingCommand::Release { order_id }, metadata)
            .await;
        batch.add(stream, events.snapshot_every())?;
    }
    let reason = refused
        .iter()
        .map(|(listing, why)| format!("{listing}: {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    let reject = OrderCommand::Reject {
        actor: Actor::system(),
        reason,
        failed_listings: refused.iter().map(|(listing, _)| *listing).collect(),
    };
    let _ = order.handle(reject, metadata).await;
    batch.add(&mut order, events.snapshot_every())?;
    Ok((batch, PlacedOrderOutcome::Rejected))
}

async fn load_listings(
    events: &EventStore,
    order: &OrderState,
) -> Result<Vec<Stream<Listing>>, AppendError> {
    let keys: Vec<StreamKey> = order
        .lines
        .iter()
        .map(|line| StreamKey::of::<Listing>(line.listing_id.to_string()))
        .collect();
    let mut loaded = events.load(&keys).await?;
    let mut streams = Vec::with_capacity(keys.len());
    for key in &keys {
        streams.push(loaded.take::<Listing>(&key.aggregate_id).await?);
    }
    Ok(streams)
}

/// What happens to an order's held units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMove {
    /// Back to `available` (the order was cancelled, rejected or expired).
    Release,
    /// On to `sold` (the order shipped).
    Commit,
}

/// Releases or commits every unit `order` holds, on all its listings, in one append.
/// Idempotent: a listing that holds nothing for the order records nothing. Returns how many
/// events it wrote.
pub async fn move_order_stock(
    store: &EventStore,
    order: &OrderState,
    movement: StockMove,
    metadata: &HashMap<String, String>,
) -> Result<usize, AppendError> {
    let keys: Vec<StreamKey> = order
        .lines
        .iter()
        .map(|line| StreamKey::of::<Listing>(line.listing_id.to_string()))
        .collect();
    let order_id = order.id;
    let result = store
        .transact(&keys, || async move {
            let events = store;
            let mut batch = AppendBatch::default();
            for mut stream in load_listings(events, order).await? {
                let command = match movement {
                    StockMove::Release => ListingCommand::Release { order_id },
                    StockMove::Commit => ListingCommand::Commit { order_id },
                };
                // Release and commit are never refused: without a reservation they are no-ops.
                let _ = stream.handle(command, metadata).await;
                batch.add(&mut stream, events.snapshot_every())?;
            }
            Ok::<_, DecisionError<std::convert::Infallible>>((batch, ()))
        })
        .await;
    match result {
        Ok(((), outcome)) => Ok(outcome.events),
        Err(DecisionError::Refused(never)) => match never {},
        Err(DecisionError::Store(error)) => Err(error),
    }
}
