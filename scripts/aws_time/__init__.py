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
  is InProgress. Meanwhile updates and PublishVersion are refused
  (ResourceConflictException). A mapping is
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

The clock that keeps the windows is `clock`; each service's part is a module of its own
(`dynamodb`, `iam` as Lambda sees it, `awslambda`, `sqs`, `ec2`), which patches moto as it
is imported.
"""

from . import awslambda, clock, dynamodb, ec2, iam, sqs  # noqa: F401  (each patches moto)
