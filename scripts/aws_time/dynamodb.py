"""DynamoDB's time: tables CREATING, UPDATING, DELETING; indexes allocated, backfilling and
DELETING; backups unavailable after CreateTable; and what is refused meanwhile."""

import time

from moto.dynamodb.exceptions import DeletionProtectedException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Backup, Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from .clock import SCALE, SECONDS, begin, cancel, current, dynamodb_error


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
_create_backup = DynamoHandler.create_backup


def create_backup(self):
    """https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateBackup.html:
    refused while the table's backups are not yet enabled (ContinuousBackupsUnavailable)
    and while the table is being changed (TableInUseException); made, the backup "becomes
    available for restore within minutes" (BackupStatus CREATING, then AVAILABLE)."""
    name = self.body["TableName"]
    made = _table_created.get(name)
    if made is not None and time.time() < made + SECONDS["backups unavailable"] * SCALE:
        raise dynamodb_error(
            "ContinuousBackupsUnavailableException",
            f"Backups are being enabled for the table: {name}. Please retry later",
        )
    if current("table", name):
        raise dynamodb_error("TableInUseException", f"Table is being changed: {name}")
    return _create_backup(self)


_backend_create_backup = DynamoDBBackend.create_backup


def backend_create_backup(self, table_name, backup_name):
    backup = _backend_create_backup(self, table_name, backup_name)
    begin("backup", backup.arn, ("CREATING", "backup CREATING"))
    return backup


def _backup_status(self):
    window = current("backup", self.arn)
    return window.state if window else self._status


def _set_backup_status(self, value):
    self._status = value


Backup.status = property(_backup_status, _set_backup_status)
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
DynamoHandler.create_backup = create_backup
DynamoDBBackend.create_backup = backend_create_backup
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
