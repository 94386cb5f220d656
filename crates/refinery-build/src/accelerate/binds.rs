//! Binding the cross toolchain into a sandbox or a container under the rootfs's own names.

use std::path::{Path, PathBuf};

use super::toolchain::{
    guest_target, parent_of, resolve_in, split_version, CrossToolchain, GENERIC_NAMES,
};
use super::{GUEST_SHIM_DIR, GUEST_UV, TRIPLET};

/// Runs the host's cross compilers inside an s390x rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    pub toolchain: CrossToolchain,
    /// The GCC major whose cross tools are bound in.
    pub major: u32,
    /// The GCC major of the environment's own compiler.
    pub rootfs_major: Option<u32>,
    /// See [`TEST_BREAK_VAR`].
    pub break_compilers: bool,
    /// The host's uv binary: when set, accelerated builds use it as the build frontend
    /// (build environment and build dependencies natively; only the PEP 517 hooks run
    /// in the emulated Python).
    pub uv: Option<PathBuf>,
}

/// What a bubblewrap sandbox needs for acceleration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxBinds {
    /// bubblewrap arguments, in order.
    pub args: Vec<String>,
    /// Guest paths that must exist in the read-only rootfs first (`true`: a file).
    pub mount_points: Vec<(String, bool)>,
    /// A folder to put first on `PATH`.
    pub path_prefix: Option<String>,
}

/// What a container needs for acceleration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerBinds {
    /// Read-only volumes: host path, container path.
    pub volumes: Vec<(PathBuf, String)>,
    /// Variables to set in the container (`PATH` with the tools first).
    pub env: Vec<(String, String)>,
}

impl Accelerator {
    /// The compilers' folders; without them (see [`TEST_BREAK_VAR`]) the drivers run but
    /// find no `cc1` or `as`.
    pub(super) fn support_dirs(&self) -> impl Iterator<Item = &String> {
        self.toolchain
            .support_dirs
            .iter()
            .filter(|d| !(self.break_compilers && d.contains("gcc-cross")))
    }

    /// Each cross tool name of the chosen GCC major with the host file it runs: an
    /// unversioned name takes the versioned tool of that major when there is one.
    pub(super) fn tools(&self) -> Vec<(String, PathBuf)> {
        let tc = &self.toolchain;
        tc.tools
            .iter()
            .filter_map(|tool| {
                let (stem, version) = split_version(tool);
                if version.is_some_and(|v| v != self.major) {
                    return None;
                }
                let versioned = format!("{stem}-{}", self.major);
                let source = if version.is_none() && tc.tools.contains(&versioned) {
                    &versioned
                } else {
                    tool
                };
                Some((tool.clone(), tc.host_path(&format!("/usr/bin/{source}"))))
            })
            .collect()
    }

    /// The bubblewrap arguments that make the cross tools run inside `rootfs`.
    pub fn sandbox(&self, rootfs: &Path) -> SandboxBinds {
        let tc = &self.toolchain;
        let mut binds = SandboxBinds::default();
        let bind = |binds: &mut SandboxBinds, host: PathBuf, guest: String, is_file: bool| {
            binds.mount_points.push((guest.clone(), is_file));
            binds.args.extend([
                "--ro-bind".to_string(),
                host.to_string_lossy().into_owned(),
                guest,
            ]);
        };
        // 1. The host's dynamic loader and libraries: a folder the rootfs lacks (/lib64)
        //    is bound whole, otherwise just the loader file.
        let loader_dir = parent_of(&tc.loader);
        if resolve_in(rootfs, &loader_dir).is_none() {
            bind(&mut binds, tc.host_path(&loader_dir), loader_dir, false);
        } else {
            let guest = guest_target(rootfs, &tc.loader);
            bind(&mut binds, tc.host_path(&tc.loader), guest, true);
        }
        for dir in tc.host_lib_dirs.iter().chain(self.support_dirs()) {
            bind(
                &mut binds,
                tc.host_path(dir),
                guest_target(rootfs, dir),
                false,
            );
        }
        // 2. Each cross tool over the rootfs file of the same name (its generic names are
        //    symlinks to those); the ones the rootfs lacks go into the shim folder.
        let mut seen: Vec<String> = Vec::new();
        let mut shim: Vec<(PathBuf, String)> = Vec::new();
        for (tool, host) in self.tools() {
            match resolve_in(rootfs, &format!("/usr/bin/{tool}")) {
                Some(real) if !seen.contains(&real) => {
                    seen.push(real.clone());
                    bind(&mut binds, host, real, true);
                }
                Some(_) => {}
                None => shim.push((host, tool)),
            }
        }
        let mut links: Vec<(String, String)> = Vec::new();
        for (generic, stem) in GENERIC_NAMES {
            let prefixed = format!("{TRIPLET}-{stem}");
            let available = tc.tools.contains(&prefixed)
                || tc.tools.contains(&format!("{prefixed}-{}", self.major));
            if !available || resolve_in(rootfs, &format!("/usr/bin/{generic}")).is_some() {
                continue;
            }
            let target = if shim.iter().any(|(_, n)| *n == prefixed) {
                prefixed
            } else if resolve_in(rootfs, &format!("/usr/bin/{prefixed}")).is_some() {
                format!("/usr/bin/{prefixed}")
            } else {
                continue;
            };
            links.push((target, generic.to_string()));
        }
        if let Some(uv) = &self.uv {
            shim.push((uv.clone(), "uv".to_string()));
        }
        if !shim.is_empty() || !links.is_empty() {
            let bin = format!("{GUEST_SHIM_DIR}/bin");
            binds.mount_points.push((GUEST_SHIM_DIR.to_string(), false));
            binds.args.extend([
                "--tmpfs".to_string(),
                GUEST_SHIM_DIR.to_string(),
                "--dir".to_string(),
                bin.clone(),
            ]);
            for (host, name) in shim {
                binds.args.extend([
                    "--ro-bind".to_string(),
                    host.to_string_lossy().into_owned(),
                    format!("{bin}/{name}"),
                ]);
            }
            for (target, name) in links {
                binds
                    .args
                    .extend(["--symlink".to_string(), target, format!("{bin}/{name}")]);
            }
            binds.path_prefix = Some(bin);
        }
        binds
    }

    /// The read-only volumes and environment that make the cross tools run inside a
    /// container image, which cannot be inspected from outside as a rootfs can. The
    /// tools live in one relocated tree under [`GUEST_SHIM_DIR`] (GCC finds `cc1`, `as`
    /// and the s390x C library relative to its own `bin` folder) with the generic names
    /// as further binds of the drivers, first on `PATH`; only the host's loader and
    /// libraries keep their paths, which s390x images do not use.
    pub fn container_binds(&self) -> ContainerBinds {
        let tc = &self.toolchain;
        let bin = format!("{GUEST_SHIM_DIR}/bin");
        let mut volumes = vec![(tc.host_path(&tc.loader), tc.loader.clone())];
        volumes.extend(
            tc.host_lib_dirs
                .iter()
                .map(|dir| (tc.host_path(dir), dir.clone())),
        );
        for dir in self.support_dirs() {
            let relocated = dir.strip_prefix("/usr").unwrap_or(dir);
            volumes.push((tc.host_path(dir), format!("{GUEST_SHIM_DIR}{relocated}")));
        }
        let host_tool = |name: &str| tc.host_path(&format!("/usr/bin/{name}"));
        for (tool, host) in self.tools() {
            volumes.push((host, format!("{bin}/{tool}")));
        }
        for (generic, stem) in GENERIC_NAMES {
            let prefixed = format!("{TRIPLET}-{stem}");
            let versioned = format!("{prefixed}-{}", self.major);
            let source = [versioned, prefixed]
                .into_iter()
                .find(|t| tc.tools.contains(t));
            if let Some(source) = source {
                volumes.push((host_tool(&source), format!("{bin}/{generic}")));
            }
        }
        if let Some(uv) = &self.uv {
            volumes.push((uv.clone(), GUEST_UV.to_string()));
        }
        let env = vec![
            (
                "PATH".to_string(),
                format!("{bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ),
            // Debian's cross linker searches the multiarch folders; RPM images keep their
            // s390x libraries in lib64.
            ("LIBRARY_PATH".to_string(), "/usr/lib64:/lib64".to_string()),
        ];
        ContainerBinds { volumes, env }
    }

    /// Extra library folders for auditwheel: the cross toolchain's s390x runtime
    /// libraries (libgfortran, libgomp...) that the rootfs may lack.
    pub fn library_paths(&self) -> Vec<PathBuf> {
        let lib = self.toolchain.host_path(&format!("/usr/{TRIPLET}/lib"));
        if lib.is_dir() {
            vec![lib]
        } else {
            Vec::new()
        }
    }

    /// One line for the run's output.
    pub fn summary(&self) -> String {
        let languages: Vec<String> = self
            .toolchain
            .languages(self.major)
            .iter()
            .map(ToString::to_string)
            .collect();
        let frontend = match &self.uv {
            Some(uv) => format!(
                "; the host's uv ({}) prepares build environments natively",
                uv.display()
            ),
            None => "; pip prepares build environments (emulated: put uv on PATH or set UV for native ones)".to_string(),
        };
        format!(
            "accelerated builds: the host's s390x cross compilers (GCC {}, {}) run natively, Python stays emulated{frontend}",
            self.major,
            languages.join(", ")
        )
    }
}
