//! The named ways to build a package (variants), apart from the code that runs them, so
//! that the hint catalog and the learned fixes can check a variant's name without
//! depending on the build.

use crate::accelerate::{EMULATED_VARIANT, GCC_CROSS_VARIANT};

/// Named ways to build, tried in this order unless history says otherwise.
/// `emulated` turns the host's cross compilers off for the attempt (see `accelerate`).
pub const VARIANTS: &[&str] = &[
    "default",
    "relaxed-cflags",
    "no-isolation",
    EMULATED_VARIANT,
    GCC_CROSS_VARIANT,
];
