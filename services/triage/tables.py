"""Triage's projection: the case queue, each case's history, and the officers offered.

Fed by the consumer from all three topics (and written through by triage's own commands, so an
officer reads their write at once). Schema `projection`, rebuilt from the topics by `jiph replay`.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

from shared.backbone_tables import PROJECTION_SCHEMA
from shared.search import vector_sql

metadata = sa.MetaData(schema=PROJECTION_SCHEMA)

_OPEN_FIELDS = ["reference", "country", "capability", "partner_type", "requesting_body"]
_ALL_FIELDS = [*_OPEN_FIELDS, "title", "description", "mission"]
SEARCH_ALL = vector_sql([f"document->>'{f}'" for f in _ALL_FIELDS])
SEARCH_OPEN = vector_sql([f"document->>'{f}'" for f in _OPEN_FIELDS])

#: One row per case, re-derived from `case_history` by the domain's fold after every event.
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("partner_id", sa.Text, nullable=False),
    sa.Column("classification", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("partner_type", sa.Text, nullable=False),
    sa.Column("needed_by", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("risk_tier", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),  # of the case stream
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", JSONB, nullable=False),  # the whole case, as the API shows it
    sa.Column("owner", sa.Text),  # canonical subject of the staff member who owns the case
    sa.Column("sla_stage", sa.Text),  # services.triage.domain.service_levels.SlaStage
    sa.Column("stage_since", sa.DateTime(timezone=True)),
    # Full-text search over what a reader may see (shared.redaction): everything, for a cleared
    # reader or OFFICIAL material; only the fields never withheld otherwise.
    sa.Column("search_all", TSVECTOR, sa.Computed(SEARCH_ALL, persisted=True)),
    sa.Column("search_open", TSVECTOR, sa.Computed(SEARCH_OPEN, persisted=True)),
    sa.Index("cases_queue", sa.text("score DESC"), "needed_by", "request_id"),
    sa.Index("cases_by_status", "status"),
    sa.Index("cases_by_owner", "owner"),
    sa.Index("cases_search_all", "search_all", postgresql_using="gin"),
    sa.Index("cases_search_open", "search_open", postgresql_using="gin"),
)

#: Every event about a request that triage follows: the partner's (intake) and the case's own.
case_history = sa.Table(
    "case_history",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor_subject", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Index("case_history_by_request", "request_id", "occurred_at", "event_id"),
)

#: Officers UK forces offer, by capability: the "capability availability" of the score.
capability_offers = sa.Table(
    "capability_offers",
    metadata,
    sa.Column("offer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("available_to", sa.Date, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("capability_offers_by_capability", "capability", "available_to"),
)
