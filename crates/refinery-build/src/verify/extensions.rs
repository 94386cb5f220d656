//! The compiled extension modules of a wheel, by dotted name, from its RECORD: what
//! verification imports besides the top-level names (which may be namespaces that another
//! distribution owns, and prove nothing about the compiled code).

use std::io::Read;
use std::path::Path;

use crate::wheel_inspect::{member_error, WheelInspectError};

/// Largest member read to look for its `PyInit_` symbol; bigger ones count by name.
const MAX_SCAN_BYTES: u64 = 256 * 1024 * 1024;

/// Dotted names of the extension modules of `wheel`, sorted, e.g.
/// `["orjson.orjson"]`, `["yaml._yaml"]`, `["_cffi_backend"]`.
///
/// A `.so` member is an extension module when its folders and its stem are Python
/// identifiers and, if it is an ELF file, it exports `PyInit_<stem>` (plain shared
/// libraries such as `pkg/lib/libfoo.so` do not). Members under `<name>.data/platlib/`
/// and `purelib/` count from there; other `.data` folders and `.dist-info` do not.
/// Paths come from `.dist-info/RECORD`, or the zip's member list when it has none.
/// Errors name the wheel (it cannot be opened or is no zip).
pub fn extension_modules(wheel: &Path) -> Result<Vec<String>, WheelInspectError> {
    let mut archive = crate::wheel_inspect::open(wheel)?;
    let members: Vec<String> = archive.file_names().map(str::to_string).collect();
    let paths = match members
        .iter()
        .find(|n| n.ends_with(".dist-info/RECORD") && n.matches('/').count() == 1)
    {
        Some(record) => {
            let mut text = String::new();
            archive
                .by_name(record)
                .map_err(member_error(wheel, record))?
                .take(64 * 1024 * 1024)
                .read_to_string(&mut text)
                .map_err(|e| member_error(wheel, record)(zip::result::ZipError::Io(e)))?;
            record_paths(&text)
        }
        None => members.clone(),
    };
    let mut modules = Vec::new();
    for path in paths {
        let Some(module) = module_name(&path) else {
            continue;
        };
        let stem = module.rsplit('.').next().unwrap_or(&module).to_string();
        let is_module = match archive.by_name(&path) {
            Ok(member) if member.size() <= MAX_SCAN_BYTES => {
                let mut bytes = Vec::with_capacity(member.size() as usize);
                member
                    .take(MAX_SCAN_BYTES)
                    .read_to_end(&mut bytes)
                    .map_err(|e| member_error(wheel, &path)(zip::result::ZipError::Io(e)))?;
                exports_init(&bytes, &stem).unwrap_or_else(|| has_abi_suffix(&path))
            }
            _ => has_abi_suffix(&path),
        };
        if is_module {
            modules.push(module);
        }
    }
    modules.sort();
    modules.dedup();
    Ok(modules)
}

/// The paths listed in a RECORD file (the first CSV field; paths with commas are quoted).
fn record_paths(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            if let Some(rest) = line.strip_prefix('"') {
                rest.split_once("\",").map(|(p, _)| p.replace("\"\"", "\""))
            } else {
                line.split(',').next().map(str::to_string)
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// `pkg/sub/_ext.cpython-311-s390x-linux-gnu.so` → `pkg.sub._ext`; `None` for what
/// cannot be an importable extension module.
fn module_name(path: &str) -> Option<String> {
    let path = match path.split_once(".data/") {
        Some((_, rest)) if !path.split('/').next()?.contains(".dist-info") => rest
            .strip_prefix("platlib/")
            .or_else(|| rest.strip_prefix("purelib/"))?,
        _ => path,
    };
    if path.split('/').next()?.ends_with(".dist-info") || !path.ends_with(".so") {
        return None;
    }
    let (dirs, file) = path.rsplit_once('/').unwrap_or(("", path));
    let stem = file.split('.').next()?;
    let mut parts: Vec<&str> = dirs.split('/').filter(|d| !d.is_empty()).collect();
    parts.push(stem);
    parts
        .iter()
        .all(|p| is_identifier(p))
        .then(|| parts.join("."))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `.cpython-311-….so`, `.abi3.so`, `.pypy…so`: named like an extension module.
fn has_abi_suffix(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.contains(".cpython-") || file.ends_with(".abi3.so") || file.contains(".pypy")
}

/// Whether the ELF file exports `PyInit_<stem>`; `None` when `bytes` is no ELF file.
fn exports_init(bytes: &[u8], stem: &str) -> Option<bool> {
    if !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let elf = goblin::elf::Elf::parse(bytes).ok()?;
    let wanted = format!("PyInit_{stem}");
    Some(
        elf.dynsyms.iter().any(|sym| {
            sym.st_shndx != 0 && elf.dynstrtab.get_at(sym.st_name) == Some(wanted.as_str())
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn dotted_names_come_from_paths() {
        let cases = [
            (
                "orjson/orjson.cpython-311-s390x-linux-gnu.so",
                Some("orjson.orjson"),
            ),
            (
                "yaml/_yaml.cpython-311-s390x-linux-gnu.so",
                Some("yaml._yaml"),
            ),
            (
                "_cffi_backend.cpython-311-s390x-linux-gnu.so",
                Some("_cffi_backend"),
            ),
            (
                "cryptography/hazmat/bindings/_rust.abi3.so",
                Some("cryptography.hazmat.bindings._rust"),
            ),
            ("pkg-1.0.data/platlib/fast.so", Some("fast")),
            ("pkg-1.0.data/scripts/tool.so", None),
            ("numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so", None),
            ("pkg/libfoo.so.1", None),
            ("pkg-1.0.dist-info/RECORD", None),
            ("pkg/__init__.py", None),
            ("my-pkg/ext.so", None),
        ];
        for (path, want) in cases {
            assert_eq!(module_name(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn record_paths_read_quoted_fields() {
        let text = "a/b.so,sha256=x,10\r\n\"a/c,d.so\",sha256=y,2\npkg-1.dist-info/RECORD,,\n";
        assert_eq!(
            record_paths(text),
            ["a/b.so", "a/c,d.so", "pkg-1.dist-info/RECORD"]
        );
    }

    /// A wheel whose RECORD lists an extension (named like one) and a plain shared
    /// library, and a member that RECORD does not list.
    #[test]
    fn modules_come_from_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fast-1.0-cp311-cp311-linux_s390x.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in [
            ("fast/__init__.py", &b""[..]),
            ("fast/_speedups.cpython-311-s390x-linux-gnu.so", b"not really ELF"),
            ("fast/sub/_inner.abi3.so", b"not really ELF"),
            ("fast/unlisted.cpython-311-s390x-linux-gnu.so", b"x"),
            (
                "fast-1.0.dist-info/RECORD",
                b"fast/__init__.py,,\nfast/_speedups.cpython-311-s390x-linux-gnu.so,,\nfast/sub/_inner.abi3.so,,\nfast/lib/libhelper.so,,\n",
            ),
            ("fast/lib/libhelper.so", b"no abi suffix, no ELF"),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        assert_eq!(
            extension_modules(&path).unwrap(),
            ["fast._speedups", "fast.sub._inner"]
        );
        let err = extension_modules(&dir.path().join("none.whl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.whl"), "{err}");
    }
}
