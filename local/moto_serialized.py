#!/usr/bin/env python3
"""moto's server (the local DynamoDB and STS), with every request handled one at a time.

moto's DynamoDB keeps no locks: under concurrent requests two conditional writes can both win,
and a transaction that copies the table can put back an older copy over writes it already
acknowledged. DynamoDB itself is linearizable per item, and the tests that check "exactly one
winner" rely on that, so this wrapper serializes requests. It takes moto_server's arguments:

    moto_serialized.py -H 127.0.0.1 -p PORT

Its DynamoDB Streams shard iterators also expire after 15 minutes, as DynamoDB's do: moto keeps
every one it hands out (one per GetRecords call), and the stream poller reading each stream
twice a second would otherwise grow it by some 18 MB an hour per table. And they keep reading a
table's stream after a failed transaction (moto restores copies of the tables it touched, and an
iterator would otherwise be left on the discarded copy's stream), and a transaction's copy of a
table shares its stream's records instead of copying each (see below).
"""

import sys
import threading
import time

from moto import server
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams import models as streams
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialized(self, environ, start_response):
    with _one_at_a_time:
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialized

ITERATOR_LIFETIME = 15 * 60
_new_iterator = streams.ShardIterator.__init__
_get_records = streams.DynamoDBStreamsBackend.get_records
_pruned_at = [0.0]


def _dated_iterator(self, *args, **kwargs):
    _new_iterator(self, *args, **kwargs)
    self.created_at = time.monotonic()


def _get_records_unexpired(self, iterator_arn, limit):
    now = time.monotonic()
    if now - _pruned_at[0] >= 60:
        _pruned_at[0] = now
        for arn in [arn for arn, it in self.shard_iterators.items()
                    if now - getattr(it, "created_at", now) > ITERATOR_LIFETIME]:
            del self.shard_iterators[arn]
    iterator = self.shard_iterators.get(iterator_arn)
    if iterator is None or now - getattr(iterator, "created_at", now) > ITERATOR_LIFETIME:
        raise JsonRESTError("ExpiredIteratorException", "Iterator expired. The iterator was created more than "
                                                        "15 minutes ago, or is not one this server gave")
    return _get_records(self, iterator_arn, limit)


streams.ShardIterator.__init__ = _dated_iterator
streams.DynamoDBStreamsBackend.get_records = _get_records_unexpired

# A failed transaction makes moto put back deep copies of the tables it touched: an iterator
# still holding the old table's shard would read a stream that no longer grows, and the stream
# poller would see no change again. An iterator reads the live table's shard instead (the copy
# has every record the old one had, so the positions carry over), as long as it is the same
# stream (a table deleted and created again has a new one).
_shard_get = streams.ShardIterator.get


def _live_shard_get(self, limit=1000):
    table = self.stream_shard.table
    live = dynamodb_backends[table.account_id][table.region_name].tables.get(table.name)
    if (live is not None and live.stream_shard is not None
            and live.latest_stream_label == table.latest_stream_label):
        self.stream_shard = live.stream_shard
    return _shard_get(self, limit)


streams.ShardIterator.get = _live_shard_get

# Every transaction deep-copies the tables it touches (to put them back if it fails), and a
# table's stream holds every record since the table was made: with streams on, each
# transaction grew slower as the test run went on (seconds, and then the SDK's retries). A
# stream's copy is a new list of the same records (which nothing changes once written), so a
# failed transaction still leaves no record of its own writes, and a copy costs what the list
# costs.


def _shard_copy(self, memo):
    twin = StreamShard.__new__(StreamShard)
    memo[id(self)] = twin
    twin.__dict__.update(self.__dict__)
    twin.items = list(self.items)
    twin.table = memo.get(id(self.table), self.table)
    return twin


StreamShard.__deepcopy__ = _shard_copy

if __name__ == "__main__":
    server.main(sys.argv[1:])
