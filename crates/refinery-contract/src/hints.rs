//! The answers of the hint endpoints (`GET /api/hints`, `/api/hints/validate`,
//! `POST /api/hints`, `PUT /api/hints/{id}`).

use std::collections::BTreeMap;

use refinery_store::queue::Hint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/hints`: the catalog the builds use and the hints added through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HintsReply {
    pub catalog: HintCatalog,
    pub user: Vec<Hint>,
}

/// The hint catalog: the built-in `hints/catalog.toml`, extended by the server's
/// `--hints-catalog` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HintCatalog {
    /// Where the entries come from, e.g. `built-in hints/catalog.toml + /etc/hints.toml`.
    pub origin: String,
    pub hints: Vec<CatalogHint>,
}

/// One entry of the catalog, as `refinery_build::hints::Hint` serializes it (the server
/// converts it field by field; a test there checks that nothing is lost). Empty lists
/// and maps, `false` and absent options are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogHint {
    pub id: String,
    /// Regular expression matched against build log lines.
    pub pattern: String,
    pub message: String,
    /// Debian packages the retry installs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt: Vec<String>,
    /// Fedora/Rocky packages the retry installs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dnf: Vec<String>,
    /// Environment variables for the retry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// PEP 508 constraints for the isolated build environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_constraints: Vec<String>,
    /// A toolchain the retry needs (`rust-newest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub toolchain: Option<String>,
    /// A native library pack that stands in for the system packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pack: Option<String>,
    /// A build variant the retry should use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub variant: Option<String>,
    /// No retry can change this failure: the package ends after this attempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_retry: bool,
    /// Packages whose builds take this entry's actions before their first attempt: names,
    /// or names with PEP 440 version specifiers (`matplotlib>=3.11`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub up_front: Vec<String>,
}

/// The answer of `GET /api/hints/validate`, always `200`: `{valid: true}`, or
/// `{valid: false, message}` saying what adding the hint would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HintValidation {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
}

/// The answer of `POST /api/hints` (`201`) and `PUT /api/hints/{id}`: the stored hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HintReply {
    pub hint: Hint,
}
