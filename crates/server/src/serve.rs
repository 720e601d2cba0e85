//! The listener: accepts TCP connections and serves each with hyper's automatic connection,
//! HTTP/1.1 or cleartext HTTP/2 with prior knowledge (h2c, which gRPC clients speak), told apart
//! by the connection's first bytes, with the peer's address given to the handlers
//! (`ConnectInfo`, for the client-address rules).
//!
//! Invariants:
//! - header names are written in their canonical case on the wire (`X-Total-Count`, not
//!   `x-total-count`) on HTTP/1.1: HTTP says they are case-insensitive, but some vendor clients
//!   read them from a plain, case-sensitive map (docs/dialects/sailpoint.md); HTTP/2 writes
//!   every name in lower case, as it must;
//! - when `shutdown` resolves, no new connection is accepted, requests in flight finish, idle
//!   keep-alive connections are closed (HTTP/2 ones with a GOAWAY), and `serve` returns once
//!   every connection has ended;
//! - a failed accept (too many open files, a reset in the queue) is logged and the loop goes on
//!   after a short pause, never ending the server.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Pause after a failed accept, so a full file table does not spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see the module header).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
