"""The gateway's event catalogue: the integration contract between the four services.

Importing this package registers every event type in `shared.events.REGISTRY`. Codes from
reference data (capabilities, countries, reasons) travel as plain strings: reference data is
configurable, and a consumer must not break because a code was added to a data file.
"""

from shared.catalogue import deployment, intake, triage

__all__ = ["deployment", "intake", "triage"]
