use super::*;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CACHE_CONTROL};

use super::cache::cache_policy;
use super::http::backoff;

#[test]
fn trusted_host_forms() {
    assert_eq!(
        parse_trusted_host("Example.com"),
        Some(("example.com".into(), None))
    );
    assert_eq!(
        parse_trusted_host("example.com:8080"),
        Some(("example.com".into(), Some(8080)))
    );
    assert_eq!(
        parse_trusted_host("http://u:p@example.com:81/simple"),
        Some(("example.com".into(), Some(81)))
    );
    assert_eq!(parse_trusted_host("[::1]:9"), Some(("::1".into(), Some(9))));
    assert_eq!(parse_trusted_host(""), None);
}

#[test]
fn backoff_doubles() {
    assert_eq!(backoff(0), Duration::from_millis(500));
    assert_eq!(backoff(1), Duration::from_secs(1));
    assert_eq!(backoff(2), Duration::from_secs(2));
    assert_eq!(backoff(40), Duration::from_secs(30));
}

#[test]
fn unsafe_names() {
    for bad in ["", "..", ".hidden.whl", "a/b.whl", "a\\b.whl", "../x.whl"] {
        assert!(!is_safe_filename(bad), "{bad}");
    }
    assert!(is_safe_filename("foo-1.0+local-py3-none-any.whl"));
}

#[test]
fn credentials_are_taken_out_of_urls() {
    let (url, cred) = parse_http_url("https://al%40ice:p%3Ass@host.example/simple", true).unwrap();
    assert_eq!(url.as_str(), "https://host.example/simple/");
    let cred = cred.unwrap();
    assert_eq!(cred.user, "al@ice");
    assert_eq!(cred.pass.as_deref(), Some("p:ss"));
}

#[test]
fn config_debug_hides_secrets() {
    let config = IndexConfig {
        index_url: "https://bob:hunter22@idx.example/simple".into(),
        extra_index_urls: vec!["https://tok123456@other.example/simple".into()],
        username: Some("someuser".into()),
        password: Some("topsecretpw".into()),
        ..IndexConfig::default()
    };
    let dbg = format!("{config:?}");
    for secret in ["hunter22", "tok123456", "someuser", "topsecretpw"] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
    let client = IndexClient::new(IndexConfig {
        netrc_path: Some(PathBuf::new()),
        ..config
    })
    .unwrap();
    let dbg = format!("{client:?}");
    for secret in ["hunter22", "tok123456", "someuser", "topsecretpw"] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
    assert!(dbg.contains("idx.example"));
}

#[test]
fn plain_http_needs_trust() {
    let err = IndexClient::new(IndexConfig {
        index_url: "http://user:pw12345@idx.example/simple".into(),
        netrc_path: Some(PathBuf::new()),
        ..IndexConfig::default()
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IndexError::Insecure { .. }), "{msg}");
    assert!(msg.contains("--trusted-host idx.example"), "{msg}");
    assert!(!msg.contains("pw12345"), "{msg}");
    IndexClient::new(IndexConfig {
        index_url: "http://idx.example:8080/simple".into(),
        trusted_hosts: vec!["idx.example".into()],
        netrc_path: Some(PathBuf::new()),
        ..IndexConfig::default()
    })
    .unwrap();
}

#[test]
fn cache_control() {
    let mut h = HeaderMap::new();
    assert_eq!(cache_policy(&h), (None, true));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("max-age=600, public"),
    );
    assert_eq!(cache_policy(&h), (Some(600), true));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    assert_eq!(cache_policy(&h), (None, false));
}
