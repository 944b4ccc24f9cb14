//! Binding a gateway's port that may still be held for a moment. An agent restarted in place
//! (an upgrade, a reconnection, a crash and its supervisor) binds the port its predecessor
//! had; until then the port is free, and anything on the host may take it for a while (the
//! source port of an outgoing connection, usually). Giving up at once would stop the agent
//! for a condition that clears by itself; waiting for ever would hide a real conflict.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;

/// How long a gateway waits for its port by default.
pub const BIND_PATIENCE: Duration = Duration::from_secs(15);

/// How often it tries again meanwhile.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// Binds `addr`, trying again while the port is in use, for up to `patience`; any other
/// error, or the port still in use after `patience`, is returned.
pub async fn bind_patiently(addr: SocketAddr, patience: Duration) -> std::io::Result<TcpListener> {
    let deadline = Instant::now() + patience;
    let mut warned = false;
    loop {
        match TcpListener::bind(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                if !warned {
                    tracing::warn!(%addr, patience = ?patience, "the port is in use; trying again");
                    warned = true;
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_freed_within_the_patience_is_bound() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            drop(held);
        });
        let listener = bind_patiently(addr, Duration::from_secs(10)).await.unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        release.await.unwrap();
    }

    #[tokio::test]
    async fn a_port_held_past_the_patience_is_refused() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let started = std::time::Instant::now();
        let error = bind_patiently(addr, Duration::from_millis(700))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        assert!(started.elapsed() >= Duration::from_millis(700));
        drop(held);
    }
}
