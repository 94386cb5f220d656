//! Rendering PEP 503 (HTML) and PEP 691 (JSON) simple-index pages, used to
//! publish our own `/simple` index and by [`crate::testing::LocalIndex`].

use serde_json::json;

use crate::normalize_name;

/// Content type of PEP 691 JSON pages.
pub const CONTENT_TYPE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// Content type of PEP 503 HTML pages as served by PEP 691-aware servers.
pub const CONTENT_TYPE_HTML_V1: &str = "application/vnd.pypi.simple.v1+html";

/// One file on a project page, with the optional extras the tuple API lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderFile {
    pub filename: String,
    /// Link target (absolute or relative to the page); a fragment is dropped in JSON.
    pub href: String,
    /// Lowercase hex sha256; empty when unknown.
    pub sha256: String,
    pub requires_python: Option<String>,
    /// sha256 of the PEP 658 `.metadata` file, when the server serves one.
    pub core_metadata_sha256: Option<String>,
    /// `Some(reason)` marks the file as yanked (PEP 592); the reason may be empty.
    pub yanked: Option<String>,
}

impl From<&(String, String, String, Option<String>)> for RenderFile {
    fn from(
        (filename, href, sha256, requires_python): &(String, String, String, Option<String>),
    ) -> Self {
        RenderFile {
            filename: filename.clone(),
            href: href.clone(),
            sha256: sha256.clone(),
            requires_python: requires_python.clone(),
            core_metadata_sha256: None,
            yanked: None,
        }
    }
}

/// Escapes text for HTML content and double-quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn sorted_projects(projects: &[String]) -> Vec<String> {
    let mut names: Vec<String> = projects.iter().map(|p| normalize_name(p)).collect();
    names.sort();
    names.dedup();
    names
}

/// PEP 503 root page listing `projects` (normalised, sorted, deduplicated).
pub fn render_root_index(projects: &[String]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>Simple index</title>\n  </head>\n  <body>\n",
    );
    for name in sorted_projects(projects) {
        let esc = html_escape(&name);
        out.push_str(&format!("    <a href=\"{esc}/\">{esc}</a><br/>\n"));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

/// PEP 691 JSON root page listing `projects`.
pub fn render_root_index_json(projects: &[String]) -> String {
    let projects: Vec<_> = sorted_projects(projects)
        .into_iter()
        .map(|name| json!({ "name": name }))
        .collect();
    serde_json::to_string_pretty(&json!({
        "meta": { "api-version": "1.0" },
        "projects": projects,
    }))
    .expect("JSON values always serialise")
}

/// PEP 503 project page. Each file is `(filename, href, sha256, requires_python)`;
/// a non-empty sha256 is appended to the href as `#sha256=…`.
pub fn render_project_page_html(
    project: &str,
    files: &[(String, String, String, Option<String>)],
) -> String {
    let files: Vec<RenderFile> = files.iter().map(RenderFile::from).collect();
    render_project_page_html_files(project, &files)
}

/// PEP 691 (api-version 1.0) JSON project page for the same tuples as
/// [`render_project_page_html`].
pub fn render_project_page_json(
    project: &str,
    files: &[(String, String, String, Option<String>)],
) -> String {
    let files: Vec<RenderFile> = files.iter().map(RenderFile::from).collect();
    render_project_page_json_files(project, &files)
}

/// PEP 503 project page with PEP 658/714 metadata and PEP 592 yank attributes.
pub fn render_project_page_html_files(project: &str, files: &[RenderFile]) -> String {
    let name = html_escape(&normalize_name(project));
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n"
    );
    for f in files {
        let mut href = f.href.clone();
        if !f.sha256.is_empty() && !href.contains('#') {
            href.push_str("#sha256=");
            href.push_str(&f.sha256);
        }
        let mut attrs = format!("href=\"{}\"", html_escape(&href));
        if let Some(rp) = f.requires_python.as_deref().filter(|s| !s.is_empty()) {
            attrs.push_str(&format!(" data-requires-python=\"{}\"", html_escape(rp)));
        }
        if let Some(m) = &f.core_metadata_sha256 {
            let value = if m.is_empty() {
                "true".to_owned()
            } else {
                format!("sha256={}", html_escape(m))
            };
            attrs.push_str(&format!(
                " data-dist-info-metadata=\"{value}\" data-core-metadata=\"{value}\""
            ));
        }
        if let Some(reason) = &f.yanked {
            attrs.push_str(&format!(" data-yanked=\"{}\"", html_escape(reason)));
        }
        out.push_str(&format!(
            "    <a {attrs}>{}</a><br/>\n",
            html_escape(&f.filename)
        ));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

/// PEP 691 (api-version 1.0) JSON project page with metadata and yank fields.
pub fn render_project_page_json_files(project: &str, files: &[RenderFile]) -> String {
    let files: Vec<_> = files
        .iter()
        .map(|f| {
            let url = f.href.split('#').next().unwrap_or_default();
            let mut hashes = serde_json::Map::new();
            if !f.sha256.is_empty() {
                hashes.insert("sha256".into(), json!(f.sha256));
            }
            let mut obj = serde_json::Map::new();
            obj.insert("filename".into(), json!(f.filename));
            obj.insert("url".into(), json!(url));
            obj.insert("hashes".into(), serde_json::Value::Object(hashes));
            if let Some(rp) = f.requires_python.as_deref().filter(|s| !s.is_empty()) {
                obj.insert("requires-python".into(), json!(rp));
            }
            if let Some(m) = &f.core_metadata_sha256 {
                let v = if m.is_empty() {
                    json!(true)
                } else {
                    json!({ "sha256": m })
                };
                // PEP 714: only `core-metadata` in JSON; pip 22.3-23.0 (Debian bookworm's)
                // crash on a dict under the old `dist-info-metadata` key.
                obj.insert("core-metadata".into(), v);
            }
            match &f.yanked {
                Some(reason) if !reason.is_empty() => {
                    obj.insert("yanked".into(), json!(reason));
                }
                Some(_) => {
                    obj.insert("yanked".into(), json!(true));
                }
                None => {
                    obj.insert("yanked".into(), json!(false));
                }
            }
            serde_json::Value::Object(obj)
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "meta": { "api-version": "1.0" },
        "name": normalize_name(project),
        "files": files,
    }))
    .expect("JSON values always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn files() -> Vec<(String, String, String, Option<String>)> {
        vec![
            (
                "Foo_Bar-1.0-py3-none-any.whl".into(),
                "../../files/Foo_Bar-1.0-py3-none-any.whl".into(),
                "ab".repeat(32),
                Some(">=3.8,<4".into()),
            ),
            (
                "foo_bar-1.0.tar.gz".into(),
                "https://cdn.example/foo_bar-1.0.tar.gz".into(),
                String::new(),
                None,
            ),
        ]
    }

    #[test]
    fn root_index_normalizes_and_sorts() {
        let html = render_root_index(&["Zope.Interface".into(), "abc".into(), "ABC".into()]);
        assert!(html.contains("<a href=\"zope-interface/\">zope-interface</a>"));
        assert_eq!(html.matches("href=\"abc/\"").count(), 1);
        assert!(html.find("abc/").unwrap() < html.find("zope-interface/").unwrap());
        let json: serde_json::Value =
            serde_json::from_str(&render_root_index_json(&["A.b".into()])).unwrap();
        assert_eq!(json["projects"][0]["name"], "a-b");
    }

    #[test]
    fn html_and_json_round_trip_through_parser() {
        let page = Url::parse("https://idx.example/simple/foo-bar/").unwrap();
        let html = render_project_page_html("Foo_Bar", &files());
        assert!(html.contains("Links for foo-bar"));
        assert!(html.contains("data-requires-python=\"&gt;=3.8,&lt;4\""));
        let json = render_project_page_json("Foo_Bar", &files());
        let from_html = crate::parse::parse_page(&page, "text/html", &html).unwrap();
        let from_json = crate::parse::parse_page(&page, CONTENT_TYPE_JSON, &json).unwrap();
        assert_eq!(from_html.len(), 2);
        for (h, j) in from_html.iter().zip(&from_json) {
            assert_eq!(h.filename, j.filename);
            assert_eq!(h.sha256, j.sha256);
            assert_eq!(h.requires_python, j.requires_python);
            assert_eq!(h.url.as_str().split('#').next(), Some(j.url.as_str()));
        }
        assert_eq!(
            from_json[0].sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            from_json[0].url.as_str(),
            "https://idx.example/files/Foo_Bar-1.0-py3-none-any.whl"
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["meta"]["api-version"], "1.0");
        assert_eq!(v["name"], "foo-bar");
        assert_eq!(v["files"][1]["hashes"], json!({}));
    }

    #[test]
    fn metadata_and_yank_attributes() {
        let f = RenderFile {
            filename: "x-1.0-py3-none-any.whl".into(),
            href: "/files/x-1.0-py3-none-any.whl".into(),
            sha256: "00".into(),
            requires_python: None,
            core_metadata_sha256: Some("11".into()),
            yanked: Some("bad \"build\"".into()),
        };
        let html = render_project_page_html_files("x", std::slice::from_ref(&f));
        assert!(html.contains("data-core-metadata=\"sha256=11\""));
        assert!(html.contains("data-yanked=\"bad &quot;build&quot;\""));
        let page = Url::parse("http://h/simple/x/").unwrap();
        let parsed = crate::parse::parse_page(&page, "text/html", &html).unwrap();
        assert!(parsed[0].has_metadata && parsed[0].yanked);
        let json = render_project_page_json_files("x", &[f]);
        let parsed = crate::parse::parse_page(&page, CONTENT_TYPE_JSON, &json).unwrap();
        assert!(parsed[0].has_metadata && parsed[0].yanked);
    }
}
