//! The end-to-end suite: the real otop API over HTTP (and its store) against a fresh
//! PostgreSQL database per test. One module per capability; one binary for all of them, so
//! the server and its dependencies are linked once.

mod append_only;
mod audit;
mod browser;
mod catalog_stock;
mod checkout;
mod error_classes;
mod failover;
mod hostile_input;
mod limits;
mod log_race;
mod multi_stream;
mod oidc;
mod orders_and_ledger;
mod photos;
mod projection_runner;
mod read_api;
mod sales_analytics;
mod seals;
mod search_api;
mod snapshots;
mod staff_pages;
mod storefront;
mod vendor_listing_flow;
mod vendor_status;
