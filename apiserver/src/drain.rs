//! Request bodies left unread by an early answer are read to their end before the answer
//! goes out, so that the HTTP/1.1 connection can carry the client's next request.
//!
//! Why: a request refused before its body is read (401 from [`crate::auth::authenticate`],
//! which checks the token first; a 400 for a bad query parameter; a 404 for an unknown
//! path) leaves the body in the connection. hyper then looks at the connection once for the
//! rest of the body and, when it has not all arrived yet (a client that writes the head and
//! the body separately, or TLS holding a record), closes the connection after the answer,
//! without saying so. A client that reuses the connection for its next request (keep-alive,
//! as Python's httpx and requests do) gets "Server disconnected without sending a
//! response". Go's net/http, and so kube-apiserver, read up to 256 KiB of an unread body
//! for the same reason; flatnet reads up to the request size limit (`--max-body-bytes`).
//!
//! A body larger than that, one that fails, or one that does not arrive within
//! [`DRAIN_TIMEOUT`] is not read on: the answer says `Connection: close` (HTTP/1.x), and the
//! connection closes after it as before, now announced. HTTP/2 streams are independent and
//! need nothing, but the reading does no harm there.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::Response;
use futures::{Stream, StreamExt};

/// How long an unread body may take to arrive before the connection is given up instead.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Middleware: run the request, then read what its handler left of the body (at most
/// `limit` bytes). Outermost of the API's layers, so that it sees every early answer.
pub async fn unread_bodies(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Most requests (GET, watches, HTTP/2 heads with END_STREAM) have no body to leave.
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let http1 = parts.version < Version::HTTP_2;
    let left = Arc::new(Mutex::new(None));
    let tracked = Tracked { inner: Some(body.into_data_stream()), left: left.clone(), ended: false };
    let mut response = next.run(Request::from_parts(parts, Body::from_stream(tracked))).await;
    let rest = left.lock().expect("unread body slot poisoned").take();
    if let Some(rest) = rest {
        let read = tokio::time::timeout(DRAIN_TIMEOUT, read_to_end(rest, limit)).await;
        if !matches!(read, Ok(true)) && http1 {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Read and drop the rest of a body: true when it ended within `limit` bytes.
async fn read_to_end(mut rest: BodyDataStream, limit: usize) -> bool {
    let mut read = 0usize;
    while let Some(chunk) = rest.next().await {
        match chunk {
            Ok(bytes) => {
                read += bytes.len();
                if read > limit {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// A request body that, dropped before its end, hands what is left of it back to
/// [`unread_bodies`].
struct Tracked {
    inner: Option<BodyDataStream>,
    left: Arc<Mutex<Option<BodyDataStream>>>,
    ended: bool,
}

impl Stream for Tracked {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let next = Pin::new(inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            self.ended = true;
        }
        next
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.ended {
            if let Some(inner) = self.inner.take() {
                *self.left.lock().expect("unread body slot poisoned") = Some(inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn app(limit: usize) -> Router {
        Router::new()
            // Answers without reading the body, as a refusal does.
            .route("/refuse", post(|| async { (axum::http::StatusCode::UNAUTHORIZED, "no") }))
            // Reads it.
            .route("/read", post(|body: Bytes| async move { body.len().to_string() }))
            .layer(axum::middleware::from_fn_with_state(limit, unread_bodies))
    }

    fn request(path: &str, body: Body) -> Request {
        Request::post(path).version(Version::HTTP_11).body(body).unwrap()
    }

    /// A body that comes in pieces (not known to be empty), `n` bytes in all; counts the
    /// bytes taken from it in `taken`.
    fn streamed(n: usize, taken: Arc<AtomicUsize>) -> Body {
        let piece = move |len: usize| {
            let taken = taken.clone();
            futures::stream::once(async move {
                taken.fetch_add(len, Ordering::SeqCst);
                Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; len]))
            })
        };
        Body::from_stream(piece(n / 2).chain(piece(n - n / 2)))
    }

    #[tokio::test]
    async fn an_unread_body_within_the_limit_is_read_and_the_connection_kept() {
        let taken = Arc::new(AtomicUsize::new(0));
        let resp = app(1024).oneshot(request("/refuse", streamed(1000, taken.clone()))).await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(taken.load(Ordering::SeqCst), 1000, "the whole body was read");
        assert!(resp.headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn an_unread_body_over_the_limit_closes_the_connection_and_says_so() {
        let resp = app(1024).oneshot(request("/refuse", streamed(4096, Arc::default()))).await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers().get(header::CONNECTION).unwrap(), "close");
    }

    #[tokio::test]
    async fn a_body_the_handler_read_is_left_alone() {
        let resp = app(1024).oneshot(request("/read", streamed(4096, Arc::default()))).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get(header::CONNECTION).is_none());
        let text = axum::body::to_bytes(resp.into_body(), 100).await.unwrap();
        assert_eq!(&text[..], b"4096");
    }
}
