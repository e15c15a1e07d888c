"""The consumer side of the backbone: Kafka records → projection tables, exactly once in effect.

- `records`: records as the consumer sees them, decoded or not;
- `state`: the bookkeeping every batch reads and writes (offsets, applied ids, parked keys,
  reactions taken, key locks);
- `applier`: one copy of a projection (live or a rebuild's) and how a batch is applied;
- `inbox`: other services' events by key, which commands decide from;
- `deadletters`: the one writer of dead letters and parked events; `redrive`: operators' side;
- `live`: the consumer-group member; `rebuild`: a projection replayed from offset 0 and swapped in.
"""

from shared.consumer.applier import ProjectionApplier, StaleGeneration
from shared.consumer.live import ProjectionConsumer
from shared.consumer.records import Record, describe_error

__all__ = [
    "ProjectionApplier",
    "ProjectionConsumer",
    "Record",
    "StaleGeneration",
    "describe_error",
]
