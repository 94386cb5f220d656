//! SQLite backend: `<cache>/queue.db` in WAL mode, marked with its own application id,
//! migrated through `PRAGMA user_version`.
//!
//! The file is the queue: deleted or replaced under a running process, the open
//! connections keep writing into the old file (gone at exit) while new ones would start a
//! new one. So the backend remembers which file it opened (device and inode) and refuses
//! every statement once the path names another file or none ([`QueueError::Replaced`]);
//! later connections never create the file again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::db::{Backend, Conn, Dialect, SqliteConn};
use super::{QueueError, SqlQueue};
use crate::file_id::FileId;

/// `PRAGMA application_id` of refinery queue databases ("RFNQ").
pub const QUEUE_APPLICATION_ID: i32 = 0x5246_4E51;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Append, never edit.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        package          TEXT NOT NULL,
        package_key      TEXT NOT NULL,
        version          TEXT NOT NULL,
        python           TEXT NOT NULL,
        platform_tag     TEXT NOT NULL,
        recipe           TEXT NOT NULL DEFAULT '{}',
        status           TEXT NOT NULL,
        priority         INTEGER NOT NULL DEFAULT 0,
        attempt          INTEGER NOT NULL DEFAULT 0,
        restarts         INTEGER NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_ms INTEGER,
        heartbeat_ms     INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        plan_id          TEXT,
        input_id         INTEGER,
        detail           TEXT NOT NULL DEFAULT '',
        result           TEXT NOT NULL DEFAULT 'null',
        log_bytes        INTEGER NOT NULL DEFAULT 0,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL,
        started_ms       INTEGER,
        finished_ms      INTEGER
    );
    CREATE INDEX jobs_claim ON jobs (status, priority DESC, id);
    CREATE INDEX jobs_by_package ON jobs (package_key, version, id);
    CREATE INDEX jobs_by_plan ON jobs (plan_id);

    CREATE TABLE job_logs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id     INTEGER NOT NULL,
        seq        INTEGER NOT NULL,
        attempt    INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        data       TEXT NOT NULL,
        UNIQUE (job_id, seq)
    );

    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        host         TEXT NOT NULL DEFAULT '',
        last_seen_ms INTEGER NOT NULL,
        current_job  INTEGER
    );

    CREATE TABLE inputs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL,
        filename   TEXT NOT NULL,
        path       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        status     TEXT NOT NULL,
        plan_id    TEXT,
        error      TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );

    CREATE TABLE plans (
        id           TEXT PRIMARY KEY,
        input_id     INTEGER,
        python       TEXT NOT NULL,
        platform_tag TEXT NOT NULL,
        summary      TEXT NOT NULL,
        body         TEXT NOT NULL,
        created_ms   INTEGER NOT NULL
    );

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE published (
        filename        TEXT PRIMARY KEY,
        project         TEXT NOT NULL,
        version         TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        size            INTEGER NOT NULL,
        requires_python TEXT,
        metadata_sha256 TEXT,
        origin          TEXT NOT NULL,
        job_id          INTEGER,
        created_ms      INTEGER NOT NULL
    );
    CREATE INDEX published_by_project ON published (project);

    CREATE TABLE hints (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        pattern    TEXT NOT NULL,
        packages   TEXT NOT NULL,
        note       TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL
    );
"#,
    super::sql::MIGRATION_ONE_ACTIVE_JOB,
    super::sql::MIGRATION_CLAIMABLE_INDEX,
];

/// The SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    path: PathBuf,
    /// The file the first connection opened.
    opened: Arc<OnceLock<FileId>>,
}

impl SqliteBackend {
    /// Fails unless the path still names the file opened first (nothing to compare
    /// before the first connection).
    fn check_same_file(&self) -> Result<(), QueueError> {
        let Some(opened) = self.opened.get() else {
            return Ok(());
        };
        let replaced = |what| QueueError::Replaced {
            location: self.path.display().to_string(),
            what,
        };
        match FileId::of(&self.path) {
            Ok(now) if now == *opened => Ok(()),
            Ok(_) => Err(replaced("was replaced by another file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(replaced("was deleted")),
            Err(e) => Err(QueueError::Unavailable {
                location: self.path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
}

impl Backend for SqliteBackend {
    type C = SqliteConn;
    const DIALECT: Dialect = Dialect::Sqlite;

    fn connect(&self) -> Result<SqliteConn, QueueError> {
        let location = self.path.display().to_string();
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs_err::create_dir_all(parent).map_err(|e| QueueError::Unavailable {
                location: location.clone(),
                message: e.to_string(),
            })?;
        }
        // Once a file was opened, never create another one in its place.
        self.check_same_file()?;
        let flags = if self.opened.get().is_some() {
            OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE)
        } else {
            OpenFlags::default()
        };
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            QueueError::Unavailable {
                location: location.clone(),
                message: e.to_string(),
            }
        })?;
        let mut conn = SqliteConn {
            conn,
            path: self.path.clone(),
        };
        conn.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| conn.err(e))?;
        let app_id: i32 = conn
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| QueueError::NotOurs {
                location: location.clone(),
                reason: e.to_string(),
            })?;
        let version: i64 = conn
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| conn.err(e))?;
        if app_id != QUEUE_APPLICATION_ID && app_id != 0 {
            return Err(QueueError::NotOurs {
                location,
                reason: format!("application id {app_id:#x}"),
            });
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(QueueError::TooNew {
                location,
                found: version,
                supported: MIGRATIONS.len() as i64,
            });
        }
        let mode: String = conn
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| conn.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Needs a moment of exclusive access; the busy timeout covers a racing opener.
            let _ = conn
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
        }
        conn.batch("PRAGMA synchronous = NORMAL")?;
        if version < MIGRATIONS.len() as i64 {
            conn.batch("BEGIN IMMEDIATE")?;
            let result = (|| {
                let version: i64 = conn
                    .conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(|e| conn.err(e))?;
                if version == 0 {
                    let tables: i64 = conn
                        .conn
                        .query_row(
                            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
                            [],
                            |r| r.get(0),
                        )
                        .map_err(|e| conn.err(e))?;
                    if tables > 0 && app_id != QUEUE_APPLICATION_ID {
                        return Err(QueueError::NotOurs {
                            location: location.clone(),
                            reason: format!(
                                "an SQLite database of another program ({tables} tables)"
                            ),
                        });
                    }
                }
                for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                    conn.batch(sql)?;
                    conn.batch(&format!("PRAGMA user_version = {}", i + 1))?;
                }
                conn.batch(&format!("PRAGMA application_id = {QUEUE_APPLICATION_ID}"))
            })();
            match result {
                Ok(()) => conn.batch("COMMIT")?,
                Err(e) => {
                    let _ = conn.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        let opened = FileId::of(&self.path).map_err(|e| QueueError::Unavailable {
            location: location.clone(),
            message: e.to_string(),
        })?;
        if *self.opened.get_or_init(|| opened) != opened {
            return Err(QueueError::Replaced {
                location,
                what: "was replaced by another file",
            });
        }
        Ok(conn)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn check(&self) -> Result<(), QueueError> {
        self.check_same_file()
    }
}

impl SqlQueue<SqliteBackend> {
    /// Opens (creating and migrating) the SQLite queue database at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self, QueueError> {
        SqlQueue::with_backend(SqliteBackend {
            path: path.to_path_buf(),
            opened: Arc::new(OnceLock::new()),
        })
    }
}
