//! The memory budget: requests in flight together hold at most `memory-budget-bytes`. Each
//! reserves `config::reservation_bytes` of its body (declared by `Content-Length`, else the body
//! limit) before reading it, and keeps the reservation until its answer has been handed to the
//! connection, so neither many large requests at once nor clients that read their answers slowly
//! can make the server hold more. A request that cannot reserve before its deadline is answered
//! 503 and costs nothing more.
//!
//! Large reservations (more than 1/64 of the budget) may hold half the budget at most, so large
//! requests, slow or many, never keep the small ones the Web UI sends from being served.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::codec::server::error::ApiError;
use crate::codec::server::metrics::Metrics;

/// Permits count KiB, so a reservation fits the semaphore's `u32` per acquisition.
const UNIT: usize = 1024;
/// An answer is handed to the connection in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// A reservation is large above this share of the budget.
const LARGE_SHARE: usize = 64;

/// The budget.
pub struct MemoryBudget {
    all: Arc<Semaphore>,
    large: Arc<Semaphore>,
    large_units: usize,
    metrics: Arc<Metrics>,
}

impl MemoryBudget {
    /// A budget of `bytes`, half of which large reservations may hold.
    pub fn new(bytes: usize, metrics: Arc<Metrics>) -> Self {
        let units = bytes / UNIT;
        Self {
            all: Arc::new(Semaphore::new(units)),
            large: Arc::new(Semaphore::new(units / 2)),
            large_units: units / LARGE_SHARE,
            metrics,
        }
    }

    /// Reserves `bytes`, waiting in line (first come, first served) until `deadline`.
    pub async fn reserve(&self, bytes: usize, deadline: Instant) -> Result<Reservation, ApiError> {
        let units = u32::try_from(bytes.div_ceil(UNIT)).map_err(|_| ApiError::Busy)?;
        let acquire = async {
            let large = if units as usize > self.large_units {
                Some(self.large.clone().acquire_many_owned(units).await?)
            } else {
                None
            };
            let all = self.all.clone().acquire_many_owned(units).await?;
            Ok::<_, tokio::sync::AcquireError>((all, large))
        };
        let (all, large) = tokio::time::timeout_at(deadline.into(), acquire)
            .await
            .map_err(|_| ApiError::Busy)?
            .map_err(|_| ApiError::Busy)?;
        let bytes = units as usize * UNIT;
        self.metrics.memory_reserved(bytes, true);
        Ok(Reservation {
            _all: all,
            _large: large,
            bytes,
            metrics: self.metrics.clone(),
        })
    }
}

/// Part of the budget, returned when dropped.
pub struct Reservation {
    _all: OwnedSemaphorePermit,
    _large: Option<OwnedSemaphorePermit>,
    bytes: usize,
    metrics: Arc<Metrics>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.metrics.memory_reserved(self.bytes, false);
    }
}

/// An answer's body that holds its request's reservation until the last piece is handed over.
pub struct ReservedBody {
    data: Bytes,
    reservation: Option<Reservation>,
}

impl ReservedBody {
    /// `data`, keeping `reservation` until it is all handed over.
    pub fn new(data: Bytes, reservation: Reservation) -> Self {
        Self {
            data,
            reservation: Some(reservation),
        }
    }
}

impl hyper::body::Body for ReservedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.data.is_empty() {
            self.reservation = None;
            return Poll::Ready(None);
        }
        let size = self.data.len().min(CHUNK);
        let piece = self.data.split_to(size);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn reservations_wait_for_room_and_give_up_at_their_deadline() {
        let metrics = Arc::new(Metrics::default());
        let budget = MemoryBudget::new(128 * UNIT, metrics);
        let soon = || Instant::now() + Duration::from_millis(50);
        let first = budget.reserve(60 * UNIT, soon()).await.unwrap();
        assert!(matches!(
            budget.reserve(60 * UNIT, soon()).await,
            Err(ApiError::Busy)
        ));
        drop(first);
        assert!(budget.reserve(60 * UNIT, soon()).await.is_ok());
    }

    #[tokio::test]
    async fn large_reservations_leave_half_the_budget_to_small_ones() {
        let metrics = Arc::new(Metrics::default());
        let budget = MemoryBudget::new(128 * UNIT, metrics);
        let soon = || Instant::now() + Duration::from_millis(50);
        let large = budget.reserve(40 * UNIT, soon()).await.unwrap();
        assert!(
            matches!(budget.reserve(40 * UNIT, soon()).await, Err(ApiError::Busy)),
            "large ones hold half at most"
        );
        let small: Vec<_> =
            futures_util::future::join_all((0..40).map(|_| budget.reserve(UNIT, soon()))).await;
        assert!(small.iter().all(Result::is_ok));
        drop(large);
    }
}
