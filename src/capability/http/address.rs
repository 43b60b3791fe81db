//! Which addresses a request allowed only by a wildcard entry may reach:
//! public ones. A wildcard names no address literally, so a name under it
//! that resolves to a loopback, private, link-local or otherwise internal
//! address (DNS pointing inward) is refused.
//!
//! The name is resolved here and again when the request connects; a DNS
//! answer that changes in between (rebinding) is not caught. Operators who
//! need that closed list addresses literally.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `Err` with the reason when `host` is, or resolves to, a non-public
/// address. A name that does not resolve passes: connecting reports it.
pub async fn check_public(host: &str, port: u16) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((bare, port)).await {
            Ok(found) => found.map(|socket| socket.ip()).collect(),
            Err(_) => return Ok(()),
        },
    };
    match addresses.into_iter().find(|ip| !is_public(*ip)) {
        Some(ip) => Err(format!(
            "{host} resolves to the non-public address {ip}; only an allowed_hosts entry naming the host exactly may reach it"
        )),
        None => Ok(()),
    }
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 198 && (18..20).contains(&b))) // benchmarking
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80) // link-local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        assert!(check_public("localhost", 80).await.unwrap_err().contains("non-public"));
        assert!(check_public("[::1]", 80).await.is_err());
        assert!(check_public("93.184.216.34", 443).await.is_ok());
    }
}
