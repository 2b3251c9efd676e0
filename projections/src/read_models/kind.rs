//! The projections this system runs, each with the tables its read model declares.

use super::ledger::{self, LedgerProjection};
use super::sales::{self, SalesProjection};
use super::{catalog, catalog::CatalogProjection, orders, orders::OrdersProjection};
use crate::projection::Projection;

/// The projections this system runs. Each owns a fixed set of tables; `build` makes one that
/// writes to those tables with `suffix` appended (empty for the live tables), which is how a
/// rebuild writes into fresh tables while the live ones keep serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectionKind {
    /// Vendor directory and listing catalog.
    Catalog,
    /// Orders by shopper and by vendor.
    Orders,
    /// The payout ledger: what the platform owes each vendor.
    Ledger,
    /// Sales facts by Bangkok day, district, category, sub-type, vendor and listing.
    Sales,
}

impl ProjectionKind {
    pub const ALL: [ProjectionKind; 4] = [
        ProjectionKind::Catalog,
        ProjectionKind::Orders,
        ProjectionKind::Ledger,
        ProjectionKind::Sales,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProjectionKind::Catalog => "catalog",
            ProjectionKind::Orders => "orders",
            ProjectionKind::Ledger => "ledger",
            ProjectionKind::Sales => "sales",
        }
    }

    pub fn parse(name: &str) -> Option<ProjectionKind> {
        ProjectionKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// The tables this projection owns, each with the column (or comma-separated columns)
    /// that identifies a row.
    pub fn tables(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ProjectionKind::Catalog => catalog::TABLES,
            ProjectionKind::Orders => orders::TABLES,
            ProjectionKind::Ledger => ledger::TABLES,
            ProjectionKind::Sales => sales::TABLES,
        }
    }

    pub fn build(self, table_suffix: &str) -> Box<dyn Projection> {
        self.build_named(self.name(), table_suffix)
    }

    /// Like `build`, with another checkpoint name (a rebuild keeps its own checkpoint).
    pub fn build_named(self, checkpoint_name: &str, table_suffix: &str) -> Box<dyn Projection> {
        match self {
            ProjectionKind::Catalog => {
                Box::new(CatalogProjection::new(checkpoint_name, table_suffix))
            }
            ProjectionKind::Orders => {
                Box::new(OrdersProjection::new(checkpoint_name, table_suffix))
            }
            ProjectionKind::Ledger => {
                Box::new(LedgerProjection::new(checkpoint_name, table_suffix))
            }
            ProjectionKind::Sales => Box::new(SalesProjection::new(checkpoint_name, table_suffix)),
        }
    }
}
