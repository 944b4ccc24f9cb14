//! The TLS accept loop that serves an axum `Router`.

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
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::SharedServerConfig;

/// Upper bound for a TLS handshake. It runs in the connection's own task, so a slow client
/// only ties up itself; the bound just keeps such tasks (and their sockets) from piling up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`serve`] waits for open connections after shutdown before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled.
///
/// Each accepted connection runs in its own task: TLS handshake (with the config loaded from
/// `config` at that moment, under a 10 s timeout; failures are logged at debug level), then
/// HTTP/1.1 or HTTP/2 via hyper. Handlers can extract
/// `axum::extract::ConnectInfo<SocketAddr>` and, when the client sent a certificate,
/// [`PeerCertificates`].
///
/// Accept errors are logged and retried after a short pause; they never end the loop. On
/// shutdown the listener is closed, open connections are asked to finish (HTTP/1 after the
/// current response, HTTP/2 with GOAWAY) and given 10 s before they are aborted.
///
/// The `io::Result` leaves room for setup errors; the loop itself does not fail.
pub async fn serve(
    listener: TcpListener,
    config: SharedServerConfig,
    app: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let http = Arc::new(http_builder());
    // Dropping the JoinSet (e.g. when this future is dropped) aborts all connection tasks,
    // so no connection outlives the server.
    let mut connections = JoinSet::new();

    loop {
        let (tcp, remote) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Reap finished connection tasks so the set does not grow without bound.
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                log_task_end(finished);
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "failed to accept a TCP connection; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => continue,
                    }
                }
            },
        };
        connections.spawn(connection(
            tcp,
            remote,
            Arc::clone(&config),
            app.clone(),
            Arc::clone(&http),
            shutdown.clone(),
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

fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper enforces its default 30 s limit for reading request headers, which
    // keeps clients that trickle headers from holding connections forever.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    builder
}

fn log_task_end(result: Result<(), tokio::task::JoinError>) {
    if let Err(error) = result
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
}

/// One connection: handshake, then HTTP until the client is done or shutdown is requested.
async fn connection(
    tcp: TcpStream,
    remote: SocketAddr,
    config: SharedServerConfig,
    app: Router,
    http: Arc<auto::Builder<TokioExecutor>>,
    shutdown: CancellationToken,
) {
    // Responses are small and latency matters more than packet count.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%remote, %error, "failed to set TCP_NODELAY");
    }

    // Loaded per connection so a swapped config applies to every connection accepted after it.
    let acceptor = TlsAcceptor::from(config.load_full());
    let tls = tokio::select! {
        () = shutdown.cancelled() => return,
        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)) => match handshake {
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

    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What axum::serve would provide via into_make_service_with_connect_info.
        request.extensions_mut().insert(ConnectInfo(remote));
        if let Some(peer) = &peer {
            request.extensions_mut().insert(peer.clone());
        }
        // Router is always ready and cheap to clone (it is an Arc inside).
        app.clone().oneshot(request)
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
    };
    if let Err(error) = result {
        // Mostly clients that disconnect mid-request: normal, so not worth a warning.
        tracing::debug!(%remote, error = %error, "HTTP connection ended with an error");
    }
}
