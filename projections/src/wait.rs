//! Waiting, one way everywhere: for something to become true (a read model to reach a
//! position, a first request to store its reply), and backing off after failures. The pauses
//! are `backon`'s exponential backoff; what is waited for is the caller's.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// How to wait: the first pause, the longest one (pauses double up to it), and for how long
/// in all.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub first: Duration,
    pub longest: Duration,
    pub within: Duration,
}

/// Asks `ready` until it gives a value (`Ok(Some(_))`), fails, or `patience.within` has
/// passed (`Ok(None)`). It is asked at once, then after each pause; the last pause ends at
/// the deadline, so the last answer is as late as the caller allowed.
pub async fn until<T, E, F, Fut>(patience: Patience, mut ready: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let deadline = Instant::now() + patience.within;
    let mut pauses = Backoff::new(patience.first, patience.longest);
    loop {
        if let Some(value) = ready().await? {
            return Ok(Some(value));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pauses.next_pause().min(deadline - now)).await;
    }
}

/// The pauses between retries of something that failed: doubling from `first` up to
/// `longest`, back to `first` after a success.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    pauses: ExponentialBackoff,
    longest: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(first)
            .with_max_delay(longest)
            .without_max_times();
        Backoff {
            pauses: builder.build(),
            builder,
            longest,
        }
    }

    /// The pause before the next try.
    pub fn next_pause(&mut self) -> Duration {
        self.pauses.next().unwrap_or(self.longest)
    }

    /// After a success: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.pauses = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest_and_start_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let pauses: Vec<u128> = (0..5).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn until_returns_the_first_value_and_none_at_the_deadline() {
        let patience = Patience {
            first: Duration::from_millis(1),
            longest: Duration::from_millis(4),
            within: Duration::from_millis(200),
        };
        let mut asked = 0;
        let found: Result<Option<u32>, ()> = until(patience, || {
            asked += 1;
            let answer = (asked == 3).then_some(7);
            async move { Ok(answer) }
        })
        .await;
        assert_eq!(found, Ok(Some(7)));
        assert_eq!(asked, 3, "asked until it was ready, and no more");

        let started = Instant::now();
        let never: Result<Option<u32>, ()> = until(
            Patience {
                within: Duration::from_millis(30),
                ..patience
            },
            || async { Ok(None) },
        )
        .await;
        assert_eq!(never, Ok(None));
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "waited the whole time"
        );

        let failed: Result<Option<u32>, &str> = until(patience, || async { Err("down") }).await;
        assert_eq!(failed, Err("down"), "a failure ends the wait at once");
    }
}
