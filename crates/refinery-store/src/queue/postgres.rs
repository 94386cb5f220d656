//! PostgreSQL backend (the `postgres` crate, synchronous): the scale-out engine that many
//! workers on many hosts share. Migrations are numbered in `refinery_queue_schema` and run
//! under an advisory lock by the first connection of a process, so several processes may
//! start at once.

use super::db::PgMigrations;
use super::{PgBackend, QueueError, SqlQueue};

/// Advisory lock key taken while migrating ("RFNQ").
const MIGRATION_LOCK: i64 = 0x5246_4E51;

/// Append, never edit.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE jobs (
        id               BIGSERIAL PRIMARY KEY,
        package          TEXT NOT NULL,
        package_key      TEXT NOT NULL,
        version          TEXT NOT NULL,
        python           TEXT NOT NULL,
        platform_tag     TEXT NOT NULL,
        recipe           TEXT NOT NULL DEFAULT '{}',
        status           TEXT NOT NULL,
        priority         BIGINT NOT NULL DEFAULT 0,
        attempt          BIGINT NOT NULL DEFAULT 0,
        restarts         BIGINT NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_ms BIGINT,
        heartbeat_ms     BIGINT,
        cancel_requested BIGINT NOT NULL DEFAULT 0,
        plan_id          TEXT,
        input_id         BIGINT,
        detail           TEXT NOT NULL DEFAULT '',
        result           TEXT NOT NULL DEFAULT 'null',
        log_bytes        BIGINT NOT NULL DEFAULT 0,
        created_ms       BIGINT NOT NULL,
        updated_ms       BIGINT NOT NULL,
        started_ms       BIGINT,
        finished_ms      BIGINT
    );
    CREATE INDEX jobs_claim ON jobs (status, priority DESC, id);
    CREATE INDEX jobs_by_package ON jobs (package_key, version, id);
    CREATE INDEX jobs_by_plan ON jobs (plan_id);

    CREATE TABLE job_logs (
        id         BIGSERIAL PRIMARY KEY,
        job_id     BIGINT NOT NULL,
        seq        BIGINT NOT NULL,
        attempt    BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        data       TEXT NOT NULL,
        UNIQUE (job_id, seq)
    );

    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        host         TEXT NOT NULL DEFAULT '',
        last_seen_ms BIGINT NOT NULL,
        current_job  BIGINT
    );

    CREATE TABLE inputs (
        id         BIGSERIAL PRIMARY KEY,
        kind       TEXT NOT NULL,
        filename   TEXT NOT NULL,
        path       TEXT NOT NULL,
        size       BIGINT NOT NULL,
        sha256     TEXT NOT NULL,
        status     TEXT NOT NULL,
        plan_id    TEXT,
        error      TEXT NOT NULL DEFAULT '',
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL
    );

    CREATE TABLE plans (
        id           TEXT PRIMARY KEY,
        input_id     BIGINT,
        python       TEXT NOT NULL,
        platform_tag TEXT NOT NULL,
        summary      TEXT NOT NULL,
        body         TEXT NOT NULL,
        created_ms   BIGINT NOT NULL
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
        size            BIGINT NOT NULL,
        requires_python TEXT,
        metadata_sha256 TEXT,
        origin          TEXT NOT NULL,
        job_id          BIGINT,
        created_ms      BIGINT NOT NULL
    );
    CREATE INDEX published_by_project ON published (project);

    CREATE TABLE hints (
        id         BIGSERIAL PRIMARY KEY,
        pattern    TEXT NOT NULL,
        packages   TEXT NOT NULL,
        note       TEXT NOT NULL DEFAULT '',
        created_ms BIGINT NOT NULL
    );
"#,
    super::sql::MIGRATION_ONE_ACTIVE_JOB,
    super::sql::MIGRATION_CLAIMABLE_INDEX,
];

/// The queue's migrations.
static QUEUE_MIGRATIONS: PgMigrations = PgMigrations {
    table: "refinery_queue_schema",
    lock: MIGRATION_LOCK,
    list: MIGRATIONS,
};

impl SqlQueue<PgBackend> {
    /// Connects to PostgreSQL at `url` and migrates; `schema` (created if missing) keeps
    /// the tables apart from others in the same database, e.g. per test.
    pub fn open_postgres(url: &str, schema: Option<&str>) -> Result<Self, QueueError> {
        SqlQueue::with_backend(PgBackend::new(url, schema, &QUEUE_MIGRATIONS)?)
    }
}
