//! The application layer of otop-market: what a request does once it is read, for both
//! faces. The JSON API (`api/`) and the pages (`web/`) each turn a request into the typed
//! input of a function here, and its answer (or [`AppError`]) into their own reply. Nothing
//! here knows of HTTP, so the two faces cannot drift apart: a page and its JSON call run
//! the same parsing, the same role checks and the same commands.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod checkout;
pub mod command;
pub mod config;
pub mod csv;
pub mod error;
pub mod ledger;
pub mod limits;
pub mod listings;
pub mod metadata;
pub mod orders;
pub mod paging;
pub mod payments;
pub mod photos;
pub mod read_your_writes;
pub mod search;
pub mod state;
pub mod vendor_standing;
pub mod vendors;

pub use config::Config;
pub use error::AppError;
pub use state::AppState;
