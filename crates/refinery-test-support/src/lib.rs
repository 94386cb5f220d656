//! Test support shared by the workspace's tests.
//!
//! - [`TestContext`]: a private folder and the real `refinery` binary, run with a clean
//!   environment; [`TestContext::render`] turns its output into stable text for `insta`
//!   snapshots (in the style of uv's `TestContext`: status, stdout and stderr, with temporary
//!   paths, ports, hashes, ids and durations replaced by placeholders).
//! - [`tool_available`]: the rule for tests that need PostgreSQL, uv, pip or another outside
//!   tool: outside CI they skip and say so; under CI a missing tool fails the test.

mod context;
mod tools;

pub use context::TestContext;
pub use tools::{strict, test_database_url, tool_available};
