//! Finding the host's s390x cross toolchain: tools, GCC majors, support folders, the loader.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{AccelerateError, Language, TRIPLET};

/// Tools taken from the host, by the name after `s390x-linux-gnu-` (optionally `-N`).
const TOOL_STEMS: &[&str] = &[
    "gcc",
    "g++",
    "c++",
    "cpp",
    "gfortran",
    "gcc-ar",
    "gcc-nm",
    "gcc-ranlib",
    "gcov",
    "gcov-dump",
    "gcov-tool",
    "lto-dump",
    "as",
    "ld",
    "ld.bfd",
    "ld.gold",
    "gold",
    "ar",
    "nm",
    "ranlib",
    "strip",
    "objcopy",
    "objdump",
    "readelf",
    "size",
    "strings",
    "addr2line",
    "c++filt",
    "elfedit",
    "dwp",
    "gprof",
];

/// Generic names build systems call, and the cross tool each stands for.
pub(super) const GENERIC_NAMES: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("cc", "gcc"),
    ("g++", "g++"),
    ("c++", "g++"),
    ("cpp", "cpp"),
    ("gfortran", "gfortran"),
    ("f95", "gfortran"),
    ("as", "as"),
    ("ld", "ld"),
    ("ar", "ar"),
    ("nm", "nm"),
    ("ranlib", "ranlib"),
    ("strip", "strip"),
    ("objcopy", "objcopy"),
    ("objdump", "objdump"),
    ("readelf", "readelf"),
];

/// The host's s390x cross toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossToolchain {
    /// The filesystem root it was found under (`/` except in tests).
    pub root: PathBuf,
    /// File names in `/usr/bin` starting with `s390x-linux-gnu-`.
    pub tools: Vec<String>,
    /// The GCC major that `s390x-linux-gnu-gcc` runs.
    pub default_major: Option<u32>,
    /// Every working compiler: language and GCC major.
    pub compilers: Vec<(Language, u32)>,
    /// Folders the compilers need, as absolute paths (same inside the sandbox).
    pub support_dirs: Vec<String>,
    /// The host's library folder(s) the cross binaries link against.
    pub host_lib_dirs: Vec<String>,
    /// The host's dynamic loader, e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub loader: String,
}

impl CrossToolchain {
    /// Look for the cross toolchain under `root` (`/`), saying what to install when it
    /// is missing or incomplete.
    pub fn detect(root: &Path) -> Result<CrossToolchain, AccelerateError> {
        if std::env::consts::ARCH == "s390x" {
            return Err(AccelerateError::NativeHost);
        }
        let bin = root.join("usr/bin");
        let prefix = format!("{TRIPLET}-");
        let mut tools: Vec<String> = std::fs::read_dir(&bin)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.strip_prefix(&prefix).is_some_and(is_tool_stem))
                    .filter(|n| bin.join(n).exists())
                    .collect()
            })
            .unwrap_or_default();
        tools.sort();
        let install = format!(
            "apt-get install {} {}",
            Language::C.package(None),
            Language::Cxx.package(None)
        );
        if !tools
            .iter()
            .any(|t| split_version(t).0 == format!("{TRIPLET}-gcc"))
        {
            return Err(AccelerateError::NoCompiler {
                gcc: bin.join(format!("{TRIPLET}-gcc")),
                install,
            });
        }
        let support_dirs: Vec<String> = [
            "usr/lib/gcc-cross",
            "usr/libexec/gcc-cross",
            "usr/s390x-linux-gnu",
        ]
        .iter()
        .filter(|d| root.join(d).is_dir())
        .map(|d| format!("/{d}"))
        .collect();
        let libc = root.join("usr").join(TRIPLET).join("lib");
        if !libc.join("libc.so.6").exists() && !libc.join("libc.so").exists() {
            return Err(AccelerateError::NoLibc {
                libc: libc.join("libc.so.6"),
                arch: TRIPLET.split('-').next().unwrap_or(TRIPLET).to_string(),
            });
        }
        let default_major = resolve_in(root, &format!("/usr/bin/{TRIPLET}-gcc"))
            .and_then(|p| split_version(file_part(&p)).1)
            .or_else(|| backend_majors(root, Language::C).into_iter().max());
        let mut compilers = Vec::new();
        for language in Language::ALL {
            let driver = format!("{TRIPLET}-{}", language.driver());
            for major in backend_majors(root, language) {
                let versioned = tools.contains(&format!("{driver}-{major}"));
                let unversioned = tools.contains(&driver) && default_major == Some(major);
                if versioned || unversioned {
                    compilers.push((language, major));
                }
            }
        }
        if !compilers.iter().any(|(l, _)| *l == Language::C) {
            return Err(AccelerateError::Incomplete {
                root: root.to_path_buf(),
                package: Language::C.package(None),
            });
        }
        let gcc = resolve_in(root, &format!("/usr/bin/{TRIPLET}-gcc")).unwrap_or_default();
        let loader = elf_interpreter(&root.join(gcc.trim_start_matches('/')))
            .unwrap_or_else(|| default_loader().to_string());
        let host_lib_dirs = [format!("usr/lib/{}", host_multiarch())]
            .into_iter()
            .filter(|d| root.join(d).is_dir())
            .map(|d| format!("/{d}"))
            .collect();
        Ok(CrossToolchain {
            root: root.to_path_buf(),
            tools,
            default_major,
            compilers,
            support_dirs,
            host_lib_dirs,
            loader,
        })
    }

    /// Languages with a compiler of GCC `major`.
    pub fn languages(&self, major: u32) -> Vec<Language> {
        let mut found: Vec<Language> = self
            .compilers
            .iter()
            .filter(|(_, m)| *m == major)
            .map(|(l, _)| *l)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    pub(super) fn host_path(&self, guest: &str) -> PathBuf {
        self.root.join(guest.trim_start_matches('/'))
    }
}

/// The GCC major of the environment's compiler: what `/usr/bin/gcc` runs, or the newest
/// folder under `/usr/lib/gcc/s390x-linux-gnu`.
pub fn rootfs_gcc_major(rootfs: &Path) -> Option<u32> {
    resolve_in(rootfs, "/usr/bin/gcc")
        .and_then(|p| split_version(file_part(&p)).1)
        .or_else(|| {
            numeric_dirs(&rootfs.join("usr/lib/gcc").join(TRIPLET))
                .into_iter()
                .max()
        })
}

/// GCC majors for which `language`'s compiler proper exists in the cross folders.
fn backend_majors(root: &Path, language: Language) -> Vec<u32> {
    let mut majors: Vec<u32> = ["usr/lib/gcc-cross", "usr/libexec/gcc-cross"]
        .iter()
        .flat_map(|d| {
            let dir = root.join(d).join(TRIPLET);
            numeric_dirs(&dir)
                .into_iter()
                .filter(move |m| dir.join(m.to_string()).join(language.backend()).is_file())
        })
        .collect();
    majors.sort_unstable();
    majors.dedup();
    majors
}

fn numeric_dirs(dir: &Path) -> Vec<u32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_tool_stem(rest: &str) -> bool {
    let (stem, _) = split_version(rest);
    TOOL_STEMS.contains(&stem)
}

/// `s390x-linux-gnu-gcc-12` → (`s390x-linux-gnu-gcc`, Some(12)).
pub(super) fn split_version(name: &str) -> (&str, Option<u32>) {
    match name.rsplit_once('-') {
        Some((stem, v)) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => {
            (stem, v.parse().ok())
        }
        _ => (name, None),
    }
}

fn file_part(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub(super) fn parent_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

pub(super) fn fmt_major(major: Option<u32>) -> String {
    major.map_or("of unknown version".to_string(), |m| m.to_string())
}

/// Follow `guest` through the symlinks of the filesystem under `root` (absolute links
/// stay inside it). The real path, or `None` when it does not exist.
pub fn resolve_in(root: &Path, guest: &str) -> Option<String> {
    let mut pending: Vec<String> = guest.split('/').rev().map(str::to_string).collect();
    let mut current: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = current.clone();
        candidate.push(part);
        let host = root.join(candidate.join("/"));
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                current.clear();
            }
            pending.extend(target.split('/').rev().map(str::to_string));
        } else {
            current = candidate;
        }
    }
    Some(format!("/{}", current.join("/")))
}

/// Where a bind of `guest` lands in the rootfs: its real path when it exists, else the
/// real path of its folder plus its name (so the mount point is made in the right place).
pub(super) fn guest_target(rootfs: &Path, guest: &str) -> String {
    if let Some(real) = resolve_in(rootfs, guest) {
        return real;
    }
    match resolve_in(rootfs, &parent_of(guest)) {
        Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), file_part(guest)),
        None => guest.to_string(),
    }
}

/// The program interpreter (`PT_INTERP`) of a 64-bit little-endian ELF executable.
pub(super) fn elf_interpreter(path: &Path) -> Option<String> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut data)
        .ok()?;
    if data.get(..4)? != b"\x7fELF" || data.get(4)? != &2 || data.get(5)? != &1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let header = phoff + i * phentsize;
        if u32_at(header)? == 3 {
            let offset = usize::try_from(u64_at(header + 8)?).ok()?;
            let size = usize::try_from(u64_at(header + 32)?).ok()?;
            let bytes = data.get(offset..offset + size)?;
            let interp = String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_string();
            return interp.starts_with('/').then_some(interp);
        }
    }
    None
}

pub(super) fn default_loader() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "/lib/ld-linux-aarch64.so.1",
        "powerpc64" => "/lib64/ld64.so.2",
        _ => "/lib64/ld-linux-x86-64.so.2",
    }
}

pub(super) fn host_multiarch() -> String {
    match std::env::consts::ARCH {
        "powerpc64" => "powerpc64le-linux-gnu".to_string(),
        arch => format!("{arch}-linux-gnu"),
    }
}
