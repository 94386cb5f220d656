//! The shape of a stored plan's `body` (the plan DAG) and `summary` (its counts).
//!
//! The store keeps both as JSON (`StoredPlan::body`, `StoredPlan::summary`); what writes them
//! is `refinery_build::plan_record`, from `refinery_plan::Plan`, a crate above this one. These
//! types mirror that JSON so the OpenAPI document (and the dashboard's generated types) can
//! describe it. They reject unknown fields: a test beside `plan_record` round-trips a real
//! plan through them, so a field added to the plan fails it until it is mirrored here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A plan as stored: the DAG of nodes (reuse / build / missing) and their edges, with the
/// inputs that could not become nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// The plan format's version.
    pub schema: u32,
    /// sha256 of the plan's content: same inputs and index, same id.
    pub id: String,
    /// The target's Python version, e.g. `3.11`.
    pub python: String,
    /// The target's platform tag, e.g. `manylinux2014_s390x`.
    pub platform_tag: String,
    pub strategy: PlanStrategy,
    pub nodes: Vec<PlanNode>,
    pub edges: Vec<PlanEdge>,
    pub rejected: Vec<RejectedInput>,
    pub skipped: Vec<SkippedPackage>,
    pub notes: Vec<String>,
}

/// How input versions were treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PlanStrategy {
    /// Input wheels and requirement pins keep their versions.
    Pinned,
    /// Input wheel versions are only lower bounds.
    Eager,
}

/// What happens to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Reuse,
    Build,
    Missing,
}

/// One package of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanNode {
    /// `name==version`, or the bare name when no version was resolved.
    pub id: String,
    /// The normalized project name.
    pub name: String,
    /// The resolved version; empty when nothing was resolved.
    pub version: String,
    pub action: PlanAction,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub source: Option<PlanSource>,
    /// For builds: `build`, `repair`, `verify`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// PEP 518 `build-system.requires` of the sdist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_requires: Vec<String>,
    /// Asked for directly (requirements file or input folder).
    pub direct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub overrides: Option<PlanOverride>,
}

/// Where a node's file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanSource {
    pub kind: PlanSourceKind,
    pub filename: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub sha256: Option<String>,
    /// In hash-checking mode: the `--hash` the file matched and where it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub checked_hash: Option<String>,
}

/// The kind of a node's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanSourceKind {
    InputWheel,
    IndexWheel,
    InputSdist,
    IndexSdist,
}

/// A package's overrides as the plan applied them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanOverride {
    /// Force this exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub pin: Option<String>,
    /// Leave the package out of the plan.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
    /// Build variant to try first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub variant: Option<String>,
    /// System packages to install in the build environment first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// Environment variables for the build.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// The kind of a dependency edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanEdgeKind {
    Runtime,
    Build,
}

/// `from` needs `to` (node ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanEdge {
    pub from: String,
    pub to: String,
    pub kind: PlanEdgeKind,
}

/// An input that could not become a node: a URL requirement, an invalid wheel...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RejectedInput {
    pub input: String,
    pub reason: String,
}

/// A package left out of the plan (an override's `skip`, a known failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkippedPackage {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub version: Option<String>,
    pub reason: String,
}

/// A stored plan's `summary`: its nodes counted by action, and its rejected inputs and
/// skipped packages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanSummary {
    pub reuse: u64,
    pub build: u64,
    pub missing: u64,
    pub rejected: u64,
    /// `0` when a stored summary lacks it.
    #[serde(default)]
    pub skipped: u64,
}
