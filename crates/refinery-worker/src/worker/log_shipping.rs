//! A running job's log: the reporter's lines and the build log files it announced,
//! tailed and shipped to the job source as chunks.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use refinery_build::Reporter;
use refinery_store::queue::{Job, QueueError};
use refinery_store::ManifestEntry;

use super::JobSource;

/// A reporter line and how far each build log file had grown when it was said: the
/// shipper sends those file lines first, so the job log keeps the order things happened
/// (a verdict never lands above the build output it judges).
pub(super) struct ReporterLine {
    text: String,
    files_at: Vec<(PathBuf, u64)>,
}

/// Reporter lines go to the log shipper, each marked with the build log files' lengths.
pub(super) struct StreamReporter<'a> {
    pub(super) tx: Mutex<mpsc::Sender<ReporterLine>>,
    /// The build log files announced so far (shared with the shipper).
    pub(super) files: &'a Mutex<Vec<PathBuf>>,
}

impl StreamReporter<'_> {
    pub(super) fn send(&self, text: String) {
        let files_at = lock(self.files)
            .iter()
            .filter_map(|path| Some((path.clone(), std::fs::metadata(path).ok()?.len())))
            .collect();
        let _ = self
            .tx
            .lock()
            .expect("reporter")
            .send(ReporterLine { text, files_at });
    }
}

impl Reporter for StreamReporter<'_> {
    fn message(&self, message: &str) {
        self.send(format!("[worker] {message}\n"));
    }

    fn started(&self, name: &str, version: &str, what: &str) {
        self.send(format!("[worker] {what} {name} {version}\n"));
    }

    fn finished(&self, entry: &ManifestEntry) {
        self.send(format!(
            "[worker] {} {} {}{}\n",
            entry.status,
            entry.name,
            entry.version_str(),
            if entry.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", entry.detail)
            }
        ));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How far each build log file has been shipped.
#[derive(Default)]
struct Tails {
    offsets: HashMap<PathBuf, u64>,
}

impl Tails {
    /// Appends to `batch` what `path` holds past its shipped offset, up to `limit` bytes
    /// into the file (its end when `None`); whole lines only unless `partial`.
    fn read(&mut self, path: &Path, limit: Option<u64>, partial: bool, batch: &mut String) {
        let offset = self.offsets.entry(path.to_path_buf()).or_insert(0);
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < *offset {
            *offset = 0; // rewritten (a new attempt with the same name)
        }
        let end = limit.map_or(len, |limit| limit.min(len));
        if end <= *offset {
            return;
        }
        if *offset == 0 {
            batch.push_str(&format!(
                "==> {} <==\n",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        if file.seek(SeekFrom::Start(*offset)).is_err() {
            return;
        }
        // A marked read goes all the way to its mark; an open-ended one ships at most
        // 512 KiB a round.
        let cap = if limit.is_some() {
            u64::MAX
        } else {
            512 * 1024
        };
        let mut bytes = Vec::new();
        let _ = (&mut file)
            .take((end - *offset).min(cap))
            .read_to_end(&mut bytes);
        let cut = if partial {
            bytes.len()
        } else {
            bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
        };
        *offset += cut as u64;
        batch.push_str(&String::from_utf8_lossy(&bytes[..cut]));
    }
}

/// Ships reporter lines and the growing build log files of the job (those its build
/// announced to the [`JobRecorder`], in that order) to the source, in the order they
/// were written.
pub(super) fn ship_logs(
    source: &dyn JobSource,
    job: &Job,
    files: &Mutex<Vec<PathBuf>>,
    rx: &mpsc::Receiver<ReporterLine>,
    done: &AtomicBool,
    lost: &AtomicBool,
) {
    let mut tails = Tails::default();
    let mut last_round = false;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let mut batch = String::new();
        while let Ok(line) = rx.try_recv() {
            for (path, len) in &line.files_at {
                tails.read(path, Some(*len), false, &mut batch);
            }
            batch.push_str(&line.text);
        }
        for path in lock(files).clone() {
            // Once the build is over, its files are whole: their last line too.
            tails.read(&path, None, finished, &mut batch);
        }
        if !batch.is_empty() && !lost.load(Ordering::SeqCst) {
            for piece in split_chunks(&batch, 64 * 1024) {
                if let Err(e) = source.append_log(job, piece) {
                    if matches!(e, QueueError::LeaseLost { .. }) {
                        lost.store(true, Ordering::SeqCst);
                    }
                    break;
                }
            }
        }
        if last_round {
            return;
        }
        if finished {
            last_round = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(super) fn split_chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}
