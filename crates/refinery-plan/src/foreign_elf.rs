//! ELF files in a wheel that cannot run on s390x: a `py3-none-any` wheel that carries an
//! x86_64 `.so` says it installs anywhere but works only where it was built, so scan sends
//! it to be rebuilt, and a reused wheel with one is `broken`.

use std::io::Read;
use std::path::Path;

/// ELF `e_machine` of IBM S/390 and z/Architecture.
pub const EM_S390: u16 = 22;

/// A readable name for an ELF `e_machine`.
pub fn machine_name(machine: u16) -> String {
    match machine {
        3 => "i386".into(),
        8 => "mips".into(),
        20 => "ppc".into(),
        21 => "ppc64".into(),
        EM_S390 => "s390x".into(),
        40 => "arm".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        243 => "riscv".into(),
        258 => "loongarch".into(),
        other => format!("machine {other}"),
    }
}

/// `e_machine` from the first 20 bytes of a file, honouring its byte order; `None` when
/// it is no ELF file.
pub fn elf_machine(header: &[u8]) -> Option<u16> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let bytes = [header[18], header[19]];
    Some(match header[5] {
        2 => u16::from_be_bytes(bytes),
        _ => u16::from_le_bytes(bytes),
    })
}

/// Whether a member may be an ELF file worth reading: shared objects (`.so`, `.so.N`)
/// and files without an extension (executables under `bin/`, `.data/scripts/`). Text and
/// Python files are skipped, so the scan reads only a header or two per wheel.
fn may_be_elf(member: &str) -> bool {
    let file = member.rsplit('/').next().unwrap_or(member);
    !member.ends_with('/')
        && (file.ends_with(".so") || file.contains(".so.") || !file.contains('.'))
        && !member.contains(".dist-info/")
}

/// Why a wheel's members could not be read; each names the wheel.
#[derive(Debug, thiserror::Error)]
pub enum ForeignElfError {
    #[error("cannot open {}: {source}", wheel.display())]
    Open {
        wheel: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a readable zip: {source}", wheel.display())]
    NotZip {
        wheel: std::path::PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{}: corrupt member #{index}: {source}", wheel.display())]
    CorruptMember {
        wheel: std::path::PathBuf,
        index: usize,
        #[source]
        source: zip::result::ZipError,
    },
}

/// `(member, e_machine)` of every ELF file in the wheel that is not for s390x, at most
/// `limit` of them. Errors name the wheel.
pub fn foreign_elf_members(
    wheel: &Path,
    limit: usize,
) -> Result<Vec<(String, u16)>, ForeignElfError> {
    let file = std::fs::File::open(wheel).map_err(|source| ForeignElfError::Open {
        wheel: wheel.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| {
        ForeignElfError::NotZip {
            wheel: wheel.to_path_buf(),
            source,
        }
    })?;
    let candidates: Vec<usize> = (0..archive.len())
        .filter(|&i| archive.name_for_index(i).is_some_and(may_be_elf))
        .collect();
    let mut found = Vec::new();
    for index in candidates {
        let mut member =
            archive
                .by_index(index)
                .map_err(|source| ForeignElfError::CorruptMember {
                    wheel: wheel.to_path_buf(),
                    index,
                    source,
                })?;
        let mut header = [0u8; 20];
        if member.read_exact(&mut header).is_err() {
            continue;
        }
        if let Some(machine) = elf_machine(&header).filter(|m| *m != EM_S390) {
            found.push((member.name().to_string(), machine));
            if found.len() >= limit {
                break;
            }
        }
    }
    Ok(found)
}

/// `foo/_x.so (x86_64)`, `a.so (x86_64), b.so (aarch64)`: for reasons.
pub fn describe(members: &[(String, u16)]) -> String {
    members
        .iter()
        .map(|(m, machine)| format!("{m} ({})", machine_name(*machine)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_in_both_byte_orders() {
        let mut be = [0u8; 20];
        be[..4].copy_from_slice(b"\x7fELF");
        be[5] = 2;
        be[18..20].copy_from_slice(&EM_S390.to_be_bytes());
        assert_eq!(elf_machine(&be), Some(EM_S390));
        let mut le = be;
        le[5] = 1;
        le[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(elf_machine(&le), Some(62));
        assert_eq!(machine_name(62), "x86_64");
        assert_eq!(elf_machine(b"\x7fELF"), None);
    }

    #[test]
    fn candidates_are_shared_objects_and_extensionless_files() {
        for m in [
            "a/_x.so",
            "a.libs/libz.so.1.2",
            "pkg-1.data/scripts/tool",
            "bin/x",
        ] {
            assert!(may_be_elf(m), "{m}");
        }
        for m in [
            "a/__init__.py",
            "a/data.json",
            "pkg-1.dist-info/RECORD",
            "a/",
        ] {
            assert!(!may_be_elf(m), "{m}");
        }
    }
}
