//! Making a toolchain tree: mmdebstrap Debian's packages into a folder (for an upstream
//! release only the C run time, then the release's archives unpacked into its `usr/`, as
//! rustup's installer would lay them out), make its programs run from [`GUEST_RUST_DIR`]
//! with the tree's own loader and libraries, and check it. An amd64 tree
//! ([`ToolchainArch::Amd64`]) runs natively on x86_64 and carries the s390x standard
//! library; an s390x tree ([`ToolchainArch::S390x`]) runs under QEMU (or natively on s390x
//! hosts) and compiles for its own architecture.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::TreeError;
use super::{
    RustRecipe, ToolchainArch, UpstreamRust, GUEST_LOADER, GUEST_RUST_BIN, GUEST_RUST_DIR,
    RUST_TARGET,
};

/// Programs of the tree that run in builds.
const PROGRAMS: &[&str] = &["cargo", "rustc", "rustdoc"];

impl ToolchainArch {
    /// Debian's architecture name.
    pub(super) fn debian(self) -> &'static str {
        match self {
            ToolchainArch::Amd64 => "amd64",
            ToolchainArch::S390x => "s390x",
        }
    }

    /// The multiarch folder of the tree's libraries, under `usr/lib`.
    fn triplet(self) -> &'static str {
        match self {
            ToolchainArch::Amd64 => "x86_64-linux-gnu",
            ToolchainArch::S390x => "s390x-linux-gnu",
        }
    }

    /// The dynamic loader, relative to the library folder.
    fn loader(self) -> &'static str {
        match self {
            ToolchainArch::Amd64 => "ld-linux-x86-64.so.2",
            ToolchainArch::S390x => "ld64.so.1",
        }
    }

    fn elf_machine(self) -> u16 {
        match self {
            ToolchainArch::Amd64 => goblin::elf::header::EM_X86_64,
            ToolchainArch::S390x => goblin::elf::header::EM_S390,
        }
    }

    /// The tree's library folder, as seen in the sandbox.
    pub(super) fn guest_lib_dir(self) -> String {
        format!("{GUEST_RUST_DIR}/usr/lib/{}", self.triplet())
    }
}

/// mmdebstrap `recipe`'s tree into `staging` (an upstream release's archives are
/// downloaded first, into a folder beside it, so an unreachable server fails at once),
/// then make it run from [`GUEST_RUST_DIR`] and check that it does.
pub(super) fn make_tree(
    recipe: &RustRecipe,
    staging: &Path,
    client: &refinery_index::IndexClient,
) -> Result<(), TreeError> {
    if recipe.arch == ToolchainArch::Amd64 && std::env::consts::ARCH != "x86_64" {
        return Err(TreeError::WrongHost {
            arch: std::env::consts::ARCH,
        });
    }
    // Named after the staging folder, so a killed run's is removed with it.
    let mut downloads = staging.as_os_str().to_owned();
    downloads.push(".downloads");
    let downloads = PathBuf::from(downloads);
    let made = make_tree_with(recipe, staging, &downloads, client);
    let _ = std::fs::remove_dir_all(&downloads);
    made
}

/// [`make_tree`] with the upstream archives downloaded into `downloads`.
fn make_tree_with(
    recipe: &RustRecipe,
    staging: &Path,
    downloads: &Path,
    client: &refinery_index::IndexClient,
) -> Result<(), TreeError> {
    let archives = match &recipe.upstream {
        Some(upstream) => download_upstream(upstream, &super::dist_server(), downloads, client)?,
        None => Vec::new(),
    };
    let architectures = match (recipe.arch, &recipe.upstream) {
        (ToolchainArch::Amd64, Some(_)) => "amd64",
        (ToolchainArch::Amd64, None) => "amd64,s390x",
        (ToolchainArch::S390x, _) => "s390x",
    };
    crate::debian_tree::mmdebstrap(
        &recipe.suite,
        architectures,
        &recipe.packages(),
        staging,
        &format!("the Rust toolchain {}", recipe.key()),
    )?;
    for archive in &archives {
        install_archive(archive, downloads, &staging.join("usr"))?;
    }
    relocate(staging, recipe)?;
    write_wrappers(staging, recipe.arch)?;
    check_tree(staging, recipe)
}

/// Download `upstream`'s archives from `server` into `dir` with the run's `client` (its
/// proxy, certificates, `--offline`), each checked against its pinned sha256; the
/// paths, in the recipe's order.
pub(super) fn download_upstream(
    upstream: &UpstreamRust,
    server: &str,
    dir: &Path,
    client: &refinery_index::IndexClient,
) -> Result<Vec<PathBuf>, TreeError> {
    std::fs::create_dir_all(dir).map_err(TreeError::io("create", dir))?;
    upstream
        .archives
        .iter()
        .map(|archive| {
            let url = upstream.url(server, archive);
            let file = refinery_index::DistFile::pinned(&url, &archive.sha256);
            client
                .download(&file, dir)
                .map_err(|e| TreeError::Download {
                    url: url.clone(),
                    message: e.to_string(),
                })
        })
        .collect()
}

/// Unpack one archive of an upstream release into `work` and install its components
/// into `prefix` the way rustup's `install.sh` lays them out: each component folder the
/// archive's `components` file names holds `bin/`, `lib/`, ... for the prefix.
fn install_archive(archive: &Path, work: &Path, prefix: &Path) -> Result<(), TreeError> {
    let status = Command::new("tar")
        .arg("--no-same-owner")
        .arg("-xJf")
        .arg(archive)
        .arg("-C")
        .arg(work)
        .status()
        .map_err(TreeError::io("run tar on", archive))?;
    if !status.success() {
        return Err(TreeError::Unpack {
            archive: archive.to_path_buf(),
            message: format!("tar -xJf ended with {status}"),
        });
    }
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar.xz").to_string())
        .unwrap_or_default();
    let unpacked = work.join(&name);
    let components = std::fs::read_to_string(unpacked.join("components"))
        .map_err(TreeError::io("read the component list of", &unpacked))?;
    for component in components.lines().map(str::trim).filter(|c| !c.is_empty()) {
        merge_into(&unpacked.join(component), prefix)?;
    }
    std::fs::remove_dir_all(&unpacked).map_err(TreeError::io("remove", &unpacked))
}

/// Move every file of `from` to the same place under `into` (folders merged), except
/// the installer's `manifest.in`.
fn merge_into(from: &Path, into: &Path) -> Result<(), TreeError> {
    // Listed first: moving files out of a folder while reading it is not defined.
    let entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(from)
        .min_depth(1)
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| TreeError::Unpack {
            archive: from.to_path_buf(),
            message: e.to_string(),
        })?;
    for entry in entries {
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = into.join(relative);
        let existing = std::fs::symlink_metadata(&target).ok();
        if entry.file_type().is_dir() {
            match existing {
                // A link where a folder goes would lead the rest out of the tree.
                Some(meta) if !meta.is_dir() => {
                    return Err(TreeError::Unpack {
                        archive: from.to_path_buf(),
                        message: format!("{} is in the way of a folder", target.display()),
                    })
                }
                Some(_) => {}
                None => {
                    std::fs::create_dir(&target).map_err(TreeError::io("create", &target))?;
                }
            }
        } else if relative != Path::new("manifest.in") {
            // Two components never ship the same file; one that does is refused.
            if existing.is_some() {
                return Err(TreeError::Unpack {
                    archive: from.to_path_buf(),
                    message: format!("{} is shipped twice", target.display()),
                });
            }
            std::fs::rename(entry.path(), &target).map_err(TreeError::io("move", &target))?;
        }
    }
    Ok(())
}

/// Point the tree's programs at its own loader and libraries (see the module docs). An
/// upstream release keeps its `$ORIGIN/../lib` (its `librustc_driver` and LLVM live in
/// `usr/lib`), and its libraries there are walked too.
fn relocate(root: &Path, recipe: &RustRecipe) -> Result<(), TreeError> {
    let arch = recipe.arch;
    let guest_lib_dir = arch.guest_lib_dir();
    let program_rpath = if recipe.upstream.is_some() {
        format!("$ORIGIN/../lib:{guest_lib_dir}")
    } else {
        guest_lib_dir.clone()
    };
    let loader = root.join(GUEST_LOADER.trim_start_matches(&format!("{GUEST_RUST_DIR}/")[..]));
    std::os::unix::fs::symlink(
        format!("usr/lib/{}/{}", arch.triplet(), arch.loader()),
        &loader,
    )
    .map_err(TreeError::io("link", &loader))?;
    for program in PROGRAMS {
        let path = root.join("usr/bin").join(program);
        patchelf(
            &[
                "--set-interpreter",
                GUEST_LOADER,
                "--force-rpath",
                "--set-rpath",
                &program_rpath,
            ],
            &path,
        )?;
    }
    let lib_dir = if recipe.upstream.is_some() {
        root.join("usr/lib")
    } else {
        root.join("usr/lib").join(arch.triplet())
    };
    for entry in walkdir::WalkDir::new(&lib_dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let path = entry.path();
        if let Some(runpath) = own_runpath(path, arch) {
            if !runpath.split(':').any(|p| p == guest_lib_dir) {
                patchelf(
                    &["--set-rpath", &format!("{runpath}:{guest_lib_dir}")],
                    path,
                )?;
            }
        }
    }
    if recipe.upstream.is_some() {
        relocate_host_tools(root, &guest_lib_dir)?;
    }
    Ok(())
}

/// The programs an upstream release keeps for the host under
/// `usr/lib/rustlib/x86_64-unknown-linux-gnu/bin` (`rust-lld`, `gcc-ld/ld.lld`,
/// `rust-objcopy`): rustc links x86_64 build scripts and proc macros through `rust-lld`,
/// so they get the tree's loader and libraries like `rustc` itself.
fn relocate_host_tools(root: &Path, guest_lib_dir: &str) -> Result<(), TreeError> {
    let dir = root.join(format!("usr/lib/rustlib/{}/bin", super::RUST_HOST));
    for entry in walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let path = entry.path();
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        if elf.interpreter.is_none() || elf.header.e_machine != goblin::elf::header::EM_X86_64 {
            continue;
        }
        let rpath = match elf.runpaths.first().or(elf.rpaths.first()) {
            Some(own) => format!("{own}:{guest_lib_dir}"),
            None => guest_lib_dir.to_string(),
        };
        patchelf(
            &["--set-interpreter", GUEST_LOADER, "--set-rpath", &rpath],
            path,
        )?;
    }
    Ok(())
}

/// The RUNPATH (or RPATH) of a shared library of the tree that has one, except glibc's
/// own.
fn own_runpath(path: &Path, arch: ToolchainArch) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    if !name.contains(".so")
        || name.starts_with("libc.so")
        || name.starts_with("ld-linux")
        || name.starts_with("ld64")
    {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let elf = goblin::elf::Elf::parse(&bytes).ok()?;
    if elf.header.e_machine != arch.elf_machine() {
        return None;
    }
    elf.runpaths
        .first()
        .or(elf.rpaths.first())
        .map(ToString::to_string)
}

/// Run patchelf with `args` on one file.
fn patchelf(args: &[&str], path: &Path) -> Result<(), TreeError> {
    let output = Command::new("patchelf")
        .args(args)
        .arg(path)
        .output()
        .map_err(|source| TreeError::NoPatchelf { source })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(TreeError::Patchelf {
            path: path.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// `refinery-bin/`: links to the programs, and for an amd64 tree the host compilers that
/// link its build scripts (an s390x tree's build scripts link with the environment's gcc).
fn write_wrappers(root: &Path, arch: ToolchainArch) -> Result<(), TreeError> {
    let bin = root.join("refinery-bin");
    std::fs::create_dir_all(&bin).map_err(TreeError::io("create", &bin))?;
    for program in PROGRAMS {
        std::os::unix::fs::symlink(format!("../usr/bin/{program}"), bin.join(program))
            .map_err(TreeError::io("link", program))?;
    }
    if arch == ToolchainArch::S390x {
        return Ok(());
    }
    let zig = format!("{}/zig", crate::zig::GUEST_ZIG_DIR);
    let link_flags = format!(
        "-Wl,--dynamic-linker={GUEST_LOADER} -Wl,-rpath,{}",
        arch.guest_lib_dir()
    );
    let scripts = [
        (
            "host-cc",
            format!("exec {zig} cc -target x86_64-linux-gnu.2.17 \"$@\" {link_flags}"),
        ),
        (
            "host-c++",
            format!("exec {zig} c++ -target x86_64-linux-gnu.2.17 \"$@\" {link_flags}"),
        ),
        ("host-ar", format!("exec {zig} ar \"$@\"")),
    ];
    for (name, line) in scripts {
        let text = format!(
            "#!/bin/sh\n# refinery: links code that runs on the build host (build scripts, proc macros).\n{line}\n"
        );
        let path = bin.join(name);
        refinery_store::write_executable_atomic(&path, text.as_bytes())
            .map_err(TreeError::io("write", &path))?;
    }
    Ok(())
}

/// Run the relocated `rustc` and `cargo` the way builds will (an s390x tree's through
/// binfmt), and an upstream release's `rust-lld`; check rustc's version and that the tree
/// has the s390x standard library.
fn check_tree(root: &Path, recipe: &RustRecipe) -> Result<(), TreeError> {
    let run = |program: &str, args: &[&str]| {
        Command::new("bwrap")
            .args(["--dev-bind", "/", "/", "--tmpfs", "/opt", "--ro-bind"])
            .arg(root)
            .arg(GUEST_RUST_DIR)
            .arg(program)
            .args(args)
            .output()
            .map_err(|source| TreeError::Bwrap { source })
    };
    let mut checks = vec![
        (
            format!("{GUEST_RUST_BIN}/rustc"),
            vec!["--version"],
            format!("rustc {}", recipe.rust),
        ),
        (
            format!("{GUEST_RUST_BIN}/cargo"),
            vec!["--version"],
            "cargo ".to_string(),
        ),
    ];
    if recipe.upstream.is_some() {
        checks.push((
            format!(
                "{GUEST_RUST_DIR}/usr/lib/rustlib/{}/bin/rust-lld",
                super::RUST_HOST
            ),
            vec!["-flavor", "gnu", "--version"],
            "LLD ".to_string(),
        ));
    }
    for (program, args, expected) in checks {
        let output = run(&program, &args)?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !text.starts_with(&expected) {
            return Err(TreeError::DoesNotRun {
                program,
                stdout: text.trim().to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
    }
    let std_dir = root.join(format!("usr/lib/rustlib/{RUST_TARGET}/lib"));
    if !std_dir.is_dir() {
        return Err(TreeError::NoStd {
            target: RUST_TARGET,
            dir: std_dir,
        });
    }
    Ok(())
}
