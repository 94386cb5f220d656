//! Where a run reports what happens: the [`Recorder`] trait that the build engine calls
//! (events, attempts, build log files, the plan, each package's final status), and
//! [`StoreRecorder`], its implementation over the history database and the control
//! plane's store that the CLI uses. The server and the worker implement the same trait
//! over the same stores, so every run, from any entry point, lands where the dashboard
//! reads: events and attempts in the history, the plan in `plans` (listed under Plans),
//! each package as a finished job in `jobs` (counted by the tiles and "Builds over time").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use refinery_pep::{ProjectName, ProjectVersion};

use crate::history::{Attempt, Event, History, HistoryError};
use crate::manifest::ManifestEntry;
use crate::queue::{FinishedJob, JobSpec, QueueError, QueueStore, StoredPlan};

/// Why something could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot save the plan as {path}: {source}")]
    PlanFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A plan to record: the row the Plans page lists and the file kept under
/// `<cache>/plans/v1/<id>.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    /// Id, target, counts and the whole plan as JSON.
    pub stored: StoredPlan,
    /// The plan file's bytes (pretty JSON of the plan).
    pub file: Vec<u8>,
}

/// A package that reached its final status in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageRecord<'a> {
    pub entry: &'a ManifestEntry,
    /// Target `CPython` version (`3.11`) and platform tag.
    pub python: &'a str,
    pub platform_tag: &'a str,
    pub plan_id: &'a str,
    pub run_id: &'a str,
    /// When work on it started and ended, Unix milliseconds.
    pub started_ms: i64,
    pub finished_ms: i64,
}

/// What a run reports, for the dashboard and the history. Every method is blocking.
///
/// The build engine calls it; the binary ([`StoreRecorder`]), the worker and the server
/// implement it over the same history and plan store. A package may be reported more than
/// once in a run (a reused wheel that verification later marks broken): the last report
/// wins.
pub trait Recorder: Send + Sync {
    /// An event (history table `events`).
    ///
    /// # Errors
    ///
    /// [`RecordError::History`] when the history cannot store it.
    fn event(&self, event: &Event) -> Result<(), RecordError>;
    /// One finished build attempt (history table `attempts`).
    ///
    /// # Errors
    ///
    /// [`RecordError::History`] when the history cannot store it.
    fn attempt(&self, attempt: &Attempt) -> Result<(), RecordError>;
    /// The build of `package` `version` started writing its log lines to `path`. The log
    /// belongs to the package's [`Recorder::package`] report of the same name (compared
    /// normalized) and version (compared as PEP 440 versions).
    fn log_file(&self, _package: &ProjectName, _version: Option<&ProjectVersion>, _path: &Path) {}
    /// The plan the run carries out.
    ///
    /// # Errors
    ///
    /// [`RecordError::PlanFile`] when the plan file cannot be written,
    /// [`RecordError::Queue`] when the store cannot save the plan's row.
    fn plan(&self, plan: &PlanRecord) -> Result<(), RecordError>;
    /// A package reached its final status.
    ///
    /// # Errors
    ///
    /// Whatever the implementation's store answers ([`RecordError::Queue`],
    /// [`RecordError::History`]); the default records nothing and never fails.
    fn package(&self, _package: &PackageRecord<'_>) -> Result<(), RecordError> {
        Ok(())
    }
    /// The run is over: write whatever was held back.
    ///
    /// # Errors
    ///
    /// [`RecordError::Queue`] when the store refuses a held-back job or its log; the
    /// default holds nothing back and never fails.
    fn finish_run(&self) -> Result<(), RecordError> {
        Ok(())
    }
}

/// Records nothing (tests, dry runs).
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn event(&self, _: &Event) -> Result<(), RecordError> {
        Ok(())
    }
    fn attempt(&self, _: &Attempt) -> Result<(), RecordError> {
        Ok(())
    }
    fn plan(&self, _: &PlanRecord) -> Result<(), RecordError> {
        Ok(())
    }
}

/// Writes the plan file `<plans_dir>/<id>.json` (and `latest.json` with `latest`)
/// atomically, then the plan's row in the store if there is one: the one way plans are
/// persisted.
///
/// # Errors
///
/// [`RecordError::PlanFile`] naming the file that cannot be written,
/// [`RecordError::Queue`] when the store cannot save the plan's row.
pub fn store_plan(
    queue: Option<&dyn QueueStore>,
    plans_dir: &Path,
    plan: &PlanRecord,
    latest: bool,
) -> Result<(), RecordError> {
    let mut files = vec![plans_dir.join(format!("{}.json", plan.stored.id))];
    if latest {
        files.push(plans_dir.join("latest.json"));
    }
    for path in files {
        crate::write_atomic(&path, &plan.file)
            .map_err(|source| RecordError::PlanFile { path, source })?;
    }
    if let Some(queue) = queue {
        queue.save_plan(&plan.stored)?;
    }
    Ok(())
}

/// The folder of plan files under a cache folder.
#[must_use]
pub fn plans_dir(cache: &Path) -> PathBuf {
    cache.join("plans").join("v1")
}

/// A package waiting for the end of the run, and the logs its build wrote, by project
/// (normalized) and version.
#[derive(Default)]
struct Held {
    jobs: BTreeMap<(ProjectName, Option<ProjectVersion>), FinishedJob>,
    logs: BTreeMap<(ProjectName, Option<ProjectVersion>), Vec<PathBuf>>,
}

/// The binary's recorder: events and attempts into the history, the plan into the store
/// (and `latest.json`), each package as a finished job with its build logs once the run
/// ends. The queue store is optional: without one (it could not be opened) only the
/// history is written.
pub struct StoreRecorder {
    history: Mutex<History>,
    queue: Option<Arc<dyn QueueStore>>,
    plans_dir: PathBuf,
    held: Mutex<Held>,
}

/// A build log longer than this goes into the job's log by its tail only.
const MAX_LOG_COPY: u64 = 1024 * 1024;

impl StoreRecorder {
    pub fn new(history: History, queue: Option<Arc<dyn QueueStore>>, cache: &Path) -> Self {
        StoreRecorder {
            history: Mutex::new(history),
            queue,
            plans_dir: plans_dir(cache),
            held: Mutex::new(Held::default()),
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Recorder for StoreRecorder {
    fn event(&self, event: &Event) -> Result<(), RecordError> {
        self.history().record_event(event)?;
        Ok(())
    }

    fn attempt(&self, attempt: &Attempt) -> Result<(), RecordError> {
        self.history().record_attempt(attempt)?;
        Ok(())
    }

    fn log_file(&self, package: &ProjectName, version: Option<&ProjectVersion>, path: &Path) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let logs = held
            .logs
            .entry((package.clone(), version.cloned()))
            .or_default();
        if !logs.iter().any(|p| p == path) {
            logs.push(path.to_path_buf());
        }
    }

    fn plan(&self, plan: &PlanRecord) -> Result<(), RecordError> {
        // `latest.json`: the binary's last plan, which the planner reads back.
        store_plan(self.queue.as_deref(), &self.plans_dir, plan, true)
    }

    fn package(&self, package: &PackageRecord<'_>) -> Result<(), RecordError> {
        let entry = package.entry;
        let job = FinishedJob {
            spec: JobSpec {
                package: entry.name.to_string(),
                version: entry.version_str().to_string(),
                python: package.python.to_string(),
                platform_tag: package.platform_tag.to_string(),
                plan_id: Some(package.plan_id.to_string()),
                status: Some(crate::glossary::job_status_of(entry.status)),
                detail: entry.detail.clone(),
                ..JobSpec::default()
            },
            started_ms: Some(package.started_ms),
            finished_ms: package.finished_ms,
            // The shape a worker reports (see refinery-server's worker), plus `origin`.
            result: serde_json::json!({
                "wheel": entry.path,
                "sha256": entry.sha256,
                "metadata": entry.metadata,
                "run_id": package.run_id,
                "origin": "cli",
                "seconds": ((package.finished_ms - package.started_ms).max(0) as f64 / 100.0).round() / 10.0,
            }),
        };
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.jobs
            .insert((entry.name.clone(), entry.version.clone()), job);
        Ok(())
    }

    fn finish_run(&self) -> Result<(), RecordError> {
        let held = std::mem::take(
            &mut *self
                .held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        // One package the store refuses does not keep the others off the dashboard.
        let mut first_error = None;
        for (key, job) in held.jobs {
            let recorded = queue.record_finished(&job).and_then(|stored| {
                for path in held.logs.get(&key).into_iter().flatten() {
                    if let Some(text) = log_tail(path) {
                        queue.append_system_log(
                            stored.id,
                            &format!("==> {} <==\n{text}", file_name(path)),
                        )?;
                    }
                }
                Ok(())
            });
            if let Err(e) = recorded {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The last [`MAX_LOG_COPY`] bytes of a log file (lossy UTF-8), if it can be read.
fn log_tail(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let skip = len.saturating_sub(MAX_LOG_COPY);
    file.seek(SeekFrom::Start(skip)).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_LOG_COPY).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Some(if skip > 0 {
        format!(
            "[refinery] … the first {skip} bytes are left out; the whole log is {}\n{text}",
            path.display()
        )
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EventKind;
    use crate::manifest::Status;
    use crate::queue::{JobFilter, JobStatus};

    fn recorder(dir: &Path) -> (StoreRecorder, Arc<dyn QueueStore>) {
        let cache = dir.join("cache");
        let queue = crate::open_queue(None, &cache).unwrap();
        let history = History::open(&cache.join("history.db")).unwrap();
        (
            StoreRecorder::new(history, Some(queue.clone()), &cache),
            queue,
        )
    }

    fn plan_record(id: &str) -> PlanRecord {
        PlanRecord {
            stored: StoredPlan {
                id: id.into(),
                input_id: None,
                python: "3.11".into(),
                platform_tag: "manylinux2014_s390x".into(),
                summary: serde_json::json!({"reuse": 1, "build": 1, "missing": 0}),
                body: serde_json::json!({"id": id, "nodes": []}),
                created_ms: 0,
            },
            file: format!("{{\"id\": \"{id}\"}}").into_bytes(),
        }
    }

    #[test]
    fn a_run_lands_in_the_plans_the_jobs_and_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, queue) = recorder(dir.path());
        recorder.plan(&plan_record("plan-1")).unwrap();
        let listed = queue.plans(10, 0).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, "plan-1");
        assert_eq!(listed[0].summary["build"], 1);
        let plans = dir.path().join("cache/plans/v1");
        assert_eq!(
            std::fs::read(plans.join("latest.json")).unwrap(),
            std::fs::read(plans.join("plan-1.json")).unwrap()
        );

        let log = dir.path().join("six-1.0-attempt1-default.log");
        std::fs::write(&log, "compiling\nok\n").unwrap();
        recorder.log_file(&"six".parse().unwrap(), Some(&"1.0".parse().unwrap()), &log);
        let mut built = ManifestEntry::new(
            "six".parse().unwrap(),
            Some("1.0".parse().unwrap()),
            Status::Built,
        );
        built.path = Some("six-1.0-py3-none-any.whl".into());
        let mut reused = ManifestEntry::new(
            "tiny".parse().unwrap(),
            Some("2.0".parse().unwrap()),
            Status::Reused,
        );
        fn record(entry: &ManifestEntry, started_ms: i64, finished_ms: i64) -> PackageRecord<'_> {
            PackageRecord {
                entry,
                python: "3.11",
                platform_tag: "manylinux2014_s390x",
                plan_id: "plan-1",
                run_id: "run-1",
                started_ms,
                finished_ms,
            }
        }
        // A package that never resolved has no version, and still reaches the dashboard.
        let missing = ManifestEntry::new("no-such-project".parse().unwrap(), None, Status::Missing);
        recorder.package(&record(&missing, 900, 950)).unwrap();
        recorder.package(&record(&built, 1_000, 4_500)).unwrap();
        recorder.package(&record(&reused, 1_000, 1_200)).unwrap();
        // A later report of the same package wins.
        reused.status = Status::Broken;
        recorder.package(&record(&reused, 1_000, 5_000)).unwrap();
        assert_eq!(queue.stats().unwrap().total, 0, "held until the run ends");
        recorder.finish_run().unwrap();

        let stats = queue.stats().unwrap();
        assert_eq!(stats.total, 3);
        assert_eq!(stats.by_status["built"], 1);
        assert_eq!(stats.by_status["broken"], 1);
        assert_eq!(stats.by_status["missing"], 1);
        let jobs = queue
            .jobs(&JobFilter {
                plan_id: Some("plan-1".into()),
                limit: 10,
                ..JobFilter::default()
            })
            .unwrap();
        let six = jobs.iter().find(|j| j.package == "six").unwrap();
        assert_eq!(six.status, JobStatus::Built);
        assert_eq!(
            (six.started_ms, six.finished_ms),
            (Some(1_000), Some(4_500))
        );
        assert_eq!(six.attempt, 1);
        assert_eq!(six.result["wheel"], "six-1.0-py3-none-any.whl");
        assert_eq!(six.result["seconds"], 3.5);
        assert_eq!(six.result["origin"], "cli");
        let log_text: String = queue
            .log_chunks(six.id, 0, 100)
            .unwrap()
            .into_iter()
            .map(|c| c.data)
            .collect();
        assert!(
            log_text.contains("==> six-1.0-attempt1-default.log <==\ncompiling\nok\n"),
            "{log_text}"
        );
        // Nothing is held twice.
        recorder.finish_run().unwrap();
        assert_eq!(queue.stats().unwrap().total, 3);

        recorder
            .event(&Event::new(EventKind::RunEnd, "2 packages").with_run("run-1"))
            .unwrap();
        let history = History::open(&dir.path().join("cache/history.db")).unwrap();
        assert_eq!(
            history.recent_events(10).unwrap()[0].kind,
            EventKind::RunEnd
        );
    }

    #[test]
    fn a_log_joins_its_package_whatever_the_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, queue) = recorder(dir.path());
        let log = dir.path().join("pyyaml-6.0.1-attempt1-default.log");
        std::fs::write(&log, "building\n").unwrap();
        // The plan spells the name normalized, the manifest entry as the project does.
        recorder.log_file(
            &"pyyaml".parse().unwrap(),
            Some(&"6.0.1".parse().unwrap()),
            &log,
        );
        let entry = ManifestEntry::new(
            "PyYAML".parse().unwrap(),
            Some("6.0.1".parse().unwrap()),
            Status::Failed,
        );
        recorder
            .package(&PackageRecord {
                entry: &entry,
                python: "3.11",
                platform_tag: "manylinux2014_s390x",
                plan_id: "p",
                run_id: "r",
                started_ms: 0,
                finished_ms: 1,
            })
            .unwrap();
        recorder.finish_run().unwrap();
        let jobs = queue.jobs(&JobFilter::default()).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].package, "PyYAML");
        let log_text: String = queue
            .log_chunks(jobs[0].id, 0, 100)
            .unwrap()
            .into_iter()
            .map(|c| c.data)
            .collect();
        assert!(
            log_text.contains("==> pyyaml-6.0.1-attempt1-default.log <==\nbuilding\n"),
            "{log_text}"
        );
    }

    #[test]
    fn without_a_queue_the_plan_file_is_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let history = History::open(&dir.path().join("h.db")).unwrap();
        let recorder = StoreRecorder::new(history, None, &cache);
        recorder.plan(&plan_record("p2")).unwrap();
        assert!(cache.join("plans/v1/p2.json").is_file());
        assert!(cache.join("plans/v1/latest.json").is_file());
        let entry = ManifestEntry::new(
            "six".parse().unwrap(),
            Some("1.0".parse().unwrap()),
            Status::Built,
        );
        recorder
            .package(&PackageRecord {
                entry: &entry,
                python: "3.11",
                platform_tag: "manylinux2014_s390x",
                plan_id: "p2",
                run_id: "r",
                started_ms: 0,
                finished_ms: 1,
            })
            .unwrap();
        recorder.finish_run().unwrap();
    }
}
