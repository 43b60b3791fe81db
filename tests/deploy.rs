//! `deploy/`: the systemd unit passes `systemd-analyze verify` (no
//! warnings: a misspelt hardening key would be ignored silently), its
//! sandbox scores as "OK" in `systemd-analyze security`, and the example
//! config it runs passes `purr check`; the Kubernetes example (no schema
//! validator is available offline) is parsed and the fields purr relies on
//! checked, and the configs of it and of the compose cluster pass `purr check`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{plugin_path, run_purr};
use serde::Deserialize as _;
use serde_json::{Value, json};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)
}

/// The unit with its `ExecStart` pointing at the purr under test (verify
/// checks that the binary exists), in a temp dir.
fn unit_for_test() -> (tempfile::TempDir, PathBuf) {
    let unit = std::fs::read_to_string(deploy("purr.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/purr run -c /etc/purr/purr.toml"));
    let unit = unit.replace("/usr/local/bin/purr", env!("CARGO_BIN_EXE_purr"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("purr.service");
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

fn systemd_analyze(args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze (Debian package systemd; scripts/test installs it)")
}

#[test]
fn the_systemd_unit_verifies_without_warnings() {
    let (_dir, unit) = unit_for_test();
    let output = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.trim(), "", "systemd-analyze verify warns");
}

#[test]
fn the_systemd_unit_is_sandboxed() {
    let (_dir, unit) = unit_for_test();
    let output = systemd_analyze(&["security", "--offline=true", unit.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&output.stdout);
    let overall = report
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for purr.service: "))
        .map(|(_, level)| level.to_string())
        .unwrap_or_else(|| panic!("no overall level in:\n{report}"));
    let score: f64 = overall.split_whitespace().next().unwrap().parse().unwrap();
    assert!(score <= 2.0, "exposure {overall} (0 is best, 10 worst):\n{report}");
}

#[test]
fn the_example_config_checks() {
    let config = std::fs::read_to_string(deploy("purr.toml")).unwrap();
    assert_checks(&config, "/var/lib/purr", "/etc/purr/plugins");
}

/// `config` (its data dir and plugin dir as the deployment has them) passes
/// `purr check` here, with the host's variables set.
fn assert_checks(config: &str, data_dir: &str, plugins: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = config
        .replace(data_dir, &dir.path().join("state").display().to_string())
        .replace(
            &format!("{plugins}/guard.wasm"),
            &plugin_path("guard").display().to_string(),
        )
        .replace(
            &format!("{plugins}/echo.wasm"),
            &plugin_path("echo").display().to_string(),
        );
    let path = dir.path().join("purr.toml");
    std::fs::write(&path, config).unwrap();
    let output = run_purr(&["check", "-c", path.to_str().unwrap()], "", |command| {
        command
            .env("PURR_HOST", "host-a")
            .env("PURR_DATABASE_URL", "postgres://purr@db/purr");
    });
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The documents of a YAML file, as JSON values.
fn yaml_documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy(file)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

#[test]
fn the_kubernetes_example_runs_two_probed_hosts_on_one_database() {
    let documents = yaml_documents("k8s/purr.yaml");
    let of_kind = |kind: &str| -> &Value {
        (documents.iter())
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let (secret, config_map, deployment) = (of_kind("Secret"), of_kind("ConfigMap"), of_kind("Deployment"));
    let secret_name = &secret["metadata"]["name"];
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2, "two hosts");
    assert_eq!(
        spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"],
        "the Deployment selects its pods"
    );
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];

    // The config: the ConfigMap's purr.toml, mounted where `-c` points.
    let args = container["args"].as_array().unwrap();
    assert_eq!(args[..], [json!("run"), json!("-c"), json!("/etc/purr/purr.toml")]);
    let mount = (container["volumeMounts"].as_array().unwrap().iter())
        .find(|m| m["mountPath"] == "/etc/purr")
        .expect("the config mounted at /etc/purr");
    let volume = (pod["volumes"].as_array().unwrap().iter())
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    let toml = config_map["data"]["purr.toml"].as_str().unwrap();
    assert!(toml.contains("database = \"${PURR_DATABASE_URL}\"") && toml.contains("id = \"${PURR_HOST}\""));
    assert_checks(toml, "/data", "/usr/lib/purr/plugins");

    // Each pod is a host named after the pod; the database URL and the API
    // token come from the Secret.
    let env = |name: &str| -> &Value {
        (container["env"].as_array().unwrap().iter())
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(env("PURR_HOST")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    for (variable, key) in [("PURR_DATABASE_URL", "database-url"), ("PURR_API_TOKEN", "api-token")] {
        let reference = &env(variable)["valueFrom"]["secretKeyRef"];
        assert_eq!((&reference["name"], &reference["key"]), (secret_name, &json!(key)));
        assert!(secret["stringData"][key].is_string(), "the Secret has {key}");
    }

    // Probes on the API's port: /healthz (alive) and /readyz (ready).
    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 8080);
    assert!(toml.contains("api = \"0.0.0.0:8080\""));
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!((&get["path"], &get["port"]), (&json!(path), &port["name"]), "{probe}");
    }
    // The image's user, and room for the drain before SIGKILL.
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > 10);
}

#[test]
fn the_compose_cluster_runs_two_hosts_on_postgres() {
    let compose = yaml_documents("compose.cluster.yaml").remove(0);
    let services = &compose["services"];
    let mut hosts = Vec::new();
    for name in ["purr-a", "purr-b"] {
        let env = &services[name]["environment"];
        assert!(env["PURR_DATABASE_URL"].as_str().unwrap().starts_with("postgres://"));
        hosts.push(env["PURR_HOST"].as_str().unwrap().to_string());
        let volumes = services[name]["volumes"].as_array().unwrap();
        assert!(
            volumes.contains(&json!("./cluster.toml:/etc/purr/purr.toml:ro")),
            "{name}"
        );
    }
    assert_ne!(hosts[0], hosts[1], "each host its own id");
    assert!(services["postgres"]["image"].as_str().unwrap().starts_with("postgres:"));
    let config = std::fs::read_to_string(deploy("cluster.toml")).unwrap();
    assert_checks(&config, "/data", "/usr/lib/purr/plugins");
}
