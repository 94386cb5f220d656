//! What a build changes to succeed: the fixes that overrides, learned fixes and hints ask
//! for (system packages, environment variables, build constraints, a toolchain, a variant),
//! and which failures no retry can change.

use std::collections::BTreeMap;

use refinery_store::{EventKind, History};
use serde::{Deserialize, Serialize};

use crate::hints::{Hint, HintAction, PackageFamily};
use crate::RecipePolicy;

/// The fixes a build runs with. Saved as a `learned_fix` event when a build that needed
/// them succeeds, and applied up front to the next build of the package
/// ("auto-saved hints").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fixes {
    /// System packages: the build runs in the layer of exactly this set.
    pub packages: Vec<String>,
    /// Native library packs the build links (see [`crate::packs`]).
    pub packs: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Constraints for the isolated build environment.
    pub build_constraints: Vec<String>,
    pub toolchain: Option<String>,
    pub variant: Option<String>,
    /// Summaries of the hints that asked for these fixes.
    pub hints: Vec<String>,
}

/// The newest fix that made `package` build (its newest `learned_fix` event), if any.
pub fn learned_fix(history: &History, package: &str) -> Option<Fixes> {
    history
        .events_for(&package.parse().ok()?, 500)
        .ok()?
        .into_iter()
        .find(|e| e.kind == EventKind::LearnedFix)
        .and_then(|e| serde_json::from_value(e.data).ok())
}

impl Fixes {
    /// True when nothing is changed from a plain build.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.packs.is_empty()
            && self.env.is_empty()
            && self.build_constraints.is_empty()
            && self.toolchain.is_none()
            && self.variant.is_none()
    }

    /// Add what `other` asks for; values already set stay.
    pub fn merge(&mut self, other: &Fixes) {
        for action in other.actions() {
            self.apply(&action);
        }
        for hint in &other.hints {
            if !self.hints.contains(hint) {
                self.hints.push(hint.clone());
            }
        }
    }

    /// Apply one action; `true` when it changed something.
    pub fn apply(&mut self, action: &HintAction) -> bool {
        match action {
            HintAction::SystemPackages { packages } => {
                let before = self.packages.len();
                self.packages.extend(packages.iter().cloned());
                self.packages.sort();
                self.packages.dedup();
                self.packages.len() != before
            }
            HintAction::Env { name, value } if is_list_variable(name) => {
                let current = self.env.entry(name.clone()).or_default();
                let mut changed = false;
                for item in value.split_whitespace() {
                    if !current.split_whitespace().any(|have| have == item) {
                        if !current.is_empty() {
                            current.push(' ');
                        }
                        current.push_str(item);
                        changed = true;
                    }
                }
                changed
            }
            HintAction::Env { name, value } => {
                if self.env.contains_key(name) {
                    return false;
                }
                self.env.insert(name.clone(), value.clone());
                true
            }
            HintAction::BuildConstraint { requirement } => {
                if self.build_constraints.contains(requirement) {
                    return false;
                }
                self.build_constraints.push(requirement.clone());
                true
            }
            HintAction::Pack { pack } => {
                if self.packs.contains(pack) {
                    return false;
                }
                self.packs.push(pack.clone());
                self.packs.sort();
                true
            }
            HintAction::Toolchain { toolchain } => {
                let changed = self.toolchain.as_ref() != Some(toolchain);
                self.toolchain = Some(toolchain.clone());
                changed
            }
            HintAction::Variant { variant } => {
                let changed = self.variant.as_ref() != Some(variant);
                self.variant = Some(variant.clone());
                changed
            }
        }
    }

    /// Every fix as an action, in a stable order.
    pub fn actions(&self) -> Vec<HintAction> {
        crate::hints::action_list(
            &self.packages,
            &self.packs,
            &self.env,
            &self.build_constraints,
            self.toolchain.as_deref(),
            self.variant.as_deref(),
        )
    }

    /// One line per fix, for the manifest (`metadata.actions`).
    pub fn describe(&self) -> Vec<String> {
        self.actions().iter().map(ToString::to_string).collect()
    }
}

/// True for the variables pip reads as a whitespace-separated list (an append option):
/// two hints' values add up instead of the first one winning.
fn is_list_variable(name: &str) -> bool {
    name == "PIP_CONFIG_SETTINGS"
}

/// Why a recipe from outside was refused; each names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipeError {
    #[error("unknown variant {variant:?} (known: {})", crate::variants::VARIANTS.join(", "))]
    Variant { variant: String },
    #[error("{package:?} is not a system package name")]
    Package { package: String },
    #[error(
        "the environment variable {name:?} may not be set by a recipe (not PATH, HOME, PYTHONPATH, LD_*, GLIBC_TUNABLES, TMPDIR or the loader and locale controls glibc distrusts; letters, digits and _ only)"
    )]
    Env { name: String },
}

/// Check a recipe from outside (a queued job, an override) with the rules the hint catalog
/// follows: a known variant, package names without shell or options, environment
/// variables a build may set. The error names the offending value.
///
/// # Errors
/// [`RecipeError`] naming the first offending value.
pub fn check_recipe(
    variant: Option<&str>,
    packages: &[String],
    env: &BTreeMap<String, String>,
) -> Result<(), RecipeError> {
    let variants = crate::variants::VARIANTS;
    if let Some(v) = variant.filter(|v| !variants.contains(v)) {
        return Err(RecipeError::Variant {
            variant: v.to_string(),
        });
    }
    if let Some(p) = packages.iter().find(|p| !crate::layers::is_package_name(p)) {
        return Err(RecipeError::Package { package: p.clone() });
    }
    if let Some(name) = env.keys().find(|k| !crate::hints::is_allowed_env_name(k)) {
        return Err(RecipeError::Env { name: name.clone() });
    }
    Ok(())
}

/// What the hints of a failed attempt lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintOutcome {
    /// Retry once with these fixes (the new actions are listed).
    Retry { fixes: Fixes, new: Vec<HintAction> },
    /// The fix needs system packages that the recipe policy does not allow: say so, and
    /// stop (no variant can install them).
    NeedsRecipes { packages: Vec<String> },
    /// Nothing new to try.
    Nothing,
}

/// The fixes the matched `hints` add to `current`, under `policy`; with `prefer_packs`
/// packs stand in for system packages (see [`Hint::actions`]).
pub fn outcome(
    current: &Fixes,
    hints: &[&Hint],
    family: Option<PackageFamily>,
    prefer_packs: bool,
    policy: RecipePolicy,
) -> HintOutcome {
    let mut fixes = current.clone();
    let mut new = Vec::new();
    for hint in hints {
        for action in hint.actions(family, prefer_packs) {
            if fixes.apply(&action) {
                new.push(action);
            }
        }
    }
    if new.is_empty() {
        return HintOutcome::Nothing;
    }
    let packages: Vec<String> = new
        .iter()
        .filter_map(|a| match a {
            HintAction::SystemPackages { packages } => Some(packages.clone()),
            _ => None,
        })
        .flatten()
        .filter(|p| !current.packages.contains(p))
        .collect();
    if !packages.is_empty() && (!policy.allowed || policy.dry_run) {
        return HintOutcome::NeedsRecipes { packages };
    }
    for hint in hints {
        let summary = hint.summary();
        if !fixes.hints.contains(&summary) {
            fixes.hints.push(summary);
        }
    }
    HintOutcome::Retry { fixes, new }
}

/// Why no further attempt can change a failure, if none can: a hint that says so (a
/// big-endian assumption, a full disk, no network) or a wheel that cannot meet the
/// target's policy.
pub fn final_reason(policy_failure: bool, hints: &[&Hint]) -> Option<String> {
    if policy_failure {
        return Some(
            "the wheel needs a newer glibc/libstdc++ than the target allows; no variant \
             changes that (build for a newer --platform-tag, or use a toolchain for the target's glibc)"
                .to_string(),
        );
    }
    hints
        .iter()
        .find(|h| h.no_retry)
        .map(|h| format!("no retry can change this: {}", h.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::Catalog;

    fn allowed() -> RecipePolicy {
        RecipePolicy {
            allowed: true,
            ..RecipePolicy::default()
        }
    }

    #[test]
    fn merge_and_apply_report_only_what_is_new() {
        let mut fixes = Fixes::default();
        assert!(fixes.is_empty());
        assert!(fixes.apply(&HintAction::SystemPackages {
            packages: vec!["b".into(), "a".into()]
        }));
        assert!(!fixes.apply(&HintAction::SystemPackages {
            packages: vec!["a".into()]
        }));
        assert_eq!(fixes.packages, ["a", "b"]);
        assert!(fixes.apply(&HintAction::Env {
            name: "X".into(),
            value: "1".into()
        }));
        assert!(!fixes.apply(&HintAction::Env {
            name: "X".into(),
            value: "2".into()
        }));
        let mut other = Fixes::default();
        other.build_constraints.push("setuptools<72".into());
        other.variant = Some("emulated".into());
        fixes.merge(&other);
        assert_eq!(
            fixes.describe(),
            [
                "system packages a b",
                "env X=1",
                "build constraint setuptools<72",
                "variant emulated"
            ]
        );
        let json = serde_json::to_value(&fixes).unwrap();
        let back: Fixes = serde_json::from_value(json).unwrap();
        assert_eq!(back, fixes);
        // Fixes saved by older versions (packages, env, hints only) still load.
        let old: Fixes =
            serde_json::from_str(r#"{"packages":["libffi-dev"],"env":{},"hints":["h"]}"#).unwrap();
        assert_eq!(old.packages, ["libffi-dev"]);
    }

    #[test]
    fn config_settings_of_two_hints_add_up() {
        let settings = |value: &str| HintAction::Env {
            name: "PIP_CONFIG_SETTINGS".into(),
            value: value.into(),
        };
        let mut fixes = Fixes::default();
        assert!(fixes.apply(&settings("setup-args=-Da=1 setup-args=-Db=2")));
        assert!(fixes.apply(&settings("setup-args=-Db=2 setup-args=-Dc=3")));
        assert!(!fixes.apply(&settings("setup-args=-Da=1")));
        assert_eq!(
            fixes.env["PIP_CONFIG_SETTINGS"],
            "setup-args=-Da=1 setup-args=-Db=2 setup-args=-Dc=3"
        );
    }

    #[test]
    fn system_packages_need_the_recipe_policy_other_actions_do_not() {
        let catalog = Catalog::parse(
            r#"
[[hint]]
id = "pkgs"
pattern = "need-pkg"
message = "m"
apt = ["libfoo-dev"]

[[hint]]
id = "constraint"
pattern = "need-constraint"
message = "m"
build_constraints = ["setuptools<72"]
"#,
            "test",
        )
        .unwrap();
        let none = Fixes::default();
        let denied = RecipePolicy::default();
        let pkg = catalog.matches("need-pkg");
        assert_eq!(
            outcome(&none, &pkg, Some(PackageFamily::Apt), false, denied),
            HintOutcome::NeedsRecipes {
                packages: vec!["libfoo-dev".into()]
            }
        );
        match outcome(&none, &pkg, Some(PackageFamily::Apt), false, allowed()) {
            HintOutcome::Retry { fixes, new } => {
                assert_eq!(fixes.packages, ["libfoo-dev"]);
                assert_eq!(new.len(), 1);
                assert_eq!(fixes.hints.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let constraint = catalog.matches("need-constraint");
        match outcome(&none, &constraint, Some(PackageFamily::Apt), false, denied) {
            HintOutcome::Retry { fixes, .. } => {
                assert_eq!(fixes.build_constraints, ["setuptools<72"]);
            }
            other => panic!("{other:?}"),
        }
        // Already applied: nothing new.
        let mut applied = Fixes::default();
        applied.build_constraints.push("setuptools<72".into());
        assert_eq!(
            outcome(
                &applied,
                &constraint,
                Some(PackageFamily::Apt),
                false,
                allowed()
            ),
            HintOutcome::Nothing
        );
    }

    #[test]
    fn recipes_from_outside_follow_the_catalog_rules() {
        let env = |k: &str| BTreeMap::from([(k.to_string(), "1".to_string())]);
        assert!(check_recipe(Some("no-isolation"), &["libffi-dev".into()], &env("CFLAGS")).is_ok());
        let bad = [
            check_recipe(Some("../../x"), &[], &BTreeMap::new()),
            check_recipe(None, &["curl; rm -rf /".into()], &BTreeMap::new()),
            check_recipe(None, &[], &env("LD_PRELOAD")),
            check_recipe(None, &[], &env("A B")),
            // These reach the host's bubblewrap process too.
            check_recipe(None, &[], &env("LD_DEBUG_OUTPUT")),
            check_recipe(None, &[], &env("GLIBC_TUNABLES")),
            check_recipe(None, &[], &env("GCONV_PATH")),
            check_recipe(None, &[], &env("TMPDIR")),
        ];
        let names = [
            "../../x",
            "curl; rm -rf /",
            "LD_PRELOAD",
            "A B",
            "LD_DEBUG_OUTPUT",
            "GLIBC_TUNABLES",
            "GCONV_PATH",
            "TMPDIR",
        ];
        for (err, what) in bad.into_iter().zip(names) {
            assert!(err.unwrap_err().to_string().contains(what));
        }
    }

    #[test]
    fn policy_failures_and_no_retry_hints_are_final() {
        assert!(final_reason(true, &[]).unwrap().contains("glibc"));
        let catalog = Catalog::builtin();
        let endian = catalog.matches("#error Unsupported endianness");
        assert!(final_reason(false, &endian).is_some());
        let ffi = catalog.matches("ffi.h: No such file or directory");
        assert!(final_reason(false, &ffi).is_none());
    }
}
