"""Lambda's time: functions Pending and updates InProgress; mappings Creating, Updating,
Enabling, Disabling and Deleting; and what is refused meanwhile."""

import json
from urllib.parse import unquote

from moto.awslambda.models import EventSourceMapping, LambdaFunction
from moto.awslambda.responses import LambdaResponse

from .clock import begin, cancel, current, lambda_error
from .iam import check_role_for_function, check_role_for_mapping


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
    check_role_for_function(body.get("Role", ""), bool(vpc))
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
            check_role_for_function(body.get("Role", function.role), bool(vpc.get("SubnetIds")))
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
    check_role_for_mapping(function.role, body.get("EventSourceArn", ""), destination)
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

_publish_version = LambdaResponse.publish_version


def publish_version(self):
    """PublishVersion is refused while the function is Pending or an update is InProgress
    (functions-states.html, quoted in _function_busy)."""
    name = _function_name(unquote(self.path).rsplit("/", 2)[-2])
    function = self.backend.get_function(name)
    _function_busy(name, function.function_arn)
    return _publish_version(self)


LambdaResponse.publish_version = publish_version
