//! Whether a test that needs an outside tool runs, skips or fails.

/// Environment variables that make a missing tool a failure instead of a skip: `CI` (set by
/// CI systems) and `REFINERY_TEST_STRICT` (set by `scripts/test.sh`, which installs and starts
/// every tool the tests need).
const STRICT_VARS: [&str; 2] = ["CI", "REFINERY_TEST_STRICT"];

/// True when a missing tool must fail the test: one of [`STRICT_VARS`] is set to a value
/// other than empty, `0` or `false`.
pub fn strict() -> bool {
    STRICT_VARS.iter().any(|name| {
        std::env::var(name)
            .map(|v| !matches!(v.trim(), "" | "0" | "false"))
            .unwrap_or(false)
    })
}

/// Decide whether a test that needs `tool` goes on.
///
/// Returns `true` when `available`. When not: under [`strict`] it panics with `how_to_get`
/// (the test fails, so CI cannot pass by skipping); otherwise it prints why the test is skipped
/// and returns `false`, and the caller returns early.
///
/// # Panics
/// When the tool is missing and [`strict`] is on.
pub fn tool_available(tool: &str, available: bool, how_to_get: &str) -> bool {
    decide(tool, available, strict(), how_to_get)
}

/// The PostgreSQL server for tests: `REFINERY_TEST_DATABASE_URL` (`scripts/test.sh` starts one
/// and sets it to `postgres://refinery:refinery@127.0.0.1/refinery_test`). `None` (the test
/// skips its PostgreSQL half) when it is unset or empty outside CI; under CI that fails the
/// test ([`tool_available`]).
pub fn test_database_url() -> Option<String> {
    let url = std::env::var("REFINERY_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    tool_available(
        "PostgreSQL (REFINERY_TEST_DATABASE_URL)",
        url.is_some(),
        "run scripts/test.sh, or start a server and set REFINERY_TEST_DATABASE_URL, e.g. \
         postgres://refinery:refinery@127.0.0.1/refinery_test",
    )
    .then_some(url)
    .flatten()
}

fn decide(tool: &str, available: bool, strict: bool, how_to_get: &str) -> bool {
    if available {
        return true;
    }
    if strict {
        panic!(
            "{tool} is required here (CI or REFINERY_TEST_STRICT is set) but missing: {how_to_get}"
        );
    }
    eprintln!("skipping: {tool} is missing ({how_to_get}); under CI this test fails instead");
    false
}

#[cfg(test)]
mod tests {
    use super::decide;

    #[test]
    fn an_available_tool_runs_the_test_in_either_mode() {
        assert!(decide("uv", true, false, "install it"));
        assert!(decide("uv", true, true, "install it"));
    }

    #[test]
    fn a_missing_tool_skips_outside_ci() {
        assert!(!decide("uv", false, false, "install it"));
    }

    #[test]
    #[should_panic(expected = "uv is required here")]
    fn a_missing_tool_fails_under_ci() {
        decide("uv", false, true, "install it");
    }
}
