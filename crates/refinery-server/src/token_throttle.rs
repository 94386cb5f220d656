//! Slows down token guessing: after [`FREE_FAILURES`] wrong tokens from one address, that
//! address must wait before any token of its is checked again — 1 s, then twice as long
//! after each further failure, up to [`MAX_BACKOFF`] — and is answered 429 with
//! `Retry-After` meanwhile (without checking the token, so a right guess is no faster).
//! A right token clears the address's count; an address quiet for [`FORGET_AFTER`] is
//! forgotten. Each address gets at most one warning in the log per minute. Only new wrong
//! tokens count: a token the address sent wrong among its last [`REMEMBERED_WRONG`] is a
//! stale cookie or a misconfigured client, not a guess, and sending it again teaches an
//! attacker nothing (it is still refused, and still waits while the address waits).
//!
//! Behind a reverse proxy every client has the proxy's address: one client guessing slows
//! everyone, so rate-limit at the proxy too (README, "Running it safely").

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens an address may send before it has to wait.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// An address with no failure for this long starts again from zero.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Addresses remembered at most (the oldest are dropped first).
const MAX_SOURCES: usize = 10_000;
/// Wrong tokens remembered per address (as sha256 digests), so repeats do not count.
pub const REMEMBERED_WRONG: usize = 8;

#[derive(Debug, Clone)]
struct Source {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
    warned: Option<Instant>,
    /// Failures since the last warning.
    unreported: u32,
    /// Digests of the newest wrong tokens, newest last.
    wrong: Vec<[u8; 32]>,
}

/// Per-address counts of wrong tokens.
#[derive(Debug, Default)]
pub struct TokenThrottle {
    sources: Mutex<HashMap<IpAddr, Source>>,
}

impl TokenThrottle {
    /// `Err(wait)` while `ip` has to wait before its next token is checked.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let sources = self.sources.lock().expect("token throttle");
        match sources.get(&ip) {
            Some(source) if source.blocked_until > now => Err(source.blocked_until - now),
            _ => Ok(()),
        }
    }

    /// Counts a wrong `token` from `ip` (once: a repeat of one of its recent wrong tokens
    /// does not count again); returns the wait it now has (zero while it is within its
    /// free failures).
    pub fn failed(&self, ip: IpAddr, token: &str, now: Instant) -> Duration {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let mut sources = self.sources.lock().expect("token throttle");
        if sources.len() >= MAX_SOURCES && !sources.contains_key(&ip) {
            sources.retain(|_, s| now.duration_since(s.last_failure) < FORGET_AFTER);
            if sources.len() >= MAX_SOURCES {
                if let Some(oldest) = sources
                    .iter()
                    .min_by_key(|(_, s)| s.last_failure)
                    .map(|(ip, _)| *ip)
                {
                    sources.remove(&oldest);
                }
            }
        }
        let source = sources.entry(ip).or_insert(Source {
            failures: 0,
            last_failure: now,
            blocked_until: now,
            warned: None,
            unreported: 0,
            wrong: Vec::new(),
        });
        if now.duration_since(source.last_failure) >= FORGET_AFTER {
            source.failures = 0;
            source.wrong.clear();
        }
        if source.wrong.contains(&digest) {
            return source.blocked_until.saturating_duration_since(now);
        }
        if source.wrong.len() == REMEMBERED_WRONG {
            source.wrong.remove(0);
        }
        source.wrong.push(digest);
        source.failures += 1;
        source.unreported += 1;
        source.last_failure = now;
        let wait = backoff(source.failures);
        source.blocked_until = now + wait;
        if source
            .warned
            .is_none_or(|w| now.duration_since(w) >= WARN_EVERY)
        {
            tracing::warn!(
                source = %ip,
                wrong_tokens = source.unreported,
                total = source.failures,
                wait_secs = wait.as_secs_f64(),
                "wrong tokens; further tokens from this address wait"
            );
            source.warned = Some(now);
            source.unreported = 0;
        }
        wait
    }

    /// A right token from `ip`: its count starts again.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut sources = self.sources.lock().expect("token throttle");
        sources.remove(&ip);
    }
}

/// The wait after the `failures`-th wrong token: none for the first [`FREE_FAILURES`],
/// then 1 s, 2 s, 4 s … up to [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES - 1).min(16);
    Duration::from_secs(1u64 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_failures_and_is_capped() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn an_address_waits_after_its_free_failures_and_a_right_token_clears_it() {
        let throttle = TokenThrottle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Instant::now();
        for n in 0..FREE_FAILURES {
            assert_eq!(
                throttle.failed(ip, &format!("guess-{n}"), t0),
                Duration::ZERO
            );
            assert!(throttle.check(ip, t0).is_ok());
        }
        assert_eq!(throttle.failed(ip, "guess-a", t0), Duration::from_secs(1));
        assert_eq!(throttle.check(ip, t0), Err(Duration::from_secs(1)));
        // Another address is not affected; the wait ends.
        assert!(throttle.check(other, t0).is_ok());
        assert!(throttle.check(ip, t0 + Duration::from_secs(1)).is_ok());
        assert_eq!(
            throttle.failed(ip, "guess-b", t0 + Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        throttle.succeeded(ip);
        assert!(throttle.check(ip, t0 + Duration::from_secs(1)).is_ok());
        assert_eq!(
            throttle.failed(ip, "guess-c", t0 + Duration::from_secs(2)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_quiet_address_is_forgotten() {
        let throttle = TokenThrottle::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let t0 = Instant::now();
        for n in 0..=FREE_FAILURES {
            throttle.failed(ip, &format!("guess-{n}"), t0);
        }
        assert!(throttle.check(ip, t0).is_err());
        let later = t0 + FORGET_AFTER;
        assert!(throttle.check(ip, later).is_ok());
        assert_eq!(throttle.failed(ip, "guess-0", later), Duration::ZERO);
    }

    #[test]
    fn a_stale_token_sent_again_and_again_counts_once() {
        let throttle = TokenThrottle::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        // A dashboard with an old cookie: many requests, one wrong token.
        for _ in 0..50 {
            assert_eq!(throttle.failed(ip, "old-token", t0), Duration::ZERO);
        }
        assert!(throttle.check(ip, t0).is_ok());
        // New wrong tokens still count.
        for n in 0..FREE_FAILURES - 1 {
            throttle.failed(ip, &format!("guess-{n}"), t0);
        }
        assert_eq!(throttle.failed(ip, "guess-x", t0), Duration::from_secs(1));
        assert!(throttle.check(ip, t0).is_err());
    }
}
