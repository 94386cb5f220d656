//! The hint catalog and the hints added through the API.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::ApiResult;
use refinery_contract::{
    CatalogHint, HintCatalog, HintReply, HintRequest, HintValidation, HintsReply,
};

use crate::error::ApiError;
use crate::validate::parse_id;
use crate::{blocking, AppState};

pub(super) async fn hints(State(state): State<Arc<AppState>>) -> ApiResult<Json<HintsReply>> {
    blocking(move || {
        let mut catalog = refinery_build::hints::Catalog::builtin();
        let mut origin = "built-in hints/catalog.toml".to_string();
        if let Some(path) = &state.config.hints_catalog {
            catalog
                .extend_from_file(path)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            origin = format!("{origin} + {}", path.display());
        }
        Ok(Json(HintsReply {
            catalog: HintCatalog {
                origin,
                hints: catalog.hints().map(catalog_hint).collect(),
            },
            user: state.store.hints()?,
        }))
    })
    .await
}

/// A catalog entry in the contract's shape (the same JSON, field by field).
fn catalog_hint(hint: &refinery_build::hints::Hint) -> CatalogHint {
    let refinery_build::hints::Hint {
        id,
        pattern,
        message,
        apt,
        dnf,
        env,
        build_constraints,
        toolchain,
        pack,
        variant,
        no_retry,
        up_front,
    } = hint.clone();
    CatalogHint {
        id,
        pattern,
        message,
        apt,
        dnf,
        env,
        build_constraints,
        toolchain,
        pack,
        variant,
        no_retry,
        up_front,
    }
}

/// A usable pattern and plain package names, or what is wrong.
fn validate(hint: &HintRequest) -> Result<(), ApiError> {
    if hint.pattern.trim().is_empty() || hint.pattern.len() > 500 {
        return Err(ApiError::bad_request(
            "a hint needs a pattern (a regular expression, at most 500 characters)",
        ));
    }
    regex::Regex::new(&hint.pattern).map_err(|e| {
        ApiError::bad_request(format!(
            "the pattern is not a valid regular expression: {e}"
        ))
    })?;
    let pkg_re = regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+_:-]{0,100}$").expect("regex");
    if let Some(bad) = hint.packages.iter().find(|p| !pkg_re.is_match(p)) {
        return Err(ApiError::bad_request(format!(
            "`{bad}` is not a system package name"
        )));
    }
    Ok(())
}

/// (Unknown fields are allowed: a client may send its token as `?token=`.)
#[derive(Deserialize)]
pub(super) struct ValidateHintQuery {
    pattern: String,
    /// System package names, separated by spaces or commas.
    #[serde(default)]
    packages: String,
}

/// `GET /api/hints/validate?pattern=…&packages=…`: would adding this hint succeed? The same
/// checks as adding one (Rust's `regex` syntax, package names), without storing anything.
/// Always 200: `{valid: true}` or `{valid: false, message}`, so a form can ask on every
/// keystroke without filling the browser's console with errors.
pub(super) async fn validate_hint(Query(q): Query<ValidateHintQuery>) -> Json<HintValidation> {
    let hint = HintRequest {
        pattern: q.pattern,
        packages: q
            .packages
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        note: String::new(),
    };
    Json(match validate(&hint) {
        Ok(()) => HintValidation {
            valid: true,
            message: None,
        },
        Err(e) => HintValidation {
            valid: false,
            message: Some(e.message),
        },
    })
}

pub(super) async fn add_hint(
    State(state): State<Arc<AppState>>,
    Json(body): Json<HintRequest>,
) -> ApiResult<(StatusCode, Json<HintReply>)> {
    validate(&body)?;
    let hint = blocking(move || {
        state
            .store
            .add_hint(&body.pattern, &body.packages, body.note.trim())
            .map_err(ApiError::from)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(HintReply { hint })))
}

/// Hints added through the API can be changed in place; the catalog's come from files.
pub(super) async fn update_hint(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<HintRequest>,
) -> ApiResult<Json<HintReply>> {
    let id = parse_id(&id, "hint")?;
    validate(&body)?;
    let hint = blocking(move || {
        state
            .store
            .update_hint(id, &body.pattern, &body.packages, body.note.trim())
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(HintReply { hint }))
}

pub(super) async fn delete_hint(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "hint")?;
    blocking(move || state.store.delete_hint(id).map_err(ApiError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's `CatalogHint` says what the catalog's own type says, for every
    /// entry of the built-in catalog (a field added to one and not the other fails here).
    #[test]
    fn catalog_hints_keep_every_field() {
        let catalog = refinery_build::hints::Catalog::builtin();
        let mut seen = 0;
        for hint in catalog.hints() {
            assert_eq!(
                serde_json::to_value(catalog_hint(hint)).unwrap(),
                serde_json::to_value(hint).unwrap(),
                "{}",
                hint.id
            );
            seen += 1;
        }
        assert!(seen > 10, "the built-in catalog has {seen} entries");
    }
}
