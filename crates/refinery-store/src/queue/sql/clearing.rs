//! Clearing jobs from the Builds list. Nothing is deleted: a cleared job keeps its
//! result and log and still counts wherever the dashboard says what happened (the history
//! it mirrors is append-only); only the Builds list leaves it out (`cleared_ms`).

use super::super::db::{Backend, Conn, Value};
use super::super::{JobStatus, QueueError};
use super::rows::status_list;
use super::SqlQueue;

/// Clears jobs `ids` and every job with one of `statuses`. A waiting job is cancelled
/// as it is cleared (it must not build behind the list's back); running ones stay.
pub(super) fn clear<B: Backend>(
    q: &SqlQueue<B>,
    ids: &[i64],
    statuses: &[JobStatus],
) -> Result<u64, QueueError> {
    if let Some(status) = statuses.iter().find(|s| s.is_active()) {
        return Err(QueueError::Invalid(format!(
            "jobs that are `{status}` cannot be cleared: a worker holds them; cancel them instead"
        )));
    }
    let now = q.now_ms();
    q.tx(|c| {
        let mut n = 0;
        for id in ids {
            n += clear_where(c, "id = $2", &[now.into(), (*id).into()])?;
        }
        if !statuses.is_empty() {
            let which = format!("status IN ({})", status_list(statuses));
            n += clear_where(c, &which, &[now.into()])?;
        }
        Ok(n)
    })
}

/// Clears the jobs `which` selects (`$1` is now): waiting ones end `cancelled`.
fn clear_where<C: Conn>(c: &mut C, which: &str, params: &[Value]) -> Result<u64, QueueError> {
    let cancelled = c.execute(
        &format!(
            "UPDATE jobs SET status = 'cancelled', finished_ms = $1, updated_ms = $1, \
             cleared_ms = $1, detail = 'cleared from the queue before a worker took it' \
             WHERE {which} AND status IN ('pending', 'retry')"
        ),
        params,
    )?;
    let finished = c.execute(
        &format!(
            "UPDATE jobs SET cleared_ms = $1 WHERE {which} AND cleared_ms IS NULL \
             AND status NOT IN ('pending', 'retry', 'leased', 'building')"
        ),
        params,
    )?;
    Ok(cancelled + finished)
}
