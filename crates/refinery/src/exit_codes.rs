//! The process's exit status: one meaning per code, shown by `refinery --help` and in README.

/// Everything asked for was done.
pub const SUCCESS: u8 = 0;
/// The run finished but some package failed, is missing or was rejected (see the manifest
/// or the plan).
pub const INCOMPLETE: u8 = 1;
/// Bad input or setup: flags, folders, requirements, configuration, environment; the error
/// says what to change.
pub const USER_ERROR: u8 = 2;
/// An internal error (a bug in the refinery): it panicked. The message above it is the
/// panic's; please report it with the command line.
pub const INTERNAL_ERROR: u8 = 3;

/// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports it): the running builds
/// were stopped; the manifest and locks hold what was done.
pub const INTERRUPTED: u8 = 130;

/// The `Exit status:` section of `--help`.
pub fn help_section() -> String {
    [
        (SUCCESS, "success"),
        (
            INCOMPLETE,
            "finished, but some package failed, is missing or was rejected",
        ),
        (
            USER_ERROR,
            "bad input or setup (the error says what to change)",
        ),
        (INTERNAL_ERROR, "internal error (a bug: please report it)"),
        (
            INTERRUPTED,
            "interrupted by Ctrl-C or SIGTERM (the manifest says what was done)",
        ),
    ]
    .iter()
    .fold(String::from("Exit status:\n"), |mut text, (code, what)| {
        text.push_str(&format!("  {code:>3}  {what}\n"));
        text
    })
}
