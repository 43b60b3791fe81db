//! A response body with a size limit, holding its request's concurrency
//! permit until the guest has read it or dropped it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::Error as HttpError;

/// `response` with its body cut at `max_bytes`: refused at once when its
/// `content-length` says more, else an error frame once more arrived.
pub fn limit<B>(
    response: http::Response<B>,
    max_bytes: u64,
    permit: OwnedSemaphorePermit,
    errors: Counter,
) -> Result<http::Response<LimitedBody<B>>, HttpError> {
    let announced = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = announced.filter(|length| *length > max_bytes) {
        return Err(HttpError::HttpResponseBodySize(Some(length)));
    }
    Ok(response.map(|inner| LimitedBody {
        inner,
        left: max_bytes,
        max_bytes,
        _permit: permit,
        errors,
    }))
}

/// See [`limit`].
pub struct LimitedBody<B> {
    inner: B,
    left: u64,
    max_bytes: u64,
    _permit: OwnedSemaphorePermit,
    errors: Counter,
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes, Error = HttpError> + Unpin,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let length = data.len() as u64;
            if length > self.left {
                self.errors.inc();
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(self.max_bytes)))));
            }
            self.left -= length;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
