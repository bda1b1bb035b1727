"""moto's server, with DynamoDB's isolation between concurrent requests.

moto serves every request on its own thread, and its DynamoDB backend takes no lock: two
TransactWriteItems at once may both pass the same condition, and a transaction that fails
puts back a copy of the whole table taken when it began, wiping out what other requests wrote
meanwhile (moto/dynamodb/models/__init__.py, transact_write_items). DynamoDB itself isolates
transactions from each other and from single-item writes and reads ("Isolation levels for
DynamoDB transactions": serializable). So that tests of concurrent admins and counters check
our code and not that gap, every operation of moto's DynamoDB backend runs under one lock
here; everything else is moto_server as is (same arguments).
"""

import functools
import inspect
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _serialized(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


for _name, _method in list(vars(DynamoDBBackend).items()):
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(DynamoDBBackend, _name, _serialized(_method))


if __name__ == "__main__":
    main()
