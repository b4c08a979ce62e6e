//! `deploy/k8s/`: the manifests parse as Kubernetes objects, agree with
//! each other (names, keys, mounts, the shard count), their command lines
//! are the binary's own, and run as written — three shards on simulated
//! engines and then the merge Job's script — give one merged race.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;

use clap::Parser as _;
use llm_locust::cli::{Cli, Command};
use llm_locust::config::Shard;
use serde_yaml::Value;

use crate::common::{assert_success, bin, start_in};

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/k8s")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Every object a Kubernetes API server would take needs these.
    for key in ["apiVersion", "kind", "metadata"] {
        assert!(value.get(key).is_some(), "{name} has no {key}");
    }
    assert!(value["metadata"]["name"].as_str().is_some(), "{name}");
    value
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// Every object of deploy/k8s by kind and name.
struct Manifests {
    shards: Value,
    merge: Value,
    race_map: Value,
    run_map: Value,
    secret: Value,
    pvc: Value,
}

fn manifests() -> Manifests {
    Manifests {
        shards: manifest("shards-job.yaml"),
        merge: manifest("merge-job.yaml"),
        race_map: manifest("race-configmap.yaml"),
        run_map: manifest("run-configmap.yaml"),
        secret: manifest("secret.yaml"),
        pvc: manifest("results-pvc.yaml"),
    }
}

impl Manifests {
    fn config_map(&self, name: &str) -> &Value {
        [&self.race_map, &self.run_map]
            .into_iter()
            .find(|m| m["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no ConfigMap '{name}' in deploy/k8s"))
    }

    /// A container's environment as Kubernetes would set it for pod `index`.
    fn env(&self, container: &Value, index: u32) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for var in container["env"].as_sequence().unwrap() {
            let name = text(&var["name"]).to_owned();
            let value = if let Some(value) = var.get("value") {
                text(value).to_owned()
            } else if let Some(field) = var["valueFrom"].get("fieldRef") {
                assert_eq!(
                    text(&field["fieldPath"]),
                    "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                    "{name}"
                );
                index.to_string()
            } else {
                let key = &var["valueFrom"]["configMapKeyRef"];
                let map = self.config_map(text(&key["name"]));
                text(&map["data"][text(&key["key"])]).to_owned()
            };
            env.insert(name, value);
        }
        env
    }
}

/// `$(NAME)` replaced as Kubernetes expands a container's arguments.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = arg.to_owned();
    for (name, value) in env {
        out = out.replace(&format!("$({name})"), value);
    }
    assert!(!out.contains("$("), "unexpanded variable in '{arg}'");
    out
}

fn container(job: &Value) -> &Value {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// The race file of the ConfigMap, written where a test can run it.
fn race_file(m: &Manifests, dir: &Path) -> PathBuf {
    let path = dir.join("race.yaml");
    std::fs::write(&path, text(&m.race_map["data"]["race.yaml"])).unwrap();
    path
}

#[test]
fn the_indexed_job_runs_every_shard_of_the_race_file_with_its_keys() {
    let m = manifests();
    let job = &m.shards;
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(job["spec"]["parallelism"].as_u64(), Some(completions));
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"], "Never",
        "a restarted shard starts late"
    );
    let c = container(job);
    let count = u32::try_from(completions).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let race = race_file(&m, tmp.path());
    for index in 0..count {
        let env = m.env(c, index);
        assert_eq!(env["SHARD_COUNT"], count.to_string());
        let args: Vec<String> = c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| expand(text(a), &env))
            .collect();
        let cli = Cli::try_parse_from(std::iter::once("llm-locust".to_owned()).chain(args))
            .unwrap_or_else(|e| panic!("the binary refuses the Job's arguments: {e}"));
        let Command::Race(race_args) = cli.command else {
            panic!("the Job does not run a race");
        };
        assert_eq!(race_args.shard, Some(Shard { index, count }));
        assert!(race_args.no_tui);
        assert!(race_args.start_at.is_some(), "no --start-at");
        // The race file is the ConfigMap's, at its mount.
        let mounts = c["volumeMounts"].as_sequence().unwrap();
        let race_mount = mounts.iter().find(|v| v["name"] == "race").unwrap();
        assert_eq!(
            race_args.targets,
            [Path::new(text(&race_mount["mountPath"]))
                .join("race.yaml")
                .display()
                .to_string()]
        );
        // ...which this shard can run.
        let output = bin()
            .args(["validate", race.to_str().unwrap(), "--shard"])
            .arg(format!("{index}/{count}"))
            .output()
            .unwrap();
        assert_success(&output);
    }
    let volumes = job["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    let race_volume = volumes.iter().find(|v| v["name"] == "race").unwrap();
    assert_eq!(
        race_volume["configMap"]["name"],
        m.race_map["metadata"]["name"]
    );
    let results = volumes.iter().find(|v| v["name"] == "results").unwrap();
    assert_eq!(
        results["persistentVolumeClaim"]["claimName"],
        m.pvc["metadata"]["name"]
    );

    // Every key the race file asks for is in the Secret the pods take their
    // environment from, and no key is in the race file itself.
    assert_eq!(m.secret["kind"], "Secret");
    let from = c["envFrom"].as_sequence().unwrap();
    assert!(
        from.iter()
            .any(|f| f["secretRef"]["name"] == m.secret["metadata"]["name"]),
        "the pods do not take the Secret's keys"
    );
    let race_yaml: Value = serde_yaml::from_str(text(&m.race_map["data"]["race.yaml"])).unwrap();
    let engines = race_yaml["race"]["engines"].as_sequence().unwrap();
    for engine in engines {
        let var = text(&engine["api_key_env"]);
        assert!(
            m.secret["stringData"].get(var).is_some(),
            "{var} is not in the Secret"
        );
    }
}

#[test]
fn the_jobs_command_lines_race_and_merge_as_written() {
    let m = manifests();
    let tmp = tempfile::tempdir().unwrap();
    let race = race_file(&m, tmp.path());
    let results = tmp.path().join("results");
    let shard_container = container(&m.shards);
    let count = m.shards["spec"]["completions"].as_u64().unwrap() as u32;
    let start = start_in(4.0);
    // The pods' command lines, pointed at this test's files: the race file
    // and volume in a folder, every engine simulated for two seconds, and
    // the metrics on a free loopback port (the pods' is 0.0.0.0:9464).
    let children: Vec<Child> = (0..count)
        .map(|index| {
            let mut env = m.env(shard_container, index);
            env.insert("START_AT".into(), start.clone());
            let args: Vec<String> = shard_container["args"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| {
                    expand(text(a), &env)
                        .replace("/race/race.yaml", race.to_str().unwrap())
                        .replace("/results", results.to_str().unwrap())
                        .replace("0.0.0.0:9464", "127.0.0.1:0")
                })
                .collect();
            bin()
                .args(&args)
                .args(["--simulate", "--duration", "2", "--countdown", "0"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert_success(&child.wait_with_output().unwrap());
    }

    // The merge Job's script, in a shell, with the binary on its PATH.
    let merge = container(&m.merge);
    assert_eq!(merge["command"][0], "sh");
    let script = text(&merge["args"][0]).replace("/results", results.to_str().unwrap());
    let env = m.env(merge, 0);
    assert_eq!(env["SHARD_COUNT"], count.to_string());
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_llm-locust"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .envs(&env)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_success(&output);
    let run = results.join(&env["RUN_ID"]);
    let merged = llm_locust::racefile::read(&run.join("merged.llmrace")).unwrap();
    assert_eq!(
        merged.spec.sharding,
        llm_locust::config::Sharding::Merged {
            count,
            present: (0..count).collect()
        }
    );
    assert!(run.join("report/report.html").is_file());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("report/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["shards"]["label"], "merged from 3 shards");
}
