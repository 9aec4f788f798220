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

import threading

from moto import server
from moto.moto_server import werkzeug_app

_lock = threading.Lock()
_call = werkzeug_app.DomainDispatcherApplication.__call__


def _atomic_call(self, environ, start_response):
    with _lock:
        # Build the whole response inside the lock: the work happens while iterating.
        return list(_call(self, environ, start_response))


werkzeug_app.DomainDispatcherApplication.__call__ = _atomic_call

if __name__ == "__main__":
    server.main()
