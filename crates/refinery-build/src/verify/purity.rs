//! Nothing pure from a compiled sdist: a build that silently dropped its extension (a
//! wheel without any ELF file from an sdist that declares compiled extensions, or a log
//! that says it fell back to pure Python) is a failure, with a hint, never a success.

use std::cell::RefCell;
use std::path::Path;

use crate::hints::Catalog;

/// The hint catalog entry (`hints/catalog.toml`) whose pattern finds the lines with which
/// build scripts announce that they dropped their compiled extension, and whose message
/// is the hint every purity failure gets (through the usual hint matching).
pub const PURE_FALLBACK_HINT_ID: &str = "pure-python-fallback";

/// The line the refinery logs when the wheel has no ELF file although the sdist is
/// compiled; the catalog entry matches it too, so that failure gets the same hint.
pub const NO_EXTENSION_LINE: &str =
    "the wheel has no compiled extension although the sdist is compiled";

/// The first log line (not the refinery's own) that the catalog entry
/// [`PURE_FALLBACK_HINT_ID`] matches, trimmed; `None` when the catalog lacks the entry.
pub fn fallback_line(log: &str, catalog: &Catalog) -> Option<String> {
    let pattern = catalog.pattern(PURE_FALLBACK_HINT_ID)?;
    log.lines()
        .filter(|l| !l.starts_with("[refinery"))
        .find(|l| pattern.is_match(l))
        .map(|l| l.trim().chars().take(300).collect())
}

/// Why the sdist counts as compiled, when it does: it ships C, C++, Cython or Rust
/// sources outside its tests, docs and examples, *and* its build configuration declares
/// extensions (`Extension(`/`ext_modules`/`cythonize` in `setup.py` or `setup.cfg`, a
/// compiling build backend or build requirement in `pyproject.toml`, or a `Cargo.toml`).
/// `None` for pure sdists and for sdists that cannot be read.
pub fn compiled_sdist(sdist: &Path) -> Option<String> {
    let sources = RefCell::new(Vec::<String>::new());
    let select = |member: &str| {
        let parts = refinery_plan::sdist_files::member_parts(member);
        if is_extension_source(&parts) {
            sources.borrow_mut().push(parts[1..].join("/"));
        }
        parts.len() == 2
            && ["setup.py", "setup.cfg", "pyproject.toml", "Cargo.toml"].contains(&parts[1])
    };
    let configs = refinery_plan::sdist_files::read_text_members(sdist, &select).ok()?;
    let sources = sources.into_inner();
    let first_source = sources.first()?;
    let declared = configs.iter().find_map(|(member, text)| {
        let file = member.rsplit('/').next().unwrap_or(member);
        declares_extensions(file, text).map(|why| format!("{file} {why}"))
    })?;
    Some(format!(
        "{declared} and it ships {first_source}{}",
        match sources.len() {
            1 => String::new(),
            n => format!(" and {} more sources", n - 1),
        }
    ))
}

/// `<base>/<path…>`: a C, C++, Cython or Rust source outside tests, docs and examples.
fn is_extension_source(parts: &[&str]) -> bool {
    if parts.len() < 2 {
        return false;
    }
    let skipped = [
        "test",
        "tests",
        "testing",
        "doc",
        "docs",
        "example",
        "examples",
        "benchmarks",
        "bench",
    ];
    if parts[1..parts.len() - 1]
        .iter()
        .any(|d| skipped.contains(&d.to_ascii_lowercase().as_str()))
    {
        return false;
    }
    let file = parts[parts.len() - 1];
    [".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs"]
        .iter()
        .any(|ext| file.ends_with(ext))
}

/// What in this configuration file declares compiled extensions, if anything does.
fn declares_extensions(file: &str, text: &str) -> Option<&'static str> {
    match file {
        "setup.py" | "setup.cfg" => [
            "Extension(",
            "ext_modules",
            "cythonize(",
            "Pybind11Extension",
            "RustExtension(",
        ]
        .iter()
        .any(|n| text.contains(n))
        .then_some("declares extension modules"),
        "pyproject.toml" => [
            "maturin",
            "mesonpy",
            "meson-python",
            "scikit_build_core",
            "scikit-build",
            "setuptools-rust",
            "setuptools_rust",
            "pybind11",
            "nanobind",
            "\"cython",
            "'cython",
            "\"Cython",
            "ext-modules",
        ]
        .iter()
        .any(|n| text.contains(n))
        .then_some("builds compiled code"),
        "Cargo.toml" => Some("is a Rust crate"),
        _ => None,
    }
}

/// A build that made a pure wheel where a compiled one was due; the text names the
/// evidence (see [`check_build`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurityError {
    /// The log says the build fell back to pure Python (`line`: the log's line).
    #[error("the build fell back to pure Python (the log says {line:?})")]
    FellBack { line: String },
    /// The wheel has no ELF file although the sdist is compiled (`why`: the evidence).
    #[error("{NO_EXTENSION_LINE} ({why})")]
    NoExtension { why: String },
}

/// Check a finished build: `Err` when the log announces a fallback to pure
/// Python (by the catalog's [`PURE_FALLBACK_HINT_ID`] pattern), or the wheel has no ELF
/// file while the sdist is compiled (the message then starts with
/// [`NO_EXTENSION_LINE`]). The message names the evidence; the hint comes from the
/// catalog when the caller logs the message as a `[refinery] …` line.
///
/// # Errors
/// [`PurityError`] with the evidence.
pub fn check_build(
    sdist: &Path,
    wheel_has_elf: bool,
    log: &str,
    catalog: &Catalog,
) -> Result<(), PurityError> {
    if let Some(line) = fallback_line(log, catalog) {
        return Err(PurityError::FellBack { line });
    }
    if !wheel_has_elf {
        if let Some(why) = compiled_sdist(sdist) {
            return Err(PurityError::NoExtension { why });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_gz(dir: &Path, base: &str, members: &[(&str, &str)]) -> std::path::PathBuf {
        let path = dir.join(format!("{base}.tar.gz"));
        let file = std::fs::File::create(&path).unwrap();
        let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(encoder);
        for (name, text) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("{base}/{name}"), text.as_bytes())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
        path
    }

    #[test]
    fn fallback_lines_of_real_builds_are_found() {
        let catalog = Catalog::builtin();
        for line in [
            "WARNING: The C extension could not be compiled, speedups are not enabled.",
            "Error compiling module, falling back to pure Python",
            "Plain-Python build succeeded.",
        ] {
            let log = format!("gcc -c x.c\nx.c:1: error: boom\n{line}\nSuccessfully built x\n");
            assert_eq!(
                fallback_line(&log, &catalog).as_deref(),
                Some(line.trim()),
                "{line}"
            );
        }
        assert_eq!(
            fallback_line("[refinery] speedups are not enabled", &catalog),
            None
        );
        assert_eq!(
            fallback_line("building 'x._speedups' extension\n", &catalog),
            None
        );
        // A catalog without the entry finds nothing.
        let empty = Catalog::parse("", "empty.toml").unwrap();
        assert_eq!(fallback_line("speedups are not enabled", &empty), None);
    }

    #[test]
    fn compiled_sdists_need_sources_and_a_declaration() {
        let dir = tempfile::tempdir().unwrap();
        let setup = "from setuptools import setup, Extension\nsetup(ext_modules=[Extension('fast._x', ['src/_x.c'])])\n";
        let compiled = tar_gz(
            dir.path(),
            "fast-1.0",
            &[
                ("setup.py", setup),
                ("src/_x.c", "int x;"),
                ("PKG-INFO", ""),
            ],
        );
        let why = compiled_sdist(&compiled).unwrap();
        assert!(why.contains("setup.py declares extension modules"), "{why}");
        assert!(why.contains("src/_x.c"), "{why}");
        // C files only in tests (pycparser's case): pure.
        let pure = tar_gz(
            dir.path(),
            "parser-1.0",
            &[
                ("setup.py", "from setuptools import setup\nsetup()\n"),
                ("tests/c_files/a.c", "int a;"),
            ],
        );
        assert_eq!(compiled_sdist(&pure), None);
        // Sources but no declaration: pure.
        let undeclared = tar_gz(
            dir.path(),
            "und-1.0",
            &[
                ("setup.py", "from setuptools import setup\nsetup()\n"),
                ("und/x.c", ""),
            ],
        );
        assert_eq!(compiled_sdist(&undeclared), None);
        let maturin = tar_gz(
            dir.path(),
            "rs-1.0",
            &[
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"maturin>=1\"]\nbuild-backend = \"maturin\"\n",
                ),
                ("src/lib.rs", "fn main() {}"),
            ],
        );
        assert!(compiled_sdist(&maturin).unwrap().contains("pyproject.toml"));

        let catalog = Catalog::builtin();
        let err = check_build(&compiled, false, "Successfully built fast\n", &catalog).unwrap_err();
        assert!(matches!(err, PurityError::NoExtension { .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.starts_with(NO_EXTENSION_LINE), "{err}");
        // Logged as the refinery's line, the catalog gives it the fallback hint.
        let hinted: Vec<&str> = catalog
            .matches(&format!("[refinery] {err}"))
            .iter()
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(hinted, [PURE_FALLBACK_HINT_ID]);
        assert!(check_build(&compiled, true, "Successfully built fast\n", &catalog).is_ok());
        assert!(check_build(&pure, false, "", &catalog).is_ok());
        let err = check_build(
            &pure,
            false,
            "WARNING: The C extension could not be compiled, speedups are not enabled.\n",
            &catalog,
        )
        .unwrap_err();
        assert!(matches!(err, PurityError::FellBack { .. }), "{err:?}");
        assert!(
            err.to_string().contains("fell back to pure Python"),
            "{err}"
        );
    }
}
