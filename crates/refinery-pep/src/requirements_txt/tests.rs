use super::*;
use std::collections::HashMap;

fn files(list: &[(&str, &str)]) -> HashMap<PathBuf, String> {
    list.iter()
        .map(|(p, c)| (PathBuf::from(p), c.to_string()))
        .collect()
}

fn parse_files(root: &str, list: &[(&str, &str)]) -> Result<RequirementsTxt, RequirementsTxtError> {
    let fs = files(list);
    let mut loader = |p: &Path| -> io::Result<String> {
        fs.get(p).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found", p.display()),
            )
        })
    };
    RequirementsTxt::parse(Path::new(root), &mut loader)
}

fn parse(content: &str) -> Result<RequirementsTxt, RequirementsTxtError> {
    let mut loader = |p: &Path| -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", p.display()),
        ))
    };
    RequirementsTxt::parse_str(content, Path::new("requirements.txt"), &mut loader)
}

fn names(entries: &[RequirementEntry]) -> Vec<String> {
    entries.iter().map(|e| e.requirement.to_string()).collect()
}

#[test]
fn basic_requirements_and_comments() {
    let txt = parse(
        "\u{feff}# a comment\n\
             \n\
             requests>=2.31  # trailing comment\r\n\
             numpy==1.26.4\n\
             \t  # indented comment\n\
             Flask[async,dotenv] >= 2.0 ; python_version < \"3.12\"\n\
             six\n",
    )
    .unwrap();
    assert_eq!(
        names(&txt.requirements),
        [
            "requests>=2.31",
            "numpy==1.26.4",
            "flask[async,dotenv]>=2.0 ; python_full_version < '3.12'",
            "six"
        ]
    );
    let lines: Vec<usize> = txt.requirements.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 6, 7]);
    let flask = &txt.requirements[2].requirement;
    assert_eq!(flask.extras.len(), 2);
    assert!(txt.rejected.is_empty());
    assert!(txt.constraints.is_empty());
    assert_eq!(txt.requirements[0].file, PathBuf::from("requirements.txt"));
}

#[test]
fn continuation_lines_and_hashes() {
    let txt = parse(
        "cryptography==42.0.5 \\\n\
             \x20   --hash=sha256:aaaa \\\n\
             \x20   --hash sha256:BBBB\n\
             idna==3.7 --hash=sha512:0123\n\
             foo\\\n\
             ==1.0\n\
             bar==2.0 \\\n\
             # a comment ends the continuation\n\
             baz==3.0 \\\n",
    )
    .unwrap();
    assert_eq!(
        names(&txt.requirements),
        [
            "cryptography==42.0.5",
            "idna==3.7",
            "foo==1.0",
            "bar==2.0",
            "baz==3.0"
        ]
    );
    assert_eq!(txt.requirements[0].hashes, ["sha256:aaaa", "sha256:BBBB"]);
    assert_eq!(txt.requirements[0].line, 1);
    assert_eq!(txt.requirements[1].hashes, ["sha512:0123"]);
    assert_eq!(txt.requirements[1].line, 4);
    assert_eq!(txt.requirements[2].line, 5);
    assert_eq!(txt.requirements[3].line, 7);
    assert_eq!(txt.requirements[4].line, 9);
}

#[test]
fn options() {
    let txt = parse(
        "--index-url https://pypi.example/simple\n\
             -i=https://override.example/simple\n\
             --extra-index-url=https://extra.example/simple\n\
             --extra-index-url https://extra2.example/simple\n\
             -f ./wheels\n\
             --find-links=https://example.com/links\n\
             --trusted-host pypi.example --trusted-host=extra.example\n\
             --pre\n\
             --no-index\n\
             --prefer-binary\n\
             --only-binary :all:\n\
             --no-binary=lxml,pillow\n\
             --require-hashes\n\
             --use-feature=truststore\n\
             --no-deps\n\
             six\n",
    )
    .unwrap();
    assert_eq!(
        txt.index_url.as_deref(),
        Some("https://override.example/simple")
    );
    assert_eq!(
        txt.extra_index_urls,
        [
            "https://extra.example/simple",
            "https://extra2.example/simple"
        ]
    );
    assert_eq!(txt.find_links, ["./wheels", "https://example.com/links"]);
    assert_eq!(txt.trusted_hosts, ["pypi.example", "extra.example"]);
    assert!(txt.pre && txt.no_index && txt.prefer_binary && txt.require_hashes);
    assert_eq!(txt.only_binary, [":all:"]);
    assert_eq!(txt.no_binary, ["lxml", "pillow"]);
    assert_eq!(
        txt.binary_options,
        [
            (BinaryOption::OnlyBinary, ":all:".to_string()),
            (BinaryOption::NoBinary, "lxml,pillow".to_string())
        ]
    );
    assert_eq!(names(&txt.requirements), ["six"]);
}

#[test]
fn rejected_lines_are_reported() {
    let txt = parse(
            "-e ./mypkg\n\
             --editable=git+https://github.com/x/y.git#egg=y\n\
             foo @ https://example.com/foo-1.0.tar.gz\n\
             bar[extra] @ git+https://github.com/x/bar.git@v1.0#egg=bar ; python_version >= \"3.8\"\n\
             https://example.com/baz-1.0-py3-none-any.whl\n\
             git+https://github.com/x/qux.git#egg=qux\n\
             ./local/dir\n\
             ../sibling\n\
             foo-1.0-py3-none-any.whl\n\
             dist/foo-1.0.tar.gz\n\
             C:\\src\\pkg\n\
             ok==1.0\n",
        )
        .unwrap();
    assert_eq!(names(&txt.requirements), ["ok==1.0"]);
    let table: &[(usize, &str)] = &[
        (1, "editable requirement (`-e ./mypkg`)"),
        (
            2,
            "editable requirement (`-e git+https://github.com/x/y.git#egg=y`)",
        ),
        (
            3,
            "direct URL reference (`https://example.com/foo-1.0.tar.gz`)",
        ),
        (
            4,
            "direct URL reference (`git+https://github.com/x/bar.git@v1.0#egg=bar`)",
        ),
        (
            5,
            "URL requirement (`https://example.com/baz-1.0-py3-none-any.whl`)",
        ),
        (
            6,
            "URL requirement (`git+https://github.com/x/qux.git#egg=qux`)",
        ),
        (7, "local path (`./local/dir`)"),
        (8, "local path (`../sibling`)"),
        (9, "local path (`foo-1.0-py3-none-any.whl`)"),
        (10, "local path (`dist/foo-1.0.tar.gz`)"),
        (11, "local path (`C:\\src\\pkg`)"),
    ];
    assert_eq!(txt.rejected.len(), table.len());
    for (rejected, (line, needle)) in txt.rejected.iter().zip(table) {
        assert_eq!(rejected.line, *line, "{rejected:?}");
        assert!(rejected.reason.starts_with(needle), "{rejected:?}");
        assert!(rejected.reason.contains("instead") || rejected.reason.contains("input"));
        assert_eq!(rejected.file, PathBuf::from("requirements.txt"));
    }
    // `#egg=` is not a comment, the text is kept whole.
    assert_eq!(
        txt.rejected[5].text,
        "git+https://github.com/x/qux.git#egg=qux"
    );
}

#[test]
fn includes_and_constraints() {
    let txt = parse_files(
            "proj/requirements.txt",
            &[
                (
                    "proj/requirements.txt",
                    "-r base.txt\n-c constraints/pins.txt\nlocal==1\n--requirement=../shared/extra.txt\n",
                ),
                ("proj/base.txt", "base-pkg>=1\n"),
                (
                    "proj/constraints/pins.txt",
                    "pinned==2.0\n-r more-pins.txt\n",
                ),
                ("proj/constraints/more-pins.txt", "deep==3.0\n"),
                ("shared/extra.txt", "extra-pkg\n-c ./sub/c.txt\n"),
                ("shared/sub/c.txt", "cpin<5\n"),
            ],
        )
        .unwrap();
    assert_eq!(
        names(&txt.requirements),
        ["base-pkg>=1", "local==1", "extra-pkg"]
    );
    assert_eq!(
        names(&txt.constraints),
        ["pinned==2.0", "deep==3.0", "cpin<5"]
    );
    assert_eq!(txt.requirements[0].file, PathBuf::from("proj/base.txt"));
    assert_eq!(txt.requirements[2].file, PathBuf::from("shared/extra.txt"));
    assert_eq!(
        txt.constraints[1].file,
        PathBuf::from("proj/constraints/more-pins.txt")
    );
    assert_eq!(txt.constraints[2].file, PathBuf::from("shared/sub/c.txt"));
}

#[test]
fn include_errors() {
    let err = parse_files(
        "a.txt",
        &[("a.txt", "-r b.txt\n"), ("b.txt", "x\n-r ./a.txt\n")],
    )
    .unwrap_err();
    match &err {
        RequirementsTxtError::IncludeCycle {
            file,
            line,
            include,
            chain,
        } => {
            assert_eq!(file, &PathBuf::from("b.txt"));
            assert_eq!(*line, 2);
            assert_eq!(include, &PathBuf::from("a.txt"));
            assert_eq!(chain.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("a.txt -> b.txt -> a.txt"), "{err}");

    // Self include.
    let err = parse_files("a.txt", &[("a.txt", "-c a.txt\n")]).unwrap_err();
    assert!(matches!(err, RequirementsTxtError::IncludeCycle { .. }));

    // Diamond includes are not a cycle.
    let txt = parse_files(
        "a.txt",
        &[
            ("a.txt", "-r b.txt\n-r c.txt\n"),
            ("b.txt", "-r d.txt\n"),
            ("c.txt", "-r d.txt\n"),
            ("d.txt", "d\n"),
        ],
    )
    .unwrap();
    assert_eq!(names(&txt.requirements), ["d", "d"]);

    let err = parse_files("a.txt", &[("a.txt", "-r missing.txt\n")]).unwrap_err();
    match &err {
        RequirementsTxtError::Io { path, .. } => {
            assert_eq!(path, &PathBuf::from("missing.txt"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("missing.txt"));
    let err = parse_files("nope.txt", &[]).unwrap_err();
    assert!(matches!(err, RequirementsTxtError::Io { .. }));

    // Remote includes are reported, not fetched.
    let txt = parse("-r https://example.com/req.txt\nsix\n").unwrap();
    assert_eq!(txt.rejected.len(), 1);
    assert!(txt.rejected[0].reason.contains("included by URL"));
}

#[test]
fn errors() {
    let table: &[(&str, &str)] = &[
        ("--foo\n", "unsupported option `--foo`"),
        ("--foo=bar\n", "unsupported option `--foo`"),
        ("-x something\n", "unsupported option `-x`"),
        ("six --index-url https://x\n", "cannot follow a requirement"),
        ("--hash=sha256:abcd\n", "belongs to a requirement"),
        (
            "six --hash=md5:abcd\n",
            "hash algorithm `md5` is not allowed",
        ),
        ("six --hash=abcd\n", "must be `algorithm:hexdigest`"),
        ("six --hash=sha256:xyz\n", "not a hexadecimal digest"),
        ("--index-url\n", "needs a value"),
        ("--pre=yes\n", "takes no value"),
        ("six>=>1\n", "invalid requirement"),
        ("six --hash='sha256:ab\n", "unterminated single quote"),
        ("-r a.txt stray\n", "unexpected `stray`"),
    ];
    for (content, needle) in table {
        let err = parse(content).expect_err(content);
        let msg = err.to_string();
        assert!(msg.contains(needle), "{content:?}: {msg}");
        assert!(msg.contains("requirements.txt:1"), "{msg}");
    }
    match parse("ok\n\nbad line here!\n").unwrap_err() {
        RequirementsTxtError::Parse {
            line, text, file, ..
        } => {
            assert_eq!(line, 3);
            assert_eq!(text, "bad line here!");
            assert_eq!(file, PathBuf::from("requirements.txt"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn credentials_are_redacted() {
    let table = [
        (
            "https://user:secret@example.com/simple",
            "https://user:****@example.com/simple",
        ),
        ("https://token@example.com/x", "https://****@example.com/x"),
        ("https://example.com/x", "https://example.com/x"),
        (
            "foo @ git+https://ghp_abc@github.com/x/y.git@v1 ; extra == 'a'",
            "foo @ git+https://****@github.com/x/y.git@v1 ; extra == 'a'",
        ),
        (
            "a https://u:p@h b http://x@y",
            "a https://u:****@h b http://****@y",
        ),
    ];
    for (input, expected) in table {
        assert_eq!(redact_url(input), expected);
    }
    let txt = parse("foo @ https://user:hunter2@example.com/foo.tar.gz\n").unwrap();
    assert!(!txt.rejected[0].text.contains("hunter2"));
    assert!(!txt.rejected[0].reason.contains("hunter2"));
    let err = parse("--index-url https://user:hunter2@example.com/simple stray\n").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    match err {
        RequirementsTxtError::Parse { text, .. } => assert!(text.contains("hunter2")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_vars_are_not_expanded() {
    let txt = parse("--index-url https://${TOKEN}@example.com/simple\n").unwrap();
    assert_eq!(
        txt.index_url.as_deref(),
        Some("https://${TOKEN}@example.com/simple")
    );
}

#[test]
fn line_ends_are_pythons() {
    let lines: Vec<&str> = split_lines("a\r\nb\rc\nd\u{2028}e\n\nf").collect();
    assert_eq!(lines, ["a", "b", "c", "d", "e", "", "f"]);
    assert_eq!(split_lines("a\n").collect::<Vec<_>>(), ["a"]);
    assert_eq!(split_lines("").count(), 0);
    let txt = parse("six\rnumpy==1.0 \\\r\n  --hash=sha256:ab\r\n").unwrap();
    assert_eq!(names(&txt.requirements), ["six", "numpy==1.0"]);
    assert_eq!(txt.requirements[1].hashes, ["sha256:ab"]);
    assert_eq!(txt.requirements[1].line, 2);
}

#[test]
fn helpers() {
    assert_eq!(strip_comment("foo # bar"), "foo ");
    assert_eq!(strip_comment("#x"), "");
    assert_eq!(strip_comment("a#b"), "a#b");
    assert_eq!(
        normalize_path(Path::new("a/./b/../c.txt")),
        PathBuf::from("a/c.txt")
    );
    assert_eq!(
        normalize_path(Path::new("../x.txt")),
        PathBuf::from("../x.txt")
    );
    assert_eq!(normalize_path(Path::new("/a/../../x")), PathBuf::from("/x"));
    assert_eq!(
        shell_split(r#"--hash "sha256:a b" 'c d' e\ f"#).unwrap(),
        ["--hash", "sha256:a b", "c d", "e f"]
    );
    assert!(is_url("https://x"));
    assert!(is_url("git+ssh://git@github.com/x"));
    assert!(is_url("file:///tmp/x"));
    assert!(!is_url("C:\\x"));
    assert!(!is_url("foo>=1"));
}
