//! One shape for the server's background tasks (the webhook notifier, the revocation watcher,
//! the epoch listener, the token purge, the listeners' certificate renewal, the Provisioner's
//! leases): a task says what one round of work is ([`BackgroundTask::activate`]) and when it
//! has work before its period ([`BackgroundTask::woken`]); [`run`] is the one loop that
//! activates it on its [`Schedule`], logs a failure with its cause chain and backs off, and
//! stops on shutdown.
//!
//! Invariants: a failed activation never ends the loop; the driver activates a task at most
//! once at a time (`&mut self`), so a task keeps its state without locks; shutdown is
//! checked between activations, never inside one (an activation is short, or watches the
//! token itself).
#![forbid(unsafe_code)]

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Why an activation failed (logged with its causes by the driver).
pub type TaskError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What an activation left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing more now: wait for the period or a wake-up.
    Idle,
    /// More work is due now: activate again at once.
    More,
}

/// A task the server runs in the background.
pub trait BackgroundTask: Send {
    /// Names the task in logs.
    fn name(&self) -> &'static str;

    /// Does one round of work.
    fn activate(&mut self) -> impl Future<Output = Result<Progress, TaskError>> + Send;

    /// Returns when there is work before the next period (by default never). It may be
    /// cancelled at any await point (when the period comes first), so it only waits; what it
    /// learns it keeps in the task for the next activation.
    fn woken(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// When the driver activates a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Activated this often (and when woken).
    pub period: Duration,
    /// Activated at once at start, or first after one period.
    pub at_start: bool,
    /// After a failure the task is activated again after this delay, doubled with each
    /// failure in a row up to [`Schedule::max_backoff`]; a success resets it.
    pub backoff: Duration,
    /// The longest delay between failed activations.
    pub max_backoff: Duration,
}

impl Schedule {
    /// Every `period`, first at once; after a failure again after a second (or the period,
    /// if shorter), doubling up to the period.
    pub fn every(period: Duration) -> Schedule {
        Schedule {
            period,
            at_start: true,
            backoff: Duration::from_secs(1).min(period),
            max_backoff: period,
        }
    }

    /// The first activation one period after start.
    pub fn after_first_period(self) -> Schedule {
        Schedule {
            at_start: false,
            ..self
        }
    }

    /// Backs off from `first` to `max` after failures.
    pub fn backing_off(self, first: Duration, max: Duration) -> Schedule {
        Schedule {
            backoff: first,
            max_backoff: max.max(first),
            ..self
        }
    }

    /// The delay after `failures` failures in a row (at least one).
    fn delay_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Runs `task` on `schedule` until `shutdown` is cancelled.
pub async fn run<T: BackgroundTask>(mut task: T, schedule: Schedule, shutdown: CancellationToken) {
    let name = task.name();
    let first = if schedule.at_start {
        Instant::now()
    } else {
        Instant::now() + schedule.period
    };
    let mut period = tokio::time::interval_at(first, schedule.period);
    period.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    loop {
        if failures == 0 {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = period.tick() => {}
                () = task.woken() => {}
            }
        } else {
            let delay = schedule.delay_after(failures);
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
        loop {
            match task.activate().await {
                Ok(Progress::Idle) => {
                    failures = 0;
                    break;
                }
                Ok(Progress::More) => {
                    failures = 0;
                    if shutdown.is_cancelled() {
                        return;
                    }
                    // Others on this worker get their turn between rounds.
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        task = name,
                        error = %sextant_domain::ErrorChain(e.as_ref()),
                        failures,
                        retry_in = ?schedule.delay_after(failures),
                        "background task failed"
                    );
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::sync::Notify;

    /// Counts its activations; fails while `failing` says so; more work `more` times.
    struct Counter {
        activations: Arc<AtomicU32>,
        failing: Arc<AtomicU32>,
        more: u32,
        wake: Arc<Notify>,
    }

    impl Counter {
        fn new() -> (Counter, Arc<AtomicU32>) {
            let activations = Arc::new(AtomicU32::new(0));
            let counter = Counter {
                activations: activations.clone(),
                failing: Arc::new(AtomicU32::new(0)),
                more: 0,
                wake: Arc::new(Notify::new()),
            };
            (counter, activations)
        }
    }

    #[derive(Debug)]
    struct Failed;
    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failed on purpose")
        }
    }
    impl std::error::Error for Failed {}

    impl BackgroundTask for Counter {
        fn name(&self) -> &'static str {
            "counter"
        }

        async fn activate(&mut self) -> Result<Progress, TaskError> {
            self.activations.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) > 0 {
                self.failing.fetch_sub(1, Ordering::SeqCst);
                return Err(Box::new(Failed));
            }
            if self.more > 0 {
                self.more -= 1;
                return Ok(Progress::More);
            }
            Ok(Progress::Idle)
        }

        async fn woken(&mut self) {
            self.wake.notified().await;
        }
    }

    /// Waits (up to 10 s) until `activations` reaches `n`.
    async fn eventually(activations: &AtomicU32, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while activations.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "{} activations, expected {n}",
                activations.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn activates_at_start_and_every_period() {
        let (task, activations) = Counter::new();
        let shutdown = CancellationToken::new();
        let period = Duration::from_millis(50);
        let driver = tokio::spawn(run(task, Schedule::every(period), shutdown.clone()));
        eventually(&activations, 1).await;
        let started = Instant::now();
        eventually(&activations, 5).await;
        assert!(
            started.elapsed() >= period * 3,
            "not faster than the period"
        );
        shutdown.cancel();
        driver.await.unwrap();
    }

    #[tokio::test]
    async fn waits_a_period_first_if_asked() {
        let (task, activations) = Counter::new();
        let shutdown = CancellationToken::new();
        let period = Duration::from_millis(300);
        let started = Instant::now();
        let schedule = Schedule::every(period).after_first_period();
        let driver = tokio::spawn(run(task, schedule, shutdown.clone()));
        eventually(&activations, 1).await;
        assert!(started.elapsed() >= period);
        shutdown.cancel();
        driver.await.unwrap();
    }

    #[tokio::test]
    async fn a_wake_up_activates_before_the_period() {
        let (task, activations) = Counter::new();
        let wake = task.wake.clone();
        let shutdown = CancellationToken::new();
        let driver = tokio::spawn(run(task, Schedule::every(HOUR), shutdown.clone()));
        eventually(&activations, 1).await;
        wake.notify_one();
        eventually(&activations, 2).await;
        wake.notify_one();
        eventually(&activations, 3).await;
        shutdown.cancel();
        driver.await.unwrap();
    }

    #[tokio::test]
    async fn more_work_activates_again_at_once() {
        let (mut task, activations) = Counter::new();
        task.more = 3;
        let shutdown = CancellationToken::new();
        let driver = tokio::spawn(run(task, Schedule::every(HOUR), shutdown.clone()));
        eventually(&activations, 4).await;
        shutdown.cancel();
        driver.await.unwrap();
        assert_eq!(
            activations.load(Ordering::SeqCst),
            4,
            "three more, then idle"
        );
    }

    #[tokio::test]
    async fn a_failure_keeps_the_loop_alive_and_backs_off() {
        let (task, activations) = Counter::new();
        task.failing.store(3, Ordering::SeqCst);
        let shutdown = CancellationToken::new();
        let schedule =
            Schedule::every(HOUR).backing_off(Duration::from_millis(20), Duration::from_millis(80));
        let started = Instant::now();
        let driver = tokio::spawn(run(task, schedule, shutdown.clone()));
        // Three failures, retried after 20, 40 and 80 ms, then a success; not the period.
        eventually(&activations, 4).await;
        assert!(started.elapsed() >= Duration::from_millis(140));
        assert!(!driver.is_finished());
        shutdown.cancel();
        driver.await.unwrap();
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let schedule = Schedule::every(Duration::from_secs(5));
        let delays: Vec<_> = (1..6).map(|n| schedule.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        let short = Schedule::every(Duration::from_millis(200));
        assert_eq!(short.delay_after(1), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn shutdown_stops_it_while_waiting_and_while_backing_off() {
        let (task, activations) = Counter::new();
        let shutdown = CancellationToken::new();
        let driver = tokio::spawn(run(task, Schedule::every(HOUR), shutdown.clone()));
        eventually(&activations, 1).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("stopped while waiting for the period")
            .unwrap();

        let (task, activations) = Counter::new();
        task.failing.store(u32::MAX, Ordering::SeqCst);
        let shutdown = CancellationToken::new();
        let driver = tokio::spawn(run(task, Schedule::every(HOUR), shutdown.clone()));
        eventually(&activations, 1).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("stopped while backing off")
            .unwrap();
    }
}
