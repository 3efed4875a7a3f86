#!/usr/bin/env python3
"""The local AWS emulator: moto's server mode on loopback, with nine fidelity fixes.

moto 5.2 differs from AWS in nine ways that matter to a deployer (the fifth and sixth below,
with their code; the seventh, AWS's time, in aws_time/, on when
CRUDDUR_EMULATOR_TIME is set; the eighth, streams as DynamoDB keeps them, in streams.py;
the ninth, Lambda's versions and aliases, in versions.py);
all are patched here, in the emulator process only, so that
the tool is tested against AWS's behaviour:

1. Re-enabling a stream after disabling it. DynamoDB creates a new stream (new label and
   ARN); moto refuses with StreamAlreadyEnabledException because it keeps the old label.
   Changing a stream's view type is exactly "disable, then enable", so this must work.
2. Table class. DynamoDB stores TableClass (CreateTable/UpdateTable) and reports it in
   TableClassSummary; moto ignores it, so a table class could never be seen to change.
3. Stream records and event source mappings. With a mapping on a table's stream, moto runs
   the function (in Docker) on every write and then drops the records from the stream. No
   Docker engine runs here, and AWS keeps records in the stream for 24 hours whatever its
   consumers do; so the emulator keeps them and invokes nothing. The end-to-end test reads
   the stream itself and feeds the records to the built function.
4. Transactions. DynamoDB's TransactWriteItems is atomic and isolated: serializable
   against PutItem, UpdateItem, DeleteItem and GetItem, read-committed for Query and Scan
   ("Isolation levels for DynamoDB transactions", transaction-apis.html). moto's server
   handles requests on several threads, applies a transaction's items one by one on the
   live table, and rolls a cancelled one back by restoring a copy of the whole table taken
   before it: a write made by another request meanwhile (an item, and its stream record)
   is undone, and a read meanwhile sees half a transaction. One lock, held by every
   DynamoDB item read and write and by UpdateTable, makes them serial, as they appear to
   be on AWS (the stream processor's concurrency tests race real transactions; the stream
   cutover test writes while transactions are cancelled).

It also loads AWS's managed IAM policies (moto leaves them out unless asked), so a role can
attach arn:aws:iam::aws:policy/... as on AWS.

Usage: emulator.py [-H 127.0.0.1] [-p PORT]   (the arguments of `python -m moto.server`)
"""

import copy as _copy
import json
import os
import re
import sys
import threading

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.awslambda.models import LambdaBackend
import moto.dynamodb.models as _dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.iam.access_control import IAMRequest
from moto.server import main
from werkzeug.exceptions import HTTPException
from urllib.parse import unquote
from xml.sax.saxutils import escape as xml_escape

_update_table_streams = DynamoDBBackend.update_table_streams


def update_table_streams(self, table, stream_specification):
    enabling = stream_specification.get("StreamEnabled") or stream_specification.get(
        "StreamViewType"
    )
    currently_enabled = (table.stream_specification or {}).get("StreamEnabled")
    if enabling and not currently_enabled:
        # The old stream is finished; the new one gets its own label, as on AWS.
        table.latest_stream_label = None
    return _update_table_streams(self, table, stream_specification)


DynamoDBBackend.update_table_streams = update_table_streams

_describe = Table.describe


def describe(self, base_key="TableDescription"):
    result = _describe(self, base_key)
    result[base_key]["TableClassSummary"] = {
        "TableClass": getattr(self, "table_class", "STANDARD")
    }
    return result


Table.describe = describe

_create_table = DynamoHandler.create_table
_update_table = DynamoHandler.update_table


def create_table(self):
    result = _create_table(self)
    table = self.dynamodb_backend.get_table(self.body["TableName"])
    table.table_class = self.body.get("TableClass", "STANDARD")
    return result


def update_table(self):
    if "TableClass" in self.body:
        table = self.dynamodb_backend.get_table(self.body["TableName"])
        table.table_class = self.body["TableClass"]
    return _update_table(self)


DynamoHandler.create_table = create_table
DynamoHandler.update_table = update_table


def send_dynamodb_items(self, function_arn, items, source):
    # Nothing invoked, nothing returned: moto then leaves the records in the stream.
    return None


LambdaBackend.send_dynamodb_items = send_dynamodb_items

# Fix 4: reentrant, since a transaction and a batch write call put_item and its kin.
_items = threading.RLock()


def _serial(method):
    def serial(self, *args, **kwargs):
        with _items:
            return method(self, *args, **kwargs)

    return serial


_transact_write_items = DynamoDBBackend.transact_write_items
_in_transaction = threading.local()


class _TablesNotCopied:
    """moto's DynamoDB models' `copy` module, but a transaction's backup of a whole table is
    not made (it cost a deep copy of every item and stream record per transaction):
    transact_write_items below keeps the items the transaction touches instead."""

    def deepcopy(self, x, memo=None):
        if getattr(_in_transaction, "on", False) and isinstance(x, Table):
            return x
        return _copy.deepcopy(x, memo)

    def __getattr__(self, name):
        return getattr(_copy, name)


_dynamodb_models.copy = _TablesNotCopied()


def _touched(table, kind, op):
    """The key of the item a transaction's `op` (Put, Update, Delete, ConditionCheck) names."""
    attributes = op["Item"] if kind == "Put" else op["Key"]
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = None
    if table.range_key_attr:
        range_key = DynamoType(attributes[table.range_key_attr])
    return hash_key, range_key


def transact_write_items(self, transact_items):
    # moto rolls a cancelled transaction back by putting the copy of each table it took
    # before in the table's place: every reader still holding the live table (a shard
    # iterator holds its stream shard) then reads a table nobody writes to any more. Here
    # the live table stays: the items the transaction touched get their values back, and
    # its stream loses the records the transaction appended (none was seen: GetRecords
    # takes the lock too).
    touched = []
    marks = {}
    for item in transact_items:
        kind, op = next(iter(item.items()))
        table = self.tables.get(op.get("TableName"))
        if table is None:
            continue
        try:
            hash_key, range_key = _touched(table, kind, op)
            before = _copy.deepcopy(table.get_item(hash_key, range_key))
        except Exception:
            continue  # a malformed key: moto refuses the transaction before any write
        touched.append((table, hash_key, range_key, before))
        if table.stream_shard is not None:
            marks.setdefault(id(table), (table, len(table.stream_shard.items)))
    _in_transaction.on = True
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, before in reversed(touched):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                table.items[hash_key].pop(range_key, None)
            else:
                table.items[hash_key][range_key] = before
        for table, mark in marks.values():
            del table.stream_shard.items[mark:]
        raise
    finally:
        _in_transaction.on = False


DynamoDBBackend.transact_write_items = transact_write_items

for _name in (
    "transact_write_items",
    "transact_get_items",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "get_item",
    "batch_get_item",
    "query",
    "scan",
    "update_table",
):
    setattr(DynamoDBBackend, _name, _serial(getattr(DynamoDBBackend, _name)))
DynamoDBStreamsBackend.get_records = _serial(DynamoDBStreamsBackend.get_records)

# (Also an error code: moto answers DescribeTimeToLive and UpdateTimeToLive for a table that
# does not exist with `ResourceNotFound`; DynamoDB's API reference lists
# ResourceNotFoundException for both, which is what the SDK's typed errors expect.)
from moto.dynamodb.exceptions import ResourceNotFoundException as _NoTable


def _ttl_call(method):
    def patched(self, table_name, *args, **kwargs):
        if table_name not in self.tables:
            raise _NoTable(table_name=table_name)
        return method(self, table_name, *args, **kwargs)

    return patched


DynamoDBBackend.describe_time_to_live = _ttl_call(DynamoDBBackend.describe_time_to_live)
DynamoDBBackend.update_time_to_live = _ttl_call(DynamoDBBackend.update_time_to_live)


# 5. A call the caller's IAM policies deny (with INITIAL_NO_AUTH_ACTION_COUNT set). AWS
#    answers in each protocol's own error shape, naming the identity, the action and the
#    resource; moto answers every service with one XML shape that only EC2's parser
#    reads, and names no resource, so an SDK sees an unknown error.
class _DeniedJson(JsonRESTError):
    code = 400


class _DeniedQuery(HTTPException):
    code = 403

    def __init__(self, message, code="AccessDenied"):
        super().__init__()
        self.description = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error>"
            "<RequestId>denied</RequestId></ErrorResponse>"
        )

    def get_headers(self, *args, **kwargs):
        return [("Content-Type", "text/xml")]

    def get_body(self, *args, **kwargs):
        return self.description


_check_action_permitted = IAMRequest.check_action_permitted


def raise_access_denied(self):
    message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}"
    # moto checks most actions against "*": AWS names the resource, moto cannot.
    resource = getattr(self, "_denied_resource", "*")
    if resource != "*":
        message += f" on resource: {resource}"
    if self._service in ("iam", "sts", "monitoring"):
        raise _DeniedQuery(message)
    if self._service == "sns":
        # SNS says it its own way (its API reference: AuthorizationError, 403).
        raise _DeniedQuery(message, code="AuthorizationError")
    if self._service == "ec2":
        raise AccessDeniedError(user_arn=self._access_key.arn, action=self._action)
    raise _DeniedJson("AccessDeniedException", message)


IAMRequest._raise_access_denied = raise_access_denied


# 6. What IAM authorizes a call on. moto checks the action against "*" for every service
#    but SQS and (existing) IAM roles, names CloudWatch's and the tagging API's actions by
#    their endpoints (monitoring:, tagging:) instead of IAM's prefixes (cloudwatch:, tag:),
#    never checks iam:PassRole, and cannot verify the SDK's signatures of Lambda's paths or
#    of some form bodies (the access key must still be a user's).
#    AWS authorizes each call on the ARNs of the resources it names (AWS's Service
#    Authorization Reference), all of them, and a role handed to a function with
#    iam:PassRole: the resources below are those, for the calls a deployer makes, so a
#    policy scoped to a stack's ARNs is tested as AWS would judge it. (Conditions are
#    moto's: those on tags are not evaluated.)
_IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
_iam_request_init = IAMRequest.__init__


def iam_request_init(self, *args, **kwargs):
    _iam_request_init(self, *args, **kwargs)
    service, _, action = self._action.partition(":")
    self._action = f"{_IAM_PREFIX.get(service, service)}:{action}"


def check_signature(self):
    """Not checked: moto signs its re-encoding of the request, which differs from the SDK's
    for Lambda's paths and for form values with reserved characters (a policy document)."""


def _params(self):
    """The request's parameters: the JSON body, or form fields (one value each)."""
    try:
        body = json.loads(self._body or b"")
        if isinstance(body, dict):
            return body
    except ValueError:
        pass
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in (self._data or {}).items()}


def _numbered(params, prefix):
    """`prefix.1`, `prefix.2`, ... of a query request (also `prefix.member.N`)."""
    return [v for k, v in sorted(params.items()) if re.fullmatch(rf"{re.escape(prefix)}(\.member)?\.\d+", k)]


def _resources(self, moto_resource):
    """The ARNs AWS authorizes this call on; `moto_resource` where this list knows no better."""
    service, _, action = self._action.partition(":")
    params = _params(self)
    arn = lambda svc, rest, region=self._region: f"arn:aws:{svc}:{region}:{self.account_id}:{rest}"
    if service == "dynamodb":
        for key in ("ResourceArn", "BackupArn", "StreamArn"):
            if key in params:
                return [params[key]]
        if "ShardIterator" in params:
            # A stream's iterator is authorized on its stream (the emulator's iterators
            # begin with the stream's ARN).
            return [params["ShardIterator"].split("|")[0]]
        if "TableName" in params:
            return [arn("dynamodb", f"table/{params['TableName']}")]
    if service == "iam" and "RoleName" in params and moto_resource == "*":
        path = params.get("Path") or "/"
        return [arn("iam", f"role{path}{params['RoleName']}", region="")]
    if service == "logs":
        if "resourceArn" in params:
            return [params["resourceArn"]]
        if "logGroupName" in params:
            return [arn("logs", f"log-group:{params['logGroupName']}")]
    if service == "cloudwatch":
        if "ResourceARN" in params:
            return [params["ResourceARN"]]
        names = _numbered(params, "AlarmNames") or ([params["AlarmName"]] if "AlarmName" in params else [])
        if names:
            return [arn("cloudwatch", f"alarm:{name}") for name in names]
    if service == "sqs" and moto_resource == "*" and "QueueName" in params:
        return [arn("sqs", params["QueueName"])]
    if service == "sns":
        if action == "CreateTopic" and "Name" in params:
            return [arn("sns", params["Name"])]
        for key in ("TopicArn", "ResourceArn"):
            if key in params:
                return [params[key]]
        # Unsubscribe and the like name a subscription: no resource type, so "*".
        return ["*"]
    if service == "ec2":
        ec2 = lambda rest: arn("ec2", rest)
        if action == "CreateVpcEndpoint":
            return [ec2("vpc-endpoint/*"), ec2(f"vpc/{params.get('VpcId')}")] + [
                ec2(f"route-table/{t}") for t in _numbered(params, "RouteTableId")
            ]
        if action == "ModifyVpcEndpoint":
            tables = _numbered(params, "AddRouteTableId") + _numbered(params, "RemoveRouteTableId")
            return [ec2(f"vpc-endpoint/{params.get('VpcEndpointId')}")] + [ec2(f"route-table/{t}") for t in tables]
        if action == "DeleteVpcEndpoints":
            return [ec2(f"vpc-endpoint/{e}") for e in _numbered(params, "VpcEndpointId")]
        if action in ("CreateTags", "DeleteTags"):
            kinds = {"vpce-": "vpc-endpoint", "vpc-": "vpc", "rtb-": "route-table"}
            ids = _numbered(params, "ResourceId")
            return [ec2(f"{next((k for p, k in kinds.items() if i.startswith(p)), 'resource')}/{i}") for i in ids]
    if service == "lambda":
        path = unquote(self._path.split("?")[0])
        tags = re.match(r"^/[^/]+/tags/(.+)$", path)
        if tags:
            return [tags.group(1)]
        mapping = re.match(r"^/[^/]+/event-source-mappings/([^/]+)", path)
        if mapping:
            return [arn("lambda", f"event-source-mapping:{mapping.group(1)}")]
        function = re.match(r"^/[^/]+/functions/([^/]+)", path)
        name = function.group(1) if function else params.get("FunctionName") if action == "CreateFunction" else None
        if name:
            name = name.split(":")[6] if name.startswith("arn:") else name.split(":")[0]
            return [arn("lambda", f"function:{name}")]
    return [moto_resource]


def check_action_permitted(self, resource):
    for each in _resources(self, resource):
        self._denied_resource = each
        _check_action_permitted(self, each)
    service, _, action = self._action.partition(":")
    role = _params(self).get("Role") if service == "lambda" else None
    if role and action in ("CreateFunction", "UpdateFunctionConfiguration"):
        self._action, passed = "iam:PassRole", self._action
        try:
            self._denied_resource = role
            _check_action_permitted(self, role)
        finally:
            self._action = passed


IAMRequest.__init__ = iam_request_init
IAMRequest.check_signature = check_signature
IAMRequest.check_action_permitted = check_action_permitted

# 7. AWS's time: with CRUDDUR_EMULATOR_TIME set, states last and calls are refused meanwhile
#    as on AWS (scripts/aws_time/ says which, and for how long).
if os.environ.get("CRUDDUR_EMULATOR_TIME"):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import aws_time  # noqa: F401  (it patches moto as it loads)

# 8. Streams as DynamoDB keeps them: each apart, a disabled one (or a deleted table's)
#    readable for 24 hours, records trimmed after that (scripts/streams.py). Loaded after
#    7, whose DeleteTable it wraps.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import streams  # noqa: E402,F401  (it patches moto as it loads)

# 9. Lambda's versions and aliases as AWS keeps them: a mapping on an alias keeps the
#    alias's ARN and is listed by it, and a version number is never used twice
#    (scripts/versions.py).
import versions  # noqa: E402,F401  (it patches moto as it loads)

if __name__ == "__main__":
    args = sys.argv[1:]
    host = args[args.index("-H") + 1] if "-H" in args else "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"emulator.py: refusing to listen on {host}: the emulator is for loopback only")
    main(args)
