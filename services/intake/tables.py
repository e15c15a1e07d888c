"""Intake's projection: the partner's view of each request and its timeline.

Fed by the consumer from all three topics (and written through by intake's own commands, so a
partner reads its write at once). Schema `projection`, rebuilt from the topics by `jiph replay`.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

from shared.backbone_tables import PROJECTION_SCHEMA
from shared.search import vector_sql

metadata = sa.MetaData(schema=PROJECTION_SCHEMA)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reference", sa.Text, nullable=False, unique=True),
    sa.Column("partner_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("classification", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("details", JSONB, nullable=False),  # the request as submitted, amendments applied
    sa.Column("open_information_request", UUID(as_uuid=True)),
    sa.Column("open_questions", JSONB, nullable=False, server_default="[]"),
    sa.Column("headcount_deployed", sa.Integer, nullable=False, server_default="0"),
    # Full-text search of the partner's own requests (it may read every word of them).
    sa.Column(
        "search",
        TSVECTOR,
        sa.Computed(
            vector_sql(
                ["reference", "title", "details->>'description'", "details->>'mission'", "country"]
            ),
            persisted=True,
        ),
    ),
    sa.Index("requests_by_partner", "partner_id", sa.text("submitted_at DESC"), "request_id"),
    sa.Index("requests_search", "search", postgresql_using="gin"),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", JSONB, nullable=False),  # partner-visible facts only
    sa.Index("timeline_by_request", "request_id", "occurred_at", "event_id"),
)

#: The partner registry as the hub keeps it (events `Partner*`): who may submit, and as what.
partners = sa.Table(
    "partners",
    metadata,
    sa.Column("partner_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("partner_type", sa.Text, nullable=False),
    sa.Column("organisation", sa.Text, nullable=False),
    sa.Column("country", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # of the partner's stream
)
