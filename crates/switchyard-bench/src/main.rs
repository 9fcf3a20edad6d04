//! `switchyard-bench`: Switchyard's load generator.
//!
//! Runs the scenarios of `docs/performance.md` and, in the same run, the machine's own limits to
//! compare them with: the commit rate of single-row SQLite transactions on this file system and
//! the request rate of an empty axum handler on this loopback. Prints a JSON report (and writes
//! it with `--out`). Build it in release mode for numbers worth keeping:
//!
//! ```text
//! cargo run --release -p switchyard-bench                 # every scenario, 60 s each
//! cargo run --release -p switchyard-bench -- lifecycle --duration 10
//! cargo run -p switchyard-bench -- --smoke                # seconds, tiny sizes (the test suite)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use serde_json::{json, Map, Value};

mod database;
mod embedded;
mod http;
mod limits;
mod measure;
mod nodes;
mod scale;
mod sockets;

const ACCOUNT: &str = "AC00000000000000000000000000000000";
const TOKEN: &str = "bench-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// The machine's limits: SQLite commits/s and empty axum requests/s.
    Limits,
    /// Full task lifecycles over HTTP, as fast as they complete.
    Lifecycle,
    /// Create → assignment-callback latency over HTTP at a fixed rate.
    Latency,
    /// Full task lifecycles through the embedded engine.
    Embedded,
    /// Embedded lifecycles spread over 1, 10 and `--workspaces` workspaces, timer loop running.
    Workspaces,
    /// A workspace at Twilio's caps: reservation decision time, memory, restart.
    Scale,
    /// Worker SDK sockets: reservation → `reservation.created` frame latency, memory per socket.
    Sockets,
    /// Lifecycles over HTTP on 1, 2, ... nodes on one PostgreSQL database (`--nodes`), the load
    /// spread over `--node-workspaces` workspaces. Needs `--database`.
    Nodes,
}

#[derive(Debug, Parser)]
#[command(about = "Switchyard's load generator")]
struct Args {
    /// Scenarios to run; all when none are named.
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Seconds each throughput or latency scenario runs.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Tasks per second of the latency scenario.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Workers of the throughput and latency scenarios.
    #[arg(long, default_value_t = 200)]
    workers: usize,
    /// Lifecycles under way at once in the throughput scenarios.
    #[arg(long, default_value_t = 200)]
    in_flight: usize,
    /// The most workspaces of the workspaces scenario.
    #[arg(long, default_value_t = 50)]
    workspaces: usize,
    /// Workers of the scale scenario.
    #[arg(long, default_value_t = 15_000)]
    scale_workers: usize,
    /// Queues of the scale scenario.
    #[arg(long, default_value_t = 5_000)]
    scale_queues: usize,
    /// Waiting tasks of the scale scenario.
    #[arg(long, default_value_t = 100_000)]
    scale_tasks: usize,
    /// Workers made available one by one in the scale scenario (latency samples).
    #[arg(long, default_value_t = 2_000)]
    scale_samples: usize,
    /// Connected Worker SDK sockets of the sockets scenario (one worker each).
    #[arg(long, default_value_t = 1_000)]
    sockets: usize,
    /// Tasks per second of the sockets scenario.
    #[arg(long, default_value_t = 200)]
    socket_rate: u64,
    /// Run on this PostgreSQL server (`postgres://user:password@host:port/db`), each scenario
    /// in a database of its own, dropped at the end; SQLite files when absent.
    #[arg(long)]
    database: Option<String>,
    /// A quick run with tiny sizes, to check that everything works (not to measure).
    #[arg(long)]
    smoke: bool,
    /// Node counts of the nodes scenario, run one after the other.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3])]
    nodes: Vec<usize>,
    /// Workspaces the nodes scenario spreads its load over.
    #[arg(long, default_value_t = 12)]
    node_workspaces: usize,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// mimalloc rather than glibc's malloc: cheaper under the runtime's and the writer's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.duration = 1;
        args.rate = 100;
        args.workers = 10;
        args.in_flight = 10;
        args.scale_workers = 200;
        args.scale_queues = 20;
        args.scale_tasks = 1_000;
        args.scale_samples = 50;
        args.workspaces = 3;
        args.sockets = 20;
        args.nodes = vec![1, 2];
        args.node_workspaces = 4;
    }
    if let Some(server) = args.database.clone() {
        anyhow::ensure!(
            switchyard_engine::is_postgres_url(&server) && url::Url::parse(&server).is_ok(),
            "--database takes a postgres:// URL"
        );
        database::use_postgres(server);
    }
    let scenarios = if args.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.scenarios.clone()
    };
    let duration = Duration::from_secs(args.duration);
    let mut report = Map::new();
    report.insert("machine".into(), machine());
    for scenario in scenarios {
        eprintln!("running {scenario:?}...");
        let (name, result) = match scenario {
            Scenario::Limits => {
                let dir = tempfile::tempdir()?;
                let limit = duration.min(Duration::from_secs(10));
                let sqlite = limits::sqlite_commits(dir.path(), limit).await?;
                let axum = limits::empty_axum(limit, args.in_flight).await?;
                let mut limits =
                    json!({ "sqlite_single_row_commits": sqlite, "empty_axum_handler": axum });
                if database::postgres().is_some() {
                    limits["postgres_single_row_commits"] = json!({
                        "one_connection": limits::postgres_commits(limit, 1).await?,
                        "eight_connections": limits::postgres_commits(limit, 8).await?,
                    });
                }
                ("limits", limits)
            }
            Scenario::Lifecycle => {
                let pace = http::Pace::Closed(args.in_flight);
                (
                    "lifecycle_http",
                    http::lifecycles(duration, args.workers, pace).await?,
                )
            }
            Scenario::Latency => {
                let pace = http::Pace::Rate(args.rate);
                (
                    "latency_http",
                    http::lifecycles(duration, args.workers, pace).await?,
                )
            }
            Scenario::Embedded => (
                "lifecycle_embedded",
                embedded::lifecycles(duration, args.workers, args.in_flight).await?,
            ),
            Scenario::Workspaces => {
                let mut counts = vec![1, 10, args.workspaces];
                counts.retain(|n| *n <= args.workspaces);
                counts.dedup();
                (
                    "lifecycle_embedded_workspaces",
                    embedded::across_workspaces(duration, args.workers, args.in_flight, &counts)
                        .await?,
                )
            }
            Scenario::Scale => (
                "scale",
                scale::run(scale::Size {
                    workers: args.scale_workers,
                    queues: args.scale_queues,
                    tasks: args.scale_tasks,
                    samples: args.scale_samples,
                })
                .await?,
            ),
            Scenario::Sockets => (
                "sockets",
                sockets::run(args.sockets, args.socket_rate).await?,
            ),
            Scenario::Nodes => (
                "nodes",
                nodes::run(
                    duration,
                    &args.nodes,
                    args.node_workspaces.max(1),
                    args.workers,
                    args.in_flight,
                )
                .await?,
            ),
        };
        eprintln!("{name}: {result}");
        report.insert(name.into(), result);
    }
    if database::postgres().is_some() {
        database::drop_made().await?;
    }
    let text = serde_json::to_string_pretty(&Value::Object(report))?;
    println!("{text}");
    if let Some(path) = &args.out {
        std::fs::write(path, text + "\n")?;
    }
    Ok(())
}

/// What the numbers were measured on.
fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    json!({
        "database": if database::postgres().is_some() { "postgres" } else { "sqlite" },
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu": cpu,
        "os": std::env::consts::OS,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}
