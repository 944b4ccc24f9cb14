//! The TLS accept loop that serves an axum `Router`.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::SharedServerConfig;
use crate::limits::{Activity, ConnectionLimits, PeerCounts, PeerSlot, TrackedBody};

/// How long [`serve`] waits for open connections after shutdown before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a connection asked to close (idle, or at shutdown of the listener) may take to
/// do so before it is dropped: a peer that never acknowledges an HTTP/2 GOAWAY must not keep
/// it open.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Pause after a failed `accept`. Errors such as EMFILE persist for a while, and retrying
/// immediately would spin the CPU and flood the log.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(500);

/// The client certificate chain of a connection (leaf first), as verified during the
/// handshake.
///
/// [`serve`] inserts it as a request extension on every request of a connection whose client
/// sent a certificate; it is absent otherwise. Extract it with
/// `Option<axum::Extension<PeerCertificates>>` (or `Extension<PeerCertificates>` on mTLS-only
/// listeners).
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled, with the default
/// [`ConnectionLimits`]; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    config: SharedServerConfig,
    app: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    serve_with(listener, config, app, ConnectionLimits::default(), shutdown).await
}

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled.
///
/// Each accepted connection runs in its own task: TLS handshake (with the config loaded from
/// `config` at that moment, under `limits.handshake_timeout`; failures are logged at debug
/// level), then HTTP/1.1 or HTTP/2 via hyper. Handlers can extract
/// `axum::extract::ConnectInfo<SocketAddr>` and, when the client sent a certificate,
/// [`PeerCertificates`].
///
/// `limits` bound the connections: at `max_connections` the loop stops accepting until one
/// closes; a peer at `max_per_peer` has its new connection closed at once; a connection
/// without a request in progress is closed after `handshake_timeout` (before its first
/// request) or `idle_timeout` (after), HTTP/2 with a GOAWAY; HTTP/2 peers are pinged every
/// `keep_alive_interval` and dropped when they do not answer, so a held long poll of a
/// vanished client does not hold its connection.
///
/// Accept errors are logged and retried after a short pause; they never end the loop. On
/// shutdown the listener is closed, open connections are asked to finish (HTTP/1 after the
/// current response, HTTP/2 with GOAWAY) and given 10 s before they are aborted.
///
/// The `io::Result` leaves room for setup errors; the loop itself does not fail.
pub async fn serve_with(
    listener: TcpListener,
    config: SharedServerConfig,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let http = Arc::new(http_builder(&limits));
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let peers = Arc::new(PeerCounts::default());
    // Dropping the JoinSet (e.g. when this future is dropped) aborts all connection tasks,
    // so no connection outlives the server.
    let mut connections = JoinSet::new();
    let mut full = false;

    'accept: loop {
        if open.available_permits() == 0 && !full {
            tracing::warn!(
                max = limits.max_connections,
                "the listener is at its connection limit; new clients wait until one closes"
            );
        }
        full = open.available_permits() == 0;
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Reap finished connection tasks so the set does not grow without bound.
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                log_task_end(finished);
                continue;
            }
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let (tcp, remote) = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'accept,
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    log_task_end(finished);
                }
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => break accepted,
                    Err(error) => {
                        tracing::warn!(%error, "failed to accept a TCP connection; retrying");
                        tokio::select! {
                            () = shutdown.cancelled() => break 'accept,
                            () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                        }
                    }
                },
            }
        };
        let Some(slot) = peers.admit(remote.ip(), limits.max_per_peer) else {
            tracing::debug!(%remote, "the peer is at its connection limit; closing");
            drop(tcp);
            continue;
        };
        connections.spawn(connection(
            tcp,
            remote,
            Connection {
                config: Arc::clone(&config),
                app: app.clone(),
                http: Arc::clone(&http),
                limits: Arc::clone(&limits),
                shutdown: shutdown.clone(),
            },
            (permit, slot),
        ));
    }

    // Close the socket first so new clients are refused instead of queueing behind us.
    drop(listener);
    tracing::debug!(
        open = connections.len(),
        "TLS listener stopped, draining connections"
    );
    let drain = async {
        while let Some(finished) = connections.join_next().await {
            log_task_end(finished);
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace period; aborting them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// What every connection of a listener shares.
struct Connection {
    config: SharedServerConfig,
    app: Router,
    http: Arc<auto::Builder<TokioExecutor>>,
    limits: Arc<ConnectionLimits>,
    shutdown: CancellationToken,
}

fn http_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper bounds the reading of request headers (also while an HTTP/1.1
    // connection waits for its next request). The idle watch in `connection` is the limit
    // that counts; this one only backs it up, so it must not be shorter.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.max(limits.handshake_timeout));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keep_alive_interval)
        .keep_alive_timeout(limits.keep_alive_interval);
    builder
}

fn log_task_end(result: Result<(), tokio::task::JoinError>) {
    if let Err(error) = result
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
}

/// One connection: handshake, then HTTP until the client is done, it stays idle too long, or
/// shutdown is requested. `_held` (the listener's and the peer's count) is released when the
/// connection ends.
async fn connection(
    tcp: TcpStream,
    remote: SocketAddr,
    shared: Connection,
    _held: (OwnedSemaphorePermit, PeerSlot),
) {
    let Connection {
        config,
        app,
        http,
        limits,
        shutdown,
    } = shared;
    // Responses are small and latency matters more than packet count.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%remote, %error, "failed to set TCP_NODELAY");
    }

    // Loaded per connection so a swapped config applies to every connection accepted after it.
    let acceptor = TlsAcceptor::from(config.load_full());
    let tls = tokio::select! {
        () = shutdown.cancelled() => return,
        handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%remote, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake timed out");
                return;
            }
        },
    };

    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .filter(|chain| !chain.is_empty())
        .map(|chain| PeerCertificates(Arc::new(chain.to_vec())));

    let activity = Activity::new();
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Counted from here until the response body is sent: the connection is not idle.
        let guard = requests.begin();
        // What axum::serve would provide via into_make_service_with_connect_info.
        request.extensions_mut().insert(ConnectInfo(remote));
        if let Some(peer) = &peer {
            request.extensions_mut().insert(peer.clone());
        }
        // Router is always ready and cheap to clone (it is an Arc inside).
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await?;
            Ok::<_, Infallible>(response.map(|inner| {
                axum::body::Body::new(TrackedBody {
                    inner,
                    _guard: guard,
                })
            }))
        }
    });

    // With upgrades so that WebSocket handlers (e.g. GraphQL subscriptions) work.
    let conn = http.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = activity.idle_for(limits.handshake_timeout, limits.idle_timeout) => {
            tracing::debug!(%remote, "closing an idle connection");
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(CLOSE_GRACE, conn.as_mut()).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::debug!(%remote, "an idle connection did not close in time; dropped");
                    return;
                }
            }
        }
    };
    if let Err(error) = result {
        // Mostly clients that disconnect mid-request: normal, so not worth a warning.
        tracing::debug!(%remote, error = %error, "HTTP connection ended with an error");
    }
}
