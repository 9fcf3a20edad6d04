//! Every resource and statistics response carries exactly the fields Twilio's OpenAPI
//! description gives it. The keys of every GET (and of the bulk statistics POST) are compared
//! with the response schema read from `../shared/spec/twilio_taskrouter_v1.json`, so no
//! hand-kept field table has to be trusted. The nested `realtime` and `cumulative` objects of
//! `.../Statistics`, which the spec leaves open, are compared with the schemas of the
//! `.../RealTimeStatistics` and `.../CumulativeStatistics` resources they mirror.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{sid_of, Server};
use crate::routing::{available_worker, pending_reservations, simple_workspace};

/// The spec, beside the project (`../shared`); missing, the test fails rather than skips.
fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/twilio_taskrouter_v1.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("the spec must be at {path} (../shared beside the project): {e}")
    });
    serde_json::from_str(&text).expect("the spec is JSON")
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

/// The schema a `$ref` points to, or the schema itself.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => self::schema(spec, r.trim_start_matches("#/components/schemas/")),
        None => schema,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Compares the keys of `got` with the properties of `schema`, noting any difference.
fn compare(what: &str, got: &Value, schema: &Value, except: &[&str], out: &mut Vec<String>) {
    let want: BTreeSet<String> = keys(&schema["properties"])
        .into_iter()
        .filter(|k| !except.contains(&k.as_str()))
        .collect();
    let got = keys(got);
    if got.is_empty() {
        out.push(format!("{what}: not an object"));
        return;
    }
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    if !missing.is_empty() || !extra.is_empty() {
        out.push(format!(
            "{what}: missing {missing:?}, not in the spec {extra:?}"
        ));
    }
}

/// The fields naming where a statistics resource belongs, which its nested copy leaves out.
const HEAD: &[&str] = &[
    "account_sid",
    "workspace_sid",
    "url",
    "task_queue_sid",
    "workflow_sid",
    "worker_sid",
];

/// The flat schemas whose fields `.../Statistics` nests, by the path's owner.
fn nested_schemas(path: &str) -> Option<(&'static str, &'static str)> {
    let pairs: &[(&str, (&str, &str))] = &[
        (
            "/TaskQueues/{TaskQueueSid}/Statistics",
            (
                "task_queue.task_queue_real_time_statistics",
                "task_queue.task_queue_cumulative_statistics",
            ),
        ),
        (
            "/TaskQueues/Statistics",
            (
                "task_queue.task_queue_real_time_statistics",
                "task_queue.task_queue_cumulative_statistics",
            ),
        ),
        (
            "/Workflows/{WorkflowSid}/Statistics",
            (
                "workflow.workflow_real_time_statistics",
                "workflow.workflow_cumulative_statistics",
            ),
        ),
        (
            "/Workers/Statistics",
            (
                "worker.workers_real_time_statistics",
                "worker.workers_cumulative_statistics",
            ),
        ),
        (
            "/Workers/{WorkerSid}/Statistics",
            ("", "worker.workers_cumulative_statistics"),
        ),
        (
            "/{WorkspaceSid}/Statistics",
            (
                "workspace_real_time_statistics",
                "workspace_cumulative_statistics",
            ),
        ),
    ];
    pairs
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map(|(_, names)| *names)
}

/// Checks the nested `realtime`/`cumulative` of a `.../Statistics` body.
fn compare_nested(spec: &Value, what: &str, path: &str, got: &Value, out: &mut Vec<String>) {
    let Some((realtime, cumulative)) = nested_schemas(path) else {
        return;
    };
    for (key, name) in [("realtime", realtime), ("cumulative", cumulative)] {
        if name.is_empty() {
            if got.get(key).is_some() {
                out.push(format!("{what}: has `{key}`, which this resource does not"));
            }
            continue;
        }
        let schema = schema(spec, &format!("taskrouter.v1.workspace.{name}"));
        assert!(schema.is_object(), "no schema {name}");
        compare(&format!("{what} .{key}"), &got[key], schema, HEAD, out);
    }
}

#[tokio::test]
async fn every_response_has_exactly_the_fields_of_its_schema() {
    let spec = spec();
    let s = Server::start().await;
    let (ws, queue, workflow) = simple_workspace(&s, None, "1").await;
    let w = format!("/Workspaces/{ws}");
    let worker = available_worker(&s, &ws, "a").await;
    let task = sid_of(
        &s.create(&format!("{w}/Tasks"), &[("Attributes", "{}")])
            .await,
    );
    let reservation = sid_of(&pending_reservations(&s, &ws, &task).await[0]);
    let first = |list: &str, key: &str| {
        let url = format!("{w}/{list}");
        let s = &s;
        let key = key.to_owned();
        async move {
            let (_, body) = s.get(&url).await;
            sid_of(&body[key.as_str()][0])
        }
    };
    let activity = first("Activities", "activities").await;
    let channel = first("TaskChannels", "channels").await;
    let event = first("Events", "events").await;
    let worker_channel = first(&format!("Workers/{worker}/Channels"), "channels").await;

    let mut differences = Vec::new();
    let mut checked = 0;
    let paths = spec["paths"].as_object().expect("paths");
    for (template, ops) in paths {
        // `{Sid}` is the SID of whatever the segment before it lists.
        let owner = template.rsplit('/').nth(1).unwrap_or("");
        let sid = match owner {
            "Activities" => &activity,
            "Events" => &event,
            "Tasks" => &task,
            "TaskChannels" => &channel,
            "TaskQueues" => &queue,
            "Reservations" => &reservation,
            "Workers" => &worker,
            "Channels" => &worker_channel,
            "Workflows" => &workflow,
            _ => &ws,
        };
        let path = template
            .trim_start_matches("/v1")
            .replace("{WorkspaceSid}", &ws)
            .replace("{TaskQueueSid}", &queue)
            .replace("{WorkerSid}", &worker)
            .replace("{WorkflowSid}", &workflow)
            .replace("{TaskSid}", &task)
            .replace("{Sid}", sid);
        let (op, got) = if let Some(op) = ops.get("get") {
            (op, s.get(&path).await)
        } else if template.ends_with("/TaskQueues/RealTimeStatistics") {
            let body = serde_json::json!({ "QueueSids": [queue] });
            (&ops["post"], s.post_json(&path, &body).await)
        } else {
            continue;
        };
        let what = format!("GET {template}");
        assert_eq!(got.0, 200, "{what}: {}", got.1);
        let response = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let response = resolve(&spec, response);
        let properties = &response["properties"];
        if properties.get("meta").is_some() {
            // A list: the envelope's own keys, its meta, and the first item.
            compare(&what, &got.1, response, &[], &mut differences);
            compare(
                &format!("{what} meta"),
                &got.1["meta"],
                &properties["meta"],
                &[],
                &mut differences,
            );
            let key = got.1["meta"]["key"].as_str().unwrap_or_default().to_owned();
            let item = resolve(&spec, &properties[key.as_str()]["items"]);
            let first = &got.1[key.as_str()][0];
            compare(&format!("{what} item"), first, item, &[], &mut differences);
            compare_nested(
                &spec,
                &format!("{what} item"),
                template,
                first,
                &mut differences,
            );
        } else {
            compare(&what, &got.1, response, &[], &mut differences);
            compare_nested(&spec, &what, template, &got.1, &mut differences);
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} endpoints checked");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    s.stop().await;
}
