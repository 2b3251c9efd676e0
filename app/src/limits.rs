//! The limits of API.md ("Limits") that live in the application's state: the write rate
//! per caller and the one verify at a time. Enforcing them on requests is each face's.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::AppError;

/// The write limiter: `None` when `OTOP_WRITE_RATE_PER_MINUTE` is 0.
pub type WriteLimiter = Option<Arc<DefaultKeyedRateLimiter<String>>>;

pub fn write_limiter(per_minute: u32) -> WriteLimiter {
    let per_minute = NonZeroU32::new(per_minute)?;
    Some(Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(
        per_minute,
    ))))
}

/// One `/v1/audit/verify` at a time: it reads the whole log.
pub fn verify_gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(1))
}

/// The permit to verify, or a 429 while another verify runs.
pub fn try_verify(gate: &Semaphore) -> Result<SemaphorePermit<'_>, AppError> {
    gate.try_acquire().map_err(|_| AppError::TooManyRequests {
        detail: "a verify of the whole log is running already; try again when it ends".into(),
        retry_after_seconds: 5,
    })
}
