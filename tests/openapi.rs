//! `GET /v1/openapi.json` is a document tools accept: `openapi-spec-validator`
//! finds it valid OpenAPI 3.1, and `openapi-python-client` generates a client
//! from it that drives a sim session end to end (create, `!ping`, `pong`).
//!
//! Both tools are Python packages that `scripts/test` installs (pinned) into
//! the venv `.toolchains/py`; the generated client runs on that venv's
//! Python, which has the client's dependencies (httpx, attrs, dateutil).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use purr::control::{self, ApiToken, Server};

use common::{Host, PATIENCE, TestConfig};

const TOKEN: &str = "openapi-token-0123456789";

/// The echo plugin loaded, no session: the Python client creates one.
const ECHO_NO_SESSION: &str = r#"
[plugins.echo]
path = "{echo}"
"#;

/// A program of the venv `.toolchains/py` that `scripts/test` installs.
fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".toolchains/py/bin")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test (it installs openapi-spec-validator and \
         openapi-python-client into .toolchains/py)",
        path.display()
    );
    path
}

/// A host with the control API on a free loopback port.
async fn serve(config: &TestConfig) -> (Host, Server) {
    let host = config.started().await;
    let server = control::bind(host.supervisor.clone(), "127.0.0.1:0", ApiToken::new(TOKEN))
        .await
        .expect("bind the control API");
    (host, server)
}

/// `/v1/openapi.json`, written to `dir/openapi.json`.
async fn fetch_document(server: &Server, dir: &Path) -> PathBuf {
    let response = reqwest::get(format!("http://{}/v1/openapi.json", server.addr()))
        .await
        .expect("GET /v1/openapi.json");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let text = response.text().await.expect("document");
    let path = dir.join("openapi.json");
    std::fs::write(&path, text).expect("write the document");
    path
}

/// Runs `command` off the async runtime (the API server keeps serving);
/// kills it and fails after `patience`.
async fn run(mut command: Command, patience: Duration) -> Output {
    let shown = format!("{command:?}");
    let ran = tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {shown}: {e}"))?;
        let read = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = read(Box::new(child.stdout.take().expect("stdout")));
        let stderr = read(Box::new(child.stderr.take().expect("stderr")));
        let deadline = Instant::now() + patience;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = String::from_utf8_lossy(&stderr.join().expect("stderr")).into_owned();
                return Err(format!("{shown} ran longer than {patience:?}; stderr:\n{stderr}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Ok(Output {
            status,
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        })
    })
    .await
    .expect("the command's thread");
    ran.unwrap_or_else(|e| panic!("{e}"))
}

/// What a tool said, for a failure message.
fn said(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_document_validates_as_openapi_3_1() {
    let validator = tool("openapi-spec-validator");
    let config = TestConfig::new(ECHO_NO_SESSION);
    let (host, server) = serve(&config).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let document = fetch_document(&server, dir.path()).await;
    let mut command = Command::new(validator);
    // As 3.1 whatever the document says, and every error, not just the first.
    command
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&document);
    let output = run(command, PATIENCE).await;
    assert!(output.status.success(), "openapi-spec-validator: {}", said(&output));
    server.shutdown(PATIENCE).await;
    host.stop().await;
}

/// The Python program that uses the generated client (package `purr_client`).
const PING: &str = r#"
import os, sys, time
from purr_client import AuthenticatedClient
from purr_client.api.sessions import create_session, get_session
from purr_client.api.sim import sim_inbound, sim_outbound
from purr_client.models import NewSession, SimInbound

client = AuthenticatedClient(base_url=os.environ["PURR_URL"], token=os.environ["PURR_TOKEN"])
created = create_session.sync_detailed(
    client=client, body=NewSession(name="py", channel="sim", plugins=["echo"], autostart=True)
)
assert created.status_code == 201, (created.status_code, created.content)
patience = time.monotonic() + 30

while get_session.sync(name="py", client=client).status != "connected":
    assert time.monotonic() < patience, "session py never connected"
    time.sleep(0.05)

sent = sim_inbound.sync_detailed(name="py", client=client, body=SimInbound(from_="alice", text="!ping"))
assert sent.status_code == 202, (sent.status_code, sent.content)

while True:
    outbound = sim_outbound.sync(name="py", client=client)
    texts = [o.action.to_dict().get("Text", {}).get("text") for o in outbound]
    if "pong" in texts:
        print("pong")
        sys.exit(0)
    assert time.monotonic() < patience, f"no pong in {texts}"
    time.sleep(0.05)
"#;

#[tokio::test]
async fn a_generated_python_client_pings_a_sim_session() {
    let generator = tool("openapi-python-client");
    let python = tool("python3");
    let config = TestConfig::new(ECHO_NO_SESSION);
    let (host, server) = serve(&config).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let document = fetch_document(&server, dir.path()).await;

    let generator_config = dir.path().join("generator.yaml");
    // The generator reads only JSON, text/* and octet-stream bodies: the
    // metrics exposition and the QR's SVG are text to it. No post hooks (ruff
    // formats the generated code, which runs the same without).
    std::fs::write(
        &generator_config,
        "package_name_override: purr_client\n\
         post_hooks: []\n\
         content_type_overrides:\n  \
           application/openmetrics-text: text/plain\n  \
           image/svg+xml: text/plain\n",
    )
    .expect("write");
    let generated = dir.path().join("client");
    let mut command = Command::new(generator);
    command
        .arg("generate")
        .arg("--path")
        .arg(&document)
        .arg("--output-path")
        .arg(&generated)
        .arg("--config")
        .arg(&generator_config)
        .arg("--fail-on-warning");
    let output = run(command, Duration::from_secs(120)).await;
    assert!(output.status.success(), "openapi-python-client: {}", said(&output));

    let script = dir.path().join("ping.py");
    std::fs::write(&script, PING).expect("write");
    let mut command = Command::new(python);
    command
        .arg(&script)
        .env("PYTHONPATH", &generated)
        .env("PURR_URL", format!("http://{}", server.addr()))
        .env("PURR_TOKEN", TOKEN);
    let output = run(command, PATIENCE + Duration::from_secs(30)).await;
    assert!(output.status.success(), "the generated client: {}", said(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "pong");
    assert_eq!(host.supervisor.sim().outbound("py").len(), 1, "one reply");
    server.shutdown(PATIENCE).await;
    host.stop().await;
}
