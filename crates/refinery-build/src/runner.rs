//! Runners execute a command inside a build environment: a bubblewrap sandbox over an
//! s390x rootfs, a container, or the host itself when the host is s390x.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Folders inside the environment that build steps mount.
pub(crate) const GUEST_BUILD: &str = "/build";
pub(crate) const GUEST_WHEELS: &str = "/wheels";
pub(crate) const GUEST_PIP_CACHE: &str = "/pip-cache";
/// Every folder a build step mounts, for runners that must make mount points first.
pub const GUEST_MOUNT_DIRS: &[&str] = &[GUEST_BUILD, GUEST_WHEELS, GUEST_PIP_CACHE];

/// A host folder made visible inside the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

impl Mount {
    pub fn ro(host: impl Into<PathBuf>, guest: &str) -> Mount {
        Mount {
            host: host.into(),
            guest: guest.to_string(),
            writable: false,
        }
    }

    pub fn rw(host: impl Into<PathBuf>, guest: &str) -> Mount {
        Mount {
            host: host.into(),
            guest: guest.to_string(),
            writable: true,
        }
    }
}

/// One command to run in an environment.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    /// Working directory, as the command sees it.
    pub workdir: String,
    /// Whether the command may reach the network (to fetch build dependencies).
    pub network: bool,
    /// Run the compilers natively when the runner has an accelerator (the build step).
    pub accelerate: bool,
    /// Compile with the glibc-targeted compiler when the runner binds one
    /// ([`BwrapRunner::zig`]).
    pub zig: bool,
    /// The native Rust toolchain's binds, variables and `PATH` folder (made by
    /// `RustToolchain::binds` in `crate::rust_toolchain`). Only the rootfs runner honours
    /// it, the one runner whose environment has Rust toolchains to bind.
    pub rust: Option<ToolBinds>,
    /// Folders (as the command sees them) put before the runner's own `PATH`: the `bin`
    /// folders of the native library packs (`pg_config`, `xml2-config`). Only the rootfs
    /// runner honours it, the one runner that builds with packs.
    pub path_prepend: Vec<String>,
}

/// What a native toolchain adds to a step's sandbox, as plain data: its binds, its
/// variables and the folders it puts first on `PATH`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolBinds {
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
    /// Folders (as the command sees them) put before the runner's own `PATH`.
    pub path: Vec<String>,
}

/// Where the host's CA bundle appears inside every environment.
pub const GUEST_CA_BUNDLE: &str = "/etc/refinery/ca-bundle.pem";

/// Which package manager an environment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFamily {
    Apt,
    Dnf,
}

/// How a runner turns a [`RunSpec`] into a host process.
pub trait Runner: Send + Sync {
    /// A short human label: `rootfs:bookworm emulated`, `podman:rocky`..., without
    /// acceleration.
    fn label(&self) -> String;
    /// The host's cross compilers, for the steps that ask for acceleration.
    fn accelerator(&self) -> Option<&crate::accelerate::Accelerator> {
        None
    }
    /// The label with acceleration where there is some.
    fn describe(&self) -> String {
        self.describe_attempt(true)
    }
    /// The label of a step run with or without acceleration (what the manifest records).
    fn describe_attempt(&self, accelerated: bool) -> String {
        match self.accelerator() {
            Some(_) if accelerated => format!("{}+cross", self.label()),
            _ => self.label(),
        }
    }
    /// Whether steps that ask for acceleration get the host's cross compilers.
    fn accelerated(&self) -> bool {
        self.accelerator().is_some()
    }
    /// A native build frontend (uv) inside the environment for accelerated steps.
    fn native_frontend(&self) -> Option<String> {
        self.accelerator()
            .and_then(|a| a.uv.as_ref())
            .map(|_| crate::accelerate::GUEST_UV.to_string())
    }
    /// A host CPython made for the native frontend (see
    /// [`crate::native_frontend::host_tree`]), besides the ones the host has.
    fn host_python(&self) -> Option<&Path> {
        None
    }
    /// The command line that runs `spec`.
    fn command(&self, spec: &RunSpec) -> Command;
    /// How a mount's path is spelled inside the environment.
    fn guest_path(&self, mount: &Mount) -> String {
        mount.guest.clone()
    }
    /// The target Python interpreter inside the environment.
    fn python(&self) -> String;
    /// Library folders of the environment, for auditwheel's `--ldpaths`.
    fn library_paths(&self) -> Vec<PathBuf>;
    /// The package manager of the environment, when it can keep installed packages.
    fn package_family(&self) -> Option<PackageFamily> {
        None
    }
    /// The root filesystem the commands run in, for runners that have one: layers of
    /// system packages go over it (see [`crate::layers`]).
    fn rootfs(&self) -> Option<&Path> {
        None
    }
    /// The same runner over another root filesystem (a layer of its base).
    fn over_rootfs(&self, _rootfs: &Path) -> Option<Box<dyn Runner>> {
        None
    }
}

/// Environment passed into every build so that builds behind corporate proxies and
/// private indexes work: proxies, CA bundle.
pub fn proxy_env() -> Vec<(String, String)> {
    const NAMES: &[&str] = &[
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "ALL_PROXY",
    ];
    NAMES
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect()
}

/// The host's CA bundle: `SSL_CERT_FILE`, `PIP_CERT`, or the Debian/Red Hat default.
pub fn host_ca_bundle() -> Option<PathBuf> {
    ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"]
        .iter()
        .filter_map(|name| std::env::var_os(name).map(PathBuf::from))
        .chain([
            PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"),
        ])
        .find(|p| p.is_file())
}

fn ca_env() -> Vec<(String, String)> {
    [
        "SSL_CERT_FILE",
        "PIP_CERT",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        // cargo (the environment's own or the native toolchain) fetching crates.
        "CARGO_HTTP_CAINFO",
    ]
    .iter()
    .map(|name| (name.to_string(), GUEST_CA_BUNDLE.to_string()))
    .collect()
}

/// bubblewrap over an s390x root filesystem (read-only; builds write only to their mounts).
#[derive(Debug, Clone)]
pub struct BwrapRunner {
    pub rootfs: PathBuf,
    pub label: String,
    pub ca_bundle: Option<PathBuf>,
    /// The host's cross compilers, for the steps whose [`RunSpec::accelerate`] is set.
    pub accelerator: Option<crate::accelerate::Accelerator>,
    /// The glibc-targeted compiler's binds, variables and `PATH` folder (made by
    /// `ZigToolchain::binds` in `crate::zig`), for the steps whose [`RunSpec::zig`] is set.
    pub zig: Option<ToolBinds>,
    /// The interpreter builds run (see [`crate::rootfs::RootfsRecipe::interpreter`]).
    pub python: String,
    /// A host CPython made for the native frontend where the host has none of the
    /// target's X.Y (see [`crate::native_frontend::host_tree`]).
    pub host_python: Option<PathBuf>,
}

impl BwrapRunner {
    /// `--bind` (or `--ro-bind`) of `mount`, its mount point made first.
    fn bind(&self, cmd: &mut Command, mount: &Mount) {
        self.ensure_mount_point(&mount.guest, mount.host.is_file());
        cmd.arg(if mount.writable {
            "--bind"
        } else {
            "--ro-bind"
        })
        .arg(&mount.host)
        .arg(&mount.guest);
    }

    /// The rootfs is mounted read-only, so bubblewrap cannot create mount points in it:
    /// make them on the host side first.
    fn ensure_mount_point(&self, guest: &str, is_file: bool) -> bool {
        let path = self.rootfs.join(guest.trim_start_matches('/'));
        if path.exists() {
            return false;
        }
        if is_file {
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&path, b"");
        } else {
            let _ = std::fs::create_dir_all(&path);
        }
        true
    }
}

impl BwrapRunner {
    /// Make the mount points of `mounts` (e.g. the native build frontend's, see
    /// [`crate::native_frontend::NativeFrontend::mounts`]) when the environment is opened,
    /// like [`BwrapRunner::prepare_mount_points`].
    pub fn prepare_mounts(&self, mounts: &[Mount]) {
        for mount in mounts {
            self.ensure_mount_point(&mount.guest, mount.host.is_file());
        }
    }

    /// Make the folders `dirs` (as the commands see them) as mount points, when the
    /// environment is opened: those of the toolchains and packs the environment binds.
    pub fn prepare_dirs(&self, dirs: &[&str]) {
        for dir in dirs {
            self.ensure_mount_point(dir, false);
        }
    }

    /// Make every mount point the build steps use (the build folders, the CA bundle,
    /// resolver files, the cross tools' folders) once, when the environment is opened,
    /// so that later builds find them and never write the rootfs. Idempotent.
    pub fn prepare_mount_points(&self) {
        for dir in GUEST_MOUNT_DIRS {
            self.ensure_mount_point(dir, false);
        }
        for file in ["/etc/resolv.conf", "/etc/hosts", GUEST_CA_BUNDLE] {
            self.ensure_mount_point(file, true);
        }
        // The binds depend on what the rootfs has, so a new mount point can change them:
        // repeat until nothing new is needed.
        if let Some(accelerator) = &self.accelerator {
            for _ in 0..4 {
                let mut created = false;
                for (guest, is_file) in accelerator.sandbox(&self.rootfs).mount_points {
                    created |= self.ensure_mount_point(&guest, is_file);
                }
                if !created {
                    break;
                }
            }
        }
    }
}

impl Runner for BwrapRunner {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn accelerator(&self) -> Option<&crate::accelerate::Accelerator> {
        self.accelerator.as_ref()
    }

    fn command(&self, spec: &RunSpec) -> Command {
        let mut cmd = Command::new(host_program("bwrap"));
        cmd.arg("--ro-bind").arg(&self.rootfs).arg("/");
        cmd.args([
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
        ]);
        cmd.args([
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--die-with-parent",
            "--new-session",
        ]);
        if spec.network {
            for file in ["/etc/resolv.conf", "/etc/hosts"] {
                if Path::new(file).exists() {
                    self.ensure_mount_point(file, true);
                    cmd.args(["--ro-bind", file, file]);
                }
            }
        } else {
            cmd.arg("--unshare-net");
        }
        if let Some(ca) = &self.ca_bundle {
            self.ensure_mount_point(GUEST_CA_BUNDLE, true);
            cmd.arg("--ro-bind").arg(ca).arg(GUEST_CA_BUNDLE);
        }
        for mount in &spec.mounts {
            self.bind(&mut cmd, mount);
        }
        let mut path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string();
        if let Some(accelerator) = self.accelerator.as_ref().filter(|_| spec.accelerate) {
            let binds = accelerator.sandbox(&self.rootfs);
            for (guest, is_file) in &binds.mount_points {
                self.ensure_mount_point(guest, *is_file);
            }
            cmd.args(&binds.args);
            if let Some(prefix) = binds.path_prefix {
                path = format!("{prefix}:{path}");
            }
        }
        // The glibc-targeted compiler where the step asks for it, then the Rust toolchain.
        let mut tool_env = Vec::new();
        let zig = self.zig.as_ref().filter(|_| spec.zig);
        for tool in [zig, spec.rust.as_ref()].into_iter().flatten() {
            for mount in &tool.mounts {
                self.bind(&mut cmd, mount);
            }
            if !tool.path.is_empty() {
                path = format!("{}:{path}", tool.path.join(":"));
            }
            tool_env.extend(tool.env.iter().cloned());
        }
        if !spec.path_prepend.is_empty() {
            path = format!("{}:{path}", spec.path_prepend.join(":"));
        }
        cmd.arg("--chdir").arg(&spec.workdir);
        let mut env = vec![
            ("PATH".to_string(), path),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        if self.ca_bundle.is_some() {
            env.extend(ca_env());
        }
        env.extend(proxy_env());
        env.extend(tool_env);
        env.extend(spec.env.iter().cloned());
        pass_environment(&mut cmd, env);
        cmd.arg("--").args(&spec.argv);
        cmd
    }

    fn python(&self) -> String {
        self.python.clone()
    }

    fn library_paths(&self) -> Vec<PathBuf> {
        [
            "lib/s390x-linux-gnu",
            "usr/lib/s390x-linux-gnu",
            "usr/lib",
            "lib",
        ]
        .iter()
        .map(|p| self.rootfs.join(p))
        // Last: s390x runtime libraries of the cross toolchain the rootfs may lack.
        .chain(self.accelerator.iter().flat_map(|a| a.library_paths()))
        .collect()
    }

    fn package_family(&self) -> Option<PackageFamily> {
        Some(PackageFamily::Apt)
    }

    fn rootfs(&self) -> Option<&Path> {
        Some(&self.rootfs)
    }

    fn host_python(&self) -> Option<&Path> {
        self.host_python.as_deref()
    }

    fn over_rootfs(&self, rootfs: &Path) -> Option<Box<dyn Runner>> {
        Some(Box::new(BwrapRunner {
            rootfs: rootfs.to_path_buf(),
            ..self.clone()
        }))
    }
}

/// apt-get inside the root filesystem at `root`, mounted writable for this one command
/// (the layer being made; never a base). Package names are checked by the caller.
pub fn apt_install_command(root: &Path, packages: &[String]) -> Command {
    let mut cmd = Command::new(host_program("bwrap"));
    cmd.arg("--bind").arg(root).arg("/");
    cmd.args([
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--unshare-pid",
        "--die-with-parent",
        "--new-session",
    ]);
    for file in ["/etc/resolv.conf", "/etc/hosts"] {
        if Path::new(file).exists() {
            let stub = root.join(file.trim_start_matches('/'));
            if !stub.exists() {
                let _ = std::fs::write(&stub, b"");
            }
            cmd.args(["--ro-bind", file, file]);
        }
    }
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string()),
    ];
    env.extend(proxy_env());
    pass_environment(&mut cmd, env);
    let apt = "apt-get -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0";
    cmd.args(["--", "sh", "-c"]).arg(format!(
        "set -e; {apt} update -qq; {apt} install -y --no-install-recommends {}; {apt} clean; rm -rf /var/lib/apt/lists/*",
        packages.join(" ")
    ));
    cmd
}

/// Gives the sandboxed process exactly `env` (the last value of a name wins) through
/// bwrap's own environment, which bwrap hands on: values never go on a command line,
/// where any local user could read them (`ps`), as `--setenv` would put an index
/// password or a proxy's credentials.
fn pass_environment(cmd: &mut Command, env: Vec<(String, String)>) {
    cmd.env_clear();
    for (key, value) in env {
        cmd.env(key, value);
    }
}

/// `name` found on the host's `PATH` (the command's own `PATH` is the sandbox's), as
/// the shell would: the first executable file of that name; `name` itself when there
/// is none.
fn host_program(name: &str) -> PathBuf {
    find_on_path(name, std::env::var_os("PATH").as_deref())
}

/// The first executable file `name` in the folders of `path` (a `PATH` value); `name`
/// itself when there is none.
fn find_on_path(name: &str, path: Option<&std::ffi::OsStr>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    path.into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A `--container-preset` that names no builder image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown container preset {preset:?}: choose rocky, fedora or ubuntu, or give --container-image"
)]
pub struct UnknownPresetError {
    pub preset: String,
}

/// Builder images per preset; `containers/<preset>/Containerfile` builds them.
///
/// # Errors
/// [`UnknownPresetError`] for any other preset.
pub fn preset_image(preset: &str) -> Result<String, UnknownPresetError> {
    match preset {
        "rocky" | "fedora" | "ubuntu" => Ok(format!("localhost/refinery-builder-{preset}:latest")),
        other => Err(UnknownPresetError {
            preset: other.to_string(),
        }),
    }
}

/// podman or docker running an s390x image.
#[derive(Debug, Clone)]
pub struct ContainerRunner {
    pub engine: String,
    pub image: String,
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub python: String,
    pub ca_bundle: Option<PathBuf>,
    /// The host's cross compilers, for the steps whose [`RunSpec::accelerate`] is set.
    pub accelerator: Option<crate::accelerate::Accelerator>,
}

impl Runner for ContainerRunner {
    fn label(&self) -> String {
        format!("{}:{}", self.engine, self.image)
    }

    fn accelerator(&self) -> Option<&crate::accelerate::Accelerator> {
        self.accelerator.as_ref()
    }

    fn command(&self, spec: &RunSpec) -> Command {
        let mut cmd = Command::new(&self.engine);
        cmd.args(["run", "--rm", "--platform", "linux/s390x"]);
        cmd.arg(if spec.network {
            "--network=host"
        } else {
            "--network=none"
        });
        if let Some(cpus) = &self.cpus {
            cmd.arg(format!("--cpus={cpus}"));
        }
        if let Some(memory) = &self.memory {
            cmd.arg(format!("--memory={memory}"));
        }
        if let Some(ca) = &self.ca_bundle {
            cmd.arg("-v")
                .arg(format!("{}:{GUEST_CA_BUNDLE}:ro", ca.display()));
        }
        for mount in &spec.mounts {
            let mode = if mount.writable { "rw" } else { "ro" };
            cmd.arg("-v")
                .arg(format!("{}:{}:{mode}", mount.host.display(), mount.guest));
        }
        if let Some(accelerator) = self.accelerator.as_ref().filter(|_| spec.accelerate) {
            let binds = accelerator.container_binds();
            for (host, guest) in &binds.volumes {
                cmd.arg("-v").arg(format!("{}:{guest}:ro", host.display()));
            }
            // Not secrets, and the engine itself must keep the host's PATH.
            for (key, value) in &binds.env {
                cmd.arg("-e").arg(format!("{key}={value}"));
            }
        }
        cmd.arg("-w").arg(&spec.workdir);
        let mut env = Vec::new();
        if self.ca_bundle.is_some() {
            env.extend(ca_env());
        }
        env.extend(proxy_env());
        env.extend(spec.env.iter().cloned());
        for (key, value) in env {
            // `-e KEY` reads the value from our environment: secrets stay out of argv.
            cmd.arg("-e").arg(&key);
            cmd.env(key, value);
        }
        cmd.arg(&self.image).args(&spec.argv);
        cmd
    }

    fn python(&self) -> String {
        self.python.clone()
    }

    fn library_paths(&self) -> Vec<PathBuf> {
        self.accelerator
            .iter()
            .flat_map(|a| a.library_paths())
            .collect()
    }
}

/// The host itself: only when the host is s390x. Mounts are used in place.
#[derive(Debug, Clone)]
pub struct HostRunner {
    pub python: String,
}

impl Runner for HostRunner {
    fn label(&self) -> String {
        format!("host:{}", std::env::consts::ARCH)
    }

    fn command(&self, spec: &RunSpec) -> Command {
        let mut cmd = Command::new(&spec.argv[0]);
        cmd.args(&spec.argv[1..])
            .current_dir(&spec.workdir)
            .envs(spec.env.iter().cloned());
        cmd
    }

    fn guest_path(&self, mount: &Mount) -> String {
        mount.host.to_string_lossy().into_owned()
    }

    fn python(&self) -> String {
        self.python.clone()
    }

    fn library_paths(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
