//! The install check of verification: the wheel into a clean venv, by the host's uv where
//! the sandbox has a [`NativeInstall`] and it works (the venv then written natively too,
//! ahead of the install when the checks' interpreter can start meanwhile), else by the
//! environment's pip under emulation.

use std::time::Instant;

use refinery_store::{CheckOutcome, CheckResult};

use super::super::checks::{Part, Prestarted};
use super::super::native::{self, NativeInstall, SITE_DIR};
use super::super::sandbox::{run_check, tenths, venv_python, Sandbox};
use super::WheelUnderTest;
use crate::exec::Log;

/// The install check: natively where the sandbox has a [`NativeInstall`] and it works,
/// else with the environment's pip; its detail says which and why. `early` is the checks'
/// interpreter started ahead ([`checks_ahead`]): it is told to go after a native install
/// into the venv written ahead, and cancelled otherwise.
pub(super) fn install(
    sandbox: &Sandbox<'_>,
    wheel: &WheelUnderTest<'_>,
    limit: std::time::Duration,
    early: &mut Option<Prestarted>,
    log: &Log,
) -> CheckResult {
    let started = Instant::now();
    let fallback = match &sandbox.native {
        None => None,
        Some(native) => match native.install(
            &sandbox.work_host,
            wheel.host_path,
            &wheel.host_find_links,
            wheel.tolerate_missing_dependencies,
            &venv_python(sandbox),
            limit,
            sandbox.stop,
            log,
        ) {
            Ok(()) => return after_native_install(sandbox, native, early, started, limit, log),
            Err(why) => {
                log.line(&format!(
                    "[refinery-verify] the native install failed, the environment's pip installs instead: {why}"
                ));
                if let Some(waiting) = early.take() {
                    waiting.cancel();
                }
                // Not half a site dir that later steps would take for the native one.
                let _ = std::fs::remove_dir_all(sandbox.work_host.join(SITE_DIR));
                Some(why)
            }
        },
    };
    let mut check = run_check(
        sandbox,
        "install",
        vec!["sh".into(), "-c".into(), install_script(sandbox, wheel)],
        limit,
        log,
    );
    check.duration_secs = tenths(started.elapsed());
    if let Some(why) = fallback {
        let emulated = format!("emulated: the host's uv could not install it: {why}");
        check.detail = if check.detail.is_empty() {
            emulated
        } else {
            format!("{}; {emulated}", check.detail)
        };
    }
    check
}

/// After a native install: the venv written ahead gets the install folder (its `.pth` and
/// uv's scripts); without one written ahead (or when joining fails) the venv is written
/// natively now, or by the environment's Python under emulation.
fn after_native_install(
    sandbox: &Sandbox<'_>,
    native: &NativeInstall,
    early: &mut Option<Prestarted>,
    started: Instant,
    limit: std::time::Duration,
    log: &Log,
) -> CheckResult {
    let site = format!("{}/{SITE_DIR}", sandbox.work_guest);
    if early.is_some() {
        let venv = sandbox.work_host.join("venv");
        let joined = native::write_site_pth(&venv, &native.python_version, &site)
            .and_then(|()| native::copy_scripts(&venv, &sandbox.work_host.join(SITE_DIR)));
        match joined {
            Ok(()) => return native_check(native, started, log),
            Err(e) => log.line(&format!(
                "[refinery-verify] cannot add the install folder to the venv written ahead ({e}): the venv is written again"
            )),
        }
    }
    if let Some(waiting) = early.take() {
        waiting.cancel();
    }
    if write_native_venv(sandbox, native, VenvSite::Included, log).is_some() {
        return native_check(native, started, log);
    }
    let script = native::venv_script(
        &sandbox.runner.python(),
        &format!("{}/venv", sandbox.work_guest),
        &site,
    );
    let mut check = run_check(
        sandbox,
        "install",
        vec!["sh".into(), "-c".into(), script],
        limit,
        log,
    );
    check.duration_secs = tenths(started.elapsed());
    if check.outcome == CheckOutcome::Passed {
        check.detail = native.describe();
    }
    check
}

/// Whether a natively written venv carries the install folder's `.pth` yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VenvSite {
    /// With it: the install is done.
    Included,
    /// Without it: written before the install, so an interpreter started ahead does not
    /// read the folder uv is writing; the driver adds the folder when told to go, and the
    /// `.pth` follows after the install for the interpreters started later.
    Later,
}

/// The venv written natively (see [`native::write_venv`]) when the environment is a root
/// filesystem on the host whose interpreter can be found there: `Some` when written.
/// `None` otherwise, or when writing failed (said in the log): then the venv is made
/// later or under emulation.
fn write_native_venv(
    sandbox: &Sandbox<'_>,
    native: &NativeInstall,
    site: VenvSite,
    log: &Log,
) -> Option<()> {
    let python = sandbox.runner.python();
    let interpreter = native::guest_interpreter(sandbox.runner.rootfs()?, &python)?;
    let venv = sandbox.work_host.join("venv");
    let mut written = native::write_venv(
        &venv,
        &interpreter,
        &native.python_version,
        &sandbox.work_host.join(SITE_DIR),
        &format!("{}/{SITE_DIR}", sandbox.work_guest),
    );
    if site == VenvSite::Later {
        written = written
            .and_then(|()| std::fs::remove_file(native::site_pth(&venv, &native.python_version)));
    }
    if let Err(e) = written {
        log.line(&format!(
            "[refinery-verify] cannot write the venv natively ({e}): {}",
            match site {
                VenvSite::Included => "the environment's Python makes it",
                VenvSite::Later => "it is written after the install",
            }
        ));
        return None;
    }
    log.line(&format!(
        "[refinery-verify] venv written natively for {interpreter} (Python {}){}",
        native.python_version,
        match site {
            VenvSite::Included => "",
            VenvSite::Later => "; the checks' interpreter starts while the wheel installs",
        }
    ));
    Some(())
}

/// The passed install check of a native install into a natively written venv.
fn native_check(native: &NativeInstall, started: Instant, log: &Log) -> CheckResult {
    log.line("[refinery-verify] install: passed");
    CheckResult {
        name: "install".into(),
        outcome: CheckOutcome::Passed,
        detail: native.describe(),
        evidence: Vec::new(),
        duration_secs: tenths(started.elapsed()),
    }
}

/// The checks' interpreter started before the install ([`super::super::checks::prestart`]),
/// where the install is native and the venv can be written natively ahead: its start
/// under emulation overlaps the install.
/// `None` otherwise; then the venv is written after the install, as before.
pub(super) fn checks_ahead(sandbox: &Sandbox<'_>, parts: &[Part], log: &Log) -> Option<Prestarted> {
    let native = sandbox.native.as_ref()?;
    write_native_venv(sandbox, native, VenvSite::Later, log)?;
    let site = format!("{}/{SITE_DIR}", sandbox.work_guest);
    super::super::checks::prestart(sandbox, parts, &site, log)
}

/// The emulated install: a venv by the environment's Python and the wheel by its pip,
/// offline from the find-links folders (without dependencies as a second try when they
/// may be missing).
fn install_script(sandbox: &Sandbox<'_>, wheel: &WheelUnderTest<'_>) -> String {
    let python = sandbox.runner.python();
    let venv = format!("{}/venv", sandbox.work_guest);
    let links: String = wheel
        .find_links
        .iter()
        .map(|l| format!(" --find-links {l}"))
        .collect();
    let pip = format!(
        "{python} -m pip --python {venv}/bin/python install --no-index{links} {}",
        wheel.guest_path
    );
    let install = if wheel.tolerate_missing_dependencies {
        format!("{pip} || {{ echo '[refinery-verify] some runtime dependencies are not in the output: installing the wheel alone'; {pip} --no-deps; }}")
    } else {
        pip
    };
    format!("set -e\nrm -rf {venv}\n{python} -m venv --without-pip {venv}\n{install}\n")
}
