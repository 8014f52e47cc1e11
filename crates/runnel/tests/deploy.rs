//! The Kubernetes manifests (`deploy/kubernetes`) as `kubectl kustomize` renders them (no
//! cluster here): the objects fit together (the StatefulSet's headless Service, selector,
//! ConfigMap and ServiceAccount; a Role that reads only named Secrets) and the worker config
//! they mount starts a worker.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::worker::WorkerProcess;

/// The rendered objects, as JSON.
fn rendered() -> Vec<Value> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/kubernetes");
    let yaml = Command::new("kubectl")
        .args(["kustomize", root])
        .stderr(Stdio::inherit())
        .output()
        .expect("kubectl runs (the test command installs it)");
    assert!(yaml.status.success(), "kubectl kustomize failed");
    let mut to_json = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML");
    use std::io::Write;
    to_json
        .stdin
        .take()
        .unwrap()
        .write_all(&yaml.stdout)
        .unwrap();
    let out = to_json.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one<'a>(objects: &'a [Value], kind: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind && pred(o))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} expected: {found:?}");
    found[0]
}

#[test]
fn the_kustomize_manifests_fit_together_and_their_worker_config_starts_a_worker() {
    let objects = rendered();
    let set = one(&objects, "StatefulSet", |_| true);
    let pod = &set["spec"]["template"];
    // The selector picks the pod template's labels.
    for (k, v) in set["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v, "selector label {k}");
    }
    // Stable pod names come from a headless Service.
    let headless = one(&objects, "Service", |s| s["spec"]["clusterIP"] == "None");
    assert_eq!(set["spec"]["serviceName"], headless["metadata"]["name"]);
    one(&objects, "PodDisruptionBudget", |_| true);
    // The ConfigMap (name with kustomize's content hash) is the one mounted.
    let config_map = one(&objects, "ConfigMap", |_| true);
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["configMap"]["name"] == config_map["metadata"]["name"]),
        "{volumes:?}"
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "runnel:0.1");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/health");
    // The pod's service account may get the named Secrets, nothing more.
    let account = one(&objects, "ServiceAccount", |_| true);
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        account["metadata"]["name"]
    );
    let role = one(&objects, "Role", |_| true);
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["resources"], serde_json::json!(["secrets"]));
    assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]));
    assert!(!rules[0]["resourceNames"].as_array().unwrap().is_empty());
    let binding = one(&objects, "RoleBinding", |_| true);
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], account["metadata"]["name"]);

    // The mounted worker config starts a worker (flags give it a free port and a temp state
    // directory here).
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("worker.properties");
    std::fs::write(
        &props,
        config_map["data"]["worker.properties"].as_str().unwrap(),
    )
    .unwrap();
    let mut w = WorkerProcess::start(
        dir.path(),
        runnel_testkit::free_port(),
        &["--config", props.to_str().unwrap()],
    );
    let connectors = w.ok("GET", "/connectors", None, 200);
    assert_eq!(connectors, serde_json::json!([]));
    w.stop();
}
