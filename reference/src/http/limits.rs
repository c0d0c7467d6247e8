//! What one connection and one request may cost: how long a client may take
//! to send its headers, to stay idle between requests, and to make progress
//! on a body. Every wait has a timeout; an expired one ends the request (and
//! its connection) and keeps what was already durably written.

use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The per-connection limits, each named and configurable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this long of the client
    /// starting to send them; also how long a kept-alive connection may
    /// sit idle before its next request (hyper times both from the moment
    /// the connection is ready to read a request).
    pub header_read_timeout: Duration,
    /// A request body that delivers no bytes for this long is cut off.
    pub body_progress_timeout: Duration,
}

impl ConnectionLimits {
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(30),
        body_progress_timeout: Duration::from_secs(60),
    };
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits::DEFAULT
    }
}

/// A body stalled longer than its progress timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body made no progress for {0:?}")]
pub struct Stalled(pub Duration);

/// A body stream that fails with [`Stalled`] when no chunk arrives within
/// `timeout` of the previous one (or of the first poll).
pub struct Progress<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Progress<S> {
    pub fn new(inner: S, timeout: Duration) -> Progress<S> {
        Progress { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl<S, E> Stream for Progress<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let timeout = self.timeout;
                let now = tokio::time::Instant::now();
                self.deadline.as_mut().reset(now + timeout);
                Poll::Ready(item.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(Stalled(self.timeout))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_and_a_steady_one_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let mut body = Progress::new(tokio_stream_of(rx), Duration::from_secs(5));
        let feeder = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Ok(Bytes::from_static(b"x"))).await.unwrap();
            }
            // Then silence, with the sender still open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        for _ in 0..3 {
            assert_eq!(&body.next().await.unwrap().unwrap()[..], b"x", "4 s apart is progress");
        }
        let err = body.next().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<Stalled>().is_some(), "{err}");
        feeder.abort();
    }

    fn tokio_stream_of(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
