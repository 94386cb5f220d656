//! Migrations both backends of the queue share (SQLite and PostgreSQL read them alike).

/// Migration 2 of both backends (SQLite and PostgreSQL read it alike).
pub(in crate::queue) const MIGRATION_ONE_ACTIVE_JOB: &str = r#"
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
"#;

/// Migration 3 of both backends: the claim's `WHERE status IN ('pending', 'retry')
/// ORDER BY priority DESC, id LIMIT 1` reads this index's first entry. Without it,
/// PostgreSQL sorted every waiting job on each claim (560 ms per claim with 92,000
/// waiting, measured by `scripts/bench/queue.sh`): the index on (status, priority, id)
/// cannot give one order across two statuses.
pub(in crate::queue) const MIGRATION_CLAIMABLE_INDEX: &str = r#"
    CREATE INDEX jobs_claimable ON jobs (priority DESC, id)
        WHERE status IN ('pending', 'retry');
"#;
