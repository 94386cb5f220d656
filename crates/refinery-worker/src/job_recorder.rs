//! The worker's [`Recorder`]: the build of a job tells it what happened, instead of the
//! worker reading it back afterwards. Events and attempts go to the history the build
//! writes (the control plane's own when the job source shares it); for a source that
//! does not (a remote control plane), they are also kept to be forwarded when the job
//! ends. Build log files are announced as they are opened, so the log shipper tails
//! exactly the job's files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use refinery_pep::{ProjectName, ProjectVersion};
use refinery_store::{Attempt, Event, History, HistoryError, PlanRecord, RecordError, Recorder};

/// What one job's build recorded.
pub(crate) struct JobRecorder<'a> {
    history: Mutex<History>,
    /// Events and attempts to forward, when the source does not share the history.
    forward: Option<Mutex<(Vec<Event>, Vec<Attempt>)>>,
    /// The job's build log files, in the order they were opened (the shipper reads it).
    logs: &'a Mutex<Vec<PathBuf>>,
    /// The worker running the job: attempts the build engine records without a worker
    /// (it does not know who runs it) are this worker's.
    worker: String,
}

impl<'a> JobRecorder<'a> {
    /// Records into the history at `history_db` (a file or a PostgreSQL URL) for the
    /// worker `worker`, keeping a copy to forward when `forward`.
    pub(crate) fn open(
        history_db: &Path,
        forward: bool,
        logs: &'a Mutex<Vec<PathBuf>>,
        worker: &str,
    ) -> Result<Self, HistoryError> {
        Ok(JobRecorder {
            history: Mutex::new(History::open(history_db)?),
            forward: forward.then(|| Mutex::new((Vec::new(), Vec::new()))),
            logs,
            worker: worker.to_string(),
        })
    }

    /// The events and attempts kept for forwarding, oldest first (empty when the source
    /// shares the history).
    pub(crate) fn take_forwarded(&self) -> (Vec<Event>, Vec<Attempt>) {
        self.forward
            .as_ref()
            .map(|kept| {
                std::mem::take(
                    &mut *kept
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                )
            })
            .unwrap_or_default()
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Recorder for JobRecorder<'_> {
    fn event(&self, event: &Event) -> Result<(), RecordError> {
        self.history().record_event(event)?;
        if let Some(kept) = &self.forward {
            kept.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
                .push(event.clone());
        }
        Ok(())
    }

    fn attempt(&self, attempt: &Attempt) -> Result<(), RecordError> {
        let mut attempt = attempt.clone();
        if attempt.worker.as_deref().is_none_or(str::is_empty) {
            attempt.worker = Some(self.worker.clone());
        }
        let attempt = &attempt;
        self.history().record_attempt(attempt)?;
        if let Some(kept) = &self.forward {
            kept.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .1
                .push(attempt.clone());
        }
        Ok(())
    }

    fn log_file(&self, _package: &ProjectName, _version: Option<&ProjectVersion>, path: &Path) {
        let mut logs = self
            .logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !logs.iter().any(|p| p == path) {
            logs.push(path.to_path_buf());
        }
    }

    /// A job's one-node plan is the worker's own means, not a plan of the dashboard:
    /// the job belongs to the plan it was enqueued from.
    fn plan(&self, _plan: &PlanRecord) -> Result<(), RecordError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::EventKind;

    #[test]
    fn forwards_what_the_build_recorded_and_lists_its_logs() {
        let dir = tempfile::tempdir().unwrap();
        let logs = Mutex::new(Vec::new());
        let db = dir.path().join("history.db");
        let recorder = JobRecorder::open(&db, true, &logs, "w1").unwrap();
        recorder
            .event(&Event::new(EventKind::Built, "ok").with_package("six", "1.0"))
            .unwrap();
        recorder
            .attempt(&Attempt {
                package: "six".into(),
                version: "1.0".into(),
                status: refinery_store::AttemptStatus::Success,
                ..Attempt::default()
            })
            .unwrap();
        let log = dir.path().join("six-1.0-attempt1-default.log");
        recorder.log_file(&"six".parse().unwrap(), Some(&"1.0".parse().unwrap()), &log);
        recorder.log_file(&"six".parse().unwrap(), Some(&"1.0".parse().unwrap()), &log);
        assert_eq!(*logs.lock().unwrap(), vec![log]);
        let (events, attempts) = recorder.take_forwarded();
        assert_eq!(events.len(), 1);
        assert_eq!(attempts[0].status, refinery_store::AttemptStatus::Success);
        // The build engine does not know who runs it; the recorder does.
        assert_eq!(attempts[0].worker.as_deref(), Some("w1"));
        assert!(recorder.take_forwarded().0.is_empty(), "taken once");
        // The local history has them too.
        let history = History::open(&db).unwrap();
        assert_eq!(
            history
                .attempts_for(&"six".parse().unwrap(), 10)
                .unwrap()
                .iter()
                .map(|a| a.worker.clone())
                .collect::<Vec<_>>(),
            [Some("w1".to_string())]
        );

        let shared = JobRecorder::open(&db, false, &logs, "w1").unwrap();
        shared.event(&Event::new(EventKind::RunEnd, "")).unwrap();
        assert!(shared.take_forwarded().0.is_empty());
    }
}
