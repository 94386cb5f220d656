//! A local PEP 503/691 index server for hermetic tests.
//!
//! [`LocalIndex::serve_dir`] serves every `.whl`/`.tar.gz`/`.zip` (and other sdist
//! archives) in a directory, grouped by normalised project name:
//!
//! * `/simple/` — root page; `/simple/<project>/` — project page, HTML or PEP 691
//!   JSON by the `Accept` header (or `?format=`, or [`LocalIndex::force_format`]),
//!   with sha256 hashes, `Requires-Python` from the wheel's METADATA, and PEP 658
//!   metadata flags; pages carry an `ETag` and `Cache-Control: max-age=0`;
//! * `/files/<filename>` — the file; `/files/<wheel>.metadata` — its METADATA.
//!
//! The directory is rescanned on every request, so tests may add files at any time.
//! Minimal HTTP/1.1 with `Connection: close`; one thread per connection.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::render::{self, RenderFile, CONTENT_TYPE_JSON};
use crate::{
    base64_encode, dist_extension, normalize_name, percent_decode, percent_encode_segment,
    project_name_from_filename, sha256_hex,
};

/// Page format forced by [`LocalIndex::force_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    Html,
    Json,
}

enum Mode {
    Dir {
        dir: PathBuf,
        /// Expected `Authorization` header value.
        auth: Option<String>,
    },
    Fixed {
        status: u16,
        content_type: String,
        body: String,
    },
}

#[derive(Clone)]
struct FileInfo {
    sha256: String,
    metadata: Option<Vec<u8>>,
}

struct State {
    mode: Mode,
    count: AtomicUsize,
    fail_next: AtomicUsize,
    fail_status: AtomicU16,
    format: Mutex<Option<PageFormat>>,
    log: Mutex<Vec<String>>,
    infos: Mutex<HashMap<PathBuf, (SystemTime, u64, FileInfo)>>,
    /// File name -> sha256 announced instead of the real one (hash mismatch tests).
    wrong_sha256: Mutex<HashMap<String, String>>,
}

/// A running local index; dropping it stops the server.
pub struct LocalIndex {
    /// `http://127.0.0.1:PORT/simple`
    pub url: String,
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIndex")
            .field("url", &self.url)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl LocalIndex {
    /// Serves the distributions in `dir`.
    pub fn serve_dir(dir: &Path) -> std::io::Result<LocalIndex> {
        Self::start(Mode::Dir {
            dir: dir.to_path_buf(),
            auth: None,
        })
    }

    /// Like [`LocalIndex::serve_dir`], but every request without HTTP basic auth
    /// `user:pass` gets 401.
    pub fn with_basic_auth(dir: &Path, user: &str, pass: &str) -> std::io::Result<LocalIndex> {
        Self::start(Mode::Dir {
            dir: dir.to_path_buf(),
            auth: Some(format!(
                "Basic {}",
                base64_encode(format!("{user}:{pass}").as_bytes(), false)
            )),
        })
    }

    /// Every request gets this status, content type and body.
    pub fn serve_fixed(status: u16, content_type: &str, body: &str) -> std::io::Result<LocalIndex> {
        Self::start(Mode::Fixed {
            status,
            content_type: content_type.to_owned(),
            body: body.to_owned(),
        })
    }

    fn start(mode: Mode) -> std::io::Result<LocalIndex> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            mode,
            count: AtomicUsize::new(0),
            fail_next: AtomicUsize::new(0),
            fail_status: AtomicU16::new(500),
            format: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            infos: Mutex::new(HashMap::new()),
            wrong_sha256: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("local-index-{}", addr.port()))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let state = Arc::clone(&state);
                        let _ = std::thread::Builder::new()
                            .name("local-index-conn".to_owned())
                            .spawn(move || {
                                let _ = handle(stream, &state);
                            });
                    }
                })?
        };
        Ok(LocalIndex {
            url: format!("http://{addr}/simple"),
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// Number of requests answered so far (any path, any outcome).
    pub fn request_count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    /// Request paths (with query) seen so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The index URL with `user:pass@` userinfo (percent-encoded).
    pub fn url_with_credentials(&self, user: &str, pass: &str) -> String {
        format!(
            "http://{}:{}@{}/simple",
            percent_encode_segment(user),
            percent_encode_segment(pass),
            self.addr
        )
    }

    /// URL of a served file.
    pub fn file_url(&self, filename: &str) -> String {
        format!(
            "http://{}/files/{}",
            self.addr,
            percent_encode_segment(filename)
        )
    }

    /// The next `n` requests answer `status` (e.g. 500 or 503) with a short body.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.state.fail_status.store(status, Ordering::SeqCst);
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Announce `sha256` for `filename` on project pages instead of its real hash (the
    /// file itself is served unchanged): a hash mismatch for clients that check.
    pub fn announce_sha256(&self, filename: &str, sha256: &str) {
        self.state
            .wrong_sha256
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(filename.to_owned(), sha256.to_owned());
    }

    /// Serve project and root pages in this format regardless of `Accept`
    /// (`None` restores content negotiation).
    pub fn force_format(&self, format: Option<PageFormat>) {
        *self
            .state
            .format
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = format;
    }
}

impl Drop for LocalIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a minimal but valid wheel (`METADATA`, `WHEEL`, `RECORD`, and a
/// `<name>/__init__.py`) named `filename` into `dir`. `metadata` defaults to
/// `Metadata-Version: 2.1`, `Name` and `Version` taken from the file name.
pub fn write_wheel(dir: &Path, filename: &str, metadata: Option<&str>) -> std::io::Result<PathBuf> {
    let stem = filename.strip_suffix(".whl").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{filename} is not a .whl name"),
        )
    })?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{filename} is not name-version-py-abi-platform.whl"),
        ));
    }
    let (name, version) = (parts[0], parts[1]);
    let tags = {
        let (py, abi, plat) = (
            parts[parts.len() - 3],
            parts[parts.len() - 2],
            parts[parts.len() - 1],
        );
        let mut t = Vec::new();
        for p in py.split('.') {
            for a in abi.split('.') {
                for pl in plat.split('.') {
                    t.push(format!("Tag: {p}-{a}-{pl}\n"));
                }
            }
        }
        t.concat()
    };
    let dist_info = format!("{name}-{version}.dist-info");
    let metadata = metadata
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"));
    let purelib = parts[parts.len() - 2] == "none";
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{name}/__init__.py"), format!("__version__ = \"{version}\"\n").into_bytes()),
        (format!("{dist_info}/METADATA"), metadata.into_bytes()),
        (
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: refinery-index-testing\nRoot-Is-Purelib: {purelib}\n{tags}"
            )
            .into_bytes(),
        ),
    ];
    let mut record = String::new();
    for (path, data) in &files {
        let digest = {
            use sha2::Digest;
            sha2::Sha256::digest(data)
        };
        record.push_str(&format!(
            "{path},sha256={},{}\n",
            base64_encode(&digest, true),
            data.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));

    let path = dir.join(filename);
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut zip = zip::ZipWriter::new(tmp.as_file());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let to_io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
        for (p, data) in &files {
            zip.start_file(p.as_str(), options).map_err(to_io)?;
            zip.write_all(data)?;
        }
        zip.start_file(format!("{dist_info}/RECORD"), options)
            .map_err(to_io)?;
        zip.write_all(record.as_bytes())?;
        zip.finish().map_err(to_io)?;
    }
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

// -------------------------------------------------------------------------
// server internals

struct Request {
    path: String,
    query: String,
    method: String,
    headers: HashMap<String, String>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    fn text(status: u16, body: &str) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", body)
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?.take(64 * 1024));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    Ok(Request {
        path,
        query,
        method,
        headers,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn handle(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = match read_request(&mut stream) {
        Ok(r) if !r.method.is_empty() => r,
        // Wake-up connections from Drop, or garbage.
        _ => return Ok(()),
    };
    state.count.fetch_add(1, Ordering::SeqCst);
    {
        let mut log = state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.push(if request.query.is_empty() {
            request.path.clone()
        } else {
            format!("{}?{}", request.path, request.query)
        });
    }
    let reply = respond(&request, state);
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" && reply.status != 304 {
        stream.write_all(&reply.body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

fn respond(req: &Request, state: &State) -> Reply {
    let remaining = state.fail_next.load(Ordering::SeqCst);
    if remaining > 0
        && state
            .fail_next
            .compare_exchange(remaining, remaining - 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        return Reply::text(
            state.fail_status.load(Ordering::SeqCst),
            "injected failure\n",
        );
    }
    let (dir, auth) = match &state.mode {
        Mode::Fixed {
            status,
            content_type,
            body,
        } => return Reply::new(*status, content_type, body.as_bytes()),
        Mode::Dir { dir, auth } => (dir, auth),
    };
    if let Some(expected) = auth {
        if req.headers.get("authorization") != Some(expected) {
            let mut r = Reply::text(401, "authentication required\n");
            r.headers.push((
                "WWW-Authenticate".into(),
                "Basic realm=\"local-index\"".into(),
            ));
            return r;
        }
    }
    if req.method != "GET" && req.method != "HEAD" {
        return Reply::text(405, "method not allowed\n");
    }
    let path = percent_decode(&req.path);
    let json = wants_json(req, state);
    if path == "/simple" || path == "/simple/" || path == "/" {
        let projects: Vec<String> = scan(dir).into_keys().collect();
        return page(
            req,
            json,
            render::render_root_index_json(&projects),
            render::render_root_index(&projects),
        );
    }
    if let Some(rest) = path.strip_prefix("/simple/") {
        let project = normalize_name(rest.trim_end_matches('/'));
        let groups = scan(dir);
        let Some(files) = groups.get(&project) else {
            return Reply::text(404, "no such project\n");
        };
        let render_files: Vec<RenderFile> = files
            .iter()
            .map(|(name, p)| {
                let info = file_info(state, p);
                RenderFile {
                    filename: name.clone(),
                    href: format!("/files/{}", percent_encode_segment(name)),
                    sha256: state
                        .wrong_sha256
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(name)
                        .cloned()
                        .or_else(|| info.as_ref().map(|i| i.sha256.clone()))
                        .unwrap_or_default(),
                    requires_python: info
                        .as_ref()
                        .and_then(|i| i.metadata.as_deref())
                        .and_then(|m| crate::metadata_field(m, "Requires-Python"))
                        .filter(|s| !s.is_empty()),
                    core_metadata_sha256: info
                        .as_ref()
                        .and_then(|i| i.metadata.as_deref())
                        .map(sha256_hex),
                    yanked: None,
                }
            })
            .collect();
        return page(
            req,
            json,
            render::render_project_page_json_files(&project, &render_files),
            render::render_project_page_html_files(&project, &render_files),
        );
    }
    if let Some(name) = path.strip_prefix("/files/") {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Reply::text(404, "not found\n");
        }
        if let Some(wheel) = name.strip_suffix(".metadata") {
            let p = dir.join(wheel);
            return match p.is_file().then(|| file_info(state, &p)).flatten() {
                Some(FileInfo {
                    metadata: Some(m), ..
                }) => Reply::new(200, "application/octet-stream", m),
                _ => Reply::text(404, "no metadata\n"),
            };
        }
        let p = dir.join(name);
        return match std::fs::read(&p) {
            Ok(bytes) if p.is_file() => Reply::new(200, "application/octet-stream", bytes),
            _ => Reply::text(404, "not found\n"),
        };
    }
    Reply::text(404, "not found\n")
}

fn page(req: &Request, json: bool, json_body: String, html_body: String) -> Reply {
    let (content_type, body) = if json {
        (CONTENT_TYPE_JSON, json_body)
    } else {
        ("text/html; charset=utf-8", html_body)
    };
    let etag = format!("\"{}\"", &sha256_hex(body.as_bytes())[..32]);
    let mut reply = if req.headers.get("if-none-match") == Some(&etag) {
        Reply::new(304, content_type, Vec::new())
    } else {
        Reply::new(200, content_type, body)
    };
    reply.headers.push(("ETag".into(), etag));
    reply
        .headers
        .push(("Cache-Control".into(), "max-age=0".into()));
    reply.headers.push(("Vary".into(), "Accept".into()));
    reply
}

fn wants_json(req: &Request, state: &State) -> bool {
    if let Some(f) = *state
        .format
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return f == PageFormat::Json;
    }
    for pair in req.query.split('&') {
        if let Some(v) = pair.strip_prefix("format=") {
            return percent_decode(v).contains("json");
        }
    }
    let Some(accept) = req.headers.get("accept") else {
        return false;
    };
    let (mut json_q, mut html_q) = (0.0f32, 0.0f32);
    for part in accept.split(',') {
        let mut it = part.split(';');
        let mime = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match mime.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
                json_q = json_q.max(q);
            }
            "text/html"
            | "application/vnd.pypi.simple.v1+html"
            | "application/vnd.pypi.simple.latest+html"
            | "*/*" => html_q = html_q.max(q),
            _ => {}
        }
    }
    json_q > 0.0 && json_q >= html_q
}

/// normalised project -> [(filename, path)], sorted.
fn scan(dir: &Path) -> BTreeMap<String, Vec<(String, PathBuf)>> {
    let mut groups: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return groups;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') || !path.is_file() || dist_extension(&name).is_none() {
            continue;
        }
        if let Some(project) = project_name_from_filename(&name) {
            groups.entry(project).or_default().push((name, path));
        }
    }
    for files in groups.values_mut() {
        files.sort();
    }
    groups
}

fn file_info(state: &State, path: &Path) -> Option<FileInfo> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?;
    let len = meta.len();
    {
        let infos = state
            .infos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((t, l, info)) = infos.get(path) {
            if *t == mtime && *l == len {
                return Some(info.clone());
            }
        }
    }
    let bytes = std::fs::read(path).ok()?;
    let is_wheel = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("whl"));
    let info = FileInfo {
        sha256: sha256_hex(&bytes),
        metadata: if is_wheel {
            crate::wheel_metadata_bytes(path, None).ok().flatten()
        } else {
            None
        },
    };
    state
        .infos
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(path.to_path_buf(), (mtime, len, info.clone()));
    Some(info)
}
