//! The accept loop of the server: one HTTP/1 connection task per client, and a shutdown
//! that ends.
//!
//! `axum::serve` waits for every open connection on shutdown, so one live-log stream or
//! one half-sent request kept `refinery serve` alive after SIGTERM for as long as the
//! client liked. Here shutdown (1) stops accepting, (2) cancels [`AppState::shutdown`],
//! which ends the live-log streams, (3) asks every connection to finish its request and
//! close, and (4) after [`ServerConfig::shutdown_grace`](crate::ServerConfig) drops the
//! connections still open, whatever they are doing.
//!
//! Idle and half-open connections cannot starve the server either: a request head must
//! arrive within [`ServerConfig::header_read_timeout`](crate::ServerConfig) (also the
//! keep-alive wait between requests), a connection that moves no byte either way for
//! `idle_timeout` is closed, and at most `max_connections` are open. At the cap a new
//! connection pushes out the oldest one that has no request in progress, so a flood of
//! idle or partial-header connections cannot keep `/api/health` out; only when every open
//! connection is busy is the newcomer closed at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
    let registry = Arc::new(Registry::new(state.config.max_connections));
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match registry.admit() {
                    Some(conn) => {
                        let limits = Limits::of(&state.config);
                        connections.spawn(serve_connection(
                            stream, peer, router.clone(), state.shutdown.clone(), conn, registry.clone(), limits,
                        ));
                    }
                    None => refused(stream, registry.cap),
                },
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

/// The timeouts of one connection.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read: Duration,
    idle: Duration,
}

impl Limits {
    fn of(config: &crate::ServerConfig) -> Limits {
        Limits {
            header_read: config.header_read_timeout,
            idle: config.idle_timeout,
        }
    }
}

/// Every connected client at the cap has a request in progress: close the newcomer.
fn refused(stream: TcpStream, cap: usize) {
    tracing::warn!("refused a connection: all {cap} connections are busy (--max-connections)");
    drop(stream);
}

/// One open connection as the registry sees it.
struct Conn {
    id: u64,
    /// Requests whose response has not been sent to the end.
    busy: AtomicUsize,
    /// Cancelled to push the connection out (the cap was reached and it was idle).
    evict: CancellationToken,
    /// When a byte last moved, in milliseconds since `epoch`.
    last_io: AtomicU64,
    epoch: Instant,
}

impl Conn {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_io.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.epoch + Duration::from_millis(self.last_io.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// The open connections, oldest first, and the cap on their number.
struct Registry {
    cap: usize,
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn new(cap: usize) -> Registry {
        Registry {
            cap: cap.max(1),
            next: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// Makes room for a new connection: below the cap at once, at the cap by evicting the
    /// oldest idle connection; `None` when every open connection is busy.
    fn admit(&self) -> Option<Arc<Conn>> {
        let mut open = self.open.lock().expect("connection registry");
        if open.len() >= self.cap {
            let idle = open
                .values()
                .find(|c| c.busy.load(Ordering::Acquire) == 0)
                .map(|c| c.id)?;
            if let Some(evicted) = open.remove(&idle) {
                evicted.evict.cancel();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            busy: AtomicUsize::new(0),
            evict: CancellationToken::new(),
            last_io: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        open.insert(id, conn.clone());
        Some(conn)
    }

    fn leave(&self, id: u64) {
        self.open.lock().expect("connection registry").remove(&id);
    }
}

/// One client connection: HTTP/1 with keep-alive; on shutdown it finishes the request in
/// progress (live-log streams end by themselves) and closes. It is dropped when evicted,
/// or when no byte has moved for the idle timeout.
async fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    conn_info: Arc<Conn>,
    registry: Arc<Registry>,
    limits: Limits,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Tracked {
        inner: stream,
        conn: conn_info.clone(),
    });
    let counted = conn_info.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Handlers see the client's address as axum's `ConnectInfo` (token throttling).
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let router = TowerToHyperService::new(router.clone());
        let guard = BusyGuard::enter(counted.clone());
        async move {
            let response = router.call(req).await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                axum::body::Body::new(Guarded {
                    body,
                    _guard: guard,
                })
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_connection_end(result),
        () = conn_info.evict.cancelled() => tracing::debug!("evicted an idle connection at the cap"),
        () = conn_info.idle_for(limits.idle) => tracing::debug!("closed a connection idle for {:?}", limits.idle),
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            log_connection_end(conn.await);
        }
    }
    registry.leave(conn_info.id);
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// Counts a request as in progress until its response body is dropped (sent or not).
struct BusyGuard(Arc<Conn>);

impl BusyGuard {
    fn enter(conn: Arc<Conn>) -> BusyGuard {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(conn)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy while it is being sent.
struct Guarded {
    body: axum::body::Body,
    _guard: BusyGuard,
}

impl http_body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A TCP stream that notes when a byte last moved (the idle timeout).
struct Tracked {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
