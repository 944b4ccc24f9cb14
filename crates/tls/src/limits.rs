//! Limits on a listener's connections: how many at once (in total and per peer address), and
//! how long a connection may stay open without doing anything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::watch;

/// The limits [`crate::serve_with`] enforces on one listener.
///
/// Every open connection costs a file descriptor and memory; without these limits a client
/// that opens connections and sends nothing could use up the process's file limit and take
/// down every listener (and the database connections) with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections open at once. At the limit the listener stops accepting until one
    /// closes (new clients wait in the kernel's backlog, using no descriptor of ours).
    pub max_connections: usize,
    /// Most connections open at once from one peer address (IPv6: one /64). A connection
    /// over the limit is closed right after it is accepted.
    pub max_per_peer: usize,
    /// From accept to the end of the TLS handshake, and again from the handshake to the
    /// first request.
    pub handshake_timeout: Duration,
    /// How long a connection with no request in progress stays open (HTTP/1.1 keep-alive
    /// and HTTP/2 alike). A held request (a long poll) is a request in progress.
    pub idle_timeout: Duration,
    /// HTTP/2: how often the server pings a connection that sent nothing; a peer that does
    /// not answer within the same time is disconnected, also in the middle of a long poll.
    pub keep_alive_interval: Duration,
}

/// Defaults for a listener of its own: see the fields' documentation.
pub const DEFAULT_MAX_PER_PEER: usize = 64;
/// The default of [`ConnectionLimits::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`ConnectionLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of [`ConnectionLimits::keep_alive_interval`].
pub const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);

impl Default for ConnectionLimits {
    /// 1,024 connections, 64 per peer, 10 s to the first request, 30 s idle, pings every
    /// 20 s.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            max_per_peer: DEFAULT_MAX_PER_PEER,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive_interval: DEFAULT_KEEP_ALIVE_INTERVAL,
        }
    }
}

/// The key a peer is counted under: its IPv4 address, or the /64 of its IPv6 address (one
/// host usually holds a whole /64).
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Open connections per peer.
#[derive(Debug, Default)]
pub(crate) struct PeerCounts {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerCounts {
    /// Counts a new connection from `ip`, or answers None if the peer is at `max`.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let key = peer_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            counts: Arc::clone(self),
            key,
        })
    }
}

/// One counted connection of a peer; released on drop.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    counts: Arc<PeerCounts>,
    key: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// What a connection is doing: requests in progress (from the call of the service until
/// the response body is sent or dropped), and how many began in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Load {
    in_flight: usize,
    started: u64,
}

/// The requests of one connection, watched to tell when it is idle.
#[derive(Clone, Debug)]
pub(crate) struct Activity(Arc<watch::Sender<Load>>);

impl Activity {
    pub(crate) fn new() -> Self {
        Activity(Arc::new(watch::Sender::new(Load::default())))
    }

    /// Marks a request as in progress until the returned guard is dropped.
    pub(crate) fn begin(&self) -> RequestGuard {
        self.0.send_modify(|load| {
            load.in_flight += 1;
            load.started += 1;
        });
        RequestGuard(self.clone())
    }

    /// Completes once the connection has had no request in progress for `first` (before
    /// its first request) or `idle` (after it), counted from the moment it last became
    /// idle.
    pub(crate) async fn idle_for(&self, first: Duration, idle: Duration) {
        let mut load = self.0.subscribe();
        loop {
            // The sender lives in `self`, so waiting cannot fail.
            let current = match load.wait_for(|l| l.in_flight == 0).await {
                Ok(current) => *current,
                Err(_) => return,
            };
            let limit = if current.started == 0 { first } else { idle };
            tokio::select! {
                () = tokio::time::sleep(limit) => return,
                changed = load.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// A request in progress; see [`Activity::begin`].
#[derive(Debug)]
pub(crate) struct RequestGuard(Activity);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0
            .0
            .send_modify(|load| load.in_flight = load.in_flight.saturating_sub(1));
    }
}

/// A response body that keeps its request counted as in progress until it is sent.
pub(crate) struct TrackedBody {
    pub(crate) inner: axum::body::Body,
    pub(crate) _guard: RequestGuard,
}

impl Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn peers_are_counted_by_address_and_ipv6_prefix() {
        let counts = Arc::new(PeerCounts::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = counts.admit(a, 2).unwrap();
        let _second = counts.admit(a, 2).unwrap();
        assert!(
            counts.admit(a, 2).is_none(),
            "a third from the same address"
        );
        assert!(counts.admit("10.0.0.2".parse().unwrap(), 2).is_some());
        drop(first);
        assert!(counts.admit(a, 2).is_some(), "a slot frees on drop");

        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let _one = counts.admit(v6, 1).unwrap();
        assert!(
            counts
                .admit("2001:db8:1:2:bbbb::9".parse().unwrap(), 1)
                .is_none(),
            "the same /64"
        );
        assert!(
            counts
                .admit("2001:db8:1:3::1".parse().unwrap(), 1)
                .is_some()
        );
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        let _m = counts.admit(mapped, 1).unwrap();
        assert!(counts.admit("10.0.0.7".parse().unwrap(), 1).is_none());
    }

    #[tokio::test]
    async fn idleness_is_counted_from_the_last_request() {
        let ms = Duration::from_millis;
        let activity = Activity::new();
        let start = tokio::time::Instant::now();
        activity.idle_for(ms(100), ms(400)).await;
        let waited = start.elapsed();
        assert!(
            waited >= ms(100) && waited < ms(400),
            "the first request's limit: {waited:?}"
        );

        let guard = activity.begin();
        let waiting = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(ms(100), ms(400)).await }
        });
        tokio::time::sleep(ms(600)).await;
        assert!(!waiting.is_finished(), "a request in progress is not idle");
        let released = tokio::time::Instant::now();
        drop(guard);
        waiting.await.unwrap();
        assert!(released.elapsed() >= ms(400), "the idle limit");
    }
}
