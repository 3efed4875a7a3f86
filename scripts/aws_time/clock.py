"""The clock of AWS's time: the windows (one state of one resource, for its scaled
duration), the error answers in each protocol's shape, and settling what ends with a window
(a table finally gone) on every request, which also serves GET /cruddur-emulator/windows."""

import json
import os
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.exceptions import HTTPException

SCALE = float(os.environ.get("CRUDDUR_EMULATOR_TIME") or 0)

# Seconds each state lasts at factor 1. AWS gives no figure but the queue's (see above).
SECONDS = {
    "table CREATING": 4,
    "table UPDATING": 2,
    "table DELETING": 3,
    # A new index: DynamoDB allocates resources (the table is UPDATING), then backfills.
    "index allocating": 1,
    "index backfilling": 6,
    "index DELETING": 3,
    # From CreateTable until UpdateContinuousBackups (and CreateBackup) are accepted.
    "backups unavailable": 5,
    # An on-demand backup, until it is AVAILABLE.
    "backup CREATING": 3,
    "function Pending": 3,
    "function InProgress": 2,
    "mapping Creating": 3,
    "mapping Updating": 2,
    "mapping Enabling": 2,
    "mapping Disabling": 2,
    "mapping Deleting": 3,
    "endpoint pending": 2,
    "endpoint deleting": 2,
    # After CreateRole and after each change of a role's policies, until Lambda sees it.
    "role propagating": 8,
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html:
    # "After you delete a queue, you must wait at least 60 seconds before creating a queue
    # with the same name."
    "queue name held": 60,
}
SECONDS.update(json.loads(os.environ.get("CRUDDUR_EMULATOR_SECONDS") or "{}"))

_lock = threading.RLock()
_started = time.time()


class Window:
    """One transient state of one resource, from `start` for the scaled duration of `name`."""

    def __init__(self, kind, key, state, name, start, on_end=None):
        self.kind, self.key, self.state, self.name = kind, key, state, name
        self.start = start
        self.end = start + SECONDS[name] * SCALE
        self.on_end = on_end
        self.asked = 0  # calls that met it while it lasted (polls and refusals)
        self.seen = None  # when a caller first met the resource after it

    def report(self):
        rel = lambda t: None if t is None else round(t - _started, 3)
        return {
            "kind": self.kind,
            "resource": self.key,
            "state": self.state,
            "name": self.name,
            "seconds": round(self.end - self.start, 3),
            "start": rel(self.start),
            "end": rel(self.end),
            "asked": self.asked,
            "seen": rel(self.seen),
        }


# (kind, key) -> the windows of its current change, in order (phases follow each other).
_windows = {}
_history = []


def begin(kind, key, *phases, on_end=None):
    """Starts the phases [(state, name), ...] of `key`'s change now, one after the other;
    `on_end` runs once the last is over (a deletion carried out). Returns what it replaced,
    for `cancel`."""
    with _lock:
        previous = _windows.get((kind, key), [])
        start = time.time()
        windows = []
        for i, (state, name) in enumerate(phases):
            last = i == len(phases) - 1
            window = Window(kind, key, state, name, start, on_end if last else None)
            windows.append(window)
            start = window.end
        _windows[(kind, key)] = windows
        _history.extend(windows)
        return previous


def cancel(kind, key, previous):
    """Undoes `begin` (the call it was for was refused): `previous` is what it returned."""
    with _lock:
        for window in _windows.pop((kind, key), []):
            _history.remove(window)
        if previous:
            _windows[(kind, key)] = previous


def current(kind, key):
    """The window `key` is in now, counted as met; `None` when it is in none (and the
    first such look after a window is when it was seen over)."""
    with _lock:
        now = time.time()
        windows = _windows.get((kind, key), [])
        for window in windows:
            if window.end <= now and window.seen is None:
                window.seen = now
        for window in windows:
            if window.start <= now < window.end:
                window.asked += 1
                return window
        return None


def settle():
    """Carries out what ends with a window (a table or mapping finally gone)."""
    with _lock:
        now = time.time()
        for key, windows in list(_windows.items()):
            last = windows[-1] if windows else None
            if last and last.end <= now and last.on_end:
                on_end, last.on_end = last.on_end, None
                on_end()


class AwsError(HTTPException):
    """An error answer exactly as AWS sends it: status, headers and body."""

    def __init__(self, status, headers, body):
        super().__init__()
        self.code = status
        self.description = json.dumps(body)
        self._headers = headers

    def get_headers(self, *args, **kwargs):
        return list(self._headers.items())

    def get_body(self, *args, **kwargs):
        return self.description


def dynamodb_error(code, message):
    # awsJson1_0: the code in __type, with DynamoDB's namespace.
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    return AwsError(400, {"Content-Type": "application/x-amz-json-1.0"}, body)


def lambda_error(status, code, message):
    # restJson1: the code in the x-amzn-ErrorType header.
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return AwsError(status, headers, {"Type": "User", "Message": message})


def sqs_error(code, query_code, message):
    # awsJson1_0 with awsQueryCompatible: the query protocol's code in x-amzn-query-error,
    # which the SDKs report as the code.
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-query-error": f"{query_code};Sender",
    }
    return AwsError(400, headers, {"__type": f"com.amazonaws.sqs#{code}", "message": message})


_dispatch = DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    if environ.get("PATH_INFO") == "/cruddur-emulator/windows":
        with _lock:
            body = json.dumps(
                {
                    "scale": SCALE,
                    "seconds": SECONDS,
                    "now": round(time.time() - _started, 3),
                    "windows": [w.report() for w in _history],
                }
            )
        body = body.encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    settle()
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = dispatch
