//! A running job's log: the reporter's lines and the build log files it announced,
//! tailed and shipped to the job source as chunks.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use refinery_build::Reporter;
use refinery_store::queue::{Job, QueueError};
use refinery_store::ManifestEntry;

use super::JobSource;

/// Reporter lines go to the log shipper.
pub(super) struct StreamReporter {
    pub(super) tx: Mutex<mpsc::Sender<String>>,
}

impl StreamReporter {
    pub(super) fn send(&self, line: String) {
        let _ = self.tx.lock().expect("reporter").send(line);
    }
}

impl Reporter for StreamReporter {
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

/// Ships reporter lines and the growing build log files of the job (those its build
/// announced to the [`JobRecorder`], in that order) to the source.
pub(super) fn ship_logs(
    source: &dyn JobSource,
    job: &Job,
    files: &Mutex<Vec<PathBuf>>,
    rx: &mpsc::Receiver<String>,
    done: &AtomicBool,
    lost: &AtomicBool,
) {
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    let mut last_round = false;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let mut batch = String::new();
        while let Ok(line) = rx.try_recv() {
            batch.push_str(&line);
        }
        {
            let files = files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            for path in files {
                let offset = offsets.entry(path.clone()).or_insert(0);
                let Ok(mut file) = std::fs::File::open(&path) else {
                    continue;
                };
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                if len < *offset {
                    *offset = 0; // rewritten (a new attempt with the same name)
                }
                if len == *offset {
                    continue;
                }
                if *offset == 0 {
                    batch.push_str(&format!(
                        "==> {} <==\n",
                        path.file_name().unwrap_or_default().to_string_lossy()
                    ));
                }
                if file.seek(SeekFrom::Start(*offset)).is_err() {
                    continue;
                }
                let mut bytes = Vec::new();
                let _ = (&mut file).take(512 * 1024).read_to_end(&mut bytes);
                // Ship whole lines only, unless the build is over.
                let cut = if finished {
                    bytes.len()
                } else {
                    bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
                };
                *offset += cut as u64;
                batch.push_str(&String::from_utf8_lossy(&bytes[..cut]));
            }
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
