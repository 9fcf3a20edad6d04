"""Schemathesis hooks, loaded by the `schemathesis.toml` that fuzz.py writes.

A DELETE pinned to a spare object removes it on the first call; every later call would only
404. So before each such call, create a fresh object of the same kind and point the request at it:
every DELETE then reaches a live object. fuzz.py passes the server and the fixtures through
SWITCHYARD_FUZZ_FIXTURES (a JSON file with `base_url` and the SIDs by role).
"""

from __future__ import annotations

import json
import os
import sys
import threading

import requests
import schemathesis

_FIXTURES = json.loads(open(os.environ["SWITCHYARD_FUZZ_FIXTURES"]).read())
_BASE = _FIXTURES["base_url"] + "/v1"
_WS = _FIXTURES["workspace"]
_AUTH = (_FIXTURES["account_sid"], _FIXTURES["auth_token"])
_local = threading.local()
_counter = iter(range(1, 1 << 62))
_lock = threading.Lock()


def _n() -> int:
    with _lock:
        return next(_counter)


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
        s.auth = _AUTH
    return s


def _create(path: str, **data: str) -> str | None:
    """The new object's SID, or None (the DELETE then goes to the pinned SID, and likely 404s)."""
    try:
        r = _session().post(_BASE + path, data=data, timeout=15)
    except requests.RequestException as e:
        print(f"hooks: creating a spare object: POST {path}: {e}", file=sys.stderr)
        return None
    if r.status_code != 201:
        print(f"hooks: creating a spare object: POST {path} {data} -> {r.status_code} {r.text[:300]}", file=sys.stderr)
        return None
    return r.json()["sid"]


def _spare_workspace() -> str | None:
    return _create("/Workspaces", FriendlyName=f"spare-{_n()}")


def _spare_activity() -> str | None:
    return _create(f"/Workspaces/{_WS}/Activities", FriendlyName=f"Spare {_n()}", Available="false")


def _spare_task_channel() -> tuple[str, str] | None:
    # A workspace holds at most 15 task channels (5 come with it): a new workspace for each.
    ws = _spare_workspace()
    if ws is None:
        return None
    tc = _create(f"/Workspaces/{ws}/TaskChannels", FriendlyName="Spare", UniqueName="spare")
    return None if tc is None else (ws, tc)


def _spare_worker() -> str | None:
    return _create(f"/Workspaces/{_WS}/Workers", FriendlyName=f"spare-{_n()}")


def _spare_task_queue() -> str | None:
    return _create(f"/Workspaces/{_WS}/TaskQueues", FriendlyName=f"spare-{_n()}", TargetWorkers='skill == "none"')


def _spare_workflow() -> str | None:
    routing = {"task_routing": {"filters": [], "default_filter": {"queue": _FIXTURES["victim_task_queue"]}}}
    return _create(f"/Workspaces/{_WS}/Workflows", FriendlyName=f"spare-{_n()}", Configuration=json.dumps(routing))


def _spare_task() -> str | None:
    return _create(f"/Workspaces/{_WS}/Tasks", WorkflowSid=_FIXTURES["victim_workflow"], Attributes="{}")


# The pinned spare SID -> how to make another one like it.
_SPARES = {
    _FIXTURES["victim_workspace"]: _spare_workspace,
    _FIXTURES["victim_activity"]: _spare_activity,
    _FIXTURES["victim_task_channel"]: _spare_task_channel,
    _FIXTURES["victim_worker"]: _spare_worker,
    _FIXTURES["victim_task_queue"]: _spare_task_queue,
    _FIXTURES["victim_workflow"]: _spare_workflow,
    _FIXTURES["victim_task"]: _spare_task,
}


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "DELETE" or not case.path_parameters:
        return
    make = _SPARES.get(case.path_parameters.get("Sid"))
    if make is None:
        return
    made = make()
    if isinstance(made, tuple):
        case.path_parameters["WorkspaceSid"], case.path_parameters["Sid"] = made
    elif made is not None:
        case.path_parameters["Sid"] = made
