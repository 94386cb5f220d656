//! Pack archives: a folder round-trips (files, modes, links), and hostile archives are
//! refused before anything lands outside the folder.

use super::*;

/// A small pack-like folder: a library, a header, an executable script and a link.
fn pack_folder(dir: &Path) {
    std::fs::create_dir_all(dir.join("lib/pkgconfig")).unwrap();
    std::fs::create_dir_all(dir.join("include")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("lib/libfake16.a"), b"!<arch>\nfake").unwrap();
    std::fs::write(dir.join("include/fake.h"), b"int fake(void);\n").unwrap();
    std::fs::write(dir.join("lib/pkgconfig/fake.pc"), b"Name: fake\n").unwrap();
    std::fs::write(dir.join("bin/fake-config"), b"#!/bin/sh\necho -lfake\n").unwrap();
    set_mode(&dir.join("bin/fake-config"), 0o755).unwrap();
    std::os::unix::fs::symlink("libfake16.a", dir.join("lib/libfake.a")).unwrap();
}

/// (name, kind, link target) of a raw tar entry.
type RawEntry<'a> = (&'a str, tar::EntryType, &'a str);

/// A `.tar.gz` at `path` with one entry per (name, kind, link target) written raw, so
/// names the `tar` crate would refuse to build (`..`, absolute) can be tested.
fn raw_archive(path: &Path, entries: &[RawEntry]) {
    let file = std::fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    for (name, kind, link) in entries {
        let mut header = tar::Header::new_old();
        let body = b"evil";
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        let size = if *kind == tar::EntryType::Regular {
            body.len()
        } else {
            0
        };
        header.set_size(size as u64);
        header.set_cksum();
        builder.append(&header, &body[..size]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[test]
fn a_folder_round_trips_with_modes_and_links_and_the_same_bytes_each_time() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("pack");
    pack_folder(&src);
    let mut first = Vec::new();
    let sha = write(&src, &mut first).unwrap();
    let mut second = Vec::new();
    assert_eq!(write(&src, &mut second).unwrap(), sha);
    assert_eq!(first, second, "the same folder gave other bytes");
    assert_eq!(sha, hex::encode(Sha256::digest(&first)));

    let file = tmp.path().join("pack.tar.gz");
    std::fs::write(&file, &first).unwrap();
    assert_eq!(refinery_store::sha256_file(&file).unwrap(), sha);
    let dest = tmp.path().join("unpacked");
    unpack(&file, &dest).unwrap();
    for name in [
        "lib/libfake16.a",
        "include/fake.h",
        "lib/pkgconfig/fake.pc",
        "bin/fake-config",
    ] {
        assert_eq!(
            std::fs::read(dest.join(name)).unwrap(),
            std::fs::read(src.join(name)).unwrap(),
            "{name}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dest.join("bin/fake-config")), 0o755);
    assert_eq!(
        std::fs::read_link(dest.join("lib/libfake.a")).unwrap(),
        Path::new("libfake16.a")
    );
}

#[test]
fn hostile_archives_are_refused_naming_the_entry() {
    use tar::EntryType::{Link, Regular, Symlink};
    let cases: &[(&[RawEntry], &str)] = &[
        (&[("../escaped", Regular, "")], "../escaped"),
        (&[("lib/../../escaped", Regular, "")], "lib/../../escaped"),
        (&[("/tmp/absolute", Regular, "")], "/tmp/absolute"),
        (&[("lib/out", Symlink, "../../outside")], "../../outside"),
        (&[("lib/abs", Symlink, "/etc/passwd")], "/etc/passwd"),
        // A link that stays inside, then a file written through it to the outside.
        (
            &[("lib", Symlink, "."), ("lib/x", Regular, "")],
            "below a link",
        ),
        (&[("lib/hard", Link, "lib/other")], "Link"),
    ];
    for (entries, named) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("hostile.tar.gz");
        raw_archive(&archive, entries);
        let dest = tmp.path().join("a/b/dest");
        let err = unpack(&archive, &dest).unwrap_err().to_string();
        assert!(err.contains(named), "{entries:?}: {err}");
        assert!(err.contains("hostile.tar.gz"), "{err}");
        assert!(!tmp.path().join("a/b/escaped").exists());
        assert!(!tmp.path().join("a/escaped").exists());
        assert!(!tmp.path().join("a/b/dest/x").exists(), "{entries:?}");
    }
}

#[test]
fn a_damaged_archive_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pack.tar.gz");
    std::fs::write(&file, b"\x1f\x8b\x08\x00 not really gzip").unwrap();
    let err = unpack(&file, &tmp.path().join("dest"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be read"), "{err}");
}
