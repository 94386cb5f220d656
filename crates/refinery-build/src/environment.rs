//! Choose and open the build environment for a run.

use std::path::PathBuf;

use refinery_pep::Target;

use crate::accelerate::{decide_for, decide_with_zig, AccelerateMode, Decision};
use crate::emulation::{check_execution, Execution};
use crate::packs::{PackStore, GUEST_PACKS_DIR};
use crate::rootfs::{EnvStore, RootfsRecipe};
use crate::runner::{
    host_ca_bundle, preset_image, BwrapRunner, ContainerRunner, HostRunner, Runner,
};
use crate::rust_toolchain::{RustStore, RustToolchain, ToolchainArch};
use crate::zig::ZigToolchain;
use crate::Reporter;

/// Which kind of environment builds run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentChoice {
    /// An s390x Debian rootfs under bubblewrap (the embedded default), with the host's
    /// cross compilers per `accelerate`.
    Rootfs {
        envs_dir: PathBuf,
        accelerate: AccelerateMode,
        /// Make a host CPython of the target's X.Y from the suite's amd64 packages when
        /// the host has none (see [`crate::native_frontend::host_tree`]); off when the
        /// native frontend is not wanted (`--build-frontend emulated`).
        make_host_python: bool,
    },
    /// podman or docker with a preset or an explicit image, with the host's cross
    /// compilers per `accelerate`.
    Container {
        engine: String,
        image: String,
        cpus: Option<String>,
        memory: Option<String>,
        accelerate: AccelerateMode,
    },
    /// The host itself, when it is s390x.
    Host,
}

impl EnvironmentChoice {
    /// Whether this kind of environment can have CPython `python` (`X.Y`): a rootfs
    /// environment only for the versions a Debian suite ships or that are built from
    /// source ([`crate::rootfs::RootfsRecipe::for_python`]); containers and the host are
    /// asked when opened.
    ///
    /// # Errors
    /// [`crate::rootfs::RootfsError::NoSuite`] naming the versions there are.
    pub fn check_python(&self, python: &str) -> Result<(), crate::rootfs::RootfsError> {
        match self {
            EnvironmentChoice::Rootfs { .. } => {
                crate::rootfs::RootfsRecipe::for_python(python).map(|_| ())
            }
            EnvironmentChoice::Container { .. } | EnvironmentChoice::Host => Ok(()),
        }
    }
}

/// Why the build environment could not be chosen or opened.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error(transparent)]
    Preset(#[from] crate::runner::UnknownPresetError),
    #[error("a container environment needs --container-preset or --container-image")]
    NoImage,
    #[error(transparent)]
    Emulation(#[from] crate::emulation::EmulationError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    Accelerate(#[from] crate::accelerate::AccelerateError),
    /// The container image could not be asked for its compiler (`--accelerate cross`).
    #[error("{0}")]
    Image(String),
    #[error(
        "the host environment builds for s390x only on an s390x host; this host is {}.\nhint: leave out --environment host to use an emulated s390x rootfs",
        std::env::consts::ARCH
    )]
    NotS390xHost,
}

impl EnvironmentChoice {
    /// The container choice from the command line flags.
    pub fn container(
        engine: Option<&str>,
        preset: Option<&str>,
        image: Option<&str>,
        cpus: Option<String>,
        memory: Option<String>,
        accelerate: AccelerateMode,
    ) -> Result<EnvironmentChoice, EnvironmentError> {
        let image = match (image, preset) {
            (Some(image), _) => image.to_string(),
            (None, Some(preset)) => preset_image(preset)?,
            (None, None) => return Err(EnvironmentError::NoImage),
        };
        Ok(EnvironmentChoice::Container {
            engine: engine.unwrap_or("podman").to_string(),
            image,
            cpus,
            memory,
            accelerate,
        })
    }
}

/// An environment ready to run commands, and the stores of what its builds bind in.
pub struct OpenedEnvironment {
    pub runner: Box<dyn Runner>,
    pub label: String,
    /// The glibc-targeted compiler, when the target's glibc is older than the
    /// environment's and the host has Zig (the runner binds it).
    pub zig: Option<ZigToolchain>,
    /// Where native Rust toolchains come from, for environments that can bind one in
    /// (rootfs environments).
    pub rust: Option<RustStore>,
    /// Where native library packs are kept, for environments that build with the
    /// glibc-targeted compiler.
    pub packs: Option<PackStore>,
}

/// Open the environment, creating a rootfs on first use.
///
/// # Errors
/// [`EnvironmentError`]: no emulation, no rootfs for the Python, or the accelerator refused.
pub fn open_environment(
    choice: &EnvironmentChoice,
    target: &Target,
    reporter: &dyn Reporter,
) -> Result<OpenedEnvironment, EnvironmentError> {
    match choice {
        EnvironmentChoice::Rootfs {
            envs_dir,
            accelerate,
            make_host_python,
        } => {
            let execution = check_execution()?;
            let recipe = RootfsRecipe::for_python(&target.python_str())?;
            let store = EnvStore::new(envs_dir);
            let rootfs = store.ensure(&recipe, reporter)?;
            let zig = glibc_targeted(*accelerate, execution, target, &rootfs, envs_dir, reporter);
            let decision = decide_with_zig(
                *accelerate,
                std::path::Path::new("/"),
                &rootfs,
                execution,
                zig.is_some(),
            )?;
            reporter.message(&decision.note);
            let label = format!(
                "rootfs:{} {}",
                recipe.suite,
                if execution == Execution::Native {
                    "native"
                } else {
                    "emulated"
                }
            );
            let packs = zig.as_ref().map(|_| PackStore::new(envs_dir));
            // An amd64 tree runs natively on x86_64 hosts and cross-compiles.
            // `--accelerate off` emulates every compiler, Rust's too: an s390x tree of the
            // same release then runs under QEMU (on s390x hosts, natively).
            let rust = RustStore::new(envs_dir).choosing(
                if std::env::consts::ARCH == "x86_64" && *accelerate != AccelerateMode::Off {
                    ToolchainArch::Amd64
                } else {
                    ToolchainArch::S390x
                },
            );
            let mut runner = BwrapRunner {
                rootfs,
                label,
                ca_bundle: host_ca_bundle(),
                accelerator: decision.accelerator,
                zig: zig.as_ref().map(ZigToolchain::binds),
                python: recipe.interpreter(),
                host_python: None,
            };
            runner.prepare_mount_points();
            if zig.is_some() {
                runner.prepare_dirs(&ZigToolchain::mount_points());
            }
            runner.prepare_dirs(&RustToolchain::mount_points());
            if packs.is_some() {
                runner.prepare_dirs(&[GUEST_PACKS_DIR]);
            }
            // The native build frontend's host Python, so builds never write the rootfs.
            if runner.native_frontend().is_some() {
                let (host_python, native) = native_frontend(
                    &runner.rootfs,
                    envs_dir,
                    &recipe.suite,
                    &target.python_str(),
                    *make_host_python,
                    reporter,
                );
                runner.host_python = host_python;
                if let Ok(native) = native {
                    runner.prepare_mounts(&native.mounts());
                }
            }
            crate::layers::LayerStore::new(store.dir()).touch(&recipe.key());
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
                zig,
                rust: Some(rust),
                packs,
            })
        }
        EnvironmentChoice::Container {
            engine,
            image,
            cpus,
            memory,
            accelerate,
        } => {
            let decision =
                decide_for_image(*accelerate, engine, image).map_err(EnvironmentError::Image)?;
            reporter.message(&decision.note);
            let runner = ContainerRunner {
                engine: engine.clone(),
                image: image.clone(),
                cpus: cpus.clone(),
                memory: memory.clone(),
                python: format!("python{}", target.python_str()),
                ca_bundle: host_ca_bundle(),
                accelerator: decision.accelerator,
            };
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
                zig: None,
                rust: None,
                packs: None,
            })
        }
        EnvironmentChoice::Host => {
            if check_execution()? != Execution::Native {
                return Err(EnvironmentError::NotS390xHost);
            }
            let runner = HostRunner {
                python: format!("python{}", target.python_str()),
            };
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
                zig: None,
                rust: None,
                packs: None,
            })
        }
    }
}

/// The glibc-targeted compiler when the target's glibc is older than the environment's
/// (e.g. manylinux2014 from bookworm), the host emulates s390x and `--accelerate` is
/// `auto`. Without Zig on the host the builds go on with the gcc cross, and say so.
fn glibc_targeted(
    mode: AccelerateMode,
    execution: Execution,
    target: &Target,
    rootfs: &std::path::Path,
    envs_dir: &std::path::Path,
    reporter: &dyn Reporter,
) -> Option<ZigToolchain> {
    // `--accelerate cross` insists on the gcc cross; `off` emulates everything.
    if mode != AccelerateMode::Auto || execution == Execution::Native {
        return None;
    }
    let env_glibc = crate::zig::rootfs_glibc(rootfs)?;
    let wanted = target.glibc();
    if wanted >= env_glibc {
        return None;
    }
    match ZigToolchain::prepare(wanted, &envs_dir.join("zig")) {
        Ok(zig) => {
            reporter.message(&format!(
                "glibc-targeted builds: the target needs glibc {}.{}, the environment has {}.{}: C and C++ compile with {} (variant gcc-cross uses the gcc cross)",
                wanted.0, wanted.1, env_glibc.0, env_glibc.1, zig.label()
            ));
            Some(zig)
        }
        Err(e) => {
            reporter.message(&format!(
                "the target needs glibc {}.{} but the environment has {}.{}, and {e}",
                wanted.0, wanted.1, env_glibc.0, env_glibc.1
            ));
            None
        }
    }
}

/// `--accelerate` for a container image: its compiler's GCC major is asked of the image
/// itself (one short emulated run), only when acceleration could apply.
fn decide_for_image(mode: AccelerateMode, engine: &str, image: &str) -> Result<Decision, String> {
    let execution = match mode {
        AccelerateMode::Off => Execution::Emulated,
        _ => check_execution().unwrap_or(Execution::Emulated),
    };
    if mode == AccelerateMode::Off || execution == Execution::Native {
        return decide_for(mode, std::path::Path::new("/"), None, execution)
            .map_err(|e| e.to_string());
    }
    let major = match image_gcc_major(engine, image) {
        Ok(major) => major,
        Err(e) if mode == AccelerateMode::Auto => {
            return Ok(Decision {
                accelerator: None,
                note: format!("acceleration off, compilers run emulated: {e}"),
            })
        }
        Err(e) => {
            return Err(format!(
                "--accelerate cross: {e}.\nhint: check that `{engine} run --platform linux/s390x {image}` works"
            ))
        }
    };
    decide_for(mode, std::path::Path::new("/"), major, execution).map_err(|e| e.to_string())
}

/// The GCC major of `gcc` in `image` (`None`: the image has no gcc).
fn image_gcc_major(engine: &str, image: &str) -> Result<Option<u32>, String> {
    let output = image_probe_command(engine, image)
        .output()
        .map_err(|e| format!("cannot run {engine} to ask {image} for its compiler: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{engine} could not run {image} to ask for its compiler: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        ));
    }
    Ok(parse_gcc_major(&text))
}

fn image_probe_command(engine: &str, image: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(engine);
    cmd.args([
        "run",
        "--rm",
        "--platform",
        "linux/s390x",
        "--network=none",
        image,
        "sh",
        "-c",
        "gcc -dumpversion 2>/dev/null || true",
    ]);
    cmd
}

/// `gcc -dumpversion` prints `12` or `11.4.1`.
fn parse_gcc_major(text: &str) -> Option<u32> {
    text.trim().split('.').next()?.parse().ok()
}

/// The environment's native frontend and the host CPython tree it runs on, if it needs
/// one: a finished tree of the environment's suite is used; without one, when the host has
/// no CPython of the target's X.Y and `make` is set, a tree is made (see
/// [`crate::native_frontend::host_tree`]). Failing to make one is not fatal: builds then
/// use the emulated frontend, and the run says why.
fn native_frontend(
    rootfs: &std::path::Path,
    envs_dir: &std::path::Path,
    suite: &str,
    python: &str,
    make: bool,
    reporter: &dyn Reporter,
) -> (
    Option<PathBuf>,
    Result<crate::native_frontend::NativeFrontend, crate::native_frontend::NativeFrontendError>,
) {
    use crate::native_frontend::{host_tree, NativeFrontend, NativeFrontendError};
    let toolchains = envs_dir.join(crate::rootfs::ENV_LAYOUT).join("toolchains");
    let made =
        host_tree::finished_interpreter(&host_tree::tree_dir(&toolchains, suite, python), python);
    let native = NativeFrontend::prepare(rootfs, python, made.as_deref());
    // Only a missing host CPython is what a tree mends.
    if made.is_some() || !make || !matches!(native, Err(NativeFrontendError::NoHostPython { .. })) {
        return (made, native);
    }
    match host_tree::ensure(&toolchains, suite, python, reporter) {
        Ok(tree) => {
            let native = NativeFrontend::prepare(rootfs, python, Some(&tree));
            (Some(tree), native)
        }
        Err(e) => {
            reporter.message(&format!(
                "{e}\nthe native build frontend is not available for Python {python}"
            ));
            (None, native)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_probe_asks_gcc_offline_and_its_answer_is_read() {
        let cmd = image_probe_command("podman", "localhost/img:1");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "podman");
        assert_eq!(
            args.join(" "),
            "run --rm --platform linux/s390x --network=none localhost/img:1 sh -c gcc -dumpversion 2>/dev/null || true"
        );
        assert_eq!(parse_gcc_major("12\n"), Some(12));
        assert_eq!(parse_gcc_major("11.4.1\n"), Some(11));
        assert_eq!(parse_gcc_major(""), None);
    }

    #[test]
    fn an_engine_that_cannot_run_turns_auto_off_and_makes_cross_fail_with_a_hint() {
        let auto = decide_for_image(AccelerateMode::Auto, "/nonexistent/podman", "img").unwrap();
        assert!(auto.accelerator.is_none());
        if std::env::consts::ARCH != "s390x" {
            assert!(
                auto.note.contains("cannot run /nonexistent/podman"),
                "{}",
                auto.note
            );
            let cross =
                decide_for_image(AccelerateMode::Cross, "/nonexistent/podman", "img").unwrap_err();
            assert!(cross.contains("--accelerate cross"), "{cross}");
            assert!(cross.contains("hint:"), "{cross}");
        }
        let off = decide_for_image(AccelerateMode::Off, "/nonexistent/podman", "img").unwrap();
        assert!(
            off.accelerator.is_none() && off.note.contains("off"),
            "{}",
            off.note
        );
    }
}
