//! A plan as the Plans page lists it: the row (id, target, counts, the whole plan) and
//! the plan file, made the same way for every entry point (the binary, the server).

use refinery_plan::{Action, Plan};
use refinery_store::queue::plan_body::PlanSummary;
use refinery_store::queue::StoredPlan;
use refinery_store::PlanRecord;

/// The record of `plan` (from input `input_id`, if an uploaded input was planned).
/// `summary` counts nodes by action: `{reuse, build, missing, rejected, skipped}`
/// ([`PlanSummary`]); `body` is the plan itself (shaped as
/// [`refinery_store::queue::plan_body::PlanBody`]).
pub fn plan_record(plan: &Plan, input_id: Option<i64>) -> Result<PlanRecord, serde_json::Error> {
    let count = |n: usize| n as u64;
    let summary = PlanSummary {
        reuse: count(plan.count(Action::Reuse)),
        build: count(plan.count(Action::Build)),
        missing: count(plan.count(Action::Missing)),
        rejected: count(plan.rejected.len()),
        skipped: count(plan.skipped.len()),
    };
    Ok(PlanRecord {
        stored: StoredPlan {
            id: plan.id.clone(),
            input_id,
            python: plan.python.clone(),
            platform_tag: plan.platform_tag.clone(),
            summary: serde_json::to_value(summary)?,
            body: serde_json::to_value(plan)?,
            created_ms: 0,
        },
        file: serde_json::to_vec_pretty(plan)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use refinery_pep::ProjectName;
    use refinery_plan::plan::{RejectedInput, SkippedPackage};
    use refinery_plan::{
        EdgeKind, PackageOverride, PlanEdge, PlanNode, Source, SourceKind, Strategy,
    };
    use refinery_store::queue::plan_body::PlanBody;
    use serde_json::{json, Value};

    use super::*;

    fn name(s: &str) -> ProjectName {
        ProjectName::new(s).unwrap()
    }

    /// A plan with every optional field set, so each of them is mirrored.
    fn full_plan() -> Plan {
        let node = |n: &str, action: Action| PlanNode {
            id: format!("{n}==1.0"),
            name: name(n),
            version: Some("1.0".parse().unwrap()),
            action,
            reason: "why".into(),
            source: Some(Source {
                kind: SourceKind::IndexSdist,
                filename: format!("{n}-1.0.tar.gz"),
                url: Some(format!("https://example.invalid/{n}-1.0.tar.gz")),
                path: Some(format!("/cache/{n}-1.0.tar.gz")),
                sha256: Some("ab".repeat(32)),
                checked_hash: Some("sha256:ab (requirements.txt:3)".into()),
            }),
            steps: vec!["build".into(), "repair".into(), "verify".into()],
            build_requires: vec!["setuptools".into()],
            direct: true,
            overrides: Some(PackageOverride {
                pin: Some("1.0".into()),
                skip: true,
                variant: Some("no-ext".into()),
                system_packages: vec!["libffi-dev".into()],
                env: BTreeMap::from([("CFLAGS".into(), "-O2".into())]),
            }),
        };
        Plan {
            schema: refinery_plan::plan::PLAN_SCHEMA,
            id: "c0ffee".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            strategy: Strategy::Eager,
            nodes: vec![
                node("cffi", Action::Build),
                node("six", Action::Reuse),
                node("gone", Action::Missing),
            ],
            edges: vec![
                PlanEdge {
                    from: "cffi==1.0".into(),
                    to: "six==1.0".into(),
                    kind: EdgeKind::Runtime,
                },
                PlanEdge {
                    from: "cffi==1.0".into(),
                    to: "six==1.0".into(),
                    kind: EdgeKind::Build,
                },
            ],
            rejected: vec![RejectedInput {
                input: "git+https://example.invalid/x".into(),
                reason: "a URL".into(),
            }],
            skipped: vec![SkippedPackage {
                name: name("skipme"),
                version: Some("2.0".parse().unwrap()),
                reason: "override".into(),
            }],
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn the_stored_body_is_exactly_what_the_mirror_reads() {
        let record = plan_record(&full_plan(), Some(7)).unwrap();
        let body = record.stored.body;
        // Unknown fields fail here: a field added to the plan must be mirrored.
        let mirrored: PlanBody = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(&mirrored).unwrap(), body);
        // Every optional field of the mirror was exercised.
        let node = &body["nodes"][0];
        for key in ["source", "steps", "build_requires", "overrides"] {
            assert!(node.get(key).is_some(), "{key} missing from {node}");
        }
        // The lean form (optional fields absent) reads too.
        let mut plan = full_plan();
        for node in &mut plan.nodes {
            node.source = None;
            node.steps.clear();
            node.build_requires.clear();
            node.overrides = Some(PackageOverride::default());
        }
        let lean = plan_record(&plan, None).unwrap().stored.body;
        let mirrored: PlanBody = serde_json::from_value(lean.clone()).unwrap();
        assert_eq!(serde_json::to_value(&mirrored).unwrap(), lean);
        assert_eq!(lean["nodes"][0]["overrides"], json!({}));
    }

    #[test]
    fn the_summary_counts_by_action_under_the_same_keys() {
        let summary = plan_record(&full_plan(), None).unwrap().stored.summary;
        assert_eq!(
            summary,
            json!({"reuse": 1, "build": 1, "missing": 1, "rejected": 1, "skipped": 1})
        );
        let back: PlanSummary = serde_json::from_value(summary.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), summary);
        // A summary without `skipped` still reads.
        let older: PlanSummary =
            serde_json::from_value(json!({"reuse": 2, "build": 0, "missing": 0, "rejected": 0}))
                .unwrap();
        assert_eq!(older.skipped, 0);
        assert!(serde_json::from_value::<PlanSummary>(Value::Null).is_err());
    }
}
