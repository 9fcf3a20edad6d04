//! What the scenarios report: latency percentiles, CPU time and memory of this process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Percentiles of a set of latencies, in milliseconds.
pub(crate) fn percentiles(mut samples: Vec<Duration>) -> Value {
    if samples.is_empty() {
        return json!({ "count": 0 });
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        ms(samples[i])
    };
    json!({
        "count": samples.len(),
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": ms(*samples.last().expect("not empty")),
    })
}

/// A duration in milliseconds, to the microsecond.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A rate rounded to a whole number per second.
pub(crate) fn per_sec(n: u64, over: Duration) -> f64 {
    (n as f64 / over.as_secs_f64()).round()
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// A line of `/proc/self/status` in KB (`VmRSS`, `VmHWM`), on Linux.
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn status_mb(key: &str) -> Option<f64> {
    status_kb(key).map(|kb| (kb as f64 / 1024.0).round())
}

/// Resident memory now, in KB.
pub(crate) fn rss_kb() -> Option<u64> {
    status_kb("VmRSS:")
}

/// Resident memory now, in MB.
pub(crate) fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

/// Peak resident memory of the process so far, in MB.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Wall-clock and CPU time over a stretch of work.
pub(crate) struct Meter {
    start: Instant,
    cpu: Option<Duration>,
}

impl Meter {
    pub(crate) fn start() -> Meter {
        Meter {
            start: Instant::now(),
            cpu: cpu_time(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Wall time, CPU time, and the CPU cores kept busy on average (of this process).
    pub(crate) fn report(&self) -> Value {
        let wall = self.start.elapsed();
        let cpu = match (self.cpu, cpu_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        json!({
            "wall_s": (wall.as_secs_f64() * 100.0).round() / 100.0,
            "cpu_s": cpu.map(|c| (c.as_secs_f64() * 100.0).round() / 100.0),
            "cores_busy": cpu.map(|c| (c.as_secs_f64() / wall.as_secs_f64() * 100.0).round() / 100.0),
            "peak_rss_mb": peak_rss_mb(),
        })
    }
}

/// Waits (up to 30 s) until all `started` lifecycles have ended, `done` or in `errors`, so the
/// server or store can be stopped without cutting one off.
pub(crate) async fn settle(done: &AtomicU64, errors: &AtomicU64, started: u64) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::Relaxed) + errors.load(Ordering::Relaxed) < started
        && Instant::now() < give_up
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
