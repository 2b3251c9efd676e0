//! A vendor's status as its tokens meet it: read from its aggregate (the log, not a read
//! model) and remembered for [`STATUS_TTL`], so a vendor's burst of price changes costs one
//! load, not one each. This process forgets a vendor's status as soon as it runs a command
//! on that vendor ([`forget`]); another process learns of it within the TTL. The JSON API
//! enforces what the status means in one middleware (api/src/vendor_standing.rs).

use std::sync::LazyLock;
use std::time::Duration;

use moka::future::Cache;
use otop_domain::VendorStatus;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;

/// How long a vendor's status is remembered.
pub const STATUS_TTL: Duration = Duration::from_secs(1);

static STATUSES: LazyLock<Cache<Uuid, Option<VendorStatus>>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(STATUS_TTL)
        .build()
});

/// Drops what this process remembers of `vendor_id`'s status (after a command on it).
pub async fn forget(vendor_id: Uuid) {
    STATUSES.invalidate(&vendor_id).await;
}

/// The vendor's status (`None`: no such vendor), at most [`STATUS_TTL`] old.
pub async fn status_of(
    state: &AppState,
    vendor_id: Uuid,
) -> Result<Option<VendorStatus>, AppError> {
    if let Some(status) = STATUSES.get(&vendor_id).await {
        return Ok(status);
    }
    let loaded = state.vendors.load(&vendor_id.to_string()).await?;
    let status = loaded.aggregate.state().map(|vendor| vendor.status);
    STATUSES.insert(vendor_id, status).await;
    Ok(status)
}

/// What a vendor's request means to do, for [`barred`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Read,
    /// Accept, pack, ship or deliver a paid order.
    Fulfil,
    /// Any other change.
    Change,
}

/// Why a vendor in `status` may not do `intent` (API.md, Vendors), or `None`: a closed
/// vendor may do nothing; a suspended one may read and fulfil paid orders, nothing else.
pub fn barred(vendor_id: Uuid, status: Option<VendorStatus>, intent: Intent) -> Option<String> {
    match (status, intent) {
        (Some(VendorStatus::Closed), _) => Some(format!(
            "vendor {vendor_id} is closed: its tokens are no longer accepted"
        )),
        (Some(VendorStatus::Suspended), Intent::Change) => Some(format!(
            "vendor {vendor_id} is suspended: it may read and fulfil paid orders, nothing else"
        )),
        _ => None,
    }
}

/// For a vendor actor, refuses what its vendor's status bars (403); anyone else passes.
pub async fn check(
    state: &AppState,
    actor: &otop_domain::Actor,
    intent: Intent,
) -> Result<(), AppError> {
    let Some(vendor_id) = actor
        .vendor_id
        .filter(|_| actor.role == otop_domain::Role::Vendor)
    else {
        return Ok(());
    };
    match barred(vendor_id, status_of(state, vendor_id).await?, intent) {
        Some(why) => Err(AppError::Forbidden(why)),
        None => Ok(()),
    }
}
