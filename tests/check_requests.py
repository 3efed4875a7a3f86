#!/usr/bin/env python3
"""Checks recorded AWS requests against AWS's published API models.

The emulator accepts much that AWS refuses: names too long or of the wrong characters,
values outside an enum, numbers out of range, lists too long. AWS validates every request
against its service's API model; botocore ships those models (botocore/data/), and moto's
request recorder writes every request it received as a line of JSON. This reads such a
recording, parses each request with moto's own model-driven parsers (the same code the
emulator uses to read it), and checks every value against the model's constraints:
required members, string and blob lengths, patterns (full match, as AWS's Java-style
patterns mean), enums, numeric ranges, list and map sizes.

Usage: check_requests.py RECORDING.jsonl
Prints one line per violation (`<service>.<Operation> <path>: <problem>`) and exits 1 if
there is any; the last line counts what was checked.
"""

import base64
import json
import sys
from urllib.parse import parse_qsl, urlsplit

import regex
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.utils import get_service_model
from werkzeug.datastructures import Headers, MultiDict

# The services the tool talks to, by botocore's name.
SERVICES = [
    "cloudwatch",
    "dynamodb",
    "dynamodbstreams",
    "ec2",
    "iam",
    "lambda",
    "logs",
    "resourcegroupstaggingapi",
    "sns",
    "sqs",
    "sts",
]


class Models:
    """The service models, and which one a request is for."""

    def __init__(self):
        # botocore's models, as moto loads them (its parsers need its model classes).
        self.models = {name: get_service_model(name) for name in SERVICES}
        self.by_target = {
            m.metadata["targetPrefix"]: m
            for m in self.models.values()
            if m.metadata.get("targetPrefix")
        }
        self.patterns = {}

    def identify(self, entry):
        """(service model, operation name, protocol, request dict) of a recorded request,
        or None when it is not a call to one of SERVICES."""
        headers = Headers(entry.get("headers") or {})
        body = entry.get("body") or ""
        body = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        url = urlsplit(entry["url"])
        values = MultiDict(parse_qsl(url.query, keep_blank_values=True))
        content_type = headers.get("Content-Type", "")
        target = headers.get("X-Amz-Target")
        scope = credential_scope(headers)
        request = {
            "method": entry["method"],
            "headers": headers,
            "body": body,
            "url_path": url.path,
            "url_params": {},
            "values": values,
        }
        if target:
            prefix, operation = target.rsplit(".", 1)
            model = self.by_target.get(prefix)
            if model is None:
                return None
            return model, operation, "json", request
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
            values.update(form)
            request["values"] = values
            action = form.get("Action")
            model = next(
                (
                    m
                    for m in self.models.values()
                    if m.signing_name == scope and action in m.operation_names
                ),
                None,
            )
            if model is None:
                return None
            protocol = "ec2" if model.service_name == "ec2" else "query"
            return model, action, protocol, request
        if scope == "lambda":
            model = self.models["lambda"]
            found = match_rest(model, entry["method"], url.path)
            if found is None:
                raise Problem(f"no Lambda operation is {entry['method']} {url.path}")
            operation, params = found
            request["url_params"] = params
            return model, operation, "rest-json", request
        return None

    def pattern(self, text):
        if text not in self.patterns:
            try:
                self.patterns[text] = regex.compile(text)
            except regex.error:
                self.patterns[text] = None
        return self.patterns[text]


class Problem(Exception):
    pass


def credential_scope(headers):
    """The service a request was signed for (`.../<region>/<service>/aws4_request`)."""
    auth = headers.get("Authorization", "")
    for part in auth.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part[len("Credential=") :].split("/")
            if len(scope) >= 4:
                return scope[3]
    return None


def match_rest(model, method, path):
    """The REST operation whose method and URI template match, with its path labels."""
    for name in model.operation_names:
        http = model.operation_model(name).http
        if http.get("method") != method:
            continue
        template = http["requestUri"].split("?")[0]
        parts, labels = [], []
        for piece in regex.split(r"(\{[^}]+\})", template):
            if piece.startswith("{"):
                label = piece[1:-1]
                greedy = label.endswith("+")
                labels.append(label.rstrip("+"))
                parts.append("(.+)" if greedy else "([^/]+)")
            else:
                parts.append(regex.escape(piece))
        found = regex.fullmatch("".join(parts) + "/?", path)
        if found:
            return name, dict(zip(labels, found.groups()))
    return None


def check(models, model, shape, value, path, problems):
    """Appends to `problems` what in `value` breaks `shape`'s constraints."""
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return
        for member in shape.required_members:
            if member not in value:
                problems.append(f"{path}: required member {member} is missing")
        for member, member_shape in shape.members.items():
            if member in value:
                check(models, model, member_shape, value[member], f"{path}.{member}", problems)
        return
    if kind == "list":
        size(meta, len(value), path, "items", problems)
        for i, item in enumerate(value):
            check(models, model, shape.member, item, f"{path}[{i}]", problems)
        return
    if kind == "map":
        size(meta, len(value), path, "entries", problems)
        for k, v in value.items():
            check(models, model, shape.key, k, f"{path}.<key {k!r}>", problems)
            check(models, model, shape.value, v, f"{path}[{k!r}]", problems)
        return
    if kind == "string":
        text = value if isinstance(value, str) else str(value)
        size(meta, len(text), path, "characters", problems)
        if shape.enum and text not in shape.enum:
            problems.append(f"{path}: {text!r} is not one of {sorted(shape.enum)}")
        if "pattern" in meta:
            pattern = models.pattern(meta["pattern"])
            if pattern is not None and not pattern.fullmatch(text):
                problems.append(f"{path}: {text!r} does not match {meta['pattern']}")
        return
    if kind == "blob":
        size(meta, len(value), path, "bytes", problems)
        return
    if kind in ("integer", "long", "float", "double"):
        low, high = meta.get("min"), meta.get("max")
        if low is not None and value < low:
            problems.append(f"{path}: {value} is below the minimum {low}")
        if high is not None and value > high:
            problems.append(f"{path}: {value} is above the maximum {high}")


def size(meta, n, path, what, problems):
    low, high = meta.get("min"), meta.get("max")
    if low is not None and n < low:
        problems.append(f"{path}: {n} {what}, fewer than the minimum {low}")
    if high is not None and n > high:
        problems.append(f"{path}: {n} {what}, more than the maximum {high}")


# IAM's action prefix where it differs from botocore's service name.
IAM_PREFIX = {"resourcegroupstaggingapi": "tag", "dynamodbstreams": "dynamodb"}


def operations(recording, access_key=None):
    """Prints the IAM action of every recorded call, once each; only those signed with
    `access_key` when one is given (`--operations RECORDING [ACCESS_KEY_ID]`)."""
    models = Models()
    seen = set()
    with open(recording) as lines:
        for line in lines:
            if line.strip():
                entry = json.loads(line)
                auth = entry.get("headers", {}).get("Authorization", "")
                if access_key and f"Credential={access_key}/" not in auth:
                    continue
                found = models.identify(entry)
                if found is not None:
                    model, operation = found[0], found[1]
                    seen.add(f"{IAM_PREFIX.get(model.service_name, model.service_name)}:{operation}")
    for action in sorted(seen):
        print(action)
    return 0


def main(recording):
    models = Models()
    checked, violations = 0, []
    with open(recording) as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            entry = json.loads(line)
            try:
                found = models.identify(entry)
            except Problem as e:
                violations.append(f"request {number}: {e}")
                continue
            if found is None:
                violations.append(
                    f"request {number}: {entry['method']} {entry['url']} is not a call this "
                    "check knows (add its service to SERVICES)"
                )
                continue
            model, operation, protocol, request = found
            if operation not in model.operation_names:
                violations.append(f"{model.service_name}.{operation}: no such operation")
                continue
            operation_model = model.operation_model(operation)
            params = PROTOCOL_PARSERS[protocol](operation_model).parse(request)
            problems = []
            if operation_model.input_shape is not None:
                check(models, model, operation_model.input_shape, params, "", problems)
            label = f"{model.service_name}.{operation}"
            violations.extend(f"{label} {p.lstrip('.') or '(input)'}" for p in problems)
            checked += 1
    for v in violations:
        print(v)
    print(f"{checked} requests checked against botocore's models, {len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    if sys.argv[1] == "--operations":
        sys.exit(operations(*sys.argv[2:4]))
    sys.exit(main(sys.argv[1]))
