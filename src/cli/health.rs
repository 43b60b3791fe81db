//! `purr health`: asks a running host's `/healthz` (or `/readyz`) and turns
//! the answer into an exit status, for probes that can run a command but
//! carry no HTTP client (the container image's `HEALTHCHECK`, scripts).
//!
//! The address is `--api`, else the config's `[host] api`; a host listening
//! on every interface (`0.0.0.0`, `[::]`) is asked on loopback. Neither
//! endpoint needs the token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use super::ConfigArg;

/// How long the host may take to answer before the probe fails.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `purr health`.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address of the host's control API [default: the config's `[host] api`].
    #[arg(long, value_name = "HOST:PORT")]
    api: Option<String>,
    /// Ask `/readyz` (store open, autostarted sessions settled) instead of
    /// `/healthz` (the process is fit to keep running).
    #[arg(long)]
    ready: bool,
}

/// Exit 0 when the endpoint answers 200, 1 (with the reason on stderr) when
/// it answers otherwise or nothing answers.
pub async fn health(args: HealthArgs) -> ExitCode {
    let addr = match &args.api {
        Some(api) => api.clone(),
        None => match args.config.load() {
            Ok(config) => config.host.api,
            Err(code) => return code,
        },
    };
    let path = if args.ready { "/readyz" } else { "/healthz" };
    let url = format!("http://{}{path}", probe_address(&addr));
    let client = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build();
    let answer = match client {
        Ok(client) => client.get(&url).send().await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) if response.status().is_success() => {
            println!("{path}: {}", response.status());
            ExitCode::SUCCESS
        }
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("{path}: {status} {}", body.trim());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{path}: no purr host answers at {addr} ({error})");
            ExitCode::FAILURE
        }
    }
}

/// `addr` with an unspecified IP (listening on every interface) replaced by
/// loopback of the same family; any other address as given.
fn probe_address(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(socket) if socket.ip().is_unspecified() => {
            let loopback = match socket.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            SocketAddr::new(loopback, socket.port()).to_string()
        }
        _ => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::probe_address;

    #[test]
    fn a_host_on_every_interface_is_probed_on_loopback() {
        assert_eq!(probe_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe_address("[::]:8080"), "[::1]:8080");
        assert_eq!(probe_address("10.0.0.5:8080"), "10.0.0.5:8080");
        assert_eq!(probe_address("purr.internal:8080"), "purr.internal:8080");
    }
}
