//! The OTOP marketplace's domain: the Vendor, Listing and Order aggregates, their commands,
//! events and rules, and the reference data they check against. Pure: no I/O, no clock, no
//! randomness; callers pass ids, times and the facts an aggregate needs.

pub mod actor;
pub mod error;
pub mod listing;
pub mod metadata;
pub mod order;
pub mod payment;
pub mod reference;
pub mod values;
pub mod vendor;

pub use actor::{Actor, Role};
pub use error::{Checked, DomainError, FieldError, Validator};
pub use listing::{Listing, ListingCommand, ListingEvent, ListingStatus};
pub use metadata::EventMetadata;
pub use order::{Order, OrderCommand, OrderEvent, OrderStatus};
pub use payment::{PaymentReference, PaymentReferenceCommand, PaymentReferenceEvent};
pub use vendor::{Vendor, VendorCommand, VendorEvent, VendorStanding, VendorStatus};
