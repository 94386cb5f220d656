//! The queue's schema: one list of migrations, each with its SQLite and PostgreSQL text
//! (written once where they differ only in the integer types), applied by the storage
//! layer ([`crate::db`]) when the queue opens.

use crate::db::{Migration, Schema};

/// `PRAGMA application_id` of refinery queue databases ("RFNQ").
const QUEUE_APPLICATION_ID: i32 = 0x5246_4E51;

/// The queue's migrations. Append, never edit. On SQLite `user_version` = number applied;
/// on PostgreSQL they are numbered in `refinery_queue_schema`.
pub(super) static SCHEMA: Schema = Schema {
    application_id: QUEUE_APPLICATION_ID,
    pg_table: "refinery_queue_schema",
    migrations: &[
        // 1: jobs, their logs, workers, inputs, plans, settings, the index, hints.
        // Written once: PostgreSQL reads it with its own integer types
        // (`Migration::portable`).
        Migration::portable(
            r"
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
",
        ),
        Migration::same(MIGRATION_ONE_ACTIVE_JOB),
        Migration::same(MIGRATION_CLAIMABLE_INDEX),
        Migration::same(MIGRATION_CLEARED),
    ],
};

/// Migration 2 of both backends (SQLite and PostgreSQL read it alike).
const MIGRATION_ONE_ACTIVE_JOB: &str = r"
    -- 2: at most one waiting or running job per package, version and target; enqueue
    -- inserts with ON CONFLICT DO NOTHING against it, so concurrent enqueues of the same
    -- package make one job. Duplicates made before are cancelled first: a running one is
    -- kept, else the oldest.
    UPDATE jobs SET status = 'cancelled', finished_ms = updated_ms, lease_owner = NULL,
        lease_expires_ms = NULL,
        detail = 'a duplicate of an identical waiting or running job; cancelled when the queue got its one-active-job rule'
    WHERE status IN ('pending', 'retry', 'leased', 'building') AND EXISTS (
        SELECT 1 FROM jobs AS keep
        WHERE keep.package_key = jobs.package_key AND keep.version = jobs.version
          AND keep.python = jobs.python AND keep.platform_tag = jobs.platform_tag
          AND keep.status IN ('pending', 'retry', 'leased', 'building')
          AND (CASE WHEN keep.status IN ('leased', 'building') THEN 0 ELSE 1 END,
               keep.id)
            < (CASE WHEN jobs.status IN ('leased', 'building') THEN 0 ELSE 1 END,
               jobs.id));
    CREATE UNIQUE INDEX jobs_one_active ON jobs (package_key, version, python, platform_tag)
        WHERE status IN ('pending', 'retry', 'leased', 'building');
";

/// Migration 3 of both backends: the claim's `WHERE status IN ('pending', 'retry')
/// ORDER BY priority DESC, id LIMIT 1` reads this index's first entry. Without it,
/// PostgreSQL sorted every waiting job on each claim (560 ms per claim with 92,000
/// waiting, measured by `scripts/bench/queue.sh`): the index on (status, priority, id)
/// cannot give one order across two statuses.
const MIGRATION_CLAIMABLE_INDEX: &str = r"
    CREATE INDEX jobs_claimable ON jobs (priority DESC, id)
        WHERE status IN ('pending', 'retry');
";

/// Migration 4 of both backends: clearing a finished job hides it from the Builds list
/// (`cleared_ms`) instead of deleting it, so the pages that say what happened (tiles,
/// plans, inputs, packages, logs) keep agreeing with the append-only history.
const MIGRATION_CLEARED: &str = r"
    ALTER TABLE jobs ADD COLUMN cleared_ms BIGINT;
";

#[cfg(test)]
mod tests {
    use super::SCHEMA;

    /// The first migration, written once, still creates on PostgreSQL what its own
    /// PostgreSQL text created (frozen in the existing-databases fixture).
    #[test]
    fn the_portable_first_migration_is_the_postgres_text_it_replaced() {
        let frozen = include_str!("../../tests/fixtures/main-schema/postgres-v2-v3.sql");
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let derived = words(&SCHEMA.migrations[0].postgres_text());
        assert!(derived.contains("id BIGSERIAL PRIMARY KEY"), "{derived}");
        assert!(!derived.contains("INTEGER"), "{derived}");
        assert!(words(frozen).contains(&derived), "{derived}");
    }
}
