"""Fidelity fix 7: AWS's time. moto makes everything ready at once; AWS does not.

With CRUDDUR_EMULATOR_TIME=<factor> (e.g. 1 for AWS's own pace, 0.1 for a tenth of it),
scripts/emulator.py loads this module and the emulator keeps the transient states AWS
documents, for as long as the table below says (times the factor), and refuses meanwhile
what AWS refuses, with AWS's codes, messages and wire shape (status, headers, body):

- DynamoDB: a table is CREATING, UPDATING (any UpdateTable), DELETING; a new index is
  CREATING (resource allocation, then Backfilling) and a deleted one DELETING. Meanwhile
  UpdateTable, DeleteTable, UpdateTimeToLive and tagging are refused (ResourceInUseException),
  a second index change is refused (LimitExceededException), reads and writes of a table
  that is not ACTIVE are ResourceNotFoundException, a query of a backfilling index is a
  ValidationException, and point-in-time recovery cannot be set for a while after the
  table is made (ContinuousBackupsUnavailableException).
- Lambda: a function is Pending after CreateFunction; after an update its LastUpdateStatus
  is InProgress. Meanwhile updates are refused (ResourceConflictException). A mapping is
  Creating, Updating, Enabling or Disabling, and Deleting; meanwhile it cannot be updated or
  deleted (ResourceInUseException).
- IAM, as Lambda sees it: a role and its policies reach Lambda some seconds after each
  change. Until then CreateFunction cannot assume a new role, nor create the network
  interfaces of a VPC function, and CreateEventSourceMapping cannot read the stream, nor
  send to the on-failure queue, with what the role did not allow before the change.
- SQS: a deleted queue's name is held for 60 s (QueueDeletedRecently, query-compatible).
- EC2: a new endpoint is pending, a deleted one deleting.

AWS documents the states and the refusals (each cited below) but not how long the states
last, except the queue's 60 s; the other durations are typical of what AWS takes, chosen
long enough to be met by a deployer's calls. CloudWatch alarms, SNS topics, log groups and
IAM's own reads have no such window (their APIs document none).

GET /cruddur-emulator/windows lists every window so far (what, which state, when it began
and ended, how often a caller asked or was refused during it, and when a caller first
saw it over), in seconds since the emulator started, with `now`: what a benchmark measures
a deployer's waits against.
"""

import inspect
import json
import os
import threading
import time
from urllib.parse import unquote

from moto.awslambda.models import EventSourceMapping, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.dynamodb.exceptions import DeletionProtectedException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import IAMBackend, iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs.responses import SQSResponse
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
    # From CreateTable until UpdateContinuousBackups is accepted.
    "backups unavailable": 5,
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


# --- DynamoDB -------------------------------------------------------------------------

_table_created = {}  # name -> when CreateTable was accepted (for the backups window)
_deleting_indexes = {}  # table -> {index: its description}, while DELETING

_VERB = {"CREATING": "created", "UPDATING": "updated", "DELETING": "deleted"}


def _table_busy(name):
    """ResourceInUseException while the table is not ACTIVE. UpdateTable, DeleteTable,
    UpdateTimeToLive, TagResource and UntagResource all list it for this case:
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html#API_UpdateTable_Errors
    ("The operation conflicts with the resource's availability. For example ... You tried to
    delete a table currently in the CREATING state ... You tried to update a resource that
    was already being updated")."""
    window = current("table", name)
    if window:
        raise dynamodb_error(
            "ResourceInUseException",
            f"Attempt to change a resource which is still in use: Table is being {_VERB[window.state]}: {name}",
        )


def _table_not_active(name):
    """Reads and writes of a table that is not ACTIVE:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
    ("ResourceNotFoundException ... The table might not exist, or it might be in a CREATING
    state")."""
    window = current("table", name)
    if window and window.state in ("CREATING", "DELETING"):
        raise dynamodb_error("ResourceNotFoundException", "Requested resource not found")


_describe = Table.describe


def describe(self, base_key="TableDescription"):
    result = _describe(self, base_key)
    table = result[base_key]
    window = current("table", self.name)
    if window:
        table["TableStatus"] = window.state
    for index in table.get("GlobalSecondaryIndexes", []):
        key = f"{self.name}/{index['IndexName']}"
        index_window = current("index", key)
        if window and window.state == "CREATING":
            # Indexes made with the table are made with it.
            index["IndexStatus"] = "CREATING"
        elif index_window:
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html:
            # CREATING with Backfilling false while resources are allocated, then true.
            index["IndexStatus"] = "CREATING"
            index["Backfilling"] = index_window.state == "backfilling"
    for name, gone in _deleting_indexes.get(self.name, {}).items():
        window = current("index", f"{self.name}/{name}")
        if window and window.state == "DELETING":
            table.setdefault("GlobalSecondaryIndexes", []).append(dict(gone, IndexStatus="DELETING"))
    return result


Table.describe = describe

_create_table = DynamoHandler.create_table
_update_table = DynamoHandler.update_table
_delete_table = DynamoHandler.delete_table


def create_table(self):
    name = self.body["TableName"]
    previous = begin("table", name, ("CREATING", "table CREATING"))
    try:
        result = _create_table(self)
    except Exception:
        cancel("table", name, previous)
        raise
    _table_created[name] = time.time()
    return result


def update_table(self):
    name = self.body["TableName"]
    _table_busy(name)
    table = self.dynamodb_backend.get_table(name)
    changes = [u for u in self.body.get("GlobalSecondaryIndexUpdates") or [] if "Create" in u or "Delete" in u]
    if changes:
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html:
        # one index can be created or deleted at a time per table.
        # During backfilling "you can still delete the index" that is being created.
        deleted = {c["Delete"]["IndexName"] for c in changes if "Delete" in c}
        busy = [i.name for i in table.global_indexes if current("index", f"{name}/{i.name}") and i.name not in deleted]
        busy += [i for i in _deleting_indexes.get(name, {}) if current("index", f"{name}/{i}")]
        if busy:
            raise dynamodb_error(
                "LimitExceededException",
                "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
            )
    gone = {}
    for change in changes:
        if "Delete" in change:
            index = change["Delete"]["IndexName"]
            gone.update({i.name: i.describe() for i in table.global_indexes if i.name == index})
    phases = [("UPDATING", "table UPDATING")]
    index_phases = []
    for change in changes:
        if "Create" in change:
            key = f"{name}/{change['Create']['IndexName']}"
            phases = [("UPDATING", "index allocating")]
            index_phases.append((key, [("allocating", "index allocating"), ("backfilling", "index backfilling")]))
        if "Delete" in change:
            key = f"{name}/{change['Delete']['IndexName']}"
            phases = [("UPDATING", "index DELETING")]
            index_phases.append((key, [("DELETING", "index DELETING")]))
    begun = [("table", name, begin("table", name, *phases))]
    for key, each in index_phases:
        # A new index of the name of one just deleted is no longer that one.
        _deleting_indexes.get(name, {}).pop(key.split("/", 1)[1], None)
        begun.append(("index", key, begin("index", key, *each)))
    try:
        result = _update_table(self)
    except Exception:
        for kind, key, previous in begun:
            cancel(kind, key, previous)
        raise
    if gone:
        _deleting_indexes.setdefault(name, {}).update(gone)
    return result


def delete_table(self):
    """https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html:
    "If a table is in CREATING or UPDATING states, then DynamoDB returns a
    ResourceInUseException ... If table is already in the DELETING state, no error is
    returned", and "the specified table is in the DELETING state until DynamoDB completes
    the deletion". GSI.OnlineOps.html: while an index is being created "you cannot delete
    its parent table"."""
    name = self.body["TableName"]
    backend = self.dynamodb_backend
    window = current("table", name)
    if window and window.state == "DELETING":
        return DynamoResult(backend.get_table(name).describe())
    _table_busy(name)
    table = backend.get_table(name)
    for index in table.global_indexes:
        if current("index", f"{name}/{index.name}"):
            raise dynamodb_error(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Index is being updated.  Table: {name} Index: {index.name}",
            )
    if table.deletion_protection_enabled:
        raise DeletionProtectedException(name)
    begin("table", name, ("DELETING", "table DELETING"), on_end=lambda: backend.tables.pop(name, None))
    return DynamoResult(table.describe())


def refusing_while_busy(method):
    def patched(self):
        _table_busy(self.body["TableName"])
        return method(self)

    return patched


def tagging(method):
    """A table's tags cannot be read or written while it is CREATING: DynamoDB answers
    ResourceNotFoundException (its error lists both this and ResourceInUseException;
    observed: https://github.com/cloud-custodian/cloud-custodian/pull/3516, "Dynamodb tables
    aren't taggable while pending creation, even attempting to fetch tags for a table will
    return not found errors"); while UPDATING or DELETING, ResourceInUseException."""

    def patched(self):
        arn = self.body.get("ResourceArn", "")
        window = current("table", _table_of_arn(arn))
        if window and window.state == "CREATING":
            raise dynamodb_error("ResourceNotFoundException", f"Requested resource not found: ResourcArn: {arn} not found")
        if window and method.__name__ != "list_tags_of_resource":
            _table_busy(_table_of_arn(arn))
        return method(self)

    return patched


def _table_of_arn(arn):
    return (arn or "").split(":table/")[-1].split("/")[0]


def update_continuous_backups(self):
    name = self.body["TableName"]
    made = _table_created.get(name)
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContinuousBackups.html#API_UpdateContinuousBackups_Errors
    # ("ContinuousBackupsUnavailableException: Backups have not yet been enabled for this table.")
    if made is not None and time.time() < made + SECONDS["backups unavailable"] * SCALE:
        raise dynamodb_error(
            "ContinuousBackupsUnavailableException",
            f"Backups are being enabled for the table: {name}. Please retry later",
        )
    return _update_continuous_backups(self)


_update_continuous_backups = DynamoHandler.update_continuous_backups
_describe_table = DynamoHandler.describe_table


def describe_table(self):
    # A table gone is seen gone here (its DELETING window then counts as seen over).
    current("table", self.body["TableName"])
    return _describe_table(self)


def reading_or_writing(method, index_checked=False):
    def patched(self):
        body = self.body
        names = [body["TableName"]] if "TableName" in body else []
        names += list((body.get("RequestItems") or {}).keys())
        for item in body.get("TransactItems") or []:
            names += [each["TableName"] for each in item.values() if "TableName" in each]
        for name in names:
            _table_not_active(name)
        index = body.get("IndexName")
        if index_checked and index:
            window = current("index", f"{body['TableName']}/{index}")
            if window:
                # The index answers no reads until it is ACTIVE (GSI.OnlineOps.html).
                raise dynamodb_error(
                    "ValidationException", f"Cannot read from backfilling global secondary index: {index}"
                )
        return method(self)

    return patched


DynamoHandler.create_table = create_table
DynamoHandler.update_table = update_table
DynamoHandler.delete_table = delete_table
DynamoHandler.update_continuous_backups = update_continuous_backups
DynamoHandler.describe_table = describe_table
DynamoHandler.update_time_to_live = refusing_while_busy(DynamoHandler.update_time_to_live)
for _name in ("tag_resource", "untag_resource", "list_tags_of_resource"):
    setattr(DynamoHandler, _name, tagging(getattr(DynamoHandler, _name)))
for _name in (
    "put_item", "get_item", "update_item", "delete_item", "scan", "batch_write_item",
    "batch_get_item", "transact_write_items", "transact_get_items",
):
    setattr(DynamoHandler, _name, reading_or_writing(getattr(DynamoHandler, _name)))
DynamoHandler.query = reading_or_writing(DynamoHandler.query, index_checked=True)


# --- IAM, as Lambda sees it -----------------------------------------------------------

# role ARN -> [(when, trust policy, permission policies)], one entry per change.
_roles = {}


def _remember(backend, role_name):
    role = backend.get_role(role_name)
    documents = list(role.policies.values()) + list(role.managed_policies.values())
    with _lock:
        _roles.setdefault(role.arn, []).append((time.time(), role.assume_role_policy_document, documents))
        begin("role", role.arn, ("propagating", "role propagating"))


def _changes_role(method):
    """`method` of the IAM backend, remembering the role it names as it is afterwards."""
    signature = inspect.signature(method)

    def patched(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        _remember(self, signature.bind(self, *args, **kwargs).arguments["role_name"])
        return result

    return patched


for _name in (
    "create_role",
    "put_role_policy",
    "delete_role_policy",
    "attach_role_policy",
    "detach_role_policy",
    "update_assume_role_policy",
):
    setattr(IAMBackend, _name, _changes_role(getattr(IAMBackend, _name)))

_delete_role = IAMBackend.delete_role


def delete_role(self, role_name):
    arn = self.get_role(role_name).arn
    _delete_role(self, role_name)
    with _lock:
        _roles.pop(arn, None)


IAMBackend.delete_role = delete_role


def _as_lambda_sees(role_arn):
    """The role as it was one propagation delay ago: `None` when it did not exist then.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency:
    "changes that you make [to IAM] are not always immediately visible ... [they] take time
    to propagate"."""
    with _lock:
        window = current("role", role_arn)
        cutoff = time.time() - SECONDS["role propagating"] * SCALE
        seen = [entry for entry in _roles.get(role_arn, []) if entry[0] <= cutoff]
        if window and not seen:
            return None
        return seen[-1] if seen else None


def _role_exists(role_arn):
    parts = role_arn.split(":")
    if len(parts) < 5:
        return False
    try:
        iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
        return True
    except Exception:
        return False


def _allows(documents, action, resource):
    results = [IAMPolicy(document).is_action_permitted(action, resource) for document in documents]
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


def _trusts_lambda(trust):
    for statement in json.loads(trust).get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if (
            statement.get("Effect") == "Allow"
            and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
            and "lambda.amazonaws.com" in services
        ):
            return True
    return False


def _check_role_for_function(role_arn, in_vpc):
    """CreateFunction and UpdateFunctionConfiguration with a role Lambda cannot use yet:
    https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html ("The role
    defined for the function cannot be assumed by Lambda") and
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html (the execution role
    needs ec2:CreateNetworkInterface and the like to run in a VPC)."""
    seen = _as_lambda_sees(role_arn)
    if seen is None and role_arn not in _roles and _role_exists(role_arn):
        return  # a role made before this emulator kept time (none is, but for safety)
    if seen is None or not _trusts_lambda(seen[1]):
        raise lambda_error(400, "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    if in_vpc and not _allows(seen[2], "ec2:CreateNetworkInterface", "*"):
        raise lambda_error(
            400,
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
        )


def _check_role_for_mapping(role_arn, source, destination):
    """CreateEventSourceMapping checks the function's role can read the stream and send to
    the on-failure destination:
    https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#events-dynamodb-permissions."""
    seen = _as_lambda_sees(role_arn)
    if seen is None and role_arn not in _roles:
        return
    documents = seen[2] if seen else []
    if ":dynamodb:" in source:
        needed = [("dynamodb:DescribeStream", source), ("dynamodb:GetRecords", source),
                  ("dynamodb:GetShardIterator", source), ("dynamodb:ListStreams", "*")]
        if not all(_allows(documents, action, resource) for action, resource in needed):
            raise lambda_error(
                400,
                "InvalidParameterValueException",
                f"Cannot access stream {source}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
            )
    if destination and ":sqs:" in destination and not _allows(documents, "sqs:SendMessage", destination):
        raise lambda_error(
            400,
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call SendMessage on SQS",
        )


# --- Lambda ---------------------------------------------------------------------------


def _function_name(name_or_arn):
    name = unquote(name_or_arn)
    return name.split(":")[6] if name.startswith("arn:") else name.split(":")[0]


def _function_busy(name, arn):
    """https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html: "The following
    operations fail while function creation is pending: Invoke, UpdateFunctionCode,
    UpdateFunctionConfiguration, PublishVersion", the last three also "while an asynchronous
    update is in progress"; and while Pending "any invocations or other API actions that
    operate on the function will fail" (so a mapping is refused too). The answer is
    ResourceConflictException (409)."""
    window = current("function", name)
    if window is None:
        return
    if window.state == "Pending":
        message = f"The operation cannot be performed at this time. The resource {arn} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'"
    else:
        message = f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"
    raise lambda_error(409, "ResourceConflictException", message)


_get_configuration = LambdaFunction.get_configuration


def get_configuration(self, on_create=False):
    config = _get_configuration(self, on_create)
    window = current("function", self.function_name)
    if window and window.state == "Pending":
        config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        config.pop("LastUpdateStatus", None)
    elif window:
        config.update(
            LastUpdateStatus="InProgress",
            LastUpdateStatusReason="The function is being created.",
            LastUpdateStatusReasonCode="Creating",
        )
    return config


LambdaFunction.get_configuration = get_configuration

_create_function = LambdaResponse.create_function


def create_function(self):
    body = self.json_body
    name = _function_name(body["FunctionName"])
    vpc = (body.get("VpcConfig") or {}).get("SubnetIds")
    _check_role_for_function(body.get("Role", ""), bool(vpc))
    previous = begin("function", name, ("Pending", "function Pending"))
    try:
        return _create_function(self)
    except Exception:
        cancel("function", name, previous)
        raise


def updating_function(method):
    def patched(self):
        name = _function_name(self.path.rsplit("/", 2)[-2])
        function = self.backend.get_function(name)
        _function_busy(name, function.function_arn)
        body = self.json_body
        if "Role" in body or "VpcConfig" in body:
            vpc = body.get("VpcConfig", function.vpc_config) or {}
            _check_role_for_function(body.get("Role", function.role), bool(vpc.get("SubnetIds")))
        previous = begin("function", name, ("InProgress", "function InProgress"))
        try:
            return method(self)
        except Exception:
            cancel("function", name, previous)
            raise

    return patched


LambdaResponse.create_function = create_function
LambdaResponse.update_function_configuration = updating_function(LambdaResponse.update_function_configuration)
LambdaResponse.update_function_code = updating_function(LambdaResponse.update_function_code)

_mapping_configuration = EventSourceMapping.get_configuration


def mapping_configuration(self):
    config = _mapping_configuration(self)
    window = current("mapping", self.uuid)
    if window:
        config["State"] = window.state
    return config


EventSourceMapping.get_configuration = mapping_configuration


def _mapping_busy(uuid, doing):
    """https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html#API_UpdateEventSourceMapping_Errors
    ("ResourceInUseException: The operation conflicts with the resource's availability. For
    example, you tried to update an event source mapping in the CREATING state, or you tried
    to delete an event source mapping currently UPDATING")."""
    if current("mapping", uuid):
        raise lambda_error(400, "ResourceInUseException", f"Cannot {doing} the event source mapping because it is in use.")


def _mapping_exists(backend, function, source):
    """A second mapping of one function to one stream is refused (409), even while the
    first is being deleted: https://github.com/anomalyco/sst/issues/5975 shows the answer."""
    for mapping in backend._event_source_mappings.values():
        if mapping.function_arn == function.function_arn and mapping.event_source_arn == source:
            raise lambda_error(
                409,
                "ResourceConflictException",
                f'The event source arn (" {source} ") and function (" {function.function_name} ") provided mapping already exists. Please update or delete the existing mapping with UUID {mapping.uuid}',
            )


_create_mapping = LambdaResponse.create_event_source_mapping
_update_mapping = LambdaResponse.update_event_source_mapping
_delete_mapping = LambdaResponse.delete_event_source_mapping


def _rewritten(result, state):
    status, headers, body = result
    config = json.loads(body)
    config["State"] = state
    return status, headers, json.dumps(config)


def create_event_source_mapping(self):
    body = self.json_body
    function = self.backend.get_function(body.get("FunctionName", ""))
    _function_busy(function.function_name, function.function_arn)
    destination = ((body.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    _mapping_exists(self.backend, function, body.get("EventSourceArn", ""))
    _check_role_for_mapping(function.role, body.get("EventSourceArn", ""), destination)
    result = _create_mapping(self)
    uuid = json.loads(result[2])["UUID"]
    begin("mapping", uuid, ("Creating", "mapping Creating"))
    return _rewritten(result, "Creating")


_get_mapping = LambdaResponse.get_event_source_mapping


def get_event_source_mapping(self):
    # A mapping gone is seen gone here.
    current("mapping", self.path.split("/")[-1])
    return _get_mapping(self)


def update_event_source_mapping(self):
    uuid = self.path.split("/")[-1]
    _mapping_busy(uuid, "update")
    mapping = self.backend.get_event_source_mapping(uuid)
    was_enabled = mapping.enabled if mapping else None
    result = _update_mapping(self)
    if mapping is None:
        return result
    state = "Updating"
    if mapping.enabled != was_enabled:
        state = "Enabling" if mapping.enabled else "Disabling"
    begin("mapping", uuid, (state, f"mapping {state}"))
    return _rewritten(result, state)


def delete_event_source_mapping(self):
    uuid = self.path.split("/")[-1]
    _mapping_busy(uuid, "delete")
    backend = self.backend
    mapping = backend.get_event_source_mapping(uuid)
    if mapping is None:
        return _delete_mapping(self)
    begin("mapping", uuid, ("Deleting", "mapping Deleting"), on_end=lambda: backend._event_source_mappings.pop(uuid, None))
    return 202, {"status": 202}, json.dumps(mapping.get_configuration())


LambdaResponse.create_event_source_mapping = create_event_source_mapping
LambdaResponse.update_event_source_mapping = update_event_source_mapping
LambdaResponse.get_event_source_mapping = get_event_source_mapping
LambdaResponse.delete_event_source_mapping = delete_event_source_mapping


# --- SQS ------------------------------------------------------------------------------

_queue_deleted = {}  # (account, region, name) -> when
_create_queue = SQSResponse.create_queue
_delete_queue = SQSResponse.delete_queue


def create_queue(self):
    name = self._get_param("QueueName")
    deleted = _queue_deleted.get((self.current_account, self.region, name))
    if deleted is not None and time.time() < deleted + SECONDS["queue name held"] * SCALE:
        current("queue", name)
        raise sqs_error(
            "QueueDeletedRecently",
            "AWS.SimpleQueueService.QueueDeletedRecently",
            "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
        )
    current("queue", name)
    return _create_queue(self)


def delete_queue(self):
    name = self._get_queue_name()
    result = _delete_queue(self)
    _queue_deleted[(self.current_account, self.region, name)] = time.time()
    begin("queue", name, ("name held", "queue name held"))
    return result


SQSResponse.create_queue = create_queue
SQSResponse.delete_queue = delete_queue


# --- EC2 ------------------------------------------------------------------------------


def _endpoint_state(self):
    window = current("endpoint", self.id)
    return window.state if window else self._state


def _set_endpoint_state(self, value):
    self._state = value


# VpcEndpoint.State (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html)
# is pending, available, deleting, deleted, ...; AWS's CLI example shows a gateway endpoint
# available at once, an interface endpoint pending. The emulator keeps a gateway endpoint
# pending briefly too, so that a deployer is shown to handle both.
VPCEndPoint.state = property(_endpoint_state, _set_endpoint_state)

_create_endpoint = VPCBackend.create_vpc_endpoint
_delete_endpoints = VPCBackend.delete_vpc_endpoints


def create_vpc_endpoint(self, *args, **kwargs):
    endpoint = _create_endpoint(self, *args, **kwargs)
    begin("endpoint", endpoint.id, ("pending", "endpoint pending"))
    return endpoint


def delete_vpc_endpoints(self, vpce_ids=None):
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        if endpoint and endpoint._state not in ("deleted",):
            begin("endpoint", vpce_id, ("deleting", "endpoint deleting"))
    return _delete_endpoints(self, vpce_ids)


VPCBackend.create_vpc_endpoint = create_vpc_endpoint
VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints


# --- The windows, and settling them on every request -----------------------------------

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
