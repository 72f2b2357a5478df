"""moto's server with its DynamoDB requests taken one at a time.

moto (5.1.22) is not atomic where DynamoDB is: `transact_write_items` deep-copies every table it
touches and, when the transaction is cancelled, puts the copy back, so a write another request
committed in between is lost (a usage counter goes back, a conditional limit lets one more in).
DynamoDB serialises conflicting transactions; this launcher gets the same by letting one DynamoDB
request run at a time (S3 and the other services stay concurrent). Started by infra/moto.sh with
moto_server's own arguments.
"""
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised(self):
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _serialised

if __name__ == "__main__":
    main()
