//! `allowed_hosts`: the origins a plugin may send HTTP requests to.
//!
//! Each entry is `scheme://host[:port]`: the scheme is `http` or `https`,
//! the host a DNS name, an IPv4 address or a bracketed IPv6 address, and a
//! missing port means the scheme's default (80 or 443). A `*` may stand
//! only for the leftmost label(s): `https://*.example.org` matches
//! `api.example.org` and `a.b.example.org`, not `example.org`. Names are
//! compared case-insensitively, with a trailing dot ignored. Nothing is
//! allowed unless an entry matches.
//!
//! An entry that names its host exactly (no wildcard) is *literal*: only
//! such an entry lets a request reach a private, loopback or link-local
//! address (the check happens on the resolved addresses, in
//! [`capability::http`](crate::capability::http)).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One parsed `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    https: bool,
    host: HostMatch,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    /// This name, lowercase, no trailing dot.
    Name(String),
    /// This address.
    Ip(IpAddr),
    /// Any name ending in `.<suffix>` (`*.<suffix>` in the config).
    Subdomains(String),
}

impl HostPattern {
    /// Whether a request to `scheme://host:port` matches this entry.
    pub fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        if self.https != https || self.port != port {
            return false;
        }
        let host = normalize_host(host);
        match &self.host {
            HostMatch::Name(name) => *name == host,
            HostMatch::Ip(ip) => parse_ip(&host) == Some(*ip),
            HostMatch::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|labels| !labels.is_empty()),
        }
    }

    /// Whether this entry names its host exactly (no wildcard): only then
    /// may a request reach a private or loopback address.
    pub fn is_literal(&self) -> bool {
        !matches!(self.host, HostMatch::Subdomains(_))
    }
}

impl FromStr for HostPattern {
    type Err = String;

    fn from_str(entry: &str) -> Result<Self, String> {
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| format!("{entry:?}: expected scheme://host[:port], e.g. \"https://api.example.com\""))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            other => return Err(format!("{entry:?}: scheme {other:?} is not http or https")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "{entry:?}: only scheme://host[:port] is allowed (no path, query or user)"
            ));
        }
        let (host, port) = split_port(authority).map_err(|why| format!("{entry:?}: {why}"))?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let host = normalize_host(host);
        let host = if let Some(ip) = parse_ip(&host) {
            HostMatch::Ip(ip)
        } else if let Some(suffix) = host.strip_prefix("*.") {
            check_name(suffix).map_err(|why| format!("{entry:?}: {why}"))?;
            HostMatch::Subdomains(suffix.to_string())
        } else {
            check_name(&host).map_err(|why| format!("{entry:?}: {why}"))?;
            HostMatch::Name(host)
        };
        Ok(HostPattern { https, host, port })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        match &self.host {
            HostMatch::Name(name) => write!(f, "{scheme}://{name}:{}", self.port),
            HostMatch::Ip(IpAddr::V6(ip)) => write!(f, "{scheme}://[{ip}]:{}", self.port),
            HostMatch::Ip(ip) => write!(f, "{scheme}://{ip}:{}", self.port),
            HostMatch::Subdomains(suffix) => write!(f, "{scheme}://*.{suffix}:{}", self.port),
        }
    }
}

/// `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("unclosed `[` in an IPv6 address")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("expected `:port` after `]`")?),
        };
        (v6, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(digits) => Some(
            digits
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("bad port {digits:?}"))?,
        ),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok((host, port))
}

fn normalize_host(host: &str) -> String {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    host.parse().ok()
}

/// A DNS name: dot-separated labels of letters, digits and `-`.
fn check_name(name: &str) -> Result<(), String> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.contains('*') {
        return Err("`*` may only be the leftmost label, as in `*.example.org`".into());
    }
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(entry: &str) -> HostPattern {
        entry.parse().unwrap_or_else(|e| panic!("{entry}: {e}"))
    }

    #[test]
    fn exact_names_match_scheme_host_and_port() {
        let api = pattern("https://API.example.com");
        assert!(api.matches(true, "api.example.com", 443));
        assert!(api.matches(true, "Api.Example.Com.", 443));
        assert!(!api.matches(false, "api.example.com", 443), "scheme");
        assert!(!api.matches(true, "api.example.com", 8443), "port");
        assert!(!api.matches(true, "evil.api.example.com", 443), "subdomain");
        assert!(!api.matches(true, "api.example.com.evil.org", 443), "suffix");
        assert!(api.is_literal());
        let local = pattern("http://127.0.0.1:8080/");
        assert!(local.matches(false, "127.0.0.1", 8080));
        assert!(!local.matches(false, "127.0.0.1", 80));
        assert!(pattern("http://[::1]:9000").matches(false, "[::1]", 9000));
        assert!(pattern("http://example.com").matches(false, "example.com", 80));
    }

    #[test]
    fn a_wildcard_matches_subdomains_only() {
        let any = pattern("https://*.example.org");
        assert!(any.matches(true, "api.example.org", 443));
        assert!(any.matches(true, "a.b.example.org", 443));
        assert!(!any.matches(true, "example.org", 443));
        assert!(!any.matches(true, "badexample.org", 443));
        assert!(!any.matches(false, "api.example.org", 80));
        assert!(!any.is_literal());
        assert_eq!(any.to_string(), "https://*.example.org:443");
    }

    #[test]
    fn bad_entries_say_why() {
        for (entry, why) in [
            ("api.example.com", "expected scheme://host"),
            ("ftp://example.com", "not http or https"),
            ("https://example.com/path", "no path"),
            ("https://user@example.com", "no path"),
            ("https://example.com:99999", "bad port"),
            ("https://example.com:0", "bad port"),
            ("https://api.*.example.com", "leftmost"),
            ("https://*", "leftmost"),
            ("https://exa mple.com", "not a valid host name"),
            ("https://", "no host"),
            ("http://[::1", "unclosed"),
        ] {
            let error = entry.parse::<HostPattern>().unwrap_err();
            assert!(error.contains(why), "{entry}: {error}");
        }
    }
}
