use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::SilentReporter;

/// Every path under `root` with its kind, mode and content: equal snapshots mean a
/// byte-for-byte equal tree.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let what = if meta.is_symlink() {
                format!("link {}", std::fs::read_link(e.path()).unwrap().display())
            } else if meta.is_file() {
                let bytes = std::fs::read(e.path()).unwrap();
                format!(
                    "file {:o} {}",
                    meta.permissions().mode(),
                    hex::encode(Sha256::digest(bytes))
                )
            } else {
                format!("dir {:o}", meta.permissions().mode())
            };
            (rel, what)
        })
        .collect()
}

fn fake_base(dir: &Path) -> PathBuf {
    let base = dir.join("base");
    for (file, text) in [
        ("usr/bin/tool", "tool"),
        ("usr/lib/libc.so", "libc"),
        ("etc/conf", "conf\n"),
        ("var/log/apt/history.log", "old\n"),
        ("var/lib/dpkg/status", "Package: base\n"),
    ] {
        let path = base.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::os::unix::fs::symlink("tool", base.join("usr/bin/tool-link")).unwrap();
    base
}

/// An installer that writes in place the way dpkg and apt do (appending to logs and the
/// status file, editing /etc) and adds a header, counting its runs in `counter`.
fn installer(counter: PathBuf) -> impl Fn(&Path, &[String]) -> Command {
    move |root: &Path, packages: &[String]| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "set -e; sleep 0.2; echo run >> \"$COUNTER\"; \
                 echo \"installed $PKGS\" >> \"$ROOT/var/log/apt/history.log\"; \
                 echo \"Package: $PKGS\" >> \"$ROOT/var/lib/dpkg/status\"; \
                 echo edited >> \"$ROOT/etc/conf\"; \
                 mkdir -p \"$ROOT/usr/include\"; echo header > \"$ROOT/usr/include/ffi.h\"",
            )
            .env("ROOT", root)
            .env("PKGS", packages.join(" "))
            .env("COUNTER", &counter);
        cmd
    }
}

fn failing(script: &'static str) -> impl Fn(&Path, &[String]) -> Command {
    move |_root: &Path, _packages: &[String]| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd
    }
}

fn recipe(packages: &[&str]) -> LayerRecipe {
    let packages: Vec<String> = packages.iter().map(ToString::to_string).collect();
    LayerRecipe::new("rootfs-bookworm-s390x-py3.11-abc", "bookworm", &packages)
}

#[test]
fn the_key_is_the_base_and_the_sorted_package_set() {
    assert_eq!(recipe(&["b", "a", "a"]).key(), recipe(&["a", "b"]).key());
    assert_eq!(recipe(&["b", "a", "a"]).packages, ["a", "b"]);
    assert_ne!(recipe(&["a"]).key(), recipe(&["a", "b"]).key());
    let other_base = LayerRecipe::new("rootfs-trixie", "trixie", &["a".to_string()]);
    assert_ne!(other_base.key(), recipe(&["a"]).key());
}

#[test]
fn a_layer_is_made_once_reused_after_and_never_writes_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let before = snapshot(&base);
    let store = LayerStore::new(dir.path().join("envs"));
    let counter = dir.path().join("runs");
    let install = installer(counter.clone());
    let log = dir.path().join("layer.log");
    let wanted = recipe(&["libffi-dev"]);
    let layer = store
        .ensure(&base, &wanted, &install, &log, None, &SilentReporter)
        .unwrap();
    assert!(layer.created);
    assert_eq!(snapshot(&base), before, "the base changed");
    assert_eq!(
        std::fs::read_to_string(layer.root.join("usr/include/ffi.h")).unwrap(),
        "header\n"
    );
    assert!(
        std::fs::read_to_string(layer.root.join("var/lib/dpkg/status"))
            .unwrap()
            .contains("Package: libffi-dev")
    );
    assert!(layer
        .environment_name()
        .ends_with(&format!("+{}", layer.name)));

    let again = store
        .ensure(&base, &wanted, &install, &log, None, &SilentReporter)
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.root, layer.root);
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "run\n");
    let listed = store.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].recipe, wanted);
    assert!(listed[0].last_used.is_some());
    assert!(listed[0].own_bytes > 0);
}

#[test]
fn two_callers_at_once_make_one_layer() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let store = LayerStore::new(dir.path().join("envs"));
    let counter = dir.path().join("runs");
    let wanted = recipe(&["libpq-dev"]);
    let layers: Vec<Layer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (store, base, wanted, counter) = (&store, &base, &wanted, counter.clone());
                let log = dir.path().join(format!("log{i}"));
                scope.spawn(move || {
                    let install = installer(counter);
                    store
                        .ensure(base, wanted, &install, &log, None, &SilentReporter)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(layers.iter().filter(|l| l.created).count(), 1);
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "run\n");
}

#[test]
fn an_unknown_package_names_itself_and_the_suite_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let before = snapshot(&base);
    let store = LayerStore::new(dir.path().join("envs"));
    let install = failing("echo 'E: Unable to locate package nosuchpkg-dev' >&2; exit 100");
    let wanted = recipe(&["nosuchpkg-dev"]);
    let err = store
        .ensure(
            &base,
            &wanted,
            &install,
            &dir.path().join("log"),
            None,
            &SilentReporter,
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"nosuchpkg-dev\"") && text.contains("bookworm"),
        "{text}"
    );
    assert_eq!(snapshot(&base), before);
    assert!(store.list().is_empty());
    let parent = store.path_for(&wanted).parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_dir(parent).unwrap().count(),
        0,
        "a partial layer was left"
    );
}

#[test]
fn a_full_disk_while_installing_leaves_no_layer_that_a_later_run_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let store = LayerStore::new(dir.path().join("envs"));
    let install = failing(
        "echo 'dpkg: error processing archive x.deb: cannot copy extracted data: No space left on device' >&2; exit 1",
    );
    let wanted = recipe(&["libxml2-dev"]);
    let log = dir.path().join("log");
    let err = store
        .ensure(&base, &wanted, &install, &log, None, &SilentReporter)
        .unwrap_err();
    assert!(matches!(err, LayerError::Install { .. }), "{err}");
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(!store.path_for(&wanted).exists());
    // The next run makes it for real.
    let counter = dir.path().join("runs");
    let layer = store
        .ensure(
            &base,
            &wanted,
            &installer(counter),
            &log,
            None,
            &SilentReporter,
        )
        .unwrap();
    assert!(layer.created && layer.root.join("usr/include/ffi.h").is_file());
}

#[test]
fn an_interrupted_creation_is_cleaned_up_by_the_next_one_and_by_prune() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let store = LayerStore::new(dir.path().join("envs"));
    let wanted = recipe(&["libjpeg-dev"]);
    let parent = store.path_for(&wanted).parent().unwrap().to_path_buf();
    let mine = parent.join(format!(".{}.partial-99999", wanted.key()));
    let other = parent.join(".layer-000000000000.partial-42");
    for partial in [&mine, &other] {
        std::fs::create_dir_all(partial.join("usr")).unwrap();
    }
    let layer = store
        .ensure(
            &base,
            &wanted,
            &installer(dir.path().join("runs")),
            &dir.path().join("log"),
            None,
            &SilentReporter,
        )
        .unwrap();
    assert!(
        !mine.exists(),
        "the interrupted partial of this layer is gone"
    );
    assert!(other.exists());
    let pruned = store.prune(Duration::from_secs(3600)).unwrap();
    assert_eq!(pruned, [".layer-000000000000.partial-42"]);
    assert!(layer.root.is_dir(), "a layer used just now is kept");
    let pruned = store.prune(Duration::ZERO).unwrap();
    assert_eq!(pruned, vec![layer.name.clone()]);
    assert!(store.list().is_empty());
}

#[test]
fn names_that_are_not_packages_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let store = LayerStore::new(dir.path().join("envs"));
    for bad in ["curl; rm -rf /", "-oAPT::x", ""] {
        let err = store
            .ensure(
                &base,
                &recipe(&[bad]),
                &failing("exit 1"),
                &dir.path().join("log"),
                None,
                &SilentReporter,
            )
            .unwrap_err();
        assert!(matches!(err, LayerError::BadName(_)), "{err}");
    }
}

#[test]
fn remove_takes_a_layer_or_every_layer_of_a_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_base(dir.path());
    let store = LayerStore::new(dir.path().join("envs"));
    let make = |packages: &[&str]| {
        store
            .ensure(
                &base,
                &recipe(packages),
                &installer(dir.path().join("runs")),
                &dir.path().join("log"),
                None,
                &SilentReporter,
            )
            .unwrap()
    };
    let a = make(&["a"]);
    make(&["b"]);
    assert_eq!(store.remove(&a.name).unwrap(), vec![a.name.clone()]);
    assert_eq!(store.list().len(), 1);
    assert_eq!(store.remove(&a.recipe.base).unwrap().len(), 1);
    assert!(store.list().is_empty());
}
