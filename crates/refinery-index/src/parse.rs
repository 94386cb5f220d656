//! Parsing PEP 691 JSON and PEP 503 HTML project pages.
//!
//! The HTML side is a small, careful hand parser: it only needs `<a ...>` (and
//! `<base href>`) tags with quoted, single-quoted or unquoted attributes, HTML
//! entities in attribute values, comments and `<script>`/`<style>` blocks.

use std::collections::HashMap;

use serde::Deserialize;
use url::Url;

/// One file as announced by a page, before credentials are stripped from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFile {
    pub filename: String,
    pub url: Url,
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    pub has_metadata: bool,
}

/// What kind of body a response declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Json,
    Html,
    Other,
}

fn declared(content_type: &str) -> Declared {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.ends_with("+json") || mime == "application/json" || mime == "text/json" {
        Declared::Json
    } else if mime.ends_with("+html") || mime == "text/html" || mime == "application/xhtml+xml" {
        Declared::Html
    } else {
        Declared::Other
    }
}

/// What came back instead of a project page (PEP 503 HTML or PEP 691 JSON); its text
/// goes into `IndexError::Garbage`. `content_type` is `Content-Type: …` or
/// `no Content-Type`; `preview` the start of the body, quoted and redacted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    #[error("HTML where JSON was expected ({content_type})")]
    HtmlForJson { content_type: String },
    #[error("garbage that is not PEP 691 JSON ({content_type}: {reason}; body starts {preview})")]
    NotJson {
        content_type: String,
        reason: String,
        preview: String,
    },
    #[error(
        "garbage that is neither PEP 691 JSON nor PEP 503 HTML ({content_type}, body starts {preview})"
    )]
    Neither {
        content_type: String,
        preview: String,
    },
}

/// Parses a project page (or a flat `--find-links` page) into files.
///
/// # Errors
/// [`PageError`] saying what came back instead.
pub(crate) fn parse_page(
    page_url: &Url,
    content_type: &str,
    body: &str,
) -> Result<Vec<RawFile>, PageError> {
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    let shown_ct = if content_type.is_empty() {
        "no Content-Type".to_owned()
    } else {
        format!("Content-Type: {content_type}")
    };
    match declared(content_type) {
        Declared::Json => {
            if trimmed.starts_with('<') {
                return Err(PageError::HtmlForJson {
                    content_type: shown_ct,
                });
            }
            parse_json(page_url, trimmed).map_err(|reason| PageError::NotJson {
                content_type: shown_ct,
                reason,
                preview: preview(trimmed),
            })
        }
        Declared::Html => {
            if trimmed.starts_with('{') {
                // Some servers mislabel JSON; accept it only if it really is PEP 691.
                if let Ok(files) = parse_json(page_url, trimmed) {
                    return Ok(files);
                }
            }
            parse_html(page_url, trimmed).ok_or_else(|| PageError::Neither {
                content_type: shown_ct,
                preview: preview(trimmed),
            })
        }
        Declared::Other => {
            if trimmed.starts_with('{') {
                if let Ok(files) = parse_json(page_url, trimmed) {
                    return Ok(files);
                }
            } else if let Some(files) = parse_html(page_url, trimmed) {
                return Ok(files);
            }
            Err(PageError::Neither {
                content_type: shown_ct,
                preview: preview(trimmed),
            })
        }
    }
}

fn preview(body: &str) -> String {
    let mut p: String = body.chars().take(60).collect();
    if body.chars().nth(60).is_some() {
        p.push('…');
    }
    format!("{:?}", crate::redact_url(&p))
}

// ---------------------------------------------------------------------------
// PEP 691 JSON

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    meta: Option<JsonMeta>,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<serde_json::Value>,
    #[serde(rename = "data-dist-info-metadata", default)]
    data_dist_info_metadata: Option<serde_json::Value>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
}

fn truthy_metadata(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Object(_)) => true,
        _ => false,
    }
}

fn parse_json(page_url: &Url, body: &str) -> Result<Vec<RawFile>, String> {
    let page: JsonPage = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if let Some(version) = page.meta.as_ref().and_then(|m| m.api_version.as_deref()) {
        let major = version.split('.').next().unwrap_or("");
        if major != "1" {
            return Err(format!("unsupported PEP 691 api-version {version:?}"));
        }
    }
    let mut out = Vec::with_capacity(page.files.len());
    for f in page.files {
        let Ok(url) = page_url.join(&f.url) else {
            tracing::warn!(url = %crate::redact_url(&f.url), "skipping file with an invalid URL");
            continue;
        };
        let sha256 = f
            .hashes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("sha256"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .or_else(|| fragment_sha256(&url));
        let yanked = match &f.yanked {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(_)) => true,
            _ => false,
        };
        out.push(RawFile {
            filename: f.filename,
            url,
            sha256,
            requires_python: f.requires_python.filter(|s| !s.trim().is_empty()),
            yanked,
            has_metadata: truthy_metadata(&f.core_metadata)
                || truthy_metadata(&f.dist_info_metadata)
                || truthy_metadata(&f.data_dist_info_metadata),
        });
    }
    Ok(out)
}

/// The `sha256=<hex>` hash in a URL fragment, if present.
pub(crate) fn fragment_sha256(url: &Url) -> Option<String> {
    let frag = url.fragment()?;
    frag.split('&').find_map(|part| {
        let (algo, value) = part.split_once('=')?;
        (algo.eq_ignore_ascii_case("sha256") && !value.is_empty())
            .then(|| value.to_ascii_lowercase())
    })
}

// ---------------------------------------------------------------------------
// PEP 503 HTML

/// One `<a>` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Anchor {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub(crate) struct HtmlDoc {
    pub base: Option<String>,
    pub anchors: Vec<Anchor>,
}

/// Tokenises `body`; `None` when it contains no markup at all.
pub(crate) fn scan_html(body: &str) -> Option<HtmlDoc> {
    let bytes = body.as_bytes();
    let len = bytes.len();
    let mut doc = HtmlDoc::default();
    let mut saw_tag = false;
    let mut open: Option<(Vec<(String, String)>, usize)> = None;
    let mut i = 0;
    while let Some(off) = body[i..].find('<') {
        let lt = i + off;
        let rest = &body[lt..];
        if rest.starts_with("<!--") {
            saw_tag = true;
            i = rest.find("-->").map(|p| lt + p + 3).unwrap_or(len);
            continue;
        }
        let is_end = bytes.get(lt + 1) == Some(&b'/');
        let name_start = if is_end { lt + 2 } else { lt + 1 };
        let name_len = bytes[name_start.min(len)..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'!' || **b == b'-')
            .count();
        if name_len == 0 || (!bytes[name_start].is_ascii_alphabetic() && bytes[name_start] != b'!')
        {
            i = lt + 1;
            continue;
        }
        saw_tag = true;
        let name = body[name_start..name_start + name_len].to_ascii_lowercase();
        let (attrs, tag_end) = parse_attrs(body, name_start + name_len);
        if is_end {
            if name == "a" {
                if let Some((attrs, text_start)) = open.take() {
                    doc.anchors.push(Anchor {
                        attrs,
                        text: unescape(body[text_start..lt].trim()),
                    });
                }
            }
            i = tag_end;
            continue;
        }
        match name.as_str() {
            "a" => {
                if let Some((attrs, text_start)) = open.take() {
                    doc.anchors.push(Anchor {
                        attrs,
                        text: unescape(body[text_start..lt].trim()),
                    });
                }
                open = Some((attrs, tag_end));
                i = tag_end;
            }
            "base" => {
                if doc.base.is_none() {
                    doc.base = attrs.into_iter().find(|(n, _)| n == "href").map(|(_, v)| v);
                }
                i = tag_end;
            }
            "script" | "style" => {
                let close = format!("</{name}");
                i = find_ci(body, tag_end, &close).unwrap_or(len);
            }
            _ => i = tag_end,
        }
        if i >= len {
            break;
        }
    }
    if let Some((attrs, text_start)) = open.take() {
        doc.anchors.push(Anchor {
            attrs,
            text: unescape(body[text_start.min(len)..].trim()),
        });
    }
    saw_tag.then_some(doc)
}

/// Case-insensitive ASCII search for `needle` in `hay[from..]`.
fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (from..h.len().saturating_sub(n.len()) + 1)
        .find(|&p| p + n.len() <= h.len() && h[p..p + n.len()].eq_ignore_ascii_case(n))
}

/// Parses attributes starting at `start` (just after the tag name); returns
/// them and the index just after the closing `>`.
fn parse_attrs(body: &str, start: usize) -> (Vec<(String, String)>, usize) {
    let b = body.as_bytes();
    let len = b.len();
    let mut attrs = Vec::new();
    let mut j = start;
    loop {
        while j < len && (b[j].is_ascii_whitespace() || b[j] == b'/') {
            j += 1;
        }
        if j >= len {
            return (attrs, len);
        }
        if b[j] == b'>' {
            return (attrs, j + 1);
        }
        let ns = j;
        while j < len && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/') {
            j += 1;
        }
        if j == ns {
            // A stray '='.
            j += 1;
            continue;
        }
        let name = body[ns..j].to_ascii_lowercase();
        while j < len && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut value = String::new();
        if j < len && b[j] == b'=' {
            j += 1;
            while j < len && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < len && (b[j] == b'"' || b[j] == b'\'') {
                let quote = b[j];
                let vs = j + 1;
                let ve = b[vs..]
                    .iter()
                    .position(|c| *c == quote)
                    .map(|p| vs + p)
                    .unwrap_or(len);
                value = unescape(&body[vs..ve]);
                j = (ve + 1).min(len);
            } else {
                let vs = j;
                while j < len && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                    j += 1;
                }
                value = unescape(&body[vs..j]);
            }
        }
        attrs.push((name, value));
    }
}

/// Decodes the HTML character references that matter in index pages.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let semi = after.find(';').filter(|&p| p <= 12);
        let decoded = semi.and_then(|p| {
            let ent = &after[1..p];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, p + 1))
        });
        match decoded {
            Some((c, consumed)) => {
                out.push(c);
                rest = &after[consumed..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_html(page_url: &Url, body: &str) -> Option<Vec<RawFile>> {
    let doc = scan_html(body)?;
    let base = doc
        .base
        .as_deref()
        .and_then(|b| page_url.join(b).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut out = Vec::new();
    for a in &doc.anchors {
        let Some(href) = a.attr("href").map(str::trim).filter(|h| !h.is_empty()) else {
            continue;
        };
        let Ok(url) = base.join(href) else {
            tracing::warn!(href = %crate::redact_url(href), "skipping link with an invalid URL");
            continue;
        };
        let from_path = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(crate::percent_decode)
            .unwrap_or_default();
        let filename = if crate::dist_extension(&from_path).is_some() {
            from_path
        } else if crate::dist_extension(&a.text).is_some() {
            a.text.clone()
        } else {
            continue;
        };
        let metadata_attr = a
            .attr("data-core-metadata")
            .or_else(|| a.attr("data-dist-info-metadata"));
        out.push(RawFile {
            filename,
            sha256: fragment_sha256(&url),
            url,
            requires_python: a
                .attr("data-requires-python")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            yanked: a.attr("data-yanked").is_some(),
            has_metadata: metadata_attr.is_some_and(|v| !v.eq_ignore_ascii_case("false")),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/simple/foo/").unwrap()
    }

    #[test]
    fn html_page() {
        let body = r#"<!DOCTYPE html>
<html><head><title>Links for foo</title></head><body>
<!-- <a href="commented-1.0.tar.gz">x</a> -->
<a href="../../files/foo-1.0-py3-none-any.whl#sha256=ABCDEF" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=12">foo-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example.org/f/foo-1.1.tar.gz#md5=00' data-yanked="">foo-1.1.tar.gz</A>
<a href=foo-0.9.zip data-core-metadata=false>foo-0.9.zip</a>
<a href="/not-a-dist/">project</a>
<script>var s = "<a href='evil-1.0.tar.gz'>";</script>
</body></html>"#;
        let files = parse_page(&page(), "text/html; charset=utf-8", body).unwrap();
        assert_eq!(files.len(), 3, "{files:#?}");
        assert_eq!(files[0].filename, "foo-1.0-py3-none-any.whl");
        assert_eq!(
            files[0].url.as_str(),
            "https://example.com/files/foo-1.0-py3-none-any.whl#sha256=ABCDEF"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abcdef"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert!(files[0].has_metadata);
        assert!(!files[0].yanked);
        assert_eq!(files[1].filename, "foo-1.1.tar.gz");
        assert!(files[1].yanked);
        assert_eq!(files[1].sha256, None);
        assert_eq!(
            files[2].url.as_str(),
            "https://example.com/simple/foo/foo-0.9.zip"
        );
        assert!(!files[2].has_metadata);
    }

    #[test]
    fn base_href_and_encoded_names() {
        let body = r#"<html><head><base href="https://mirror.example/pkgs/"></head>
<a href="foo-1.0%2Blocal-py3-none-any.whl">x</a>"#;
        let files = parse_page(&page(), "text/html", body).unwrap();
        assert_eq!(files[0].filename, "foo-1.0+local-py3-none-any.whl");
        assert!(files[0]
            .url
            .as_str()
            .starts_with("https://mirror.example/pkgs/"));
    }

    #[test]
    fn empty_html_page_is_valid() {
        let files = parse_page(&page(), "text/html", "<html><body></body></html>").unwrap();
        assert!(files.is_empty());
    }

    #[test]
    fn json_page() {
        let body = r#"{"meta":{"api-version":"1.1"},"name":"foo","files":[
            {"filename":"foo-1.0-py3-none-any.whl","url":"../../files/foo-1.0-py3-none-any.whl",
             "hashes":{"sha256":"AB"},"requires-python":">=3.8","core-metadata":{"sha256":"x"},"yanked":false},
            {"filename":"foo-1.1.tar.gz","url":"https://f.example/foo-1.1.tar.gz","hashes":{},
             "yanked":"broken","dist-info-metadata":false}]}"#;
        let files = parse_page(&page(), "application/vnd.pypi.simple.v1+json", body).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].sha256.as_deref(), Some("ab"));
        assert!(files[0].has_metadata);
        assert_eq!(
            files[0].url.as_str(),
            "https://example.com/files/foo-1.0-py3-none-any.whl"
        );
        assert!(files[1].yanked);
        assert!(!files[1].has_metadata);
        assert_eq!(files[1].requires_python, None);
    }

    #[test]
    fn garbage_is_reported() {
        let err = parse_page(&page(), "application/json", "<html>login</html>")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTML where JSON was expected"), "{err}");
        let err = parse_page(&page(), "text/plain", "hello world")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither PEP 691 JSON nor PEP 503 HTML"),
            "{err}"
        );
        let err = parse_page(&page(), "text/html", "just text")
            .unwrap_err()
            .to_string();
        assert!(err.contains("neither"), "{err}");
        let err = parse_page(&page(), "application/json", "{\"x\":1}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not PEP 691 JSON"), "{err}");
        let err = parse_page(
            &page(),
            "application/json",
            r#"{"meta":{"api-version":"2.0"},"files":[]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("api-version"), "{err}");
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(
            unescape("&lt;4,&gt;=3.8 &amp; &#39;x&#x27; &bogus; &"),
            "<4,>=3.8 & 'x' &bogus; &"
        );
    }

    #[test]
    fn robust_against_odd_markup() {
        for body in [
            "<",
            "<a",
            "<a href=",
            "<a href=\"x",
            "< a>",
            "<a href='a.whl'>",
            "<<<>>>",
            "<a =x>",
            "é<a href=é.whl>é</a>",
        ] {
            let _ = scan_html(body);
            let _ = parse_page(&page(), "text/html", body);
        }
    }
}
