//! pip's requirements file format, without IO: the caller passes a loader that reads files.
//!
//! What is understood, following pip's `req_file.py`:
//! - blank lines; comments (`#` at the start of a line or after whitespace, so the `#egg=`
//!   fragment of a URL is not a comment); a trailing `\` joins the next line (a comment line
//!   ends a continuation); a UTF-8 BOM and CRLF line ends.
//! - a line is split like pip does: the words before the first word starting with `-` are the
//!   requirement, the rest are options (shell-quoted, `--opt=value` or `--opt value`,
//!   `-rfile` or `-r file`).
//! - includes `-r/--requirement` and `-c/--constraint`, relative to the directory of the
//!   including file. Everything read through a `-c` (also through an `-r` inside it) is a
//!   constraint. Include cycles are an error. Included paths are normalized lexically
//!   (`a/../b.txt` is `b.txt`); the loader receives the normalized path.
//! - `-i/--index-url` (the last one wins), `--extra-index-url`, `-f/--find-links` (kept as
//!   written, not resolved against the file's directory), `--trusted-host`, `--pre`,
//!   `--no-index`, `--only-binary`, `--no-binary` (comma-separated values are split),
//!   `--prefer-binary`, `--require-hashes` are recorded.
//! - `--use-feature` and `--no-deps` are accepted and ignored; so are the per-requirement
//!   options `--config-settings`/`-C` and `--global-option`.
//! - `--hash=algo:digest` after a requirement, several times, also on continuation lines;
//!   algorithms are sha256, sha384 and sha512 as in pip.
//! - any other option is [`RequirementsTxtError::UnsupportedOption`]; line options written
//!   after a requirement on the same line (which pip silently ignores) and `--hash` without a
//!   requirement are [`RequirementsTxtError::Parse`] errors (pip refuses the latter too:
//!   `--hash` is no option of a line of its own).
//! - `--no-binary`/`--only-binary` values are checked (names, `:all:`, `:none:`) and kept in
//!   file order in [`RequirementsTxt::binary_options`].
//! - things the Refinery cannot resolve from an index are reported in
//!   [`RequirementsTxt::rejected`] with a reason: editable requirements (`-e`), direct
//!   references (`name @ URL`), bare URLs, local paths and archives (`./dir`, `foo.whl`,
//!   `foo-1.0.tar.gz`), and includes by URL (`-r https://...`).
//! - environment variables (`${VAR}`) are **not** expanded in option values.

use std::io;
use std::path::{Component, Path, PathBuf};

use pep508_rs::{Requirement, VersionOrUrl};
use thiserror::Error;

use crate::format_control::{BinaryOption, FormatControl};
use crate::redact::redact_url;

/// The content of a requirements file and everything it includes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequirementsTxt {
    pub requirements: Vec<RequirementEntry>,
    pub constraints: Vec<RequirementEntry>,
    /// URL / editable / local path requirements: reported, not dropped.
    pub rejected: Vec<RejectedLine>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    pub trusted_hosts: Vec<String>,
    pub no_index: bool,
    pub pre: bool,
    /// `--only-binary` values (package names, `:all:` or `:none:`), split at commas.
    pub only_binary: Vec<String>,
    /// `--no-binary` values (package names, `:all:` or `:none:`), split at commas.
    pub no_binary: Vec<String>,
    /// `--no-binary` and `--only-binary` as written, in file order (their meaning depends
    /// on the order: see [`crate::format_control::FormatControl::apply`]).
    pub binary_options: Vec<(BinaryOption, String)>,
    pub prefer_binary: bool,
    pub require_hashes: bool,
}

/// One requirement with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementEntry {
    pub requirement: Requirement,
    /// `sha256:...` as written after `--hash=`.
    pub hashes: Vec<String>,
    pub file: PathBuf,
    /// 1-based; for a line continued with `\`, the first line.
    pub line: usize,
}

/// A line the Refinery cannot use, with what it is and what to do instead.
///
/// `text` and `reason` have URL credentials redacted (`https://user:****@host/`,
/// `https://****@host/`), since they end up in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    pub file: PathBuf,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Error)]
pub enum RequirementsTxtError {
    #[error("could not read requirements file `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `text` is the line as written; the message shows it with URL credentials redacted.
    #[error("{}:{line}: {}: `{}`", file.display(), redact_url(message), redact_url(text))]
    Parse {
        file: PathBuf,
        line: usize,
        text: String,
        message: String,
    },
    #[error(
        "{}:{line}: including `{}` creates a cycle ({}); remove one of the `-r`/`-c` lines",
        file.display(),
        include.display(),
        chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> ")
    )]
    IncludeCycle {
        file: PathBuf,
        line: usize,
        include: PathBuf,
        /// The files being read, outermost first, ending with `include` again.
        chain: Vec<PathBuf>,
    },
    #[error(
        "{}:{line}: unsupported option `{option}` in a requirements file; remove it \
         (understood: -r, -c, -i/--index-url, --extra-index-url, -f/--find-links, \
         --trusted-host, --pre, --no-index, --hash, --only-binary, --no-binary, \
         --prefer-binary, --require-hashes, --use-feature, --no-deps)",
        file.display()
    )]
    UnsupportedOption {
        file: PathBuf,
        line: usize,
        option: String,
    },
}

type Loader<'a> = &'a mut dyn FnMut(&Path) -> io::Result<String>;

impl RequirementsTxt {
    /// Read `path` through `loader` and parse it with everything it includes.
    ///
    /// # Errors
    ///
    /// [`RequirementsTxtError::Io`] naming a file `loader` cannot read, and the errors of
    /// [`RequirementsTxt::parse_str`].
    pub fn parse(
        path: &Path,
        loader: &mut dyn FnMut(&Path) -> io::Result<String>,
    ) -> Result<RequirementsTxt, RequirementsTxtError> {
        let path = normalize_path(path);
        let content = loader(&path).map_err(|source| RequirementsTxtError::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse_str(&content, &path, loader)
    }

    /// Parse `content` as if read from `path`; includes are read through `loader`.
    ///
    /// # Errors
    ///
    /// [`RequirementsTxtError::Parse`] for a line that is no requirement or option (with
    /// its file and line), [`RequirementsTxtError::UnsupportedOption`] for an option pip
    /// has that this reader does not, [`RequirementsTxtError::IncludeCycle`] for `-r`/`-c`
    /// lines that include each other, [`RequirementsTxtError::Io`] for an include that
    /// cannot be read.
    pub fn parse_str(
        content: &str,
        path: &Path,
        loader: &mut dyn FnMut(&Path) -> io::Result<String>,
    ) -> Result<RequirementsTxt, RequirementsTxtError> {
        let mut parser = Parser {
            loader,
            out: RequirementsTxt::default(),
            stack: Vec::new(),
        };
        parser.parse_content(content, &normalize_path(path), false)?;
        Ok(parser.out)
    }
}

/// Lexical normalization: drop `.` components, resolve `..` against a previous normal
/// component. No file system access.
fn normalize_path(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Logical lines: continuations joined, comments removed, blank lines skipped.
/// Yields (first physical line number, text).
fn logical_lines(content: &str) -> Vec<(usize, String)> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in split_lines(content).enumerate() {
        let number = i + 1;
        let is_comment = line.trim_start().starts_with('#');
        if !line.ends_with('\\') || is_comment {
            let line = if is_comment {
                format!(" {line}")
            } else {
                line.to_string()
            };
            match pending.take() {
                Some((first, mut text)) => {
                    text.push_str(&line);
                    joined.push((first, text));
                }
                None => joined.push((number, line)),
            }
        } else {
            let part = line.trim_matches('\\');
            match &mut pending {
                Some((_, text)) => text.push_str(part),
                None => pending = Some((number, part.to_string())),
            }
        }
    }
    if let Some(last) = pending {
        joined.push(last);
    }
    joined
        .into_iter()
        .filter_map(|(n, line)| {
            let text = strip_comment(&line).trim().to_string();
            (!text.is_empty()).then_some((n, text))
        })
        .collect()
}

/// Lines as Python's `str.splitlines` (which pip uses) cuts them: at `\r\n`, `\n`, `\r`
/// and the other Unicode line boundaries, without the line ends.
fn split_lines(content: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(content);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find([
            '\n', '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}',
        ]) {
            Some(at) => {
                let end = if text[at..].starts_with("\r\n") {
                    at + 2
                } else {
                    at + text[at..].chars().next().map_or(1, char::len_utf8)
                };
                rest = (end < text.len()).then(|| &text[end..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                (!text.is_empty()).then_some(text)
            }
        }
    })
}

/// Remove `(^|\s+)#.*$`, like pip's `COMMENT_RE`.
fn strip_comment(line: &str) -> &str {
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_ws {
            return &line[..i];
        }
        prev_ws = c.is_whitespace();
    }
    line
}

/// pip's `break_args_options`: words (split at single spaces) before the first word that
/// starts with `-` are the requirement.
fn break_args_options(line: &str) -> (String, String) {
    let tokens: Vec<&str> = line.split(' ').collect();
    let split = tokens
        .iter()
        .position(|t| t.starts_with('-'))
        .unwrap_or(tokens.len());
    (
        tokens[..split].join(" ").trim().to_string(),
        tokens[split..].join(" "),
    )
}

/// POSIX shell-like word splitting (`shlex.split`): whitespace separates words, single and
/// double quotes group, backslash escapes outside single quotes.
fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptKind {
    Requirement,
    Constraint,
    Editable,
    IndexUrl,
    ExtraIndexUrl,
    FindLinks,
    TrustedHost,
    NoIndex,
    Pre,
    OnlyBinary,
    NoBinary,
    PreferBinary,
    RequireHashes,
    UseFeature,
    NoDeps,
    // Per-requirement options.
    Hash,
    ConfigSettings,
    GlobalOption,
}

impl OptKind {
    fn per_requirement(self) -> bool {
        matches!(
            self,
            OptKind::Hash | OptKind::ConfigSettings | OptKind::GlobalOption
        )
    }
}

/// (long names, short name, takes a value, kind)
const OPTIONS: &[(&[&str], Option<char>, bool, OptKind)] = &[
    (&["--requirement"], Some('r'), true, OptKind::Requirement),
    (&["--constraint"], Some('c'), true, OptKind::Constraint),
    (&["--editable"], Some('e'), true, OptKind::Editable),
    (&["--index-url"], Some('i'), true, OptKind::IndexUrl),
    (&["--extra-index-url"], None, true, OptKind::ExtraIndexUrl),
    (&["--find-links"], Some('f'), true, OptKind::FindLinks),
    (&["--trusted-host"], None, true, OptKind::TrustedHost),
    (&["--no-index"], None, false, OptKind::NoIndex),
    (&["--pre"], None, false, OptKind::Pre),
    (&["--only-binary"], None, true, OptKind::OnlyBinary),
    (&["--no-binary"], None, true, OptKind::NoBinary),
    (&["--prefer-binary"], None, false, OptKind::PreferBinary),
    (&["--require-hashes"], None, false, OptKind::RequireHashes),
    (&["--use-feature"], None, true, OptKind::UseFeature),
    (&["--no-deps"], None, false, OptKind::NoDeps),
    (&["--hash"], None, true, OptKind::Hash),
    (
        &["--config-settings"],
        Some('C'),
        true,
        OptKind::ConfigSettings,
    ),
    (&["--global-option"], None, true, OptKind::GlobalOption),
];

const HASH_ALGORITHMS: [&str; 3] = ["sha256", "sha384", "sha512"];

const ARCHIVE_SUFFIXES: [&str; 9] = [
    ".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar",
];

struct Parser<'a> {
    loader: Loader<'a>,
    out: RequirementsTxt,
    /// Files being parsed, outermost first (for cycle detection).
    stack: Vec<PathBuf>,
}

struct LineCtx<'p> {
    file: &'p Path,
    line: usize,
    text: &'p str,
}

impl LineCtx<'_> {
    fn parse_error(&self, message: impl Into<String>) -> RequirementsTxtError {
        RequirementsTxtError::Parse {
            file: self.file.to_path_buf(),
            line: self.line,
            text: self.text.to_string(),
            message: message.into(),
        }
    }

    fn reject(&self, reason: impl Into<String>) -> RejectedLine {
        RejectedLine {
            file: self.file.to_path_buf(),
            line: self.line,
            text: redact_url(self.text),
            reason: redact_url(&reason.into()),
        }
    }
}

impl Parser<'_> {
    fn parse_content(
        &mut self,
        content: &str,
        path: &Path,
        constraint: bool,
    ) -> Result<(), RequirementsTxtError> {
        self.stack.push(path.to_path_buf());
        for (line, text) in logical_lines(content) {
            let ctx = LineCtx {
                file: path,
                line,
                text: &text,
            };
            self.parse_line(&ctx, constraint)?;
        }
        self.stack.pop();
        Ok(())
    }

    fn parse_options(
        &self,
        ctx: &LineCtx,
        options: &str,
    ) -> Result<Vec<(OptKind, String, Option<String>)>, RequirementsTxtError> {
        let words = shell_split(options).map_err(|e| ctx.parse_error(e))?;
        let mut out = Vec::new();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let (spec, name, inline) = if let Some(long) = word.strip_prefix("--") {
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                    None => (word.clone(), None),
                };
                let spec = OPTIONS
                    .iter()
                    .find(|(longs, ..)| longs.contains(&name.as_str()));
                (spec, name, value)
            } else if word.starts_with('-') && word.len() >= 2 {
                let short = word[1..].chars().next();
                let name = format!("-{}", short.unwrap_or_default());
                let spec = OPTIONS.iter().find(|(_, s, ..)| *s == short && s.is_some());
                let rest = &word[name.len()..];
                let rest = rest.strip_prefix('=').unwrap_or(rest);
                let inline = (!rest.is_empty()).then(|| rest.to_string());
                (spec, name, inline)
            } else {
                return Err(ctx.parse_error(format!(
                    "unexpected `{word}` among the options; a requirement must come before \
                     its options"
                )));
            };
            let Some(&(_, _, takes_value, kind)) = spec else {
                return Err(RequirementsTxtError::UnsupportedOption {
                    file: ctx.file.to_path_buf(),
                    line: ctx.line,
                    option: name,
                });
            };
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => Some(words.next().ok_or_else(|| {
                        ctx.parse_error(format!("option `{name}` needs a value"))
                    })?),
                }
            } else {
                if inline.is_some() {
                    return Err(ctx.parse_error(format!("option `{name}` takes no value")));
                }
                None
            };
            out.push((kind, name, value));
        }
        Ok(out)
    }

    fn parse_line(&mut self, ctx: &LineCtx, constraint: bool) -> Result<(), RequirementsTxtError> {
        let (args, options) = break_args_options(ctx.text);
        let options = self.parse_options(ctx, &options)?;

        if !args.is_empty() {
            let mut hashes = Vec::new();
            for (kind, name, value) in options {
                if !kind.per_requirement() {
                    return Err(ctx.parse_error(format!(
                        "option `{name}` cannot follow a requirement on the same line; put it \
                         on a line of its own"
                    )));
                }
                if kind == OptKind::Hash {
                    hashes.push(parse_hash(ctx, value.unwrap_or_default())?);
                }
            }
            return self.requirement(ctx, &args, hashes, constraint);
        }

        for (kind, name, value) in options {
            let value = value.unwrap_or_default();
            match kind {
                OptKind::Requirement => self.include(ctx, &value, constraint)?,
                OptKind::Constraint => self.include(ctx, &value, true)?,
                OptKind::Editable => self.out.rejected.push(ctx.reject(format!(
                    "editable requirement (`-e {value}`): editable installs are for local \
                     development and cannot be rebuilt from an index; build a wheel from it \
                     and pass that as input, or pin the released package (`name==version`)"
                ))),
                OptKind::IndexUrl => self.out.index_url = Some(value),
                OptKind::ExtraIndexUrl => self.out.extra_index_urls.push(value),
                OptKind::FindLinks => self.out.find_links.push(value),
                OptKind::TrustedHost => self.out.trusted_hosts.push(value),
                OptKind::NoIndex => self.out.no_index = true,
                OptKind::Pre => self.out.pre = true,
                OptKind::OnlyBinary | OptKind::NoBinary => {
                    let option = if kind == OptKind::OnlyBinary {
                        BinaryOption::OnlyBinary
                    } else {
                        BinaryOption::NoBinary
                    };
                    // Checked here so that a bad value names its line.
                    FormatControl::default()
                        .apply(option, &value)
                        .map_err(|e| ctx.parse_error(e.to_string()))?;
                    let list = if option == BinaryOption::OnlyBinary {
                        &mut self.out.only_binary
                    } else {
                        &mut self.out.no_binary
                    };
                    list.extend(split_commas(&value));
                    self.out.binary_options.push((option, value));
                }
                OptKind::PreferBinary => self.out.prefer_binary = true,
                OptKind::RequireHashes => self.out.require_hashes = true,
                OptKind::UseFeature | OptKind::NoDeps => {}
                OptKind::Hash | OptKind::ConfigSettings | OptKind::GlobalOption => {
                    return Err(ctx.parse_error(format!(
                        "option `{name}` belongs to a requirement; write it on the same line \
                         after the requirement (use `\\` to continue the line)"
                    )))
                }
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        ctx: &LineCtx,
        target: &str,
        constraint: bool,
    ) -> Result<(), RequirementsTxtError> {
        if is_url(target) {
            self.out.rejected.push(ctx.reject(format!(
                "{} file included by URL (`{target}`): download it and include the local copy",
                if constraint {
                    "constraints"
                } else {
                    "requirements"
                }
            )));
            return Ok(());
        }
        let base = ctx.file.parent().unwrap_or(Path::new(""));
        let include = normalize_path(&base.join(target));
        if self.stack.contains(&include) {
            let mut chain = self.stack.clone();
            chain.push(include.clone());
            return Err(RequirementsTxtError::IncludeCycle {
                file: ctx.file.to_path_buf(),
                line: ctx.line,
                include,
                chain,
            });
        }
        let content = (self.loader)(&include).map_err(|source| RequirementsTxtError::Io {
            path: include.clone(),
            source,
        })?;
        self.parse_content(&content, &include, constraint)
    }

    fn requirement(
        &mut self,
        ctx: &LineCtx,
        args: &str,
        hashes: Vec<String>,
        constraint: bool,
    ) -> Result<(), RequirementsTxtError> {
        if let Some(reason) = classify_unsupported(args) {
            self.out.rejected.push(ctx.reject(reason));
            return Ok(());
        }
        let requirement = crate::bounded::parse_requirement(args)
            .map_err(|e| ctx.parse_error(format!("invalid requirement: {e}")))?;
        if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
            self.out
                .rejected
                .push(ctx.reject(direct_reference_reason(&url.to_string())));
            return Ok(());
        }
        let entry = RequirementEntry {
            requirement,
            hashes,
            file: ctx.file.to_path_buf(),
            line: ctx.line,
        };
        if constraint {
            self.out.constraints.push(entry);
        } else {
            self.out.requirements.push(entry);
        }
        Ok(())
    }
}

fn split_commas(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_hash(ctx: &LineCtx, value: String) -> Result<String, RequirementsTxtError> {
    let Some((algo, digest)) = value.split_once(':') else {
        return Err(ctx.parse_error(format!(
            "`--hash={value}` must be `algorithm:hexdigest`, e.g. `sha256:…`"
        )));
    };
    if !HASH_ALGORITHMS.contains(&algo) {
        return Err(ctx.parse_error(format!(
            "hash algorithm `{algo}` is not allowed; use sha256, sha384 or sha512"
        )));
    }
    if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ctx.parse_error(format!("`{digest}` is not a hexadecimal digest")));
    }
    Ok(value)
}

fn is_url(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    // A one-letter "scheme" is a Windows drive (`C:\...`).
    scheme_ok && scheme.len() > 1 && (s[scheme.len()..].starts_with("://") || scheme == "file")
}

fn direct_reference_reason(url: &str) -> String {
    format!(
        "direct URL reference (`{url}`): the Refinery resolves packages from an index; pin a \
         released version (`name==X.Y`) instead, or download the file and pass it as an input"
    )
}

/// If `args` is a requirement form the Refinery does not take from a requirements file,
/// the reason.
fn classify_unsupported(args: &str) -> Option<String> {
    // The part before a marker, for URL/path detection.
    let spec = args.split(';').next().unwrap_or(args).trim();
    // `name @ url` / `name[extra] @ url`
    if let Some((before, after)) = spec.split_once('@') {
        let before = before.trim();
        let name = before.split('[').next().unwrap_or(before).trim();
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && (before.len() == name.len() || before.ends_with(']'))
        {
            return Some(direct_reference_reason(after.trim()));
        }
    }
    let first = spec.split_whitespace().next().unwrap_or(spec);
    if is_url(first) {
        return Some(format!(
            "URL requirement (`{first}`): the Refinery resolves packages from an index; pin a \
             released version (`name==X.Y`) instead, or download the file and pass it as an \
             input"
        ));
    }
    let lower = first.to_ascii_lowercase();
    if first.starts_with('.')
        || first.starts_with('/')
        || first.starts_with('~')
        || first.contains('/')
        || first.contains('\\')
        || ARCHIVE_SUFFIXES.iter().any(|s| lower.ends_with(s))
    {
        return Some(format!(
            "local path (`{first}`): the Refinery does not build local projects or files named \
             in a requirements file; pass wheels and sdists as inputs directly, or pin the \
             released package (`name==X.Y`)"
        ));
    }
    None
}

#[cfg(test)]
mod tests;
