//! Can this host run s390x binaries? Natively on s390x, or through binfmt + QEMU.

use std::path::{Path, PathBuf};

/// How s390x code runs here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// The host is s390x.
    Native,
    /// `binfmt_misc` hands s390x binaries to qemu-s390x.
    Emulated,
}

impl std::fmt::Display for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Execution::Native => "native",
            Execution::Emulated => "emulated",
        })
    }
}

pub const ENABLE_EMULATION_HINT: &str = "apt-get install qemu-user-static binfmt-support && \
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable qemu-s390x";

/// Why s390x binaries cannot run here; each names the binfmt entry or interpreter and
/// says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulationError {
    #[error(
        "s390x binaries cannot run on this {} host: {} does not exist (binfmt_misc not mounted or qemu-s390x not registered).\nhint: run `{ENABLE_EMULATION_HINT}`",
        std::env::consts::ARCH,
        entry.display()
    )]
    NotRegistered { entry: PathBuf },
    #[error(
        "s390x emulation is registered but disabled ({}).\nhint: run `update-binfmts --enable qemu-s390x`",
        entry.display()
    )]
    Disabled { entry: PathBuf },
    #[error(
        "s390x emulation points at the missing interpreter {interpreter:?}.\nhint: run `apt-get install --reinstall qemu-user-static`"
    )]
    MissingInterpreter { interpreter: String },
}

/// Check that s390x binaries can execute, saying exactly how to fix it when not.
///
/// # Errors
/// [`EmulationError`] saying what is missing and how to fix it.
pub fn check_execution() -> Result<Execution, EmulationError> {
    if std::env::consts::ARCH == "s390x" {
        return Ok(Execution::Native);
    }
    check_binfmt(Path::new("/proc/sys/fs/binfmt_misc"))
}

fn check_binfmt(binfmt_dir: &Path) -> Result<Execution, EmulationError> {
    let entry = binfmt_dir.join("qemu-s390x");
    let Ok(text) = std::fs::read_to_string(&entry) else {
        return Err(EmulationError::NotRegistered { entry });
    };
    if text.lines().next().is_none_or(|l| l.trim() != "enabled") {
        return Err(EmulationError::Disabled { entry });
    }
    let interpreter = text
        .lines()
        .find_map(|l| l.strip_prefix("interpreter "))
        .map(str::trim)
        .unwrap_or_default();
    if interpreter.is_empty() || !Path::new(interpreter).exists() {
        return Err(EmulationError::MissingInterpreter {
            interpreter: interpreter.to_string(),
        });
    }
    Ok(Execution::Emulated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_registration_names_the_commands() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_binfmt(dir.path()).unwrap_err().to_string();
        assert!(err.contains("update-binfmts --enable qemu-s390x"), "{err}");
    }

    #[test]
    fn disabled_registration_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("qemu-s390x"),
            "disabled\ninterpreter /bin/sh\n",
        )
        .unwrap();
        assert!(check_binfmt(dir.path())
            .unwrap_err()
            .to_string()
            .contains("disabled"));
    }

    #[test]
    fn enabled_registration_with_interpreter_works() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("qemu-s390x"),
            "enabled\ninterpreter /bin/sh\nflags: F\n",
        )
        .unwrap();
        assert_eq!(check_binfmt(dir.path()), Ok(Execution::Emulated));
    }
}
