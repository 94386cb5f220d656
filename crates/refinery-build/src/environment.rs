//! Choose and open the build environment for a run.

use std::path::PathBuf;

use refinery_pep::Target;

use crate::accelerate::{decide, AccelerateMode};
use crate::emulation::{check_execution, Execution};
use crate::rootfs::{EnvStore, RootfsRecipe};
use crate::runner::{
    host_ca_bundle, preset_image, BwrapRunner, ContainerRunner, HostRunner, Runner,
};
use crate::Reporter;

/// Which kind of environment builds run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentChoice {
    /// An s390x Debian rootfs under bubblewrap (the embedded default), with the host's
    /// cross compilers per `accelerate`.
    Rootfs {
        envs_dir: PathBuf,
        accelerate: AccelerateMode,
    },
    /// podman or docker with a preset or an explicit image.
    Container {
        engine: String,
        image: String,
        cpus: Option<String>,
        memory: Option<String>,
    },
    /// The host itself, when it is s390x.
    Host,
}

impl EnvironmentChoice {
    /// The container choice from the command line flags.
    pub fn container(
        engine: Option<&str>,
        preset: Option<&str>,
        image: Option<&str>,
        cpus: Option<String>,
        memory: Option<String>,
    ) -> Result<EnvironmentChoice, String> {
        let image = match (image, preset) {
            (Some(image), _) => image.to_string(),
            (None, Some(preset)) => preset_image(preset)?,
            (None, None) => {
                return Err(
                    "a container environment needs --container-preset or --container-image".into(),
                )
            }
        };
        Ok(EnvironmentChoice::Container {
            engine: engine.unwrap_or("podman").to_string(),
            image,
            cpus,
            memory,
        })
    }
}

/// An environment ready to run commands.
pub struct OpenedEnvironment {
    pub runner: Box<dyn Runner>,
    pub label: String,
}

/// Open the environment, creating a rootfs on first use.
pub fn open_environment(
    choice: &EnvironmentChoice,
    target: &Target,
    reporter: &dyn Reporter,
) -> Result<OpenedEnvironment, String> {
    match choice {
        EnvironmentChoice::Rootfs {
            envs_dir,
            accelerate,
        } => {
            let execution = check_execution()?;
            let recipe = RootfsRecipe::for_python(&target.python_str())?;
            let rootfs = EnvStore::new(envs_dir).ensure(&recipe, reporter)?;
            let decision = decide(*accelerate, std::path::Path::new("/"), &rootfs, execution)?;
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
            let runner = BwrapRunner {
                rootfs,
                label,
                ca_bundle: host_ca_bundle(),
                accelerator: decision.accelerator,
            };
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
            })
        }
        EnvironmentChoice::Container {
            engine,
            image,
            cpus,
            memory,
        } => {
            let runner = ContainerRunner {
                engine: engine.clone(),
                image: image.clone(),
                cpus: cpus.clone(),
                memory: memory.clone(),
                python: format!("python{}", target.python_str()),
                ca_bundle: host_ca_bundle(),
            };
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
            })
        }
        EnvironmentChoice::Host => {
            if check_execution()? != Execution::Native {
                return Err(format!(
                    "the host environment builds for s390x only on an s390x host; this host is {}.\nhint: leave out --environment host to use an emulated s390x rootfs",
                    std::env::consts::ARCH
                ));
            }
            let runner = HostRunner {
                python: format!("python{}", target.python_str()),
            };
            Ok(OpenedEnvironment {
                label: runner.describe(),
                runner: Box::new(runner),
            })
        }
    }
}
