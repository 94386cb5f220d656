//! The accept loop of the server: one HTTP/1 connection task per client, and a shutdown
//! that ends.
//!
//! `axum::serve` waits for every open connection on shutdown, so one live-log stream or
//! one half-sent request kept `refinery serve` alive after SIGTERM for as long as the
//! client liked. Here shutdown (1) stops accepting, (2) cancels [`AppState::shutdown`],
//! which ends the live-log streams, (3) asks every connection to finish its request and
//! close, and (4) after [`ServerConfig::shutdown_grace`](crate::ServerConfig) drops the
//! connections still open, whatever they are doing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections closed because they were still open when the grace period ran out.
    pub dropped: usize,
}

/// Serves `router` on `listener` until `signal` resolves, then shuts down within the
/// grace period of `state`'s config.
pub async fn run(
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    signal: impl Future<Output = ()>,
) -> Drained {
    let mut connections = JoinSet::new();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, router.clone(), state.shutdown.clone()));
                }
                Err(e) => accept_failed(e).await,
            },
        }
        // Reap finished connections so the set does not grow with the server's age.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    state.shutdown.cancel();
    drain(connections, state.config.shutdown_grace).await
}

/// Waits up to `grace` for the connections to finish their requests, then drops the rest.
async fn drain(mut connections: JoinSet<()>, grace: Duration) -> Drained {
    let finished = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_ok() {
        return Drained { dropped: 0 };
    }
    let dropped = connections.len();
    connections.shutdown().await;
    Drained { dropped }
}

/// An accept error (out of file descriptors, a connection reset before it was taken) is
/// the client's or the moment's: log it and pause briefly so a full descriptor table does
/// not spin the loop.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One client connection: HTTP/1 with keep-alive; on shutdown it finishes the request in
/// progress (live-log streams end by themselves) and closes.
async fn serve_connection(stream: TcpStream, router: Router, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let service = TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_connection_end(result),
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            log_connection_end(conn.await);
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}
