//! Waiting for something that happens in the background (a notifier, an agent, a
//! provisioning operation) without sleeping a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What a condition polled by [`eventually`] answers: `true`/`false`, or `Some(value)` once
/// the value is there.
pub trait Ready {
    type Value;
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Polls `check` until it is ready and answers its value; fails the test, naming `what` was
/// awaited, when `limit` passes first. The check runs at least once, also after the deadline
/// passed while it ran.
pub async fn eventually<R, F, Fut>(limit: Duration, what: &str, mut check: F) -> R::Value
where
    R: Ready,
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await.ready() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_the_value_once_ready() {
        let mut calls = 0;
        let found = eventually(Duration::from_secs(5), "the third call", || {
            calls += 1;
            let now = calls;
            async move { (now >= 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for: a condition that never holds")]
    async fn names_what_was_awaited_when_time_runs_out() {
        eventually(
            Duration::from_millis(50),
            "a condition that never holds",
            || async { false },
        )
        .await;
    }
}
