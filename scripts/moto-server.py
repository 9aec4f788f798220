#!/usr/bin/env python3
"""moto_server, with each request handled atomically.

moto's DynamoDB checks a transaction's conditions and applies its writes without a lock, and
its server is threaded: two concurrent TransactWriteItems can both pass a condition that only
one of them may pass (two messages with one clientMessageId, both at seq 1). Real DynamoDB
transactions are serializable, so the race tests (tests/tests/all/races.rs) would report
moto's races as ours. Serializing requests restores DynamoDB's per-request atomicity; the
server stays threaded for connections, and moto is CPU-bound under the GIL anyway.

Same arguments as moto_server (scripts/test.sh: `-H 127.0.0.1 -p PORT`).
"""

import copy
import threading

import moto.dynamodb.models as dynamodb_models
from moto import server
from moto.moto_server import werkzeug_app

_lock = threading.Lock()
_call = werkzeug_app.DomainDispatcherApplication.__call__


def _atomic_call(self, environ, start_response):
    with _lock:
        # Build the whole response inside the lock: the work happens while iterating.
        return list(_call(self, environ, start_response))


werkzeug_app.DomainDispatcherApplication.__call__ = _atomic_call


class _TableCopiedOnce:
    """moto's TransactWriteItems backs up the whole table once per operation, not per table: a
    transaction of 100 operations on a table of N items deep-copies 100 * N items (seconds, with
    every other request waiting on the lock above). Within one transaction this hands out one
    backup per table, which is all the rollback uses; every other copy is left to `copy`."""

    def __init__(self):
        self.backups = None

    def deepcopy(self, obj, *args, **kwargs):
        if self.backups is None or not isinstance(obj, dynamodb_models.Table):
            return copy.deepcopy(obj, *args, **kwargs)
        # Tables live in the backend for the whole request: their ids are stable keys.
        if id(obj) not in self.backups:
            self.backups[id(obj)] = copy.deepcopy(obj)
        return self.backups[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


_copy = _TableCopiedOnce()
dynamodb_models.copy = _copy
_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_copying_once(self, transact_items):
    _copy.backups = {}  # requests are serialized: one transaction at a time
    try:
        return _transact(self, transact_items)
    finally:
        _copy.backups = None


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_copying_once

if __name__ == "__main__":
    server.main()
