//! The queue's side tables: pending inputs, plans, runtime settings, the published
//! wheels of the `/simple` index and user hints.

use super::super::db::{Backend, Conn, RowExt};
use super::super::{
    Hint, InputStatus, NewInput, PendingInput, PublishedFile, QueueError, QueueStore, Settings,
    StoredPlan,
};
use super::rows::{
    hint_from_row, hint_not_found, input_from_row, json_text, limit, parse_json,
    published_from_row, INPUT_COLS, PUBLISHED_COLS,
};
use super::SqlQueue;
use crate::manifest::normalize_name;

pub(super) fn create_input<B: Backend>(
    q: &SqlQueue<B>,
    input: &NewInput,
) -> Result<PendingInput, QueueError> {
    let now = q.now_ms();
    let rows = q.query(
        &format!(
            "INSERT INTO inputs (kind, filename, path, size, sha256, status, error, \
             created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, 'pending', '', $6, $6) \
             RETURNING {INPUT_COLS}"
        ),
        &[
            input.kind.clone().into(),
            input.filename.clone().into(),
            input.path.clone().into(),
            input.size.into(),
            input.sha256.clone().into(),
            now.into(),
        ],
    )?;
    rows.first()
        .map(input_from_row)
        .transpose()?
        .ok_or_else(|| QueueError::Conflict("the insert returned no row".into()))
}

pub(super) fn input<B: Backend>(q: &SqlQueue<B>, id: i64) -> Result<PendingInput, QueueError> {
    let rows = q.query(
        &format!("SELECT {INPUT_COLS} FROM inputs WHERE id = $1"),
        &[id.into()],
    )?;
    rows.first()
        .map(input_from_row)
        .transpose()?
        .ok_or_else(|| QueueError::NotFound {
            what: "input",
            id: id.to_string(),
        })
}

pub(super) fn inputs<B: Backend>(
    q: &SqlQueue<B>,
    limit_n: usize,
    offset: usize,
) -> Result<Vec<PendingInput>, QueueError> {
    q.query(
        &format!("SELECT {INPUT_COLS} FROM inputs ORDER BY id DESC LIMIT $1 OFFSET $2"),
        &[limit(limit_n.max(1)), limit(offset)],
    )?
    .iter()
    .map(input_from_row)
    .collect()
}

pub(super) fn transition_input<B: Backend>(
    q: &SqlQueue<B>,
    id: i64,
    from: &[InputStatus],
    to: InputStatus,
    plan_id: Option<&str>,
    error: &str,
) -> Result<PendingInput, QueueError> {
    let allowed = from
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = q.query(
        &format!(
            "UPDATE inputs SET status = $2, plan_id = COALESCE($3, plan_id), error = $4, \
             updated_ms = $5 WHERE id = $1 AND status IN ({allowed}) RETURNING {INPUT_COLS}"
        ),
        &[
            id.into(),
            to.as_str().into(),
            plan_id.into(),
            error.into(),
            q.now_ms().into(),
        ],
    )?;
    match rows.first() {
        Some(row) => input_from_row(row),
        None => {
            let current = q.input(id)?;
            Err(QueueError::Conflict(format!(
                "input {id} is `{}`; this needs it to be one of: {}",
                current.status.as_str(),
                from.iter()
                    .map(InputStatus::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

pub(super) fn recover_planning_inputs<B: Backend>(
    q: &SqlQueue<B>,
    note: &str,
) -> Result<Vec<PendingInput>, QueueError> {
    let mut inputs = q
        .query(
            &format!(
                "UPDATE inputs SET status = 'pending', error = $1, updated_ms = $2 \
                 WHERE status = 'planning' RETURNING {INPUT_COLS}"
            ),
            &[note.into(), q.now_ms().into()],
        )?
        .iter()
        .map(input_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    inputs.sort_by_key(|i| i.id);
    Ok(inputs)
}

pub(super) fn save_plan<B: Backend>(q: &SqlQueue<B>, plan: &StoredPlan) -> Result<(), QueueError> {
    q.query(
        "INSERT INTO plans (id, input_id, python, platform_tag, summary, body, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
         input_id = COALESCE(excluded.input_id, plans.input_id), summary = excluded.summary, \
         body = excluded.body",
        &[
            plan.id.clone().into(),
            plan.input_id.into(),
            plan.python.clone().into(),
            plan.platform_tag.clone().into(),
            json_text(&plan.summary).into(),
            json_text(&plan.body).into(),
            q.now_ms().into(),
        ],
    )
    .map(|_| ())
}

/// The columns [`stored_plan`] reads, in its order.
const PLAN_COLS: &str = "id, input_id, python, platform_tag, summary, body, created_ms";

/// A `plans` row selected as [`PLAN_COLS`] (`body` may be selected as `NULL`).
fn stored_plan(r: &impl RowExt) -> StoredPlan {
    StoredPlan {
        id: r.text(0),
        input_id: r.opt_int(1),
        python: r.text(2),
        platform_tag: r.text(3),
        summary: parse_json(&r.text(4)),
        body: r
            .opt_text(5)
            .map_or(serde_json::Value::Null, |b| parse_json(&b)),
        created_ms: r.int(6),
    }
}

pub(super) fn plan<B: Backend>(q: &SqlQueue<B>, id: &str) -> Result<StoredPlan, QueueError> {
    let rows = q.query(
        &format!("SELECT {PLAN_COLS} FROM plans WHERE id = $1"),
        &[id.into()],
    )?;
    rows.first()
        .map(stored_plan)
        .ok_or_else(|| QueueError::NotFound {
            what: "plan",
            id: id.to_string(),
        })
}

pub(super) fn plans<B: Backend>(
    q: &SqlQueue<B>,
    limit_n: usize,
    offset: usize,
) -> Result<Vec<StoredPlan>, QueueError> {
    Ok(q.query(
        "SELECT id, input_id, python, platform_tag, summary, NULL, created_ms FROM plans \
             ORDER BY created_ms DESC, id LIMIT $1 OFFSET $2",
        &[limit(limit_n.max(1)), limit(offset)],
    )?
    .iter()
    .map(stored_plan)
    .collect())
}

pub(super) fn plans_with_package<B: Backend>(
    q: &SqlQueue<B>,
    name: &str,
    limit_n: usize,
) -> Result<Vec<StoredPlan>, QueueError> {
    let name = normalize_name(name);
    let wanted = limit_n.max(1);
    // The stored body is compact JSON whose node names keep the project's spelling
    // (`PyYAML`, `ruamel.yaml`): a case-blind LIKE, with `_` (any one character) where
    // the normalized name has a separator, narrows the rows; the nodes decide. Rows the
    // nodes turn down (a look-alike name, a name outside the nodes) do not count
    // against the limit: the next page is read until `wanted` plans are found.
    let pattern = format!("%\"name\":\"{}\"%", name.replace('-', "_"));
    let page = wanted.max(50);
    let mut found = Vec::new();
    for offset in (0..).step_by(page) {
        let rows = q.query(
            &format!(
                "SELECT {PLAN_COLS} FROM plans WHERE LOWER(body) LIKE $1 \
                 ORDER BY created_ms DESC, id LIMIT $2 OFFSET $3"
            ),
            &[pattern.clone().into(), limit(page), limit(offset)],
        )?;
        let read = rows.len();
        // A plan saved between two pages shifts the offsets: never list one twice.
        for plan in rows.iter().map(stored_plan) {
            if has_node(&plan, &name) && !found.iter().any(|f: &StoredPlan| f.id == plan.id) {
                found.push(plan);
            }
        }
        if found.len() >= wanted || read < page {
            break;
        }
    }
    found.truncate(wanted);
    Ok(found)
}

/// Whether `plan` has a node for the project `name` (normalized, PEP 503).
fn has_node(plan: &StoredPlan, name: &str) -> bool {
    plan.body["nodes"].as_array().is_some_and(|nodes| {
        nodes.iter().any(|n| {
            n["name"]
                .as_str()
                .is_some_and(|n| normalize_name(n) == name)
        })
    })
}

pub(super) fn settings<B: Backend>(q: &SqlQueue<B>) -> Result<Settings, QueueError> {
    let rows = q.query("SELECT key, value FROM settings", &[])?;
    let mut settings = Settings::default();
    for row in rows {
        let on = row.text(1) == "true";
        match row.text(0).as_str() {
            "auto_plan" => settings.auto_plan = on,
            "auto_build" => settings.auto_build = on,
            _ => {}
        }
    }
    Ok(settings)
}

pub(super) fn put_settings<B: Backend>(
    q: &SqlQueue<B>,
    settings: &Settings,
) -> Result<(), QueueError> {
    q.tx(|c| {
        for (key, on) in [
            ("auto_plan", settings.auto_plan),
            ("auto_build", settings.auto_build),
        ] {
            c.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[key.into(), if on { "true" } else { "false" }.into()],
            )?;
        }
        Ok(())
    })
}

pub(super) fn publish<B: Backend>(q: &SqlQueue<B>, file: &PublishedFile) -> Result<(), QueueError> {
    let sha256 = file.sha256.to_ascii_lowercase();
    q.tx(|c| {
        // First come keeps the name: a published file is served as immutable, and
        // hash-pinned installs must keep getting the bytes they pinned.
        let inserted = c.execute(
            &format!(
                "INSERT INTO published ({PUBLISHED_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (filename) DO NOTHING"
            ),
            &[
                file.filename.clone().into(),
                normalize_name(&file.project).into(),
                file.version.clone().into(),
                sha256.clone().into(),
                file.size.into(),
                file.requires_python.clone().into(),
                file.metadata_sha256.clone().into(),
                file.origin.clone().into(),
                file.job_id.into(),
                q.now_ms().into(),
            ],
        )?;
        if inserted == 1 {
            return Ok(());
        }
        let existing = c.query(
            "SELECT sha256 FROM published WHERE filename = $1",
            &[file.filename.clone().into()],
        )?;
        match existing.first().map(|r| r.text(0)) {
            Some(published) if published == sha256 => Ok(()),
            Some(published) => Err(QueueError::NameTaken(format!(
                "{} is already published with other content (sha256 {published}, this \
                 one {sha256}); a published file never changes: publish it under a new \
                 version or build number",
                file.filename
            ))),
            None => Err(QueueError::Conflict(format!(
                "{} was published and removed at the same time; publish it again",
                file.filename
            ))),
        }
    })
}

pub(super) fn published<B: Backend>(q: &SqlQueue<B>) -> Result<Vec<PublishedFile>, QueueError> {
    Ok(q.query(
        &format!("SELECT {PUBLISHED_COLS} FROM published ORDER BY project, filename"),
        &[],
    )?
    .iter()
    .map(published_from_row)
    .collect())
}

pub(super) fn published_generation<B: Backend>(q: &SqlQueue<B>) -> Result<(i64, i64), QueueError> {
    let rows = q.query(
        "SELECT COUNT(*), CAST(COALESCE(MAX(created_ms), 0) AS BIGINT) FROM published",
        &[],
    )?;
    Ok(rows.first().map(|r| (r.int(0), r.int(1))).unwrap_or((0, 0)))
}

pub(super) fn add_hint<B: Backend>(
    q: &SqlQueue<B>,
    pattern: &str,
    packages: &[String],
    note: &str,
) -> Result<Hint, QueueError> {
    let packages_json = serde_json::to_string(packages).unwrap_or_else(|_| "[]".into());
    let now = q.now_ms();
    let rows = q.query(
        "INSERT INTO hints (pattern, packages, note, created_ms) VALUES ($1, $2, $3, $4) \
         RETURNING id",
        &[
            pattern.into(),
            packages_json.into(),
            note.into(),
            now.into(),
        ],
    )?;
    Ok(Hint {
        id: rows.first().map(|r| r.int(0)).unwrap_or(0),
        pattern: pattern.to_string(),
        packages: packages.to_vec(),
        note: note.to_string(),
        created_ms: now,
    })
}

pub(super) fn hints<B: Backend>(q: &SqlQueue<B>) -> Result<Vec<Hint>, QueueError> {
    Ok(q.query(
        "SELECT id, pattern, packages, note, created_ms FROM hints ORDER BY id",
        &[],
    )?
    .iter()
    .map(hint_from_row)
    .collect())
}

pub(super) fn update_hint<B: Backend>(
    q: &SqlQueue<B>,
    id: i64,
    pattern: &str,
    packages: &[String],
    note: &str,
) -> Result<Hint, QueueError> {
    let packages_json = serde_json::to_string(packages).unwrap_or_else(|_| "[]".into());
    q.query(
        "UPDATE hints SET pattern = $2, packages = $3, note = $4 WHERE id = $1 \
         RETURNING id, pattern, packages, note, created_ms",
        &[id.into(), pattern.into(), packages_json.into(), note.into()],
    )?
    .first()
    .map(hint_from_row)
    .ok_or_else(|| hint_not_found(id))
}

pub(super) fn delete_hint<B: Backend>(q: &SqlQueue<B>, id: i64) -> Result<(), QueueError> {
    match q.with_conn(|c| c.execute("DELETE FROM hints WHERE id = $1", &[id.into()]))? {
        0 => Err(hint_not_found(id)),
        _ => Ok(()),
    }
}
