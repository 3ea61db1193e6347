#!/usr/bin/env python3
"""moto's server (the local DynamoDB and STS), with every request handled one at a time.

moto's DynamoDB keeps no locks: under concurrent requests two conditional writes can both win,
and a transaction that copies the table can put back an older copy over writes it already
acknowledged. DynamoDB itself is linearizable per item, and the tests that check "exactly one
winner" rely on that, so this wrapper serializes requests. It takes moto_server's arguments:

    moto_serialized.py -H 127.0.0.1 -p PORT
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialized(self, environ, start_response):
    with _one_at_a_time:
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialized

if __name__ == "__main__":
    server.main(sys.argv[1:])
