//! The pack catalog (pinned, dependencies first) and the store: reuse, a refused source,
//! a failed build. Store tests make real packs with the host's shell from a local
//! tarball served through the index client (file:// URLs, no network).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::job::static_pkg_config;
use super::*;
use crate::runner::HostRunner;
use crate::Reporter;

#[test]
fn every_recipe_is_pinned_and_named_by_its_catalog_entry() {
    for recipe in RECIPES {
        assert_eq!(recipe.sha256.len(), 64, "{}", recipe.name);
        // Debian's source pool, or a PyPI sdist where Debian's tarball lacks a part.
        assert!(
            recipe
                .url
                .starts_with("https://deb.debian.org/debian/pool/")
                || recipe
                    .url
                    .starts_with("https://files.pythonhosted.org/packages/"),
            "{}",
            recipe.name
        );
        // Named by its file, or (an sdist that carries the library) checked by its build.
        assert!(
            recipe.file_name().contains(recipe.version) || recipe.build.contains(recipe.version),
            "{}",
            recipe.name
        );
        assert!(recipe.build.contains("$DESTDIR"), "{}", recipe.name);
        for tool in recipe.tools {
            assert!(tool
                .url
                .starts_with("https://files.pythonhosted.org/packages/"));
            assert_eq!(tool.sha256.len(), 64, "{}", recipe.name);
        }
        for dependency in recipe.depends {
            assert!(super::recipe(dependency).is_some(), "{}", recipe.name);
        }
    }
    // Hints name packs that exist (the catalog check refuses unknown ones).
    let catalog = crate::hints::Catalog::builtin();
    for pack in names() {
        assert!(
            catalog.hints().any(|h| h.pack.as_deref() == Some(pack)),
            "no hint selects {pack}"
        );
    }
}

#[test]
fn a_pack_comes_with_what_it_links_dependencies_first_and_once() {
    let names = |wanted: &[&str]| -> Vec<&str> {
        let wanted: Vec<String> = wanted.iter().map(ToString::to_string).collect();
        with_dependencies(&wanted)
            .unwrap()
            .iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names(&["libxslt"]), ["zlib", "libxml2", "libxslt"]);
    assert_eq!(
        names(&["zlib", "libffi", "libxslt", "libxml2"]),
        ["zlib", "libffi", "libxml2", "libxslt"]
    );
    let err = with_dependencies(&["libfoo".to_string()]).unwrap_err();
    assert!(
        matches!(&err, PackError::Unknown { name, .. } if name == "libfoo"),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.contains("\"libfoo\"") && err.contains("libxslt"),
        "{err}"
    );
}

fn target(glibc: (u16, u16), toolchain: &str) -> PackTarget {
    PackTarget {
        glibc,
        toolchain: toolchain.to_string(),
    }
}

#[test]
fn keys_differ_per_glibc_and_toolchain_and_follow_dependencies() {
    let zig = |glibc| target(glibc, "zig 0.17.0 wrappers-2.17-9c36e5d2");
    let libffi = recipe("libffi").unwrap();
    assert_ne!(libffi.key(&zig((2, 17))), libffi.key(&zig((2, 28))));
    assert!(libffi
        .key(&zig((2, 17)))
        .starts_with("libffi-3.4.4-glibc2.17-"));
    // Another Zig, or other wrappers (other dropped flags), make other packs.
    let newer_zig = target((2, 17), "zig 0.18.0 wrappers-2.17-9c36e5d2");
    let other_wrappers = target((2, 17), "zig 0.17.0 wrappers-2.17-0badc0de");
    assert_ne!(libffi.key(&zig((2, 17))), libffi.key(&newer_zig));
    assert_ne!(libffi.key(&zig((2, 17))), libffi.key(&other_wrappers));
    // A dependency's key is part of the hash: same recipe, other dependency key; and a
    // new toolchain reaches the packs above through their dependencies too.
    let libxslt = recipe("libxslt").unwrap();
    assert!(libxslt
        .key(&zig((2, 17)))
        .starts_with("libxslt-1.1.35-glibc2.17-"));
    let mut other = libxslt.clone();
    other.depends = &["zlib"];
    assert_ne!(other.key(&zig((2, 17))), libxslt.key(&zig((2, 17))));
    // The CPU level a recipe chooses is part of the pack.
    let mut other_cpu = libffi.clone();
    other_cpu.cpu = "z14";
    assert_ne!(other_cpu.key(&zig((2, 17))), libffi.key(&zig((2, 17))));
}

#[test]
fn builds_find_headers_libraries_and_pkg_config() {
    let packs = [
        Pack {
            name: "libffi".into(),
            key: "libffi-k".into(),
        },
        Pack {
            name: "zlib".into(),
            key: "zlib-k".into(),
        },
    ];
    let env: std::collections::HashMap<String, String> =
        build_env(&packs, Some("-O1")).into_iter().collect();
    assert_eq!(
        env["CPATH"],
        "/opt/refinery-packs/libffi-k/include:/opt/refinery-packs/zlib-k/include"
    );
    assert_eq!(
        env["LDFLAGS"],
        "-O1 -L/opt/refinery-packs/libffi-k/lib -L/opt/refinery-packs/zlib-k/lib"
    );
    assert_eq!(
        env["PKG_CONFIG_PATH"],
        "/opt/refinery-packs/libffi-k/lib/pkgconfig:/opt/refinery-packs/zlib-k/lib/pkgconfig"
    );
    assert_eq!(
        env["CMAKE_PREFIX_PATH"],
        "/opt/refinery-packs/libffi-k:/opt/refinery-packs/zlib-k"
    );
    assert!(!env.contains_key("OPENSSL_STATIC"));
    assert!(build_env(&[], None).is_empty());
    // A static OpenSSL is linked statically by openssl-sys only when told so.
    let openssl = Pack {
        name: "openssl".into(),
        key: "openssl-k".into(),
    };
    let env: std::collections::HashMap<String, String> =
        build_env(&[openssl], None).into_iter().collect();
    assert_eq!(env["OPENSSL_STATIC"], "1");
    assert_eq!(env["OPENSSL_DIR"], "/opt/refinery-packs/openssl-k");
}

#[test]
fn pkg_config_files_of_static_packs_name_their_private_libraries() {
    // libxml2 2.9.14's libxml-2.0.pc as configure writes it against the zlib pack.
    let libxml2 = "prefix=/opt/refinery-packs/libxml2-k\nlibdir=${prefix}/lib\n\nName: libXML\nRequires:\nLibs: -L${libdir} -lxml2\nLibs.private: -pthread -L/opt/refinery-packs/zlib-k/lib -lz -lm\nCflags: -I${includedir}/libxml2\n";
    assert_eq!(
        static_pkg_config(libxml2),
        "prefix=/opt/refinery-packs/libxml2-k\nlibdir=${prefix}/lib\n\nName: libXML\nRequires: \nLibs: -L${libdir} -lxml2 -pthread -L/opt/refinery-packs/zlib-k/lib -lz -lm\nCflags: -I${includedir}/libxml2\n"
    );
    let with_requires = "Name: x\nRequires: a\nRequires.private: b, c\nLibs: -lx\n";
    assert_eq!(
        static_pkg_config(with_requires),
        "Name: x\nRequires: a, b, c\nLibs: -lx\n"
    );
    let only_private = "Name: y\nRequires.private: zlib\nLibs: -ly\n";
    assert_eq!(
        static_pkg_config(only_private),
        "Name: y\nLibs: -ly\nRequires: zlib\n"
    );
}

/// Remembers the messages of a pack build.
#[derive(Default)]
struct Messages(Mutex<Vec<String>>);

impl Reporter for Messages {
    fn message(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

/// A source tarball `fake-1.0.tar.gz` (folder `fake-1.0`, one C file) in `dir`, and its
/// sha256.
fn source_tarball(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("fake-1.0.tar.gz");
    let file = std::fs::File::create(&path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    let body = b"int fake(void) { return 1; }\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "fake-1.0/fake.c", &body[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let sha = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
    (path, sha)
}

/// A Debian binary package `fake_1.0_s390x.deb` in `dir` (deb(5): an `ar` archive of
/// `debian-binary`, `control.tar.gz`, an odd-sized member, so the `ar` padding is
/// exercised, and `data.tar.gz` holding `usr/include/fake.h`; Debian's data members are
/// `.xz`, which Python's `tarfile` reads the same way), and its sha256.
fn debian_package(dir: &Path) -> (PathBuf, String) {
    let tar_of = |name: &str, body: &[u8]| {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, body).unwrap();
        builder.into_inner().unwrap()
    };
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, bytes).unwrap();
        encoder.finish().unwrap()
    };
    let data = tar_of("./usr/include/fake.h", b"int fake(void);\n");
    let mut deb = b"!<arch>\n".to_vec();
    for (name, body) in [
        ("debian-binary", b"2.0\n".to_vec()),
        (
            "control.tar.gz",
            gzip(&tar_of("./control", b"Package: fake\n")),
        ),
        ("odd", b"abc".to_vec()),
        ("data.tar.gz", gzip(&data)),
    ] {
        deb.extend(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                100644,
                body.len()
            )
            .bytes(),
        );
        deb.extend(&body);
        if body.len() % 2 == 1 {
            deb.push(b'\n');
        }
    }
    let path = dir.join("fake_1.0_s390x.deb");
    std::fs::write(&path, &deb).unwrap();
    (path, hex::encode(Sha256::digest(&deb)))
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A recipe for the tarball at `path` whose build runs `build`.
fn fake_recipe(path: &Path, sha256: &str, build: &str) -> PackRecipe {
    PackRecipe {
        name: "fake",
        version: "1.0",
        url: leak(format!("file://{}", path.display())),
        sha256: leak(sha256.to_string()),
        folder: "fake-1.0",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        build: leak(build.to_string()),
    }
}

/// Installs the C file as a "library" and a `.pc` file with private libraries.
const INSTALL: &str = "mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\"\n\
    cp fake.c \"$DESTDIR$PREFIX/lib/libfake.a\"\n\
    printf 'Name: fake\\nLibs: -lfake\\nLibs.private: -lm\\n' > \"$DESTDIR$PREFIX/lib/pkgconfig/fake.pc\"";

struct Fixture {
    tmp: tempfile::TempDir,
    store: PackStore,
    client: refinery_index::IndexClient,
    logs: PathBuf,
    tarball: PathBuf,
    sha256: String,
    downloads: AtomicUsize,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let (tarball, sha256) = source_tarball(tmp.path());
        let client = refinery_index::IndexClient::new(refinery_index::IndexConfig {
            index_url: String::new(),
            cache_dir: Some(tmp.path().join("cache")),
            netrc_path: Some(PathBuf::new()),
            ..Default::default()
        })
        .unwrap();
        Fixture {
            store: PackStore::new(&tmp.path().join("envs")),
            logs: tmp.path().join("logs"),
            client,
            tarball,
            sha256,
            downloads: AtomicUsize::new(0),
            tmp,
        }
    }

    fn ensure(&self, recipe: &PackRecipe, reporter: &Messages) -> Result<Pack, PackError> {
        std::fs::create_dir_all(&self.logs).unwrap();
        let download = |url: &str, sha256: &str, dir: &Path| {
            self.downloads.fetch_add(1, Ordering::SeqCst);
            fetch_source(&self.client, url, sha256, dir)
        };
        let runner = HostRunner {
            python: "python3".into(),
        };
        self.store.ensure(
            recipe,
            &target((2, 17), "zig test"),
            &[],
            &runner,
            &download,
            &self.logs.join("fake-pack.log"),
            reporter,
        )
    }

    /// Names in the store folder other than its lock folder.
    fn store_entries(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.store.dir()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".locks")
            .collect();
        names.sort();
        names
    }
}

#[test]
fn a_second_run_reuses_the_pack_without_fetching_or_building() {
    let f = Fixture::new();
    let recipe = fake_recipe(&f.tarball, &f.sha256, INSTALL);
    let first = Messages::default();
    let pack = f.ensure(&recipe, &first).unwrap();
    assert_eq!(pack.key, recipe.key(&target((2, 17), "zig test")));
    let dir = f.store.dir().join(&pack.key);
    // The marker records what the pack was built for and with, and its CPU level.
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MARKER_FILE)).unwrap()).unwrap();
    assert_eq!(marker["target"]["toolchain"], "zig test", "{marker}");
    assert_eq!(
        marker["target"]["glibc"],
        serde_json::json!([2, 17]),
        "{marker}"
    );
    assert_eq!(marker["recipe"]["name"], "fake", "{marker}");
    assert_eq!(marker["cpu"], ZIG_BASELINE_CPU, "{marker}");
    assert_eq!(
        std::fs::read_to_string(dir.join("lib/pkgconfig/fake.pc")).unwrap(),
        "Name: fake\nLibs: -lfake -lm\n"
    );
    assert_eq!(first.0.lock().unwrap().len(), 1, "{:?}", first.0);
    assert_eq!(f.downloads.load(Ordering::SeqCst), 1);
    let made_at = std::fs::metadata(dir.join(MARKER_FILE))
        .unwrap()
        .modified()
        .unwrap();

    let second = Messages::default();
    assert_eq!(f.ensure(&recipe, &second).unwrap(), pack);
    assert!(second.0.lock().unwrap().is_empty(), "{:?}", second.0);
    assert_eq!(f.downloads.load(Ordering::SeqCst), 1, "fetched again");
    let still = std::fs::metadata(dir.join(MARKER_FILE))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(made_at, still, "the pack was made again");
    assert_eq!(f.store_entries(), [pack.key]);
}

#[test]
fn a_source_with_another_sha256_is_refused_naming_the_file() {
    let f = Fixture::new();
    let wrong = "0".repeat(64);
    let recipe = fake_recipe(&f.tarball, &wrong, INSTALL);
    let err = f
        .ensure(&recipe, &Messages::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("fake-1.0.tar.gz"), "{err}");
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert!(err.contains(&wrong) && err.contains(&f.sha256), "{err}");
    assert!(f.store_entries().is_empty(), "{:?}", f.store_entries());
    // The pack's log says why, and the error names it.
    let log = f.logs.join("fake-pack.log");
    assert!(err.contains(&log.display().to_string()), "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("sha256 mismatch"), "{text}");
}

#[test]
fn a_failed_build_names_its_log_and_leaves_nothing_to_reuse() {
    let f = Fixture::new();
    let gate = f.tmp.path().join("may-finish");
    // Installs half of the pack, then fails unless the gate file exists.
    let build = format!(
        "{INSTALL}\necho installing the rest\ntest -f '{}' || {{ echo 'make: *** [all] Error 2'; exit 2; }}",
        gate.display()
    );
    let recipe = fake_recipe(&f.tarball, &f.sha256, &build);
    let err = f
        .ensure(&recipe, &Messages::default())
        .unwrap_err()
        .to_string();
    let log = f.logs.join("fake-pack.log");
    assert!(err.contains(&log.display().to_string()), "{err}");
    assert!(err.contains("fake 1.0"), "{err}");
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("make: *** [all] Error 2"));
    assert!(f.store_entries().is_empty(), "{:?}", f.store_entries());

    // The half-installed files are not taken for a pack: the next run builds again.
    std::fs::write(&gate, "").unwrap();
    let messages = Messages::default();
    let pack = f.ensure(&recipe, &messages).unwrap();
    assert_eq!(messages.0.lock().unwrap().len(), 1, "{:?}", messages.0);
    assert_eq!(f.downloads.load(Ordering::SeqCst), 2);
    assert_eq!(f.store_entries(), [pack.key]);
}

#[test]
fn a_build_that_installs_no_library_is_refused() {
    let f = Fixture::new();
    // Succeeds, but its library went elsewhere (as CMake put a relative libdir).
    let build =
        "mkdir -p \"$DESTDIR$PREFIX/include\" elsewhere/lib\ncp fake.c elsewhere/lib/libfake.a";
    let recipe = fake_recipe(&f.tarball, &f.sha256, build);
    let err = f
        .ensure(&recipe, &Messages::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("installed no static library"), "{err}");
    assert!(f.store_entries().is_empty(), "{:?}", f.store_entries());
}

#[test]
fn a_header_only_pack_needs_headers_and_no_library() {
    let f = Fixture::new();
    // No include folder: refused, naming it.
    let nothing = "mkdir -p \"$DESTDIR$PREFIX/share\"\ncp fake.c \"$DESTDIR$PREFIX/share/\"";
    let recipe = PackRecipe {
        header_only: true,
        ..fake_recipe(&f.tarball, &f.sha256, nothing)
    };
    let err = f
        .ensure(&recipe, &Messages::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("installed no header into"), "{err}");
    assert!(err.contains("/include"), "{err}");
    assert!(f.store_entries().is_empty(), "{:?}", f.store_entries());
    // Headers alone, from a Debian binary package (as xsimd's): a pack without a lib folder.
    let (deb, sha256) = debian_package(f.tmp.path());
    let headers = "mkdir -p \"$DESTDIR$PREFIX\"\ncp -r include \"$DESTDIR$PREFIX/\"";
    let recipe = PackRecipe {
        header_only: true,
        folder: "usr",
        ..fake_recipe(&deb, &sha256, headers)
    };
    let messages = Messages::default();
    let pack = f.ensure(&recipe, &messages).unwrap();
    assert_eq!(
        std::fs::read_to_string(f.store.dir().join(&pack.key).join("include/fake.h")).unwrap(),
        "int fake(void);\n"
    );
    assert!(
        messages.0.lock().unwrap()[0].ends_with("headers only)"),
        "{:?}",
        messages.0
    );
    // A header-only recipe's key differs from the same recipe's as a library pack.
    let library = PackRecipe {
        folder: "usr",
        ..fake_recipe(&deb, &sha256, headers)
    };
    let target = target((2, 17), "zig test");
    assert_ne!(recipe.key(&target), library.key(&target));
}

#[test]
fn the_work_folder_of_a_killed_build_is_removed_by_the_next_one() {
    let f = Fixture::new();
    let recipe = fake_recipe(&f.tarball, &f.sha256, INSTALL);
    let key = recipe.key(&target((2, 17), "zig test"));
    // What a run killed mid-build leaves: its work folder with a half-made prefix.
    let stale = f.store.dir().join(format!(".{key}.work-99999"));
    std::fs::create_dir_all(stale.join("out/opt/refinery-packs/x/lib")).unwrap();
    std::fs::write(stale.join("out/opt/refinery-packs/x/lib/libhalf.a"), "x").unwrap();
    // Another key's work folder is not this build's to remove.
    let other = f.store.dir().join(".other-1.0-glibc2.17-abc.work-99999");
    std::fs::create_dir_all(&other).unwrap();
    let pack = f.ensure(&recipe, &Messages::default()).unwrap();
    let mut expected = vec![".other-1.0-glibc2.17-abc.work-99999".to_string(), pack.key];
    expected.sort();
    assert_eq!(f.store_entries(), expected);
}

/// A mirror that answers every key with one archive file (and the sha256 it announces).
struct OneArchive {
    archive: PathBuf,
    sha256: String,
}

impl PackMirror for OneArchive {
    fn fetch(&self, key: &str, dir: &Path) -> Result<Option<MirroredPack>, MirrorError> {
        let to = dir.join(format!("{key}.tar.gz"));
        std::fs::copy(&self.archive, &to).unwrap();
        Ok(Some(MirroredPack {
            archive: to,
            sha256: self.sha256.clone(),
            url: format!("test://mirror/{key}"),
        }))
    }
}

#[test]
fn a_mirrored_pack_of_another_target_is_refused_and_a_good_one_taken() {
    let f = Fixture::new();
    let recipe = fake_recipe(&f.tarball, &f.sha256, INSTALL);
    let pack = f.ensure(&recipe, &Messages::default()).unwrap();
    let (archive, sha256) = f.store.archive(&pack.key).unwrap().unwrap();
    // Made once: asked again, the same file and digest.
    assert_eq!(
        f.store.archive(&pack.key).unwrap().unwrap(),
        (archive.clone(), sha256.clone())
    );
    assert_eq!(refinery_store::sha256_file(&archive).unwrap(), sha256);
    assert!(f
        .store
        .archive("no-such-1.0-glibc2.17-abc")
        .unwrap()
        .is_none());
    let runner = HostRunner {
        python: "python3".into(),
    };
    let no_download = |_: &str, _: &str, _: &Path| -> Result<PathBuf, PackError> {
        panic!("the mirror's pack was built instead")
    };
    let mirror = std::sync::Arc::new(OneArchive { archive, sha256 });
    let other_store = PackStore::new(&f.tmp.path().join("other")).with_mirror(mirror);
    let log = f.tmp.path().join("other.log");

    // Asked for another toolchain's pack, the mirror sends this one: refused.
    let other = target((2, 17), "zig other");
    let err = other_store
        .ensure(
            &recipe,
            &other,
            &[],
            &runner,
            &no_download,
            &log,
            &Messages::default(),
        )
        .unwrap_err()
        .to_string();
    let other_key = recipe.key(&other);
    assert!(err.contains("records another recipe or target"), "{err}");
    assert!(err.contains(&format!("test://mirror/{other_key}")), "{err}");
    assert!(!other_store.dir().join(&other_key).exists());
    assert!(!other_store
        .dir()
        .join(format!(".{other_key}.partial"))
        .exists());

    // The right one is taken, and is the same pack.
    let messages = Messages::default();
    let taken = other_store
        .ensure(
            &recipe,
            &target((2, 17), "zig test"),
            &[],
            &runner,
            &no_download,
            &log,
            &messages,
        )
        .unwrap();
    assert_eq!(taken, pack);
    assert_eq!(
        std::fs::read(other_store.dir().join(&pack.key).join(MARKER_FILE)).unwrap(),
        std::fs::read(f.store.dir().join(&pack.key).join(MARKER_FILE)).unwrap()
    );
    assert!(!log.exists(), "built instead of taken");
}

#[test]
fn pack_keys_name_store_folders_only() {
    let recipe = recipe("zlib").unwrap();
    assert!(is_pack_key(&recipe.key(&target((2, 17), "zig 0.13"))));
    for bad in [
        "",
        "..",
        ".zlib-1-glibc2.17-a",
        "../x-glibc2.17",
        "a/b-glibc2.17",
        "zlib",
        "x-glibc2.17-a b",
    ] {
        assert!(!is_pack_key(bad), "{bad}");
    }
}
