//! The repair step of an attempt: the built wheel is checked (compiled code from a
//! compiled sdist, every ELF file s390x, never published as `any`), then auditwheel tags
//! it for the target's manylinux level, grafting the environment's and the packs'
//! libraries; a pure wheel stays as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use refinery_pep::{Compatibility, WheelFilename};

use super::step::{file_name, run_step, single_wheel};
use super::{AttemptFailure, AttemptRequest, AttemptSettings, Stage};
use crate::exec::Log;
use crate::runner::Runner;
use crate::wheel_inspect::{elf_machines, EM_S390};

/// Check and repair the wheel `built` that the build step wrote in the attempt's folder
/// `dir`; `log_mark` is where the build step's lines start in `log`. Gives the wheel to
/// verify, and whether auditwheel repaired it.
pub(super) fn repair(
    runner: &dyn Runner,
    settings: &AttemptSettings,
    request: &AttemptRequest<'_>,
    log: &Log,
    log_mark: usize,
    dir: &Path,
    built: PathBuf,
) -> Result<(PathBuf, bool), AttemptFailure> {
    let fail = AttemptFailure::at;
    let built_name: WheelFilename = file_name(&built).parse().map_err(|e| {
        fail(
            Stage::Build,
            format!("the build wrote a wheel with a bad name: {e}"),
        )
    })?;
    let machines = elf_machines(&built).map_err(|e| fail(Stage::Repair, e.to_string()))?;
    // Nothing pure from a compiled sdist.
    // Only the build that made the wheel: a failed native one may have fallen back.
    crate::verify::purity::check_build(
        request.sdist,
        !machines.is_empty(),
        log.read_all().get(log_mark..).unwrap_or_default(),
        &settings.catalog,
    )
    .map_err(|message| {
        // Logged so that the catalog's hint matches this failure too.
        log.line(&format!("[refinery] {message}"));
        fail(Stage::Build, message.to_string())
    })?;
    if let Some((member, machine)) = machines.iter().find(|(_, m)| *m != EM_S390) {
        return Err(fail(
            Stage::Repair,
            format!("{member} is not an s390x binary (ELF machine {machine}): the build used a wrong compiler"),
        ));
    }
    let mut is_pure = built_name.platform_tags.iter().all(|p| p == "any");
    // Compiled code is never published as `any`: retag it as the platform wheel it is.
    let built = if is_pure && !machines.is_empty() {
        is_pure = false;
        let retagged = crate::verify::retag::retag_into(&built, dir, &settings.target)
            .map_err(|e| fail(Stage::Repair, e.to_string()))?;
        log.line(&format!("[refinery] the wheel is tagged pure but carries s390x ELF files: retagged {} for repair", file_name(&retagged)));
        retagged
    } else {
        built
    };
    let outcome = if is_pure {
        log.line("[refinery] pure wheel: nothing to repair");
        (built.clone(), false)
    } else {
        let mut cmd = Command::new(&settings.auditwheel);
        cmd.args(["repair", "--plat", "auto", "--wheel-dir"])
            .arg(dir.join("repaired"))
            .env(
                crate::reproducible::SOURCE_DATE_EPOCH,
                request.source_date_epoch.0.to_string(),
            );
        let path = crate::host_tools::path_with_dir_of(&settings.auditwheel)
            .or_else(|| std::env::var_os("PATH"));
        if settings.strip {
            let path = path.unwrap_or_default();
            let with_strip = super::strip::path_with_strip(&path, dir).map_err(|message| {
                // Logged so that the catalog's hint ends the package with it.
                log.line(&format!("[refinery] {message}"));
                fail(Stage::Repair, message)
            })?;
            cmd.arg("--strip").env("PATH", with_strip);
        } else if let Some(path) = path {
            cmd.env("PATH", path);
        }
        cmd.arg(&built);
        // A pack's shared library (libpq.so) is grafted like any other.
        let ldpaths: Vec<String> = runner
            .library_paths()
            .into_iter()
            .chain(pack_lib_dirs(request))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if !ldpaths.is_empty() {
            cmd.arg("--ldpaths").arg(ldpaths.join(":"));
        }
        log.line(&format!(
            "[refinery] repair with auditwheel {}",
            built.display()
        ));
        run_step(cmd, log, settings, Stage::Repair)?;
        let repaired = single_wheel(&dir.join("repaired")).ok_or_else(|| {
            fail(
                Stage::Repair,
                "auditwheel finished but wrote no wheel".into(),
            )
        })?;
        let repaired_name: WheelFilename = file_name(&repaired).parse().map_err(|e| {
            fail(
                Stage::Repair,
                format!("auditwheel wrote a wheel with a bad name: {e}"),
            )
        })?;
        if let Compatibility::Incompatible { reason } =
            settings.target.compatibility(&repaired_name)
        {
            return Err(AttemptFailure {
                policy: true,
                ..fail(
                    Stage::Repair,
                    format!(
                        "auditwheel could only tag it {}: {reason}",
                        file_name(&repaired)
                    ),
                )
            });
        }
        (repaired, true)
    };
    Ok(outcome)
}

/// The packs' library folders on the host, for auditwheel's `--ldpaths`.
fn pack_lib_dirs(request: &AttemptRequest<'_>) -> Vec<PathBuf> {
    request.packs_dir.map_or_else(Vec::new, |dir| {
        request
            .packs
            .iter()
            .map(|p| dir.join(&p.key).join("lib"))
            .collect()
    })
}
