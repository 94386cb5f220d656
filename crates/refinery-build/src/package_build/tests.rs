use super::*;
use refinery_store::{Attempt, EventKind};

#[test]
fn a_toolchain_failure_moves_its_fallback_variant_next() {
    let mut variants: Vec<Variant> = VARIANTS.iter().map(|v| v.parse().unwrap()).collect();
    let mut said = 0;
    // After the first attempt (default), gcc-cross jumps ahead of relaxed-cflags.
    move_next(&mut variants, 1, GCC_CROSS_VARIANT, || said += 1);
    assert_eq!(variants[1], GCC_CROSS_VARIANT);
    assert_eq!(said, 1);
    // Already next or already tried: nothing moves, nothing is said.
    move_next(&mut variants, 1, GCC_CROSS_VARIANT, || said += 1);
    move_next(&mut variants, 3, "relaxed-cflags", || said += 1);
    assert_eq!(said, 1);
    assert_eq!(variants.len(), VARIANTS.len());
}

fn attempt(variant: &str, status: &str) -> Attempt {
    Attempt {
        package: "pkg".into(),
        version: "1".into(),
        variant: variant.parse().unwrap(),
        status: status.parse().unwrap(),
        ..Attempt::default()
    }
}

#[test]
fn variants_follow_past_success_and_overrides_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("h.db")).unwrap();
    assert_eq!(order_variants(&history, "pkg", None), VARIANTS);
    history
        .record_attempt(&attempt("default", "failed"))
        .unwrap();
    history
        .record_attempt(&attempt("no-isolation", "success"))
        .unwrap();
    assert_eq!(
        order_variants(&history, "pkg", None),
        [
            "no-isolation",
            "relaxed-cflags",
            "emulated",
            "gcc-cross",
            "default"
        ]
    );
    assert_eq!(
        order_variants(&history, "pkg", Some(&"default".parse().unwrap()))[0],
        "default"
    );
    assert_eq!(
        order_variants(&history, "other", Some(&"custom".parse().unwrap()))[0],
        "custom"
    );
}

#[test]
fn finds_the_build_dependency_pip_could_not_find() {
    let log = "  ERROR: Could not find a version that satisfies the requirement helperdep>=1.0 (from versions: none)\nERROR: No matching distribution found for helperdep>=1.0\n";
    assert_eq!(
        missing_build_dependency(log).as_deref(),
        Some("helperdep>=1.0")
    );
    assert_eq!(missing_build_dependency("Successfully built x"), None);
}

#[test]
fn finds_the_build_dependency_uv_could_not_find() {
    // uv 0.13.9, word for word.
    let no_wheels = "error: Failed to build `/build/src/x-1.tar.gz`\n  cause: Failed to resolve requirements from `build-system.requires`\n  cause: No solution found when resolving: `setuptools>=40.8`, `Helper_Dep>=1.0`\n  cause: Because helper-dep==1.0 has no usable wheels and you require helper-dep==1.0, we can conclude that your requirements are unsatisfiable.\n";
    assert_eq!(
        missing_build_dependency(no_wheels).as_deref(),
        Some("Helper_Dep>=1.0")
    );
    let absent = "  cause: No solution found when resolving: `helperdep>=1.0`\n  cause: Because helperdep was not found in the provided package locations and you require helperdep>=1.0, we can conclude that your requirements are unsatisfiable.\n";
    assert_eq!(
        missing_build_dependency(absent).as_deref(),
        Some("helperdep>=1.0")
    );
    // Without the requirement list, the bare name.
    assert_eq!(
        missing_build_dependency("Because helperdep was not found in the package registry")
            .as_deref(),
        Some("helperdep")
    );
}

#[test]
fn learned_fixes_come_back_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("h.db")).unwrap();
    assert!(learned_fix(&history, "cffi").is_none());
    let fix = Fixes {
        packages: vec!["libffi-dev".into()],
        build_constraints: vec!["setuptools<72".into()],
        hints: vec!["libffi: ...".into()],
        ..Fixes::default()
    };
    history
        .record_event(
            &Event::new(EventKind::LearnedFix, "x")
                .with_package("cffi", "1.0")
                .with_data(serde_json::to_value(&fix).unwrap()),
        )
        .unwrap();
    assert_eq!(learned_fix(&history, "cffi").unwrap(), fix);
}

/// The reasons go after the parent's failure detail in the manifest: they read as before
/// they were typed, and a planning failure keeps its cause.
#[test]
fn expansion_errors_read_as_the_parents_detail_and_keep_their_cause() {
    use super::expand::ExpansionError;
    let too_deep = ExpansionError::TooDeep {
        requirement: "cython>=3".into(),
    };
    assert_eq!(
        too_deep.to_string(),
        format!(
            "its build dependency cython>=3 has no wheel for the target, and the dependency \
             expansion stopped at depth {}",
            super::expand::MAX_EXPANSION_DEPTH
        )
    );
    let failed = ExpansionError::Failed {
        package: "cython".into(),
        version: "3.0.11".into(),
        detail: "no compiler".into(),
    };
    assert_eq!(
        failed.to_string(),
        "its build dependency cython 3.0.11 failed: no compiler"
    );
    let plan = ExpansionError::Plan {
        requirement: "cython>=3".into(),
        source: "the index cannot list cython".into(),
    };
    assert_eq!(
        plan.to_string(),
        "cannot plan its build dependency cython>=3: the index cannot list cython"
    );
    let cause = std::error::Error::source(&plan).expect("the planning error is kept");
    assert_eq!(cause.to_string(), "the index cannot list cython");
}
