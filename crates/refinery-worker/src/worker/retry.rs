//! When a worker calls its control plane again: an unreachable one (down, restarting, a
//! 5xx) is waited for as long as the job's lease would hold it; a refusal (a wrong token, a
//! queue that is not ours) is final.

use std::time::{Duration, Instant};

use refinery_store::queue::QueueError;

use super::SourceError;
use crate::publish::PublishError;

/// The first wait before calling an unreachable control plane again; it doubles up to
/// [`MAX_RETRY_WAIT`].
pub(super) const FIRST_RETRY_WAIT: Duration = Duration::from_secs(1);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(8);

/// Whether the control plane could not be reached (down, restarting, a 5xx): worth
/// calling again, unlike a refusal.
pub(super) fn is_unreachable(error: &QueueError) -> bool {
    matches!(error, QueueError::Unavailable { .. })
}

/// Whether the queue refused the call for good: the request or the credentials are wrong,
/// or the database is not one this worker can use.
pub(super) fn is_refusal(error: &QueueError) -> bool {
    matches!(
        error,
        QueueError::Invalid(_)
            | QueueError::NotOurs { .. }
            | QueueError::TooNew { .. }
            | QueueError::Replaced { .. }
    )
}

/// [`is_unreachable`] for the errors of a [`super::JobSource`]'s uploads.
pub(super) fn source_unreachable(error: &SourceError) -> bool {
    match error {
        SourceError::Queue(e) | SourceError::Publish(PublishError::Store(e)) => is_unreachable(e),
        _ => false,
    }
}

/// `call`, called again while its error is `retryable`, waiting `first_wait` and then
/// twice as long each time (at most [`MAX_RETRY_WAIT`]), until `patience` has passed since
/// the first call; then its last answer. A worker's finished result is worth the wait: the
/// lease it holds keeps the job its own for that long.
pub(super) fn until_reachable<T, E>(
    patience: Duration,
    first_wait: Duration,
    retryable: impl Fn(&E) -> bool,
    mut call: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let started = Instant::now();
    let mut wait = first_wait;
    loop {
        match call() {
            Err(e) if retryable(&e) && started.elapsed() + wait < patience => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(MAX_RETRY_WAIT);
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_control_plane_is_called_again_within_the_patience_only() {
        let unavailable = || QueueError::Unavailable {
            location: "http://plane".into(),
            message: "connection refused".into(),
        };
        let wait = Duration::from_millis(5);
        // Down twice, then back: the third call's answer.
        let mut calls = 0;
        let answer = until_reachable(Duration::from_secs(60), wait, is_unreachable, || {
            calls += 1;
            if calls < 3 {
                Err(unavailable())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(answer.unwrap(), 3);
        // A refusal is not called again.
        let mut calls = 0;
        let refused = until_reachable(Duration::from_secs(60), wait, is_unreachable, || {
            calls += 1;
            Err::<(), _>(QueueError::LeaseLost { job: 1, attempt: 1 })
        });
        assert!(matches!(refused, Err(QueueError::LeaseLost { .. })));
        assert_eq!(calls, 1);
        // Down for good: given up once the patience is spent.
        let mut calls = 0;
        let started = Instant::now();
        let gave_up = until_reachable(Duration::from_millis(40), wait, is_unreachable, || {
            calls += 1;
            Err::<(), _>(unavailable())
        });
        assert!(matches!(gave_up, Err(QueueError::Unavailable { .. })));
        assert!(calls >= 2, "{calls}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
