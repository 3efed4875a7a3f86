"""Fix 9 of the local emulator (see emulator.py): Lambda's versions and aliases as AWS keeps
them, for a mapping that invokes an alias and a release that publishes and prunes versions.

- A mapping keeps the function ARN it was given, qualified as it was given: AWS reports a
  mapping on an alias with the alias's ARN (`…:function:NAME:live`), which is what lets
  the alias move without touching the mapping. moto stores the ARN of the version the
  alias pointed at when the mapping was made (`…:function:NAME:2`).
- ListEventSourceMappings by FunctionName lists the mappings of that function and
  qualifier ("you can get list of event source mappings for a specific Lambda function
  version or an alias as described in the FunctionName parameter", API reference). moto
  compares the exact string the mapping was created with, and keeps it through an update
  of FunctionName.
- A published version's number is never used again ("Lambda … increments the version
  number"; a deleted version's number is not reused). moto numbers a new version as the
  count of versions it still holds, plus one.

Imported by emulator.py: it patches moto as it loads.
"""

import re

from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaStorage
from moto.utilities.utils import ARN_PARTITION_REGEX


def _name_and_qualifier(name_or_arn):
    """`(name, qualifier or None)` of a function name (`NAME[:QUALIFIER]`), a partial ARN
    (`ACCOUNT:function:NAME[:QUALIFIER]`) or an ARN."""
    if re.match(ARN_PARTITION_REGEX, name_or_arn):
        tail = name_or_arn.split(":function:", 1)[-1]
    else:
        tail = re.sub(r"^(\d{12}:)?function:", "", name_or_arn)
    name, _, qualifier = tail.partition(":")
    return name, (qualifier or None)


def _arn_as_given(backend, given, resolved_arn):
    """The function ARN a mapping keeps: the resolved function's, with the qualifier given."""
    _, qualifier = _name_and_qualifier(given)
    base = resolved_arn.split(":function:", 1)
    name = base[1].split(":", 1)[0]
    arn = f"{base[0]}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


_create = LambdaBackend.create_event_source_mapping
_update = LambdaBackend.update_event_source_mapping


def create_event_source_mapping(self, spec):
    given = spec.get("FunctionName", "")
    esm = _create(self, spec)
    esm.function_arn = _arn_as_given(self, given, esm.function_arn)
    return esm


def update_event_source_mapping(self, uuid, spec):
    esm = _update(self, uuid, spec)
    if esm is not None and spec.get("FunctionName"):
        esm.function_arn = _arn_as_given(self, spec["FunctionName"], esm.function_arn)
        esm.function_name = spec["FunctionName"]
    return esm


def list_event_source_mappings(self, event_source_arn, function_name):
    esms = list(self._event_source_mappings.values())
    if event_source_arn:
        esms = [m for m in esms if m.event_source_arn == event_source_arn]
    if function_name:
        wanted = _name_and_qualifier(function_name)
        esms = [m for m in esms if _name_and_qualifier(m.function_arn) == wanted]
    return esms


LambdaBackend.create_event_source_mapping = create_event_source_mapping
LambdaBackend.update_event_source_mapping = update_event_source_mapping
LambdaBackend.list_event_source_mappings = list_event_source_mappings

_publish = LambdaStorage.publish_version


def publish_version(self, name_or_arn, description=""):
    function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    entry = self._functions.get(function.function_name)
    if entry is None:
        return _publish(self, name_or_arn, description)
    before = entry["versions"][-1] if entry["versions"] else None
    published = _publish(self, name_or_arn, description)
    if published is None or published is before:
        return published
    # A new one: number it after every number ever given.
    number = entry.get("cruddur_last_version", 0) + 1
    number = max(number, int(published.version))
    entry["cruddur_last_version"] = number
    if int(published.version) != number:
        published.set_version(number)
        # moto registered the new version under a number an older one may still hold:
        # every version held goes back under its own ARN.
        for version in entry["versions"]:
            self._arns[version.function_arn] = version
    return published


LambdaStorage.publish_version = publish_version
_ = EventSourceMapping  # the class whose function_arn the functions above keep as given
