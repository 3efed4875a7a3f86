"""Fidelity fix 8: streams as DynamoDB keeps them.

moto keeps one stream shard per table, for the table's latest stream only: DescribeStream
and GetShardIterator answer any stream ARN of the table with it (an old label included),
a disabled stream goes on taking writes, a deleted table's stream is gone at once, and
every shard of every stream has the same id. DynamoDB keeps each stream apart and keeps a
finished one readable for a day:

- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Enabling:
  "If you disable a stream on a table, the data in the stream continues to be readable for
  24 hours. There is no mechanism for manually deleting an existing stream." and when a
  stream is enabled again "a new stream is created with a different stream descriptor".
- API_DeleteTable.html: "If you have DynamoDB Streams enabled on the table, then the
  corresponding stream on that table goes into the DISABLED state, and the stream is
  automatically deleted after 24 hours."
- Streams.html, "Reading and processing a stream": "All data in DynamoDB Streams is subject
  to a 24-hour lifetime"; API_streams_GetShardIterator.html: TrimmedDataAccessException,
  "The operation attempted to read past the oldest stream record in a shard"; a shard that
  is closed ends: GetRecords returns no NextShardIterator once it is read to its end
  (API_streams_GetRecords.html: "If NextShardIterator is null, the shard has been closed").
  A closed shard's SequenceNumberRange has its EndingSequenceNumber.

So here: a stream is found by its own ARN (ResourceNotFoundException for one DynamoDB never
made or no longer keeps); disabling a stream, or deleting its table, closes it (no more
writes; DescribeStream says DISABLED and the shard's end) and keeps it readable for the
retention; each shard has an id of its own; records older than the retention are trimmed.
The retention is 24 hours, or CRUDDUR_EMULATOR_STREAM_RETENTION seconds (for tests of what
the stream no longer holds).
"""

import datetime
import os
import time

from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

RETENTION = float(os.environ.get("CRUDDUR_EMULATOR_STREAM_RETENTION") or 24 * 3600)

# Closed streams by ARN: (shard, description without its shards, closed at).
_closed = {}


def _error(code, message):
    # awsJson1_0, with DynamoDB Streams' namespace (the SDK reads the code after the '#').
    return JsonRESTError(f"com.amazonaws.dynamodb.v20120810#{code}", message)


def _not_found(what):
    return _error("ResourceNotFoundException", f"Requested resource not found: {what} not found")


def _description(table, arn):
    return {
        "StreamArn": arn,
        "StreamLabel": table.latest_stream_label,
        "StreamViewType": (table.stream_specification or {}).get("StreamViewType"),
        "CreationRequestDateTime": table.stream_shard.created_on,
        "TableName": table.name,
        "KeySchema": table.schema,
    }


def _arn(table):
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def _close(table):
    """The table's stream, if one is open, becomes a closed one, readable for a day."""
    shard = table.stream_shard
    if shard is None or not table.latest_stream_label:
        return
    arn = _arn(table)
    _closed[arn] = (shard, _description(table, arn), time.time())
    shard.closed = True
    table.stream_shard = None


# Each shard an id of its own (moto gives every one "shardId-00000001541626099285-f35f62ef").
_shard_init = StreamShard.__init__


def shard_init(self, *args, **kwargs):
    _shard_init(self, *args, **kwargs)
    self.id = f"shardId-{int(time.time() * 1000):020d}-{os.urandom(4).hex()}"
    self.closed = False


StreamShard.__init__ = shard_init

# Disabling a stream closes it (moto's fix 1 in emulator.py makes enabling it again a new one).
_update_table_streams = DynamoDBBackend.update_table_streams


def update_table_streams(self, table, stream_specification):
    enabled = (table.stream_specification or {}).get("StreamEnabled")
    disabling = stream_specification.get("StreamEnabled") is False
    if enabled and disabling:
        _close(table)
    return _update_table_streams(self, table, stream_specification)


DynamoDBBackend.update_table_streams = update_table_streams

# Deleting a table closes its stream (after any refusal: DeleteTable said yes). Loaded after
# aws_time, whose DeleteTable keeps the table DELETING for a while; this wraps it.
_delete_table = DynamoHandler.delete_table


def delete_table(self):
    table = self.dynamodb_backend.tables.get(self.body.get("TableName"))
    result = _delete_table(self)
    if table is not None:
        _close(table)
    return result


DynamoHandler.delete_table = delete_table


def _stream(self, arn):
    """(shard, description, closed at or None) of stream `arn`, as DynamoDB keeps it."""
    if arn in _closed:
        shard, description, closed_at = _closed[arn]
        if time.time() - closed_at > RETENTION:
            raise _not_found(f"Stream: {arn}")
        return shard, description, closed_at
    try:
        table_name = arn.split(":", 5)[5].split("/")[1]
    except IndexError:
        raise _error("ValidationException", f"Invalid StreamArn: {arn}")
    table = self.dynamodb.tables.get(table_name)
    if table is None or table.stream_shard is None or _arn(table) != arn:
        raise _not_found(f"Stream: {arn}")
    return table.stream_shard, _description(table, arn), None


def _cutoff():
    return utcnow() - datetime.timedelta(seconds=RETENTION)


def _trimmed(record):
    return record.record["dynamodb"]["ApproximateCreationDateTime"] < _cutoff()


def describe_stream(self, arn):
    shard, description, closed_at = _stream(self, arn)
    described = shard.to_json()
    if closed_at is not None and shard.items:
        last = shard.starting_sequence_number + len(shard.items) - 1
        described["SequenceNumberRange"]["EndingSequenceNumber"] = str(last)
    return dict(description, StreamStatus="DISABLED" if closed_at else "ENABLED", Shards=[described])


def get_shard_iterator(self, arn, shard_id, shard_iterator_type, sequence_number=None):
    shard, _, _ = _stream(self, arn)
    if shard.id != shard_id:
        raise _not_found(f"Shard: {shard_id} in Stream: {arn}")
    first = next((i for i, r in enumerate(shard.items) if not _trimmed(r)), len(shard.items))
    if shard_iterator_type == "TRIM_HORIZON":
        shard_iterator_type = "AT_SEQUENCE_NUMBER"
        sequence_number = shard.starting_sequence_number + first
    elif shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        index = int(sequence_number) - shard.starting_sequence_number
        if index < 0 or index >= len(shard.items):
            raise _error(
                "ValidationException",
                f"Invalid SequenceNumber {sequence_number} for shard {shard_id}",
            )
        if index < first:
            raise _error(
                "TrimmedDataAccessException",
                "The operation attempted to read past the oldest stream record in a shard.",
            )
    iterator = ShardIterator(self, shard, shard_iterator_type, sequence_number)
    self.shard_iterators[iterator.arn] = iterator
    return iterator


_iterator_get = ShardIterator.get


def iterator_get(self, limit=1000):
    result = _iterator_get(self, limit)
    shard = self.stream_shard
    if getattr(shard, "closed", False):
        records = result["Records"]
        after = int(records[-1]["dynamodb"]["SequenceNumber"]) + 1 if records else self.sequence_number
        if after >= shard.starting_sequence_number + len(shard.items):
            # Read to the end of a closed shard: no NextShardIterator.
            del result["NextShardIterator"]
    return result


DynamoDBStreamsBackend.describe_stream = describe_stream
DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator
ShardIterator.get = iterator_get
