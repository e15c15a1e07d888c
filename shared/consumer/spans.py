"""Consumer spans: each applied event gets a CONSUMER span in the trace of the command behind it
(its `traceparent`), so one trace runs from a partner's POST to every projection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from shared.events import Envelope
from shared.telemetry import start_consumer_span


@contextlib.contextmanager
def event_spans(
    service: str, envelopes: Sequence[Envelope], what: str = "apply", *, enabled: bool = True
) -> Iterator[None]:
    """One span per event (`<what> <event type>`), all covering the same work: one event's
    handler, or a run's one set-based write. A rebuild replaying history turns them off."""
    with contextlib.ExitStack() as spans:
        for envelope in envelopes if enabled else ():
            attributes: dict[str, str | int] = {
                "jiph.service": service,
                "jiph.event_id": str(envelope.event_id),
            }
            if len(envelopes) > 1:
                attributes["jiph.batch_size"] = len(envelopes)
            spans.enter_context(
                start_consumer_span(
                    f"{what} {envelope.event_type}", envelope.traceparent, attributes
                )
            )
        yield
