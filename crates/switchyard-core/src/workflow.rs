//! The workflow configuration document (`Configuration` on a workflow) and its validation.
//!
//! The document is Twilio's JSON:
//!
//! ```text
//! { "task_routing": {
//!     "filters": [ { "filter_friendly_name": "...", "expression": "...",
//!                    "targets": [ { "queue": "WQ…", "expression": "...", "priority": 10,
//!                                   "timeout": 300, "order_by": "worker.level DESC",
//!                                   "skip_if": "workers.available == 0",
//!                                   "known_worker_sid": "task.agent" } ] } ],
//!     "default_filter": { "queue": "WQ…" } } }
//! ```
//!
//! [`WorkflowConfig::parse`] checks the shape, compiles every expression, and reports the first
//! problem with the JSON path where it sits. Whether the queues exist is the caller's question
//! ([`WorkflowConfig::queue_sids`]), since the core cannot look them up.

use serde_json::{Map, Value};

use crate::expr::Expr;
use crate::sid::TaskQueueSid;

/// A parsed, validated workflow configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowConfig {
    /// Filters in evaluation order; the first whose expression holds wins.
    pub filters: Vec<Filter>,
    /// The target used when no filter matches.
    pub default_filter: Option<Target>,
}

/// One filter: a condition over task attributes and the routing steps it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Its label (`filter_friendly_name`, or the legacy `friendly_name`).
    pub friendly_name: Option<String>,
    /// Condition over the task's attributes.
    pub expression: Expr,
    /// Routing steps, in order.
    pub targets: Vec<Target>,
}

/// One routing step.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The queue; `None` inherits the previous step's.
    pub queue: Option<TaskQueueSid>,
    /// Condition over `task.*` and `worker.*` restricting the eligible workers.
    pub expression: Option<Expr>,
    /// Priority the task takes in this step.
    pub priority: Option<i64>,
    /// Seconds of task age after which the task moves on to the next step.
    pub timeout: Option<i64>,
    /// Worker ordering clauses.
    pub order_by: Vec<OrderBy>,
    /// Skip the step when this holds and no worker can be reserved on entry.
    pub skip_if: Option<Expr>,
    /// The known worker to target, if any.
    pub known_worker: Option<KnownWorker>,
}

/// A `worker.<attr> ASC|DESC` ordering clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// The worker attribute path, without the `worker.` prefix.
    pub attribute: String,
    /// Descending rather than ascending.
    pub descending: bool,
}

/// Known-worker routing: a task attribute names the worker to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownWorker {
    /// The task attribute (without `task.`) holding the worker SID.
    Sid(String),
    /// The task attribute (without `task.`) holding the worker's friendly name.
    FriendlyName(String),
}

/// Why a configuration is not acceptable: a message for the user, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid workflow configuration: {0}")]
pub struct ConfigError(pub String);

/// Largest configuration document Twilio accepts, in bytes: its limits page says "1038576
/// bytes (1MB)", and that is the number it documents, so it is the one enforced.
pub const MAX_CONFIGURATION_LEN: usize = 1_038_576;

/// Most filters a configuration may have (Switchyard's bound; Twilio documents none). Each
/// parsed filter costs about a kilobyte in memory, for every workflow the routing model holds.
pub const MAX_FILTERS: usize = 1_000;

/// Most routing steps (targets) one filter may have (Switchyard's bound; Twilio documents none).
pub const MAX_TARGETS: usize = 100;

const FILTER_KEYS: &[&str] = &[
    "filter_friendly_name",
    "friendly_name",
    "expression",
    "targets",
];
const TARGET_KEYS: &[&str] = &[
    "queue",
    "expression",
    "priority",
    "timeout",
    "order_by",
    "skip_if",
    "known_worker_sid",
    "known_worker_friendly_name",
];

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object()
        .ok_or_else(|| err(format!("{at} must be a JSON object")))
}

fn no_unknown_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
) -> Result<(), ConfigError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(format!(
            "unknown key '{k}' in {at} (allowed: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn string<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a str>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{at}.{key} must be a string"))),
    }
}

fn expression(map: &Map<String, Value>, key: &str, at: &str) -> Result<Option<Expr>, ConfigError> {
    string(map, key, at)?
        .map(|s| Expr::parse(s).map_err(|e| err(format!("{at}.{key}: {e}"))))
        .transpose()
}

/// An integer given as a JSON number or a numeric string (both appear in Twilio's examples).
fn integer(map: &Map<String, Value>, key: &str, at: &str) -> Result<Option<i64>, ConfigError> {
    let bad = || err(format!("{at}.{key} must be an integer"));
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn parse_order_by(text: &str, at: &str) -> Result<Vec<OrderBy>, ConfigError> {
    text.split(',')
        .map(|clause| {
            let mut words = clause.split_whitespace();
            let key = words
                .next()
                .ok_or_else(|| err(format!("{at}.order_by has an empty clause")))?;
            let attribute = key
                .strip_prefix("worker.")
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err(format!("{at}.order_by: '{key}' must start with 'worker.'")))?;
            let descending = match words.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => false,
                Some("DESC") => true,
                Some(other) => {
                    return Err(err(format!(
                        "{at}.order_by: expected ASC or DESC after '{key}', found '{other}'"
                    )))
                }
            };
            if let Some(extra) = words.next() {
                return Err(err(format!("{at}.order_by: unexpected '{extra}'")));
            }
            Ok(OrderBy {
                attribute: attribute.to_owned(),
                descending,
            })
        })
        .collect()
}

fn task_attribute(text: &str, key: &str, at: &str) -> Result<String, ConfigError> {
    text.strip_prefix("task.")
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            err(format!(
                "{at}.{key} must name a task attribute as 'task.<attribute>'"
            ))
        })
}

fn parse_target(v: &Value, at: &str) -> Result<Target, ConfigError> {
    let map = object(v, at)?;
    no_unknown_keys(map, TARGET_KEYS, at)?;
    let queue = string(map, "queue", at)?
        .map(|q| {
            q.parse::<TaskQueueSid>()
                .map_err(|_| err(format!("{at}.queue '{q}' is not a TaskQueue SID")))
        })
        .transpose()?;
    let timeout = integer(map, "timeout", at)?;
    if timeout.is_some_and(|t| t <= 0) {
        return Err(err(format!(
            "{at}.timeout must be a positive number of seconds"
        )));
    }
    let priority = integer(map, "priority", at)?;
    if priority.is_some_and(|p| !(0..=i64::from(i32::MAX)).contains(&p)) {
        return Err(err(format!(
            "{at}.priority must be between 0 and 2147483647"
        )));
    }
    let order_by = string(map, "order_by", at)?
        .map(|s| parse_order_by(s, at))
        .transpose()?
        .unwrap_or_default();
    let known_sid = string(map, "known_worker_sid", at)?;
    let known_name = string(map, "known_worker_friendly_name", at)?;
    let known_worker = match (known_sid, known_name) {
        (Some(_), Some(_)) => {
            return Err(err(format!(
                "{at} may set known_worker_sid or known_worker_friendly_name, not both"
            )))
        }
        (Some(s), None) => Some(KnownWorker::Sid(task_attribute(s, "known_worker_sid", at)?)),
        (None, Some(s)) => Some(KnownWorker::FriendlyName(task_attribute(
            s,
            "known_worker_friendly_name",
            at,
        )?)),
        (None, None) => None,
    };
    Ok(Target {
        queue,
        expression: expression(map, "expression", at)?,
        priority,
        timeout,
        order_by,
        skip_if: expression(map, "skip_if", at)?,
        known_worker,
    })
}

impl WorkflowConfig {
    /// Parses and validates a configuration document.
    pub fn parse(text: &str) -> Result<WorkflowConfig, ConfigError> {
        if text.len() > MAX_CONFIGURATION_LEN {
            return Err(err(format!(
                "the document is {} bytes; at most {MAX_CONFIGURATION_LEN} bytes are allowed",
                text.len()
            )));
        }
        let doc: Value =
            serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let top = object(&doc, "the configuration")?;
        no_unknown_keys(top, &["task_routing"], "the configuration")?;
        let routing = top
            .get("task_routing")
            .ok_or_else(|| err("task_routing is missing"))?;
        let routing = object(routing, "task_routing")?;
        no_unknown_keys(routing, &["filters", "default_filter"], "task_routing")?;

        let mut filters = Vec::new();
        match routing.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.len() > MAX_FILTERS => {
                return Err(err(format!(
                    "task_routing.filters has {} filters; at most {MAX_FILTERS} are allowed",
                    items.len()
                )))
            }
            Some(Value::Array(items)) => {
                for (i, f) in items.iter().enumerate() {
                    let at = format!("task_routing.filters[{i}]");
                    let map = object(f, &at)?;
                    no_unknown_keys(map, FILTER_KEYS, &at)?;
                    let friendly_name = match string(map, "filter_friendly_name", &at)? {
                        Some(n) => Some(n.to_owned()),
                        None => string(map, "friendly_name", &at)?.map(str::to_owned),
                    };
                    let expression = expression(map, "expression", &at)?
                        .ok_or_else(|| err(format!("{at}.expression is missing")))?;
                    let targets = match map.get("targets") {
                        Some(Value::Array(t)) if t.len() > MAX_TARGETS => {
                            return Err(err(format!(
                                "{at}.targets has {} targets; at most {MAX_TARGETS} are allowed",
                                t.len()
                            )))
                        }
                        Some(Value::Array(t)) if !t.is_empty() => t
                            .iter()
                            .enumerate()
                            .map(|(j, t)| parse_target(t, &format!("{at}.targets[{j}]")))
                            .collect::<Result<Vec<_>, _>>()?,
                        Some(Value::Array(_)) | None | Some(Value::Null) => {
                            return Err(err(format!("{at}.targets must list at least one target")))
                        }
                        Some(_) => return Err(err(format!("{at}.targets must be an array"))),
                    };
                    if targets[0].queue.is_none() {
                        return Err(err(format!("{at}.targets[0].queue is missing")));
                    }
                    filters.push(Filter {
                        friendly_name,
                        expression,
                        targets,
                    });
                }
            }
            Some(_) => return Err(err("task_routing.filters must be an array")),
        }

        let default_filter = match routing.get("default_filter") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let target = parse_target(v, "task_routing.default_filter")?;
                if target.queue.is_none() {
                    return Err(err("task_routing.default_filter.queue is missing"));
                }
                Some(target)
            }
        };
        Ok(WorkflowConfig {
            filters,
            default_filter,
        })
    }

    /// Every queue the configuration names, in order of appearance, without repeats.
    pub fn queue_sids(&self) -> Vec<&TaskQueueSid> {
        let mut out: Vec<&TaskQueueSid> = Vec::new();
        let targets = self
            .filters
            .iter()
            .flat_map(|f| &f.targets)
            .chain(&self.default_filter);
        for q in targets.filter_map(|t| t.queue.as_ref()) {
            if !out.contains(&q) {
                out.push(q);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q1: &str = "WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const Q2: &str = "WQbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn parses_the_documented_shapes() {
        let doc = format!(
            r#"{{"task_routing":{{"filters":[{{"filter_friendly_name":"Gold Tickets",
              "expression":"type == 'ticket' AND customer_value == 'Gold'",
              "targets":[{{"queue":"{Q1}","priority":"10","timeout":300,
                           "expression":"task.requested_agent==worker.agent_id",
                           "order_by":"worker.level DESC, worker.tenure"}},
                         {{"skip_if":"workers.available == 0","known_worker_sid":"task.agent"}}]}}],
              "default_filter":{{"queue":"{Q2}"}}}}}}"#
        );
        let cfg = WorkflowConfig::parse(&doc).unwrap();
        assert_eq!(cfg.filters.len(), 1);
        let f = &cfg.filters[0];
        assert_eq!(f.friendly_name.as_deref(), Some("Gold Tickets"));
        assert_eq!(f.targets[0].priority, Some(10));
        assert_eq!(f.targets[0].timeout, Some(300));
        assert_eq!(
            f.targets[0].order_by,
            vec![
                OrderBy {
                    attribute: "level".into(),
                    descending: true
                },
                OrderBy {
                    attribute: "tenure".into(),
                    descending: false
                }
            ]
        );
        assert_eq!(f.targets[1].queue, None);
        assert_eq!(
            f.targets[1].known_worker,
            Some(KnownWorker::Sid("agent".into()))
        );
        let queues: Vec<String> = cfg.queue_sids().iter().map(|q| q.to_string()).collect();
        assert_eq!(queues, vec![Q1.to_owned(), Q2.to_owned()]);
    }

    #[test]
    fn minimal_and_legacy_label() {
        let cfg = WorkflowConfig::parse(&format!(
            r#"{{"task_routing":{{"default_filter":{{"queue":"{Q1}"}}}}}}"#
        ))
        .unwrap();
        assert!(cfg.filters.is_empty());
        let cfg = WorkflowConfig::parse(&format!(
            r#"{{"task_routing":{{"filters":[{{"friendly_name":"x","expression":"1==1","targets":[{{"queue":"{Q1}"}}]}}]}}}}"#
        ))
        .unwrap();
        assert_eq!(cfg.filters[0].friendly_name.as_deref(), Some("x"));
    }

    #[test]
    fn errors_name_the_problem_and_where() {
        let cases = [
            ("{", "not valid JSON"),
            ("[]", "the configuration must be a JSON object"),
            ("{}", "task_routing is missing"),
            (
                r#"{"task_routing":{},"x":1}"#,
                "unknown key 'x' in the configuration",
            ),
            (
                r#"{"task_routing":{"filter":[]}}"#,
                "unknown key 'filter' in task_routing",
            ),
            (
                r#"{"task_routing":{"filters":{}}}"#,
                "task_routing.filters must be an array",
            ),
            (
                r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[]}]}}"#,
                "task_routing.filters[0].targets must list at least one target",
            ),
            (
                r#"{"task_routing":{"filters":[{"targets":[{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}]}}"#,
                "task_routing.filters[0].expression is missing",
            ),
            (
                r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"priority":1}]}]}}"#,
                "task_routing.filters[0].targets[0].queue is missing",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"nope"}}}"#,
                "task_routing.default_filter.queue 'nope' is not a TaskQueue SID",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","timeout":0}}}"#,
                "task_routing.default_filter.timeout must be a positive number of seconds",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","priority":"high"}}}"#,
                "task_routing.default_filter.priority must be an integer",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","order_by":"level DESC"}}}"#,
                "task_routing.default_filter.order_by: 'level' must start with 'worker.'",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","known_worker_sid":"agent"}}}"#,
                "task_routing.default_filter.known_worker_sid must name a task attribute",
            ),
            (
                r#"{"task_routing":{"default_filter":{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","queues":"x"}}}"#,
                "unknown key 'queues' in task_routing.default_filter",
            ),
            (
                r#"{"task_routing":{"filters":[{"expression":"a ==","targets":[{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}]}}"#,
                "task_routing.filters[0].expression: ",
            ),
        ];
        for (doc, want) in cases {
            let got = WorkflowConfig::parse(doc).unwrap_err().0;
            assert!(got.starts_with(want), "{doc}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn filter_and_target_counts_are_bounded() {
        let filter = |targets: usize| {
            let t = vec![r#"{"queue":"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","timeout":5}"#; targets]
                .join(",");
            format!(r#"{{"expression":"1==1","targets":[{t}]}}"#)
        };
        let doc = |filters: usize, targets: usize| {
            let f = vec![filter(targets); filters].join(",");
            format!(r#"{{"task_routing":{{"filters":[{f}]}}}}"#)
        };
        assert!(WorkflowConfig::parse(&doc(MAX_FILTERS, 1)).is_ok());
        let got = WorkflowConfig::parse(&doc(MAX_FILTERS + 1, 1))
            .unwrap_err()
            .0;
        assert!(got.contains("at most 1000"), "{got}");
        assert!(WorkflowConfig::parse(&doc(1, MAX_TARGETS)).is_ok());
        let got = WorkflowConfig::parse(&doc(1, MAX_TARGETS + 1))
            .unwrap_err()
            .0;
        assert!(
            got.contains("task_routing.filters[0].targets has 101"),
            "{got}"
        );
        let huge = format!("{}{}", " ".repeat(MAX_CONFIGURATION_LEN), doc(1, 1));
        let got = WorkflowConfig::parse(&huge).unwrap_err().0;
        assert!(got.contains("at most 1038576 bytes"), "{got}");
    }
}
