"""SQS's time: a deleted queue's name is held for 60 s."""

import time

from moto.sqs.responses import SQSResponse

from .clock import SCALE, SECONDS, begin, current, sqs_error


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
