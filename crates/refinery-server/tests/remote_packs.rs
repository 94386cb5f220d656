//! Native library packs served to remote workers: the real server's `GET /api/packs/{key}`
//! and the worker's pack mirror ([`refinery_worker::remote::RemotePacks`]) through the
//! pack store's `ensure`, with a small pack made for real (host shell) on the server side.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use refinery_build::packs::{
    MirrorError, MirroredPack, Pack, PackError, PackMirror, PackRecipe, PackStore, PackTarget,
};
use refinery_build::runner::HostRunner;
use refinery_build::Reporter;
use refinery_worker::remote::RemotePacks;
use sha2::{Digest, Sha256};

const TOKEN: &str = "s3cret-worker";

/// Remembers the messages of the pack store.
#[derive(Default)]
struct Messages(Mutex<Vec<String>>);

impl Reporter for Messages {
    fn message(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

/// Counts the calls to a mirror.
struct Counting<M>(M, AtomicUsize);

impl<M: PackMirror> PackMirror for Counting<M> {
    fn fetch(&self, key: &str, dir: &Path) -> Result<Option<MirroredPack>, MirrorError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.fetch(key, dir)
    }
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A source tarball `tiny-<version>.tar.gz` in `dir` (one C file) and a recipe that
/// installs a static "library", a header, a `.pc` file and a link to the library.
fn tiny_recipe(dir: &Path, version: &str) -> PackRecipe {
    let folder = format!("tiny-{version}");
    let path = dir.join(format!("{folder}.tar.gz"));
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    ));
    let body = b"int tiny(void) { return 42; }\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, format!("{folder}/tiny.c"), &body[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let sha256 = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
    PackRecipe {
        name: "tiny",
        version: leak(version.to_string()),
        url: leak(format!("file://{}", path.display())),
        sha256: leak(sha256),
        folder: leak(folder),
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        build: "mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                cp tiny.c \"$DESTDIR$PREFIX/lib/libtiny1.a\"\n\
                ln -s libtiny1.a \"$DESTDIR$PREFIX/lib/libtiny.a\"\n\
                echo 'int tiny(void);' > \"$DESTDIR$PREFIX/include/tiny.h\"\n\
                printf 'Name: tiny\\nLibs: -ltiny\\n' > \"$DESTDIR$PREFIX/lib/pkgconfig/tiny.pc\"",
    }
}

fn target() -> PackTarget {
    PackTarget {
        glibc: (2, 17),
        toolchain: "zig 0.test".into(),
    }
}

/// One side's pack store with what `ensure` needs: sources fetched through the index
/// client (file:// URLs) and counted, built with the host's shell.
struct Side {
    store: PackStore,
    client: refinery_index::IndexClient,
    logs: PathBuf,
    downloads: AtomicUsize,
}

impl Side {
    fn new(dir: &Path, store: PackStore) -> Side {
        let client = refinery_index::IndexClient::new(refinery_index::IndexConfig {
            index_url: String::new(),
            cache_dir: Some(dir.join("http")),
            netrc_path: Some(PathBuf::new()),
            ..Default::default()
        })
        .unwrap();
        Side {
            store,
            client,
            logs: dir.join("logs"),
            downloads: AtomicUsize::new(0),
        }
    }

    fn ensure(&self, recipe: &PackRecipe, messages: &Messages) -> Result<Pack, PackError> {
        std::fs::create_dir_all(&self.logs).unwrap();
        let download = |url: &str, sha256: &str, dir: &Path| {
            self.downloads.fetch_add(1, Ordering::SeqCst);
            refinery_build::packs::fetch_source(&self.client, url, sha256, dir)
        };
        self.store.ensure(
            recipe,
            &target(),
            &[],
            &HostRunner {
                python: "python3".into(),
            },
            &download,
            &self.log(recipe),
            messages,
        )
    }

    fn log(&self, recipe: &PackRecipe) -> PathBuf {
        self.logs
            .join(format!("{}-pack.log", recipe.key(&target())))
    }
}

/// Relative path → (kind, content or link target) of every entry below `dir`.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let entry = entry.unwrap();
        let name = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .display()
            .to_string();
        let kind = entry.file_type();
        let what = if kind.is_symlink() {
            format!("-> {}", std::fs::read_link(entry.path()).unwrap().display())
        } else if kind.is_file() {
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned()
        } else {
            "dir".into()
        };
        out.push((name, what));
    }
    out
}

/// Entries of a packs folder other than its lock folder and the server's archives.
fn store_entries(store: &PackStore) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(store.dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".locks" && n != ".archives")
        .collect();
    names.sort();
    names
}

#[test]
fn a_remote_worker_takes_a_pack_from_the_server_and_reuses_it_without_asking_again() {
    let t = TestServer::start(|c| {
        c.worker_token = Some(TOKEN.into());
        c.read_token = Some("reader".into());
    });
    let work = tempfile::tempdir().unwrap();
    let recipe = tiny_recipe(work.path(), "1.0");
    let key = recipe.key(&target());
    // The server's store holds the pack, made for real.
    let server_side = Side::new(
        &work.path().join("server"),
        PackStore::new(&t.cache().join("envs")),
    );
    server_side.ensure(&recipe, &Messages::default()).unwrap();
    assert_eq!(server_side.downloads.load(Ordering::SeqCst), 1);
    let on_server = server_side.store.dir().join(&key);

    // Reads need a token here: none is refused, the worker's is taken.
    assert_eq!(t.get(&format!("/api/packs/{key}")).status(), 401);
    let with_token = |path: &str| {
        t.client
            .get(t.url(path))
            .header("X-Worker-Token", TOKEN)
            .send()
            .unwrap()
    };
    assert_eq!(
        with_token("/api/packs/..%2Fsecrets-glibc2.17").status(),
        400
    );
    assert_eq!(
        with_token("/api/packs/none-1.0-glibc2.17-abc").status(),
        404
    );
    // A mirror without the token cannot ask: the error names the URL and the status.
    let tokenless = RemotePacks::new(&t.server.url(), None).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    match tokenless.fetch(&key, scratch.path()) {
        Err(err @ MirrorError::Status { status: 401, .. }) => assert_eq!(
            err.to_string(),
            format!("{}/api/packs/{key} answered HTTP 401", t.server.url())
        ),
        other => panic!("expected a 401, got {other:?}"),
    }

    let mirror = Arc::new(Counting(
        RemotePacks::new(&t.server.url(), Some(TOKEN.into())).unwrap(),
        AtomicUsize::new(0),
    ));
    let worker = Side::new(
        &work.path().join("worker"),
        PackStore::new(&work.path().join("worker/envs")).with_mirror(mirror.clone()),
    );
    let messages = Messages::default();
    let pack = worker.ensure(&recipe, &messages).unwrap();
    assert_eq!(pack.key, key);
    assert_eq!(mirror.1.load(Ordering::SeqCst), 1);
    // Neither fetched nor built on the worker: the server's pack, file for file.
    assert_eq!(worker.downloads.load(Ordering::SeqCst), 0);
    assert!(!worker.log(&recipe).exists(), "the worker built the pack");
    let on_worker = worker.store.dir().join(&key);
    assert_eq!(tree(&on_worker), tree(&on_server));
    assert!(tree(&on_worker)
        .iter()
        .any(|(n, w)| n == "lib/libtiny.a" && w == "-> libtiny1.a"));
    let said = messages.0.lock().unwrap().join("\n");
    let url = format!("{}/api/packs/{key}", t.server.url());
    assert!(said.contains(&format!("came from {url}")), "{said}");
    assert!(!said.contains(TOKEN), "{said}");
    assert_eq!(store_entries(&worker.store), std::slice::from_ref(&key));

    // The second ensure finds it in the worker's own store: no request, no message.
    let again = Messages::default();
    assert_eq!(worker.ensure(&recipe, &again).unwrap(), pack);
    assert_eq!(mirror.1.load(Ordering::SeqCst), 1, "asked the server again");
    assert!(again.0.lock().unwrap().is_empty(), "{:?}", again.0);

    // A pack the server does not have (404) is built by the worker itself.
    let other = tiny_recipe(work.path(), "2.0");
    let built = Messages::default();
    let made = worker.ensure(&other, &built).unwrap();
    assert_eq!(mirror.1.load(Ordering::SeqCst), 2);
    assert_eq!(worker.downloads.load(Ordering::SeqCst), 1);
    assert!(worker.log(&other).exists());
    assert_eq!(store_entries(&worker.store), {
        let mut both = vec![key, made.key];
        both.sort();
        both
    });
}

#[test]
fn a_corrupted_pack_download_is_refused_naming_the_pack_and_the_url() {
    let t = TestServer::start(|c| c.worker_token = Some(TOKEN.into()));
    let work = tempfile::tempdir().unwrap();
    let recipe = tiny_recipe(work.path(), "1.0");
    let key = recipe.key(&target());
    let server_side = Side::new(
        &work.path().join("server"),
        PackStore::new(&t.cache().join("envs")),
    );
    server_side.ensure(&recipe, &Messages::default()).unwrap();
    // The first download makes the server's archive; then its bytes rot on disk while
    // the recorded sha256 stays.
    let first = Side::new(
        &work.path().join("first"),
        PackStore::new(&work.path().join("first/envs")).with_mirror(Arc::new(
            RemotePacks::new(&t.server.url(), Some(TOKEN.into())).unwrap(),
        )),
    );
    first.ensure(&recipe, &Messages::default()).unwrap();
    let archive = server_side
        .store
        .dir()
        .join(".archives")
        .join(format!("{key}.tar.gz"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();

    let worker = Side::new(
        &work.path().join("worker"),
        PackStore::new(&work.path().join("worker/envs")).with_mirror(Arc::new(
            RemotePacks::new(&t.server.url(), Some(TOKEN.into())).unwrap(),
        )),
    );
    let err = worker
        .ensure(&recipe, &Messages::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&key), "{err}");
    assert!(
        err.contains(&format!("{}/api/packs/{key}", t.server.url())),
        "{err}"
    );
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    // Nothing of it stays, and nothing was built in its place.
    assert!(
        store_entries(&worker.store).is_empty(),
        "{:?}",
        store_entries(&worker.store)
    );
    assert_eq!(worker.downloads.load(Ordering::SeqCst), 0);
}
