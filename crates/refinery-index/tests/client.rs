//! Hermetic client tests against `refinery_index::testing::LocalIndex`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use refinery_index::testing::{write_wheel, LocalIndex, PageFormat};
use refinery_index::{sha256_hex, DistFile, IndexClient, IndexConfig, IndexError};

fn config(index_url: &str) -> IndexConfig {
    IndexConfig {
        index_url: index_url.to_owned(),
        retries: 0,
        timeout_secs: 10,
        // Never pick up the developer's ~/.netrc.
        netrc_path: Some(PathBuf::new()),
        ..IndexConfig::default()
    }
}

fn client(config: IndexConfig) -> IndexClient {
    IndexClient::new(config).expect("client")
}

/// A dir with two wheels (one with Requires-Python) and an sdist of `demo-pkg`,
/// plus a wheel of another project.
fn populated_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_wheel(
        dir.path(),
        "demo_pkg-1.0-py3-none-any.whl",
        Some("Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nRequires-Python: >=3.8\n"),
    )
    .unwrap();
    write_wheel(
        dir.path(),
        "demo_pkg-1.1-cp311-cp311-manylinux_2_17_s390x.whl",
        None,
    )
    .unwrap();
    fs_err::write(
        dir.path().join("demo-pkg-1.1.tar.gz"),
        b"not really a tarball",
    )
    .unwrap();
    write_wheel(dir.path(), "other-2.0-py3-none-any.whl", None).unwrap();
    fs_err::write(dir.path().join("README.txt"), b"ignored").unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn key(f: &DistFile) -> (String, String, Option<String>, Option<String>, bool, bool) {
    (
        f.filename.clone(),
        f.url.split('#').next().unwrap().to_owned(),
        f.sha256.clone(),
        f.requires_python.clone(),
        f.yanked,
        f.has_metadata,
    )
}

#[test]
fn json_and_html_pages_give_the_same_files() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let c = client(config(&index.url));

    let from_json = c.project_files("Demo.Pkg").unwrap();
    index.force_format(Some(PageFormat::Html));
    let from_html = c.project_files("demo_pkg").unwrap();

    assert_eq!(from_json.len(), 3, "{from_json:#?}");
    assert_eq!(
        from_json.iter().map(key).collect::<Vec<_>>(),
        from_html.iter().map(key).collect::<Vec<_>>()
    );
    let wheel = from_json
        .iter()
        .find(|f| f.filename == "demo_pkg-1.0-py3-none-any.whl")
        .unwrap();
    let on_disk = fs_err::read(dir.path().join(&wheel.filename)).unwrap();
    assert_eq!(wheel.sha256.as_deref(), Some(sha256_hex(&on_disk).as_str()));
    assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
    assert!(wheel.has_metadata);
    assert!(wheel.url.starts_with(&index.base_url()));
    assert_eq!(wheel.index, index.url);
    let sdist = from_json
        .iter()
        .find(|f| f.filename.ends_with(".tar.gz"))
        .unwrap();
    assert!(!sdist.has_metadata);
}

#[test]
fn missing_project_is_empty_not_an_error() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let files = client(config(&index.url))
        .project_files("no-such-project")
        .unwrap();
    assert!(files.is_empty());
}

#[test]
fn index_sees_files_added_later() {
    let dir = tempfile::tempdir().unwrap();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let c = client(config(&index.url));
    assert!(c.project_files("late").unwrap().is_empty());
    write_wheel(dir.path(), "late-0.1-py3-none-any.whl", None).unwrap();
    assert_eq!(c.project_files("late").unwrap().len(), 1);
}

#[test]
fn download_verifies_and_fetches_metadata() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let c = client(config(&index.url));
    let files = c.project_files("demo-pkg").unwrap();
    let out = tempfile::tempdir().unwrap();
    for f in &files {
        let path = c.download(f, out.path()).unwrap();
        assert_eq!(path, out.path().join(&f.filename));
        assert_eq!(
            fs_err::read(&path).unwrap(),
            fs_err::read(dir.path().join(&f.filename)).unwrap()
        );
        // An ordinary file, readable by a web server serving the output.
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", f.filename);
    }
    assert_eq!(files_in(out.path()).len(), 3);

    let wheel = files
        .iter()
        .find(|f| f.filename.starts_with("demo_pkg-1.0"))
        .unwrap();
    let metadata = c.fetch_metadata(wheel).unwrap().expect("PEP 658 metadata");
    assert!(String::from_utf8(metadata)
        .unwrap()
        .contains("Requires-Python: >=3.8"));
    let sdist = files
        .iter()
        .find(|f| f.filename.ends_with(".tar.gz"))
        .unwrap();
    assert_eq!(c.fetch_metadata(sdist).unwrap(), None);

    let bytes = c.get_bytes(&index.file_url("demo-pkg-1.1.tar.gz")).unwrap();
    assert_eq!(bytes, b"not really a tarball");
    let err = c
        .get_bytes(&index.file_url("missing-1.0.tar.gz"))
        .unwrap_err();
    assert!(matches!(err, IndexError::NotFound { .. }), "{err}");
}

#[test]
fn find_links_directory_and_file_url() {
    let dir = populated_dir();
    for entry in [
        dir.path().display().to_string(),
        url::Url::from_directory_path(dir.path())
            .unwrap()
            .to_string(),
    ] {
        let c = client(IndexConfig {
            find_links: vec![entry.clone()],
            ..config("")
        });
        let files = c.project_files("demo-pkg").unwrap();
        assert_eq!(files.len(), 3, "{entry}: {files:#?}");
        assert!(files
            .iter()
            .all(|f| f.url.starts_with("file://") && f.sha256.is_some()));
        let wheel = files
            .iter()
            .find(|f| f.filename.starts_with("demo_pkg-1.0"))
            .unwrap();
        assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
        assert!(c.fetch_metadata(wheel).unwrap().is_some());

        let out = tempfile::tempdir().unwrap();
        let path = c.download(wheel, out.path()).unwrap();
        assert!(path.is_file());

        // A tampered find-links entry is caught on copy.
        let mut bad = wheel.clone();
        bad.sha256 = Some("0".repeat(64));
        bad.filename = "copy.whl".into();
        let err = c.download(&bad, out.path()).unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err}");
        assert_eq!(files_in(out.path()), vec![wheel.filename.clone()]);
    }
}

#[test]
fn missing_find_links_dir_is_a_clear_error() {
    let c = client(IndexConfig {
        find_links: vec!["/definitely/not/here".into()],
        ..config("")
    });
    let err = c.project_files("x").unwrap_err();
    assert!(err.to_string().contains("--find-links"), "{err}");
}

#[test]
fn dedup_across_index_extra_index_and_find_links() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    write_wheel(first.path(), "dup-1.0-py3-none-any.whl", None).unwrap();
    write_wheel(
        second.path(),
        "dup-1.0-py3-none-any.whl",
        Some("Metadata-Version: 2.1\nName: dup\nVersion: 1.0\nSummary: different bytes\n"),
    )
    .unwrap();
    write_wheel(second.path(), "dup-2.0-py3-none-any.whl", None).unwrap();
    write_wheel(links.path(), "dup-3.0-py3-none-any.whl", None).unwrap();
    write_wheel(links.path(), "dup-2.0-py3-none-any.whl", None).unwrap();

    let a = LocalIndex::serve_dir(first.path()).unwrap();
    let b = LocalIndex::serve_dir(second.path()).unwrap();
    let c = client(IndexConfig {
        extra_index_urls: vec![b.url.clone()],
        find_links: vec![links.path().display().to_string()],
        ..config(&a.url)
    });
    let files = c.project_files("dup").unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "dup-1.0-py3-none-any.whl",
            "dup-2.0-py3-none-any.whl",
            "dup-3.0-py3-none-any.whl"
        ]
    );
    assert!(files[0].index.contains(&a.base_url()));
    assert!(files[1].index.contains(&b.base_url()));
    assert_eq!(files[2].index, links.path().display().to_string());
    let expected =
        sha256_hex(&fs_err::read(first.path().join("dup-1.0-py3-none-any.whl")).unwrap());
    assert_eq!(files[0].sha256.as_deref(), Some(expected.as_str()));
}

#[test]
fn one_failing_source_is_tolerated_all_failing_is_not() {
    let dir = populated_dir();
    let good = LocalIndex::serve_dir(dir.path()).unwrap();
    let bad = LocalIndex::serve_fixed(500, "text/plain", "boom").unwrap();
    let files = client(IndexConfig {
        extra_index_urls: vec![good.url.clone()],
        ..config(&bad.url)
    })
    .project_files("demo-pkg")
    .unwrap();
    assert_eq!(files.len(), 3);

    let bad2 = LocalIndex::serve_fixed(200, "text/plain", "nonsense").unwrap();
    let err = client(IndexConfig {
        extra_index_urls: vec![bad2.url.clone()],
        ..config(&bad.url)
    })
    .project_files("demo-pkg")
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, IndexError::AllSourcesFailed { ref errors, .. } if errors.len() == 2),
        "{msg}"
    );
    assert!(
        msg.contains("HTTP 500") && msg.contains("neither PEP 691 JSON nor PEP 503 HTML"),
        "{msg}"
    );
}

#[test]
fn basic_auth_from_config_url_and_netrc() {
    let dir = populated_dir();
    let index = LocalIndex::with_basic_auth(dir.path(), "alice", "s3cr3t-pw").unwrap();

    // No credentials: 401 with a hint.
    let err = client(config(&index.url))
        .project_files("demo-pkg")
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("INDEX_USERNAME"), "{err}");

    // From the config fields.
    let c = client(IndexConfig {
        username: Some("alice".into()),
        password: Some("s3cr3t-pw".into()),
        ..config(&index.url)
    });
    let files = c.project_files("demo-pkg").unwrap();
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| !f.url.contains("s3cr3t")));
    let out = tempfile::tempdir().unwrap();
    let wheel = files.iter().find(|f| f.filename.ends_with(".whl")).unwrap();
    c.download(wheel, out.path()).unwrap();
    assert!(c.fetch_metadata(wheel).unwrap().is_some());

    // From URL userinfo; downloads from the same host reuse it.
    let c = client(config(&index.url_with_credentials("alice", "s3cr3t-pw")));
    let files = c.project_files("demo-pkg").unwrap();
    assert_eq!(files.len(), 3);
    assert!(files
        .iter()
        .all(|f| !f.url.contains("s3cr3t") && !f.index.contains("s3cr3t")));
    c.download(&files[1], out.path()).unwrap();

    // From a netrc file.
    let netrc_dir = tempfile::tempdir().unwrap();
    let netrc = netrc_dir.path().join("netrc");
    fs_err::write(
        &netrc,
        "machine 127.0.0.1\n  login alice\n  password s3cr3t-pw\n",
    )
    .unwrap();
    let c = client(IndexConfig {
        netrc_path: Some(netrc),
        ..config(&index.url)
    });
    assert_eq!(c.project_files("demo-pkg").unwrap().len(), 3);
}

#[test]
fn passwords_never_show_in_errors_or_debug() {
    let dir = populated_dir();
    let index = LocalIndex::with_basic_auth(dir.path(), "alice", "right-password").unwrap();
    let secret = "wr0ng-Pa55word";

    let check = |text: String| {
        assert!(!text.contains(secret), "password leaked: {text}");
        assert!(!text.contains("wr0ng"), "password leaked: {text}");
    };

    // Wrong password in the URL.
    let cfg = config(&index.url_with_credentials("alice", secret));
    check(format!("{cfg:?}"));
    let c = client(cfg);
    check(format!("{c:?}"));
    let err = c.project_files("demo-pkg").unwrap_err();
    assert_eq!(err.status(), Some(401));
    check(err.to_string());
    check(format!("{err:?}"));
    assert!(
        err.to_string().contains("alice:****@") || !err.to_string().contains("alice:"),
        "{err}"
    );

    // Wrong password in the config fields.
    let cfg = IndexConfig {
        username: Some("alice".into()),
        password: Some(secret.into()),
        ..config(&index.url)
    };
    check(format!("{cfg:?}"));
    let err = client(cfg).project_files("demo-pkg").unwrap_err();
    check(format!("{err} {err:?}"));

    // Server errors and a dead server, with credentials in the URL.
    let broken = LocalIndex::serve_fixed(503, "text/html", "<html>down</html>").unwrap();
    let url = broken
        .url
        .replace("http://", &format!("http://alice:{secret}@"));
    let err = client(config(&url)).project_files("demo-pkg").unwrap_err();
    check(format!("{err} {err:?}"));
    let dead = dead_url().replace("http://", &format!("http://alice:{secret}@"));
    let err = client(config(&dead)).project_files("demo-pkg").unwrap_err();
    check(format!("{err} {err:?}"));
    let err = client(config(&dead))
        .get_bytes(&format!("{dead}/x-1.0.tar.gz"))
        .unwrap_err();
    check(format!("{err} {err:?}"));
}

#[test]
fn hash_mismatch_is_detected_and_nothing_is_left_behind() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let c = client(IndexConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..config(&index.url)
    });
    let mut file = c.project_files("demo-pkg").unwrap().remove(0);
    let real = file.sha256.clone().unwrap();
    let wrong = "ab".repeat(32);
    file.sha256 = Some(wrong.clone());
    let out = tempfile::tempdir().unwrap();
    let err = c.download(&file, out.path()).unwrap_err();
    match &err {
        IndexError::HashMismatch {
            file: f,
            expected,
            actual,
        } => {
            assert_eq!(f, &file.filename);
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &real);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("sha256 mismatch"));
    assert!(
        files_in(out.path()).is_empty(),
        "{:?}",
        files_in(out.path())
    );
    assert!(!cache.path().join("files").join(&wrong).exists());

    // The hash in a URL fragment is honoured too.
    let mut file = file.clone();
    file.sha256 = None;
    file.url = format!("{}#sha256={wrong}", file.url.split('#').next().unwrap());
    let err = c.download(&file, out.path()).unwrap_err();
    assert!(matches!(err, IndexError::HashMismatch { .. }), "{err}");
    assert!(files_in(out.path()).is_empty());
}

#[test]
fn unsafe_filenames_are_refused() {
    let c = client(config(""));
    let file = DistFile {
        filename: "../evil.whl".into(),
        url: "http://127.0.0.1:1/evil.whl".into(),
        sha256: None,
        requires_python: None,
        yanked: false,
        has_metadata: false,
        index: String::new(),
    };
    let out = tempfile::tempdir().unwrap();
    let err = c.download(&file, out.path()).unwrap_err();
    assert!(matches!(err, IndexError::UnsafeFilename { .. }), "{err}");
}

#[test]
fn downloads_and_pages_are_cached() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let c = client(IndexConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..config(&index.url)
    });
    let files = c.project_files("demo-pkg").unwrap();
    let wheel = files.iter().find(|f| f.filename.ends_with(".whl")).unwrap();
    let a = tempfile::tempdir().unwrap();
    c.download(wheel, a.path()).unwrap();
    let sha = wheel.sha256.as_deref().unwrap();
    assert!(cache
        .path()
        .join("files")
        .join(sha)
        .join(&wheel.filename)
        .is_file());

    let count = index.request_count();
    let b = tempfile::tempdir().unwrap();
    let path = c.download(wheel, b.path()).unwrap();
    assert_eq!(
        index.request_count(),
        count,
        "second download must come from the cache"
    );
    assert_eq!(sha256_hex(&fs_err::read(path).unwrap()), sha);
    // Downloading again into the same place is free too.
    c.download(wheel, b.path()).unwrap();
    assert_eq!(index.request_count(), count);

    // Pages: the server says max-age=0, so the second query revalidates with the ETag.
    let again = c.project_files("demo-pkg").unwrap();
    assert_eq!(again, files);
    assert_eq!(index.request_count(), count + 1);

    // Offline: everything from the cache, no requests.
    let offline = client(IndexConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        offline: true,
        ..config(&index.url)
    });
    assert_eq!(offline.project_files("demo-pkg").unwrap(), files);
    let c2 = tempfile::tempdir().unwrap();
    offline.download(wheel, c2.path()).unwrap();
    assert_eq!(index.request_count(), count + 1);
    let err = offline.project_files("other").unwrap_err();
    assert!(matches!(err, IndexError::Offline { .. }), "{err}");
    assert!(err.to_string().contains("--offline"));
    let sdist = files
        .iter()
        .find(|f| f.filename.ends_with(".tar.gz"))
        .unwrap();
    let err = offline.download(sdist, c2.path()).unwrap_err();
    assert!(matches!(err, IndexError::Offline { .. }), "{err}");
}

#[test]
fn garbage_bodies_give_clear_errors() {
    let plain = LocalIndex::serve_fixed(200, "text/plain", "hello, I am not an index").unwrap();
    let err = client(config(&plain.url)).project_files("x").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IndexError::Garbage { .. }), "{msg}");
    assert!(
        msg.contains("neither PEP 691 JSON nor PEP 503 HTML"),
        "{msg}"
    );
    assert!(msg.contains("check --index-url"), "{msg}");

    let html_as_json = LocalIndex::serve_fixed(
        200,
        "application/vnd.pypi.simple.v1+json",
        "<html><body>Sign in</body></html>",
    )
    .unwrap();
    let err = client(config(&html_as_json.url))
        .project_files("x")
        .unwrap_err();
    assert!(
        err.to_string().contains("HTML where JSON was expected"),
        "{err}"
    );

    let bad_json = LocalIndex::serve_fixed(200, "application/json", "{\"nope\": 1}").unwrap();
    let err = client(config(&bad_json.url))
        .project_files("x")
        .unwrap_err();
    assert!(err.to_string().contains("not PEP 691 JSON"), "{err}");
}

/// A URL on a port that nobody listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/simple")
}

#[test]
fn server_down_fails_after_retries() {
    let url = dead_url();
    let start = Instant::now();
    let err = client(IndexConfig {
        retries: 1,
        ..config(&url)
    })
    .project_files("x")
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IndexError::Connect { .. }), "{msg}");
    assert!(
        msg.contains("127.0.0.1") && msg.contains("check --index-url"),
        "{msg}"
    );
    assert!(
        start.elapsed().as_millis() >= 450,
        "one backoff of 0.5 s expected"
    );
}

#[test]
fn server_errors_are_retried() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    index.fail_next(2, 503);
    let c = client(IndexConfig {
        retries: 2,
        ..config(&index.url)
    });
    assert_eq!(c.project_files("demo-pkg").unwrap().len(), 3);
    assert_eq!(index.request_count(), 3);

    // Downloads retry as well.
    let file = c.project_files("demo-pkg").unwrap().remove(0);
    index.fail_next(1, 500);
    let out = tempfile::tempdir().unwrap();
    c.download(&file, out.path()).unwrap();

    // Out of retries: the status and a hint.
    index.fail_next(10, 500);
    let err = client(IndexConfig {
        retries: 1,
        ..config(&index.url)
    })
    .project_files("demo-pkg")
    .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(
        err.to_string().contains("gave up after 2 attempts"),
        "{err}"
    );
}

#[test]
fn bad_cert_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    fs_err::write(&pem, "this is not PEM").unwrap();
    let err = IndexClient::new(IndexConfig {
        cert_file: Some(pem),
        ..config("")
    })
    .unwrap_err();
    assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");
    let err = IndexClient::new(IndexConfig {
        cert_file: Some(dir.path().join("missing.pem")),
        ..config("")
    })
    .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[test]
fn system_ca_bundle_is_accepted_as_cert_file() {
    // A multi-certificate PEM bundle, when the machine has one.
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !bundle.is_file() {
        return;
    }
    IndexClient::new(IndexConfig {
        cert_file: Some(bundle.to_path_buf()),
        ..config("https://pypi.org/simple")
    })
    .unwrap();
}

#[test]
fn root_index_lists_projects() {
    let dir = populated_dir();
    let index = LocalIndex::serve_dir(dir.path()).unwrap();
    let c = client(config(&index.url));
    let html = String::from_utf8(c.get_bytes(&format!("{}/", index.url)).unwrap()).unwrap();
    assert!(
        html.contains("href=\"demo-pkg/\"") && html.contains("href=\"other/\""),
        "{html}"
    );
    let json =
        String::from_utf8(c.get_bytes(&format!("{}/?format=json", index.url)).unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["projects"].as_array().unwrap().len(), 2);
}
