"""Schemathesis over Twilio's TaskRouter v1 OpenAPI description, against a real Switchyard server.

Starts `$SWITCHYARD_BIN serve` on a free port with a fresh SQLite file, creates one real object of
every kind through the API (workspace, activity, task channel, worker, task queue, workflow, task,
reservation, ...), pins every path parameter of every operation to those SIDs, then runs the
`schemathesis` CLI over the spec with the base URL overridden to the local server.

Fails (exit 1) on any 5xx response, on a network error (the connection dropped: a panicking
handler), if the server died or logged a panic, or if anything in the setup goes wrong. Other
checks (response schema, status codes, content types) are run and summarised, never fatal.

Run it through run.sh, which installs the pinned schemathesis into .venv first.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "switchyard-dev-token"
STARTUP_TIMEOUT_S = 30

# Checks run on every response. Only `not_a_server_error` (and network errors) fail the run.
# status_code_conformance is left out: Twilio's description documents only each operation's
# success code, so every 4xx answer to bad input would be reported as "undocumented".
CHECKS = [
    "not_a_server_error",
    "content_type_conformance",
    "response_schema_conformance",
]
FATAL_CHECKS = {"not_a_server_error"}


def die(msg: str) -> None:
    print(f"schemathesis: FATAL: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        die(f"{name} must be an integer, got {raw!r}")
        raise


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def test_database(workdir: Path) -> str:
    """A SQLite file in `workdir`, or a new database (created by the server) on the PostgreSQL
    server of SWITCHYARD_TEST_DATABASE: the suite's PostgreSQL pass."""
    server = os.environ.get("SWITCHYARD_TEST_DATABASE")
    if not server:
        return str(workdir / "switchyard.db")
    base = server.rsplit("/", 1)[0]
    return f"{base}/switchyard_schemathesis_{os.getpid()}_{time.time_ns()}"


class Server:
    def __init__(self, binary: Path, workdir: Path, log_dir: Path):
        self.binary = binary
        self.db = test_database(workdir)
        self.stdout_path = log_dir / "server.stdout.log"
        self.stderr_path = log_dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in {
                "SWITCHYARD_BIND",
                "SWITCHYARD_DATABASE_URL",
                "SWITCHYARD_PUBLIC_URL",
                "SWITCHYARD_ACCOUNTS",
                "SWITCHYARD_ACCOUNT_SID",
                "SWITCHYARD_AUTH_TOKEN",
                "SWITCHYARD_CLOCK",
                "SWITCHYARD_ACTIVITY_SET",
            }
        }
        env.setdefault("RUST_BACKTRACE", "1")
        args = [
            str(self.binary), "serve",
            "--bind", "127.0.0.1:0",  # the OS picks a free port; the server prints it
            "--database", self.db,
            "--account-sid", ACCOUNT_SID,
            "--auth-token", AUTH_TOKEN,
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=open(self.stdout_path, "wb"),
            stderr=open(self.stderr_path, "wb"),
            env=env,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"the server exited with code {self.proc.returncode} before it was ready\n"
                    f"command: {' '.join(args)}\n--- server stderr ---\n{self.tail()}")
            m = re.search(r"Switchyard listening on (https?://\S+)", self.stdout_path.read_text(errors="replace"))
            if m and not self.base_url:
                self.base_url = m.group(1).rstrip("/")
            if self.base_url:
                try:
                    if requests.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        self.stop()
        die(f"the server did not answer GET /health with 200 within {STARTUP_TIMEOUT_S} s\n"
            f"command: {' '.join(args)}\n--- server stderr ---\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def panics(self) -> list[str]:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return [line for line in text.splitlines() if "panicked" in line]

    def stop(self) -> None:
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------------------------
# Real objects to pin the path parameters to
# --------------------------------------------------------------------------------------------


class Api:
    def __init__(self, base_url: str):
        self.base = f"{base_url}/v1"
        self.s = requests.Session()
        self.s.auth = (ACCOUNT_SID, AUTH_TOKEN)

    def _call(self, method: str, path: str, **kw) -> dict:
        r = self.s.request(method, self.base + path, timeout=15, **kw)
        if r.status_code >= 300:
            die(f"setup: {method} {path} {kw.get('data') or kw.get('params') or ''} -> {r.status_code} {r.text[:500]}")
        return r.json()

    def get(self, path: str, **params) -> dict:
        return self._call("GET", path, params=params)

    def post(self, path: str, **data) -> dict:
        return self._call("POST", path, data=data)


def create_fixtures(api: Api) -> dict[str, str]:
    """Create one live object of every kind; return their SIDs by role."""
    f: dict[str, str] = {}
    ws = api.post("/Workspaces", FriendlyName="schemathesis")["sid"]
    f["workspace"] = ws
    w = f"/Workspaces/{ws}"
    activities = api.get(f"{w}/Activities", PageSize=50)["activities"]
    available = next(a["sid"] for a in activities if a["friendly_name"] == "Available")
    f["available"] = available
    f["offline"] = next(a["sid"] for a in activities if a["friendly_name"] == "Offline")
    f["activity"] = api.post(f"{w}/Activities", FriendlyName="Fuzzed", Available="false")["sid"]
    f["task_channel"] = api.post(f"{w}/TaskChannels", FriendlyName="Fuzzed", UniqueName="fuzzed")["sid"]
    f["worker"] = api.post(
        f"{w}/Workers", FriendlyName="alice", ActivitySid=available,
        Attributes=json.dumps({"skill": "fuzz", "languages": ["en"]}),
    )["sid"]
    f["task_queue"] = api.post(f"{w}/TaskQueues", FriendlyName="fuzz-queue", TargetWorkers='skill == "fuzz"')["sid"]
    routing = {"task_routing": {"filters": [], "default_filter": {"queue": f["task_queue"]}}}
    # A long reservation timeout and no assignment callback: the reservation stays pending.
    f["workflow"] = api.post(
        f"{w}/Workflows", FriendlyName="fuzz-flow", Configuration=json.dumps(routing),
        TaskReservationTimeout="86400",
    )["sid"]
    f["task"] = api.post(
        f"{w}/Tasks", WorkflowSid=f["workflow"], Attributes=json.dumps({"language": "en"}), Timeout="86400",
    )["sid"]
    deadline = time.monotonic() + 10
    while True:
        res = api.get(f"{w}/Tasks/{f['task']}/Reservations")["reservations"]
        if res:
            f["reservation"] = res[0]["sid"]
            break
        if time.monotonic() > deadline:
            die("setup: the task was not reserved to the available worker within 10 s")
        time.sleep(0.1)
    channels = api.get(f"{w}/Workers/{f['worker']}/Channels")["channels"]
    if not channels:
        die("setup: the worker has no worker channels")
    f["worker_channel"] = next((c["sid"] for c in channels if c.get("task_channel_unique_name") == "default"),
                               channels[0]["sid"])
    events = api.get(f"{w}/Events", PageSize=1)["events"]
    if not events:
        die("setup: the workspace has no events")
    f["event"] = events[0]["sid"]

    # Victims for the DELETE operations, so deleting never removes an object the other
    # operations are pinned to. The first successful DELETE removes its victim; later ones 404.
    f["victim_workspace"] = api.post("/Workspaces", FriendlyName="schemathesis-victim")["sid"]
    f["victim_activity"] = api.post(f"{w}/Activities", FriendlyName="Victim", Available="false")["sid"]
    f["victim_task_channel"] = api.post(f"{w}/TaskChannels", FriendlyName="Victim", UniqueName="victim")["sid"]
    f["victim_worker"] = api.post(f"{w}/Workers", FriendlyName="victim")["sid"]
    f["victim_task_queue"] = api.post(f"{w}/TaskQueues", FriendlyName="victim-queue")["sid"]
    f["victim_workflow"] = api.post(
        f"{w}/Workflows", FriendlyName="victim-flow", Configuration=json.dumps(routing))["sid"]
    f["victim_task"] = api.post(f"{w}/Tasks", WorkflowSid=f["victim_workflow"], Attributes="{}")["sid"]
    return f


# Which fixture each operation's {Sid} (or other path parameter) is pinned to.
SID_BY_COLLECTION = {
    "Activities": "activity",
    "Events": "event",
    "Tasks": "task",
    "TaskChannels": "task_channel",
    "TaskQueues": "task_queue",
    "Workers": "worker",
    "Workflows": "workflow",
}
VICTIM_BY_COLLECTION = {
    "Workspaces": "victim_workspace",
    "Activities": "victim_activity",
    "Tasks": "victim_task",
    "TaskChannels": "victim_task_channel",
    "TaskQueues": "victim_task_queue",
    "Workers": "victim_worker",
    "Workflows": "victim_workflow",
}
NAMED_PARAMS = {
    "WorkspaceSid": "workspace",
    "WorkerSid": "worker",
    "TaskSid": "task",
    "TaskQueueSid": "task_queue",
    "WorkflowSid": "workflow",
    "TaskChannelSid": "task_channel",
}


def pin_parameters(spec: dict, fixtures: dict[str, str]) -> list[dict]:
    """One `[[operations]]` entry per operation, fixing each of its path parameters to a real SID."""
    entries = []
    for path, item in spec["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        for method, op in item.items():
            if method not in {"get", "post", "delete", "put", "patch"}:
                continue
            params = {}
            for name in names:
                if name in NAMED_PARAMS:
                    role = NAMED_PARAMS[name]
                elif name == "Sid":
                    # The collection {Sid} belongs to: the segment right before it.
                    segments = path.split("/")
                    collection = segments[segments.index("{Sid}") - 1]
                    if collection == "Reservations":
                        role = "reservation"
                    elif collection == "Channels":
                        role = "worker_channel"
                    elif method == "delete":
                        role = VICTIM_BY_COLLECTION[collection]
                    elif collection == "Workspaces":
                        role = "workspace"
                    else:
                        role = SID_BY_COLLECTION[collection]
                else:
                    die(f"no fixture for path parameter {{{name}}} of {method.upper()} {path}; extend fuzz.py")
                params[f"path.{name}"] = fixtures[role]
            if params:
                entries.append({"operation_id": op["operationId"], "parameters": params})
    return entries


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid TOML basic string for our values


def dictionaries(fixtures: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Realistic values for SID-, JSON- and expression-valued fields, and which fields draw from them.

    Fuzzed data alone almost never names a real activity or workflow, so most POSTs would stop at
    validation (400); half the time these fields take a real value instead.
    """
    routing = {"task_routing": {
        "filters": [{"filter_friendly_name": "fuzz", "expression": 'language == "en"',
                     "targets": [{"queue": fixtures["task_queue"], "timeout": 30, "priority": 5},
                                 {"queue": fixtures["task_queue"], "expression": "worker.level > 1"}]}],
        "default_filter": {"queue": fixtures["task_queue"]}}}
    values = {
        "activities": [fixtures["available"], fixtures["offline"], fixtures["activity"]],
        "workflows": [fixtures["workflow"]],
        "task_queues": [fixtures["task_queue"]],
        "workers": [fixtures["worker"]],
        "tasks": [fixtures["task"]],
        "reservations": [fixtures["reservation"]],
        "task_channels": ["default", "voice", "fuzzed", fixtures["task_channel"]],
        "attributes": ['{"skill": "fuzz", "language": "en"}', "{}", '{"skill": "other", "level": 3, "tags": ["a"]}'],
        "expressions": ['skill == "fuzz"', "1 == 1", 'languages HAS "en"', "level > 2 AND skill IN [\"fuzz\"]"],
        "configurations": [json.dumps(routing)],
    }
    bindings = {
        **{f"body.{n}": "activities" for n in (
            "ActivitySid", "AssignmentActivitySid", "DefaultActivitySid", "TimeoutActivitySid",
            "ReservationActivitySid", "WorkerActivitySid", "PostWorkActivitySid", "DequeuePostWorkActivitySid")},
        "query.ActivitySid": "activities",
        "body.WorkflowSid": "workflows", "query.WorkflowSid": "workflows",
        "body.TaskQueueSid": "task_queues", "query.TaskQueueSid": "task_queues",
        "query.WorkerSid": "workers",
        "query.TaskSid": "tasks",
        "query.ReservationSid": "reservations",
        "body.TaskChannel": "task_channels", "query.TaskChannel": "task_channels",
        "body.Attributes": "attributes",
        "body.TargetWorkers": "expressions", "query.TargetWorkersExpression": "expressions",
        "query.EvaluateWorkerAttributes": "expressions", "query.EvaluateTaskAttributes": "expressions",
        "body.Configuration": "configurations",
    }
    return values, bindings


def write_config(path: Path, entries: list[dict], fixtures: dict[str, str]) -> None:
    values, bindings = dictionaries(fixtures)
    lines = ["# Generated by fuzz.py for one run: path parameters pinned to live objects.", ""]
    lines.append(f"hooks = {toml_str(str(HERE / 'hooks.py'))}")
    lines.append("")
    lines.append("[parameters]")
    for key, name in bindings.items():
        lines.append(f"{toml_str(key)} = {{ dictionary = {toml_str(name)}, probability = 0.5 }}")
    lines.append("")
    for name, vals in values.items():
        lines.append(f"[dictionaries.{name}]")
        lines.append(f"values = [{', '.join(toml_str(v) for v in vals)}]")
        lines.append("")
    for e in entries:
        lines.append("[[operations]]")
        lines.append(f"include-operation-id = {toml_str(e['operation_id'])}")
        pairs = ", ".join(f"{toml_str(k)} = {toml_str(v)}" for k, v in e["parameters"].items())
        lines.append(f"parameters = {{ {pairs} }}")
        lines.append("")
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _decode(blob) -> str | None:
    """A recorded request/response body: {"$base64": ...} or plain text."""
    if blob is None:
        return None
    if isinstance(blob, dict) and "$base64" in blob:
        return base64.b64decode(blob["$base64"]).decode("utf-8", errors="replace")
    return blob if isinstance(blob, str) else json.dumps(blob)


def summarize(ndjson_path: Path) -> tuple[int, list[dict], list[dict], list[dict]]:
    """(cases, fatal failures, non-fatal failures, errors) from schemathesis' NDJSON event stream."""
    cases = 0
    fatal: list[dict] = []
    other: list[dict] = []
    errors: list[dict] = []
    if not ndjson_path.exists():
        die(f"schemathesis wrote no event stream at {ndjson_path}")
    for line in ndjson_path.read_text().splitlines():
        if not line.strip():
            continue
        ev = json.loads(line)
        if len(ev) != 1:
            continue
        ((kind, body),) = ev.items()
        if kind == "ScenarioFinished":
            rec = body.get("recorder") or {}
            cases += len(rec.get("cases") or {})
            for cid, checks in (rec.get("checks") or {}).items():
                for c in checks:
                    if c.get("status") != "failure":
                        continue
                    interaction = (rec.get("interactions") or {}).get(cid) or {}
                    req = interaction.get("request") or {}
                    resp = interaction.get("response") or {}
                    failure = (c.get("failure_info") or {}).get("failure") or {}
                    item = {
                        "check": c.get("name"),
                        "label": rec.get("label"),
                        "method": req.get("method"),
                        "url": req.get("uri"),
                        "headers": {k: v for k, v in (req.get("headers") or {}).items()
                                    if k.lower() not in {"authorization", "user-agent", "accept", "accept-encoding",
                                                         "connection", "content-length", "x-schemathesis-testcaseid"}},
                        "body": _decode(req.get("body")),
                        "status": resp.get("status_code"),
                        "response": _decode(resp.get("content")),
                        "title": failure.get("title", ""),
                        "message": failure.get("message", ""),
                    }
                    (fatal if c.get("name") in FATAL_CHECKS else other).append(item)
        elif kind in ("NonFatalError", "FatalError"):
            errors.append({"label": body.get("label", kind), "info": body.get("info") or body.get("value") or body})
    return cases, fatal, other, errors


# --------------------------------------------------------------------------------------------


def main() -> int:
    t0 = time.monotonic()
    binary = Path(os.environ.get("SWITCHYARD_BIN") or HERE / "../../target/debug/switchyard").resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        die(f"server binary not found or not executable: {binary} (build it: cargo build -p switchyard)")
    spec_path = Path(os.environ.get("SCHEMATHESIS_SPEC") or HERE / "../../../shared/spec/twilio_taskrouter_v1.json").resolve()
    if not spec_path.is_file():
        die(f"the OpenAPI description is missing: {spec_path} (set SCHEMATHESIS_SPEC)")
    spec = json.loads(spec_path.read_text())
    max_time = env_int("SCHEMATHESIS_MAX_TIME", 150)
    # One worker: the run is bound by this Python process (the GIL) anyway, and CPython 3.11's
    # ast.parse, which Hypothesis calls, is not thread-safe ("AST constructor recursion depth mismatch").
    workers = env_int("SCHEMATHESIS_WORKERS", 1)
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261204")
    out_dir = Path(os.environ.get("SCHEMATHESIS_OUT_DIR") or HERE / "out").resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)

    schemathesis_cli = Path(sys.executable).parent / "schemathesis"
    if not schemathesis_cli.exists():
        die(f"schemathesis CLI not found next to {sys.executable}; run through run.sh")

    workdir = Path(tempfile.mkdtemp(prefix="switchyard-schemathesis-"))
    server = Server(binary, workdir, out_dir)
    try:
        server.start()
        print(f"schemathesis: server {binary} at {server.base_url}, database {server.db}", flush=True)
        fixtures = create_fixtures(Api(server.base_url))
        fixtures_path = out_dir / "fixtures.json"
        fixtures_path.write_text(json.dumps(
            {**fixtures, "base_url": server.base_url, "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}, indent=2))
        config_path = out_dir / "schemathesis.toml"
        pins = pin_parameters(spec, fixtures)
        n_ops = sum(1 for item in spec["paths"].values() for m in item if m in {"get", "post", "delete", "put", "patch"})
        write_config(config_path, pins, fixtures)
        print(f"schemathesis: fixtures {json.dumps(fixtures)}", flush=True)

        ndjson = out_dir / "events.ndjson"
        cmd = [
            str(schemathesis_cli), "--config-file", str(config_path), "--no-color",
            "run", str(spec_path),
            "--url", server.base_url,  # overrides the spec's https://taskrouter.twilio.com
            "--auth", f"{ACCOUNT_SID}:{AUTH_TOKEN}",
            "--checks", ",".join(CHECKS),
            "--continue-on-failure",  # keep generating after a (non-fatal) check failure
            "--max-time", str(max_time),
            "--workers", str(workers),
            "--seed", seed,
            "--request-timeout", "20",
            "--suppress-health-check", "all",
            "--report", "ndjson,junit",
            "--report-dir", str(out_dir),
            "--report-ndjson-path", str(ndjson),
            "--output-truncate", "false",
        ]
        extra = os.environ.get("SCHEMATHESIS_ARGS", "").split()
        cmd += extra
        print("schemathesis: " + " ".join(cmd), flush=True)
        with open(out_dir / "schemathesis.log", "w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                  env={**os.environ, "SWITCHYARD_FUZZ_FIXTURES": str(fixtures_path)})
        cli_rc = proc.returncode

        alive = server.alive()
        panics = server.panics()
        cases, fatal, other, errors = summarize(ndjson)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # ---- report --------------------------------------------------------------------------
    elapsed = time.monotonic() - t0
    print(f"schemathesis: {cases} cases over {n_ops} operations in {elapsed:.0f} s "
          f"(schemathesis exit code {cli_rc}); full log, JUnit and NDJSON in {out_dir}")
    if other:
        # One line per (check, operation, first line of the message): what the schema disagrees on.
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for f in other:
            groups[(f["check"], f["label"], f["title"], f["message"].splitlines()[0] if f["message"] else "")].append(f)
        print(f"schemathesis: {len(other)} non-fatal check failures "
              f"({dict(Counter(f['check'] for f in other))}), by operation:")
        for (check, label, title, first), items in sorted(groups.items()):
            print(f"  [{check}] {label}: {title}: {first[:200]} (x{len(items)}, status {items[0]['status']})")
    fatal_findings = 0
    if fatal:
        seen = set()
        for f in fatal:
            key = (f["label"], f["status"], (f["response"] or "")[:200])
            if key in seen:
                continue
            seen.add(key)
            fatal_findings += 1
            print(f"schemathesis: FAIL: {f['status']} from {f['label']}:\n"
                  f"    {f['method']} {f['url']}\n"
                  + (f"    headers: {json.dumps(f['headers'])}\n" if f["headers"] else "")
                  + (f"    body: {f['body']}\n" if f["body"] else "")
                  + f"    -> {(f['response'] or '')[:300]}")
    for e in errors:
        fatal_findings += 1
        print(f"schemathesis: FAIL: error in {e['label']} (a network error is a dropped connection, e.g. "
              f"a panic): {json.dumps(e['info'])[:1000]}")
    if not alive:
        fatal_findings += 1
        print(f"schemathesis: FAIL: the server died during the run\n--- server stderr ---\n{server.tail()}")
    if panics:
        fatal_findings += 1
        print("schemathesis: FAIL: the server panicked:\n  " + "\n  ".join(panics[:20]))
    if cases == 0:
        fatal_findings += 1
        print("schemathesis: FAIL: no test case was run")
    if cli_rc not in (0, 1):
        fatal_findings += 1
        print(f"schemathesis: FAIL: schemathesis exited with {cli_rc}; see {out_dir / 'schemathesis.log'}")
    failed = fatal_findings > 0
    print(f"schemathesis: {fatal_findings} fatal findings (5xx, errors, panics, server death)")
    # The plain closing line test runners are judged by.
    print(f"schemathesis: {0 if failed else 1} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
