"""The reporting service's projection tables (schema `projection`, rebuilt from the topics).

`event_log` keeps every gateway event (without personal data); the flat read models
(`requests`, `deployments`, `deployment_officers`) are re-derived from it by pure folds after each
event, so the order in which the three topics are consumed does not matter. `offers` holds the
readiness expiries of officers offered by forces.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.backbone_tables import PROJECTION_SCHEMA

metadata = sa.MetaData(schema=PROJECTION_SCHEMA)

#: Every event, in the order this projection met it: the audit trail and the SSE feed (`seq` is
#: the SSE id). `data` is the event's data minus personal fields (contact, encrypted blobs).
event_log = sa.Table(
    "event_log",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("request_id", UUID(as_uuid=True)),
    sa.Column("deployment_id", UUID(as_uuid=True)),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("producer", sa.Text, nullable=False),
    sa.Column("actor_subject", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    sa.Column("trace_id", sa.Text),
    sa.Column("data", JSONB, nullable=False),
    sa.Index("event_log_by_request", "request_id", "occurred_at", "seq"),
    sa.Index("event_log_by_deployment", "deployment_id", "stream_version"),
    sa.Index("event_log_by_type", "event_type", "seq"),
)

#: One flat row per submitted request. Title and description are served to cleared callers only.
requests = sa.Table(
    "requests",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("partner_id", sa.Text, nullable=False),
    sa.Column("partner_type", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("classification", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("mission", sa.Text),
    sa.Column("funding_source", sa.Text),
    sa.Column("headcount", sa.Integer, nullable=False),
    sa.Column("tour_length_months", sa.Integer),
    sa.Column("needed_by", sa.Date),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("risk_tier", sa.Text),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decision", sa.Text),  # approved | rejected
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("rejected", sa.Boolean, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.Column("deployment_start", sa.Date),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("requests_by_submitted", "submitted_at", "request_id"),
    sa.Index("requests_by_status", "status"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("mission", sa.Text),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("classification", sa.Text, nullable=False),
    sa.Column("headcount", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("tour_start", sa.Date, nullable=False),
    sa.Column("tour_end", sa.Date, nullable=False),
    sa.Column("planned_tour_end", sa.Date, nullable=False),
    sa.Column("extensions", sa.Integer, nullable=False),
    sa.Column("extension_months", sa.Integer, nullable=False),
    sa.Column("started_on", sa.Date),
    sa.Column("completed_on", sa.Date),
    sa.Column("officers_nominated", sa.Integer, nullable=False),
    sa.Column("officers_deployed", sa.Integer, nullable=False),
    # Posts held now (0 once the deployment has ended), and the hours each fill took.
    sa.Column("posts_filled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fill_hours", JSONB, nullable=False, server_default="[]"),
    sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("deployments_by_request", "request_id"),
    sa.Index("deployments_by_tour", "tour_start", "deployment_id"),
)

#: Officers (pseudonymous `officer_ref`) on deployments; no personal data.
deployment_officers = sa.Table(
    "deployment_officers",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("officer_ref", sa.Text, primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("offer_id", UUID(as_uuid=True)),
    sa.Column("force", sa.Text, nullable=False),
    sa.Column("gender", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("nominated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_on", sa.Date),
    sa.Column("returned_on", sa.Date),
    sa.Column("repatriation_reason", sa.Text),
    sa.Index("deployment_officers_by_request", "request_id"),
)

#: Readiness of offered officers (vetting, medical, training, passport expiry dates).
offers = sa.Table(
    "offers",
    metadata,
    sa.Column("offer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("officer_ref", sa.Text, nullable=False),
    sa.Column("force", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("vetting_level", sa.Text, nullable=False),
    sa.Column("vetting_expires", sa.Date, nullable=False),
    sa.Column("medical_expires", sa.Date, nullable=False),
    sa.Column("training_expires", sa.Date, nullable=False),
    sa.Column("passport_expires", sa.Date, nullable=False),
    sa.Column("available_from", sa.Date, nullable=False),
    sa.Column("available_to", sa.Date, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
)
