"""IAM as Lambda sees it: a role and its policies reach Lambda some seconds after each
change; until then Lambda judges them as they were."""

import inspect
import json
import time

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import IAMBackend, iam_backends

from .clock import SCALE, SECONDS, _lock, begin, current, lambda_error


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


def check_role_for_function(role_arn, in_vpc):
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


def check_role_for_mapping(role_arn, source, destination):
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
