"""EC2's time: a new endpoint is pending, a deleted one deleting."""

from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint

from .clock import begin, current


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
