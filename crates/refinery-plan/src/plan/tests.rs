use super::graph::bounded_closure;
use super::*;
use refinery_index::DistFile;

use crate::hashes::ExpectedHashes;

use super::inputs::named_requirement;
use super::resolver::{failure_shape, mentions};
use super::sdists::SourceError;

#[test]
fn a_download_with_other_bytes_than_announced_is_a_hash_failure_in_hash_mode() {
    let mut node = missing_node(
        &"tinypkg".parse().unwrap(),
        Some("1.0".parse().unwrap()),
        String::new(),
        true,
    );
    node.action = Action::Reuse;
    node.source = Some(Source {
        kind: SourceKind::IndexWheel,
        filename: "tinypkg-1.0-py3-none-any.whl".into(),
        url: Some("http://127.0.0.1:9/files/tinypkg-1.0-py3-none-any.whl".into()),
        path: None,
        sha256: None,
        checked_hash: None,
    });
    let mut expected = ExpectedHashes::default();
    expected.add_entries(&[refinery_pep::RequirementEntry {
        requirement: refinery_pep::parse_requirement("tinypkg==1.0").unwrap(),
        hashes: vec![format!("sha256:{}", "1c".repeat(32))],
        file: "requirements.txt".into(),
        line: 1,
    }]);
    let mut nodes = vec![node];
    let err = check_hashes(&mut nodes, &[], &expected, |_| {
        Err(SourceError::Download {
            filename: "tinypkg-1.0-py3-none-any.whl".into(),
            source: refinery_index::IndexError::HashMismatch {
                file: "tinypkg-1.0-py3-none-any.whl".into(),
                expected: "1c…".into(),
                actual: "00…".into(),
            },
        })
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("not the file the index announced (cannot download tinypkg-1.0-py3-none-any.whl: sha256 mismatch for tinypkg-1.0-py3-none-any.whl: expected 1c…, got 00…"),
        "{message}"
    );
    // A file that cannot be fetched at all stays a missing package.
    let mut nodes = vec![{
        let mut n = missing_node(
            &"tinypkg".parse().unwrap(),
            Some("1.0".parse().unwrap()),
            String::new(),
            true,
        );
        n.action = Action::Reuse;
        n.source = nodes[0].source.clone();
        n
    }];
    check_hashes(&mut nodes, &[], &expected, |_| {
        Err(SourceError::Download {
            filename: "tinypkg-1.0-py3-none-any.whl".into(),
            source: refinery_index::IndexError::Connect {
                url: "http://127.0.0.1:9/files/tinypkg-1.0-py3-none-any.whl".into(),
                message: "connection refused".into(),
            },
        })
    })
    .unwrap();
    assert_eq!(nodes[0].action, Action::Missing);
    assert!(
        nodes[0]
            .reason
            .starts_with("cannot fetch the file to check its hash: cannot download tinypkg-1.0-py3-none-any.whl: cannot connect to http://127.0.0.1:9/"),
        "{}",
        nodes[0].reason
    );
}

#[test]
fn newer_target_wheels_are_the_next_versions_with_a_wheel_for_the_target_oldest_first() {
    let file = |name: &str, yanked: bool, requires_python: Option<&str>| DistFile {
        filename: name.into(),
        url: format!("https://files.example/{name}"),
        sha256: None,
        requires_python: requires_python.map(Into::into),
        yanked,
        has_metadata: false,
        index: String::new(),
    };
    let files = vec![
        file(
            "orjson-3.10.9-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            None,
        ),
        file(
            "orjson-3.10.10-cp311-cp311-manylinux_2_17_x86_64.whl",
            false,
            None,
        ),
        file("orjson-3.10.10.tar.gz", false, None),
        file(
            "orjson-3.10.11-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            true,
            None,
        ),
        file(
            "orjson-3.10.12-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            None,
        ),
        file(
            "orjson-3.10.12-cp311-abi3-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            None,
        ),
        file(
            "orjson-3.10.13-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            Some(">=3.12"),
        ),
        file(
            "orjson-3.10.14rc1-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            None,
        ),
        file(
            "orjson-3.10.15-cp311-cp311-manylinux_2_28_s390x.whl",
            false,
            None,
        ),
        file(
            "orjson-3.10.16-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            false,
            None,
        ),
    ];
    let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
    let after: Version = "3.10.9".parse().unwrap();
    let got: Vec<(String, String)> = newer_target_wheels("orjson", &files, &target, &after, 5)
        .into_iter()
        .map(|(v, f)| (v.to_string(), f.filename))
        .collect();
    assert_eq!(
        got,
        [
            (
                "3.10.12".to_string(),
                "orjson-3.10.12-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                    .to_string()
            ),
            (
                "3.10.16".to_string(),
                "orjson-3.10.16-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                    .to_string()
            ),
        ]
    );
    assert_eq!(
        newer_target_wheels("orjson", &files, &target, &after, 1).len(),
        1
    );
}

fn pin(name: &str, via: &[&str]) -> ResolvedPin {
    ResolvedPin {
        name: PackageName::new(name.into()).unwrap(),
        version: "1.0".parse().unwrap(),
        via: via.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn bounded_closure_keeps_direct_first_then_breadth_first() {
    let pins = vec![
        pin("a", &["-r"]),
        pin("b", &["a"]),
        pin("c", &["b"]),
        pin("d", &["-r"]),
    ];
    assert_eq!(bounded_closure(&pins, 10).len(), 4);
    let two = bounded_closure(&pins, 2);
    assert!(two.contains("a") && two.contains("d"), "{two:?}");
    let three = bounded_closure(&pins, 3);
    assert!(three.contains("b") && !three.contains("c"));
}

#[test]
fn resolver_messages_name_packages_as_whole_words() {
    let message = "Because all versions of right depend on shared>=2 and you require left-pad==1.0, ... http://127.0.0.1:1/simple/Foo_Bar/";
    for name in ["right", "shared", "left-pad", "foo-bar"] {
        assert!(mentions(message, name), "{name}");
    }
    for name in ["left", "pad", "shared2", "ight"] {
        assert!(!mentions(message, name), "{name}");
    }
}

#[test]
fn failures_of_the_same_kind_have_the_same_shape() {
    let a = failure_shape(
        "Request failed after 3 retries in 4.8s: Failed to fetch: http://h:81/simple/aaa/",
        "aaa",
    );
    let b = failure_shape(
        "Request failed after 3 retries in 5.1s: Failed to fetch: http://h:81/simple/bbb/",
        "bbb",
    );
    assert_eq!(a, b);
    let c = failure_shape(
        "Hash mismatch for `aaa==1.0` Computed: sha256:9cab36ee",
        "aaa",
    );
    let d = failure_shape(
        "Hash mismatch for `bbb==1.0` Computed: sha256:c570ee65",
        "bbb",
    );
    assert_ne!(c, d);
}

#[test]
fn override_pins_are_versions_or_specifiers() {
    assert_eq!(override_pin("a", "1.2").unwrap(), "a==1.2");
    assert_eq!(override_pin("a", " <2 ").unwrap(), "a<2");
    assert!(override_pin("a", "latest").unwrap_err().contains("latest"));
}

#[test]
fn missing_nodes_without_a_version_are_named_by_the_package() {
    assert_eq!(
        missing_node(&"a".parse().unwrap(), None, String::new(), true).id,
        "a"
    );
    assert_eq!(
        missing_node(
            &"a".parse().unwrap(),
            Some("1".parse().unwrap()),
            String::new(),
            true
        )
        .id,
        "a==1"
    );
}

#[test]
fn named_requirement_reads_url_requirements() {
    assert_eq!(
        named_requirement("Foo[x] @ https://e/x.whl").as_deref(),
        Some("foo")
    );
    assert_eq!(named_requirement("-e ./src"), None);
}
