//! Look inside a built wheel: its importable top-level modules and the machine of every
//! shared object it carries.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a wheel could not be looked into; each names the wheel (and the member).
#[derive(Debug, thiserror::Error)]
pub enum WheelInspectError {
    #[error("cannot open {}: {source}", wheel.display())]
    Open {
        wheel: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a zip: {source}", wheel.display())]
    NotZip {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{}: cannot read member {member}: {source}", wheel.display())]
    Member {
        wheel: PathBuf,
        member: String,
        #[source]
        source: zip::result::ZipError,
    },
}

pub(crate) fn open(wheel: &Path) -> Result<zip::ZipArchive<std::fs::File>, WheelInspectError> {
    let file = std::fs::File::open(wheel).map_err(|source| WheelInspectError::Open {
        wheel: wheel.to_path_buf(),
        source,
    })?;
    zip::ZipArchive::new(file).map_err(|source| WheelInspectError::NotZip {
        wheel: wheel.to_path_buf(),
        source,
    })
}

pub(crate) fn member_error<'a>(
    wheel: &'a Path,
    member: &'a str,
) -> impl Fn(zip::result::ZipError) -> WheelInspectError + 'a {
    move |source| WheelInspectError::Member {
        wheel: wheel.to_path_buf(),
        member: member.to_string(),
        source,
    }
}

/// ELF `e_machine` of IBM S/390 and z/Architecture.
pub const EM_S390: u16 = 22;

/// Top-level modules to import: `top_level.txt` when present, else derived from RECORD
/// (packages with `__init__.py`, `.py` modules, extension modules).
pub fn top_level_modules(wheel: &Path) -> Result<Vec<String>, WheelInspectError> {
    let mut archive = open(wheel)?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    if let Some(top) = names
        .iter()
        .find(|n| n.ends_with(".dist-info/top_level.txt") && n.matches('/').count() == 1)
    {
        let mut text = String::new();
        archive
            .by_name(top)
            .map_err(member_error(wheel, top))?
            .take(1024 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| member_error(wheel, top)(zip::result::ZipError::Io(e)))?;
        let modules: Vec<String> = text
            .lines()
            .map(|l| l.trim().replace('/', "."))
            .filter(|l| is_identifier_path(l))
            .collect();
        if !modules.is_empty() {
            return Ok(modules);
        }
    }
    Ok(modules_from_names(&names))
}

fn modules_from_names(names: &[String]) -> Vec<String> {
    let mut modules = BTreeSet::new();
    for name in names {
        let first = name.split('/').next().unwrap_or_default();
        if first.ends_with(".dist-info") || first.ends_with(".data") {
            continue;
        }
        let module = if name.contains('/') {
            name.ends_with("/__init__.py").then_some(first)
        } else {
            first
                .strip_suffix(".py")
                .or_else(|| first.split_once(".cpython-").map(|(m, _)| m))
                .or_else(|| first.strip_suffix(".abi3.so"))
                .or_else(|| first.strip_suffix(".so"))
        };
        if let Some(module) = module.filter(|m| is_identifier_path(m)) {
            modules.insert(module.to_string());
        }
    }
    modules.into_iter().collect()
}

fn is_identifier_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// `(member, e_machine)` of every ELF file in the wheel.
pub fn elf_machines(wheel: &Path) -> Result<Vec<(String, u16)>, WheelInspectError> {
    Ok(elf_headers(wheel)?
        .into_iter()
        .map(|m| (m.name, m.machine))
        .collect())
}

/// What the ELF header of a wheel member says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfMember {
    pub name: String,
    /// `e_machine` (e.g. [`EM_S390`]).
    pub machine: u16,
    /// `EI_DATA` is `ELFDATA2MSB`.
    pub big_endian: bool,
}

/// The ELF header of every ELF file in the wheel.
pub fn elf_headers(wheel: &Path) -> Result<Vec<ElfMember>, WheelInspectError> {
    let mut archive = open(wheel)?;
    let mut found = Vec::new();
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(member_error(wheel, &format!("#{index}")))?;
        let name = member.name().to_string();
        let mut header = [0u8; 20];
        if member.read_exact(&mut header).is_ok() {
            if let Some(machine) = elf_machine(&header) {
                found.push(ElfMember {
                    name,
                    machine,
                    big_endian: header[5] == 2,
                });
            }
        }
    }
    Ok(found)
}

/// Largest ELF member read for symbol versions (bigger ones are skipped, not read whole).
const MAX_ELF_BYTES: u64 = 512 * 1024 * 1024;

/// For each ELF member of `wheel`, the newest `GLIBC_*` and `GLIBCXX_*` symbol version it
/// needs (from `.gnu.version_r`, as auditwheel reads it), e.g.
/// `{"kiwisolver/_cext.cpython-311-s390x-linux-gnu.so": ["GLIBC_2.17"]}`. Members that
/// need neither are listed with an empty list.
pub fn newest_symbol_versions(
    wheel: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, WheelInspectError> {
    let mut archive = open(wheel)?;
    let mut found = std::collections::BTreeMap::new();
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(member_error(wheel, &format!("#{index}")))?;
        if member.size() > MAX_ELF_BYTES || member.size() < 20 {
            continue;
        }
        let name = member.name().to_string();
        let mut bytes = Vec::with_capacity(member.size() as usize);
        if member.read_to_end(&mut bytes).is_err() || !bytes.starts_with(b"\x7fELF") {
            continue;
        }
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        let mut newest: Vec<String> = Vec::new();
        for family in ["GLIBC_", "GLIBCXX_"] {
            let best = elf
                .verneed
                .iter()
                .flat_map(|section| section.iter())
                .flat_map(|need| need.iter().collect::<Vec<_>>())
                .filter_map(|aux| elf.dynstrtab.get_at(aux.vna_name))
                .filter(|v| {
                    v.strip_prefix(family)
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                })
                .max_by_key(|v| version_key(&v[family.len()..]));
            newest.extend(best.map(str::to_string));
        }
        found.insert(name, newest);
    }
    Ok(found)
}

/// `2.17` → `[2, 17]`, for comparing symbol versions.
fn version_key(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `e_machine` from an ELF header, honouring its byte order.
pub fn elf_machine(header: &[u8; 20]) -> Option<u16> {
    if &header[..4] != b"\x7fELF" {
        return None;
    }
    let bytes = [header[18], header[19]];
    Some(match header[5] {
        2 => u16::from_be_bytes(bytes),
        _ => u16::from_le_bytes(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_come_from_packages_modules_and_extensions() {
        let names: Vec<String> = [
            "markupsafe/__init__.py",
            "markupsafe/_speedups.cpython-311-s390x-linux-gnu.so",
            "six.py",
            "_regex.cpython-311-s390x-linux-gnu.so",
            "foo.abi3.so",
            "data/nested/x.py",
            "MarkupSafe-2.1.5.dist-info/METADATA",
            "x-1.data/scripts/tool",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            modules_from_names(&names),
            ["_regex", "foo", "markupsafe", "six"]
        );
    }

    #[test]
    fn reads_elf_machine_in_both_byte_orders() {
        let mut be = [0u8; 20];
        be[..4].copy_from_slice(b"\x7fELF");
        be[5] = 2;
        be[18..20].copy_from_slice(&EM_S390.to_be_bytes());
        assert_eq!(elf_machine(&be), Some(EM_S390));
        let mut le = be;
        le[5] = 1;
        le[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(elf_machine(&le), Some(62));
        assert_eq!(elf_machine(&[0u8; 20]), None);
    }
}
