//! The web dashboard: the files of `ui/dist` (a React single-page app built by Vite),
//! embedded at compile time by `build.rs`. Every GET of a path outside the API, the index
//! and the metrics is the app: a file it has, or `index.html` so that deep links such as
//! `/packages/six` work on reload. Built without `ui/dist`, `/` says how to build it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

/// Whether the UI was built into this binary.
pub fn is_built() -> bool {
    index_html().is_some()
}

/// What `serve` says at start when the binary embeds the placeholder page instead of
/// the dashboard (`None` when the dashboard is built in).
pub fn missing_warning() -> Option<&'static str> {
    (!is_built()).then_some(
        "this binary was compiled without the web dashboard (ui/dist was missing), so / shows a placeholder page; run `scripts/ui.sh build`, then `cargo build -p refinery` again",
    )
}

fn find(path: &str) -> Option<&'static (&'static str, &'static str, &'static [u8])> {
    assets::FILES.iter().find(|(p, _, _)| *p == path)
}

fn index_html() -> Option<&'static [u8]> {
    find("/index.html").map(|(_, _, bytes)| *bytes)
}

/// Paths the app never answers: the JSON API, the pip index and its files, the metrics.
pub fn is_server_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/simple"
        || path.starts_with("/simple/")
        || path.starts_with("/files/")
        || path == "/metrics"
        || path == "/healthz"
}

fn with_headers(body: &'static [u8], content_type: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The answer to `GET path` for a path outside the server's own (see [`is_server_path`]):
/// `None` for a missing hashed asset (a JSON 404 then), else a response.
pub fn serve(path: &str) -> Option<Response> {
    let Some(index) = index_html() else {
        return Some(not_built());
    };
    if path != "/" && path != "/index.html" {
        if let Some((_, content_type, bytes)) = find(path) {
            // Vite names its assets by content hash: they never change.
            let cache = if path.starts_with("/assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            return Some(with_headers(bytes, content_type, cache));
        }
        if path.starts_with("/assets/") {
            return None;
        }
    }
    Some(with_headers(index, "text/html; charset=utf-8", "no-cache"))
}

const NOT_BUILT: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>s390x Wheel Refinery: the dashboard was not built</title>\
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1c2430}\
code,pre{background:#f0f3f7;padding:.1rem .3rem;border-radius:4px}pre{padding:.6rem}</style></head><body>\
<h1>s390x Wheel Refinery</h1>\
<p><strong>The web dashboard was not built into this binary.</strong> The API and the pip index work; \
only the browser UI is missing, because <code>ui/dist</code> did not exist when the binary was compiled.</p>\
<p>Build the UI, then the binary (the UI is embedded at compile time):</p>\
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build &amp;&amp; cd ..\ncargo build --release -p refinery</pre>\
<p>(<code>scripts/setup.sh</code> does both; <code>scripts/ui.sh</code> also runs the UI tests.)</p>\
<ul>\
<li><a href=\"/simple/\">/simple/</a>: the pip index</li>\
<li><a href=\"/api/openapi.json\">/api/openapi.json</a>: the API</li>\
<li><a href=\"/api/queue/stats\">/api/queue/stats</a></li>\
<li><a href=\"/api/events\">/api/events</a></li>\
<li><a href=\"/metrics\">/metrics</a></li></ul></body></html>";

fn not_built() -> Response {
    let mut response = (StatusCode::OK, NOT_BUILT).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_not_the_app() {
        for p in [
            "/api",
            "/api/x",
            "/simple",
            "/simple/six/",
            "/files/ab/x.whl",
            "/metrics",
            "/healthz",
        ] {
            assert!(is_server_path(p), "{p}");
        }
        for p in [
            "/",
            "/packages/six",
            "/builds",
            "/apis",
            "/simplex",
            "/logs/a/1",
        ] {
            assert!(!is_server_path(p), "{p}");
        }
    }

    #[test]
    fn every_app_path_gets_an_answer() {
        // Built or not, deep links answer with HTML.
        for p in ["/", "/packages/six", "/plans/abc", "/nope/deeper"] {
            let r = serve(p).expect("an answer");
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
        }
        if is_built() {
            assert!(serve("/assets/missing-abc123.js").is_none());
        } else {
            // Built without ui/dist: every page says so and how to fix it.
            let page = NOT_BUILT;
            assert!(page.contains("was not built") && page.contains("npm run build"));
        }
    }

    #[test]
    fn serve_warns_exactly_when_the_dashboard_is_missing() {
        assert_eq!(missing_warning().is_some(), !is_built());
        if let Some(w) = missing_warning() {
            assert!(w.contains("scripts/ui.sh build") && w.contains("placeholder"));
            assert!(
                !w.contains("  ") && !w.contains('\n'),
                "one clean line: {w}"
            );
        }
    }

    /// Through the real router: deep links get the app even when every read needs a
    /// token (the app asks for it), the API keeps its JSON 404s and its guard.
    #[test]
    fn the_router_serves_the_app_outside_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::ServerConfig::new(dir.path().join("cache"));
        config.worker_token = Some("w".into());
        config.read_token = Some("r".into());
        let server = crate::start(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let client = reqwest::blocking::Client::new();
        let get = |path: &str| {
            client
                .get(format!("{}{path}", server.url()))
                .send()
                .unwrap()
        };
        for path in [
            "/",
            "/packages/six",
            "/logs/six/1.16.0?job=3",
            "/no/such/page",
        ] {
            let r = get(path);
            assert_eq!(r.status(), 200, "{path}");
            let ct = r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_string();
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            let body = r.text().unwrap();
            assert!(
                body.contains("s390x Wheel Refinery") || body.contains("id=\"root\""),
                "{path}: {body}"
            );
        }
        // The API and the index are still guarded and still answer JSON errors.
        assert_eq!(get("/api/queue/stats").status(), 401);
        assert_eq!(get("/simple/").status(), 401);
        let r = client
            .get(format!("{}/api/nope", server.url()))
            .header("X-Worker-Token", "r")
            .send()
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        // Only GETs fall back to the app.
        let r = client
            .post(format!("{}/packages/six", server.url()))
            .header("X-Worker-Token", "w")
            .send()
            .unwrap();
        assert_eq!(r.status(), 404);
        // The cookie can be dropped again.
        let r = client
            .delete(format!("{}/api/session/token", server.url()))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        server.stop();
    }
}
