//! What a process keeps once per database it works on (the stream cache, the log signal),
//! shared by every store and runner of the process on that database, and let go when the
//! last of them is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use sqlx::PgPool;

/// One `T` per database, by the server and database a pool connects to.
pub(crate) struct PerDatabase<T> {
    held: Mutex<BTreeMap<String, Weak<T>>>,
}

impl<T> PerDatabase<T> {
    pub const fn new() -> Self {
        PerDatabase {
            held: Mutex::new(BTreeMap::new()),
        }
    }

    /// The `T` of the database `pool` connects to; `make` makes it when none is alive.
    pub fn of(&self, pool: &PgPool, make: impl FnOnce() -> T) -> Arc<T> {
        let options = pool.connect_options();
        let key = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.retain(|_, value| value.strong_count() > 0);
        if let Some(value) = held.get(&key).and_then(Weak::upgrade) {
            return value;
        }
        let value = Arc::new(make());
        held.insert(key, Arc::downgrade(&value));
        value
    }
}
