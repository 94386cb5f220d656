//! Helpers of the server tests: a real server on 127.0.0.1:0, HTTP calls, generated wheels.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use refinery_server::{RunningServer, ServerConfig};
use serde_json::Value;
use zip::write::SimpleFileOptions;

pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
}

impl TestServer {
    pub fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::start_on(None, configure)
    }

    /// With this store instead of SQLite under the cache.
    pub fn start_on(
        store: Option<std::sync::Arc<dyn refinery_store::QueueStore>>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path().join("cache"));
        config.reap_interval = Duration::from_millis(200);
        config.index.index_url = "http://127.0.0.1:9/simple".into();
        config.index.retries = 0;
        configure(&mut config);
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = match store {
            Some(store) => refinery_server::start_with_store(config, store, addr).unwrap(),
            None => refinery_server::start(config, addr).unwrap(),
        };
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestServer {
            server,
            dir,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client.get(self.url(path)).send().unwrap()
    }

    pub fn get_json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().unwrap()
    }

    pub fn post(&self, path: &str, body: Value) -> reqwest::blocking::Response {
        self.client.post(self.url(path)).json(&body).send().unwrap()
    }

    pub fn post_token(&self, path: &str, body: Value, token: &str) -> reqwest::blocking::Response {
        self.client
            .post(self.url(path))
            .header("X-Worker-Token", token)
            .json(&body)
            .send()
            .unwrap()
    }

    /// A request sent as is (no URL normalization), for path traversal checks.
    pub fn raw(&self, request_line: &str) -> (u16, String) {
        let host = self.server.addr.to_string();
        self.raw_request(request_line, &[("Host", &host)], "")
    }

    /// A request sent as is with exactly these headers (say `Host` yourself), and `body`
    /// with its length: forged hosts, origins and cookies, as a browser or an attacker
    /// would send them.
    pub fn raw_request(
        &self,
        request_line: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(self.server.addr).unwrap();
        let mut head = format!("{request_line} HTTP/1.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(head.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

/// Asserts a JSON error body with this status.
pub fn assert_error(response: reqwest::blocking::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let ct = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = response.json().unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body
}

/// Writes a wheel with METADATA into `dir`.
pub fn write_wheel(
    dir: &Path,
    name: &str,
    version: &str,
    tag: &str,
    requires_python: Option<&str>,
) -> PathBuf {
    let filename = format!("{}-{version}-{tag}.whl", name.replace('-', "_"));
    let path = dir.join(&filename);
    let file = std::fs::File::create(&path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default();
    let module = name.replace('-', "_");
    zip.start_file(format!("{module}/__init__.py"), options)
        .unwrap();
    zip.write_all(b"VALUE = 1\n").unwrap();
    let dist_info = format!("{module}-{version}.dist-info");
    let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    if let Some(rp) = requires_python {
        metadata.push_str(&format!("Requires-Python: {rp}\n"));
    }
    zip.start_file(format!("{dist_info}/METADATA"), options)
        .unwrap();
    zip.write_all(metadata.as_bytes()).unwrap();
    zip.start_file(format!("{dist_info}/WHEEL"), options)
        .unwrap();
    zip.write_all(format!("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n").as_bytes())
        .unwrap();
    zip.start_file(format!("{dist_info}/RECORD"), options)
        .unwrap();
    zip.write_all(b"").unwrap();
    zip.finish().unwrap();
    path
}

/// One server-sent event.
#[derive(Debug, Clone, Default)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Follows an SSE stream on a thread; events arrive on the channel.
pub fn follow_sse(url: String, last_event_id: Option<&str>) -> mpsc::Receiver<Sse> {
    let (tx, rx) = mpsc::channel();
    let last = last_event_id.map(str::to_string);
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap();
        let mut request = client.get(&url).header("Accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status().as_u16(), 200, "SSE {url}");
        let reader = BufReader::new(response);
        let mut event = Sse::default();
        let mut data: Vec<String> = Vec::new();
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                if !data.is_empty() || !event.event.is_empty() {
                    event.data = data.join("\n");
                    if tx.send(std::mem::take(&mut event)).is_err() {
                        return;
                    }
                    data.clear();
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
            } else if let Some(v) = line.strip_prefix("event:") {
                event.event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("id:") {
                event.id = Some(v.trim().to_string());
            }
        }
    });
    rx
}

/// Checks Prometheus text exposition format: every sample line is
/// `name{labels} value`, every family has HELP and TYPE, histogram buckets grow.
pub fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)?\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$"#,
    )
    .unwrap();
    let mut typed = std::collections::HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap().to_string();
            let kind = parts.next().unwrap().to_string();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind.as_str()),
                "{line}"
            );
            typed.insert(name, kind);
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let caps = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not a Prometheus sample: {line:?}"));
        let name = caps[1].to_string();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&name)
            .to_string();
        assert!(typed.contains_key(&family), "no TYPE for {name}");
        let value: f64 = caps[4].parse().unwrap_or(f64::NAN);
        samples.push((
            name,
            caps.get(3)
                .map_or(String::new(), |m| m.as_str().to_string()),
            value,
        ));
    }
    samples
}

impl TestServer {
    /// POSTs one multipart/form-data field `file`.
    pub fn upload(
        &self,
        path: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> reqwest::blocking::Response {
        self.upload_with(path, filename, content_type, bytes, &[])
    }

    /// Like [`TestServer::upload`], with these headers too (as a browser sends them).
    pub fn upload_with(
        &self,
        path: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::blocking::Response {
        let boundary = "refinery-test-boundary-7d3f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = self.client.post(self.url(path)).header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().unwrap()
    }
}

/// A store in a fresh schema of `REFINERY_TEST_DATABASE_URL`, or `None` with a message.
pub fn postgres_store() -> Option<(std::sync::Arc<dyn refinery_store::QueueStore>, PgSchema)> {
    let url = refinery_test_support::test_database_url()?;
    let schema = format!(
        "refinery_srv_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = refinery_store::queue::PgQueue::open_postgres(&url, Some(&schema))
        .unwrap_or_else(|e| panic!("REFINERY_TEST_DATABASE_URL is set but: {e}"));
    Some((std::sync::Arc::new(store), PgSchema { url, schema }))
}

/// Drops the test schema.
pub struct PgSchema {
    url: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ));
        }
    }
}
