//! A short run of every scenario with tiny sizes: the load generator works end to end (server,
//! callbacks, embedded engine, restart, Worker SDK sockets). Its numbers are not checked: benchmarks measure, tests don't.

use std::process::Command;

#[test]
fn every_scenario_runs_and_reports() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut bench = Command::new(env!("CARGO_BIN_EXE_switchyard-bench"));
    bench.args(["--smoke", "--out"]).arg(out.path());
    // On the run of the suite on PostgreSQL, every scenario runs there.
    let postgres = std::env::var("SWITCHYARD_TEST_DATABASE")
        .ok()
        .filter(|v| !v.is_empty());
    if let Some(server) = &postgres {
        bench.args(["--database", server]);
    }
    let status = bench.status().unwrap();
    assert!(status.success());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap();
    for (scenario, key) in [
        ("lifecycle_http", "lifecycles_completed"),
        ("latency_http", "lifecycles_completed"),
        ("lifecycle_embedded", "lifecycles_completed"),
    ] {
        assert!(
            report[scenario][key].as_u64().unwrap() > 0,
            "{scenario}: {report}"
        );
        assert_eq!(report[scenario]["errors"], 0, "{scenario}: {report}");
    }
    assert!(
        report["limits"]["sqlite_single_row_commits"]["commits_per_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        report["limits"]["empty_axum_handler"]["requests_per_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(report["scale"]["reservations_created"], 50, "{report}");
    if postgres.is_some() {
        for nodes in ["1_nodes", "2_nodes"] {
            let run = &report["nodes"][nodes];
            assert!(
                run["lifecycles_completed"].as_u64().unwrap() > 0,
                "{report}"
            );
            assert_eq!(run["errors"], 0, "{nodes}: {report}");
        }
        assert_eq!(report["machine"]["database"], "postgres");
        for connections in ["one_connection", "eight_connections"] {
            let limit = &report["limits"]["postgres_single_row_commits"][connections];
            assert!(limit["commits_per_s"].as_f64().unwrap() > 0.0, "{report}");
        }
    }
    // Every socket heard of its reservation (the scenario fails otherwise).
    assert_eq!(
        report["sockets"]["create_to_reservation_created_frame_ms"]["count"], 20,
        "{report}"
    );
    assert!(
        report["latency_http"]["create_to_callback"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
}
