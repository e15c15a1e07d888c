"""The deployment service's tables.

`metadata` (schema `projection`) is the read side, fed by the consumer from all three topics and
rebuilt from them by `jiph replay`. `write_metadata` (schema `public`, beside the event store) is
write-side state that is not an event and must never be rebuilt: officers' encryption keys, the
personal-data access log, officers' bookings (which keep two tours of one officer from overlapping)
and the requests each deployment belongs to.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import DATERANGE, JSONB, UUID, ExcludeConstraint

from shared.backbone_tables import PROJECTION_SCHEMA

metadata = sa.MetaData(schema=PROJECTION_SCHEMA)

requirements = sa.Table(
    "requirements",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reference", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("capability", sa.Text),
    sa.Column("headcount", sa.Integer),
    sa.Column("classification", sa.Text),
    sa.Column("needed_by", sa.Date),
    sa.Column("tour_length_months", sa.Integer),
    # The role profile the partner asked for (intake's submission, as amended).
    sa.Column("rank", sa.Text),
    sa.Column("skills", JSONB),
    sa.Column("languages", JSONB),
    sa.Column("decision", sa.Text),  # approved | on_hold | resumed; null until triage decides
    sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deployment_id", UUID(as_uuid=True)),  # the latest deployment not cancelled
    sa.Column("deployment_status", sa.Text),
    sa.Column("status", sa.Text, nullable=False),  # domain.requirement_status
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("requirements_by_status", "status", sa.text("approved_at DESC"), "request_id"),
)

offers = sa.Table(
    "offers",
    metadata,
    sa.Column("offer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("officer_ref", sa.Text, nullable=False),
    sa.Column("force", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("rank", sa.Text, nullable=False),
    sa.Column("gender", sa.Text, nullable=False),
    sa.Column("languages", JSONB, nullable=False),
    sa.Column("skills", JSONB, nullable=False),
    sa.Column("vetting_level", sa.Text, nullable=False),
    sa.Column("vetting_expires", sa.Date, nullable=False),
    sa.Column("medical_expires", sa.Date, nullable=False),
    sa.Column("training_expires", sa.Date, nullable=False),
    sa.Column("passport_expires", sa.Date, nullable=False),
    sa.Column("available_from", sa.Date, nullable=False),
    sa.Column("available_to", sa.Date, nullable=False),
    sa.Column("personal_data", sa.Text, nullable=False),  # sealed; unreadable once the key is gone
    sa.Column("status", sa.Text, nullable=False),  # active | withdrawn
    sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.Column("withdrawal_reason", sa.Text),
    sa.Index("offers_by_time", sa.text("offered_at DESC"), sa.text("offer_id DESC")),
    sa.Index("offers_by_officer", "officer_ref"),
    sa.Index("offers_by_capability", "capability", "status"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("mission", sa.Text),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("headcount", sa.Integer, nullable=False),
    sa.Column("classification", sa.Text, nullable=False),
    sa.Column("tour_start", sa.Date, nullable=False),
    sa.Column("tour_end", sa.Date, nullable=False),
    # Every post's role profile (DeploymentPlanned v2; null for older plans).
    sa.Column("rank", sa.Text),
    sa.Column("skills", JSONB, nullable=False, server_default="[]"),
    sa.Column("languages", JSONB, nullable=False, server_default="[]"),
    sa.Column("vetting_level", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("started_on", sa.Date),
    sa.Column("completed_on", sa.Date),
    sa.Column("extensions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("planned_by", sa.Text),  # the subject who planned it: its deployment manager
    sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The stream version last applied: a replayed or repeated event changes nothing.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("deployments_by_time", sa.text("planned_at DESC"), sa.text("deployment_id DESC")),
    sa.Index("deployments_by_request", "request_id"),
)

deployment_officers = sa.Table(
    "deployment_officers",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("officer_ref", sa.Text, primary_key=True),
    sa.Column("offer_id", UUID(as_uuid=True), nullable=False),
    sa.Column("force", sa.Text, nullable=False),
    sa.Column("gender", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("nominated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True)),
    sa.Column("cleared_at", sa.DateTime(timezone=True)),
    sa.Column("valid_until", sa.Date),
    sa.Column("repatriated_on", sa.Date),
    sa.Column("repatriation_reason", sa.Text),  # the published code
    sa.Column("repatriation_notes", sa.Text),  # internal free text
    sa.Column("post_id", sa.Text),
    sa.Column("starts_on", sa.Date),  # a backfill's first day
    sa.Column("joined_on", sa.Date),  # the day a backfill joined the tour
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.Column("withdrawal_reason", sa.Text),  # internal free text
    sa.Column("replaced_by", sa.Text),
    sa.Index("deployment_officers_by_officer", "officer_ref"),
    sa.Index("deployment_officers_by_force", "force"),
)

deployment_timeline = sa.Table(
    "deployment_timeline",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("deployment_id", UUID(as_uuid=True), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("details", JSONB, nullable=False),
    sa.Column("post_id", sa.Text),  # the post the event concerns: its own history
    sa.Index("deployment_timeline_by_deployment", "deployment_id", "occurred_at", "event_id"),
)

#: One row per post (head of the headcount): who holds it now, since when it has been vacant.
deployment_posts = sa.Table(
    "deployment_posts",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("post_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # vacant | filled
    sa.Column("holder", sa.Text),  # officer_ref
    sa.Column("needed_from", sa.Date, nullable=False),
    sa.Column("vacant_since", sa.DateTime(timezone=True)),
    sa.Column("filled_at", sa.DateTime(timezone=True)),
    sa.Column("fills", sa.Integer, nullable=False, server_default="0"),
)

# --- write side (schema public) -----------------------------------------------------------------
write_metadata = sa.MetaData()

officers = sa.Table(
    "officers",
    write_metadata,
    sa.Column("officer_ref", sa.Text, primary_key=True),
    sa.Column("force", sa.Text, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
    sa.Column("erased_at", sa.DateTime(timezone=True)),
    sa.Column("erased_by", sa.Text),
)

#: Data Protection Act 2018 s.62: every consultation or disclosure of personal data, and erasure.
#: Never holds the personal values themselves.
access_log = sa.Table(
    "access_log",
    write_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),  # read | export | erasure
    sa.Column("officer_ref", sa.Text, nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("fields", JSONB, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.Text),
    sa.Index("access_log_by_officer", "officer_ref", "id"),
    sa.Index("access_log_by_actor", "actor", "id"),
)

#: An officer's tours: PostgreSQL itself refuses two overlapping ones (btree_gist exclusion),
#: so two managers nominating one officer at the same moment cannot both succeed.
officer_bookings = sa.Table(
    "officer_bookings",
    write_metadata,
    sa.Column("officer_ref", sa.Text, primary_key=True),
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("period", DATERANGE, nullable=False),
    ExcludeConstraint(
        (sa.column("officer_ref"), "="),
        (sa.column("period"), "&&"),
        name="officer_bookings_no_overlap",
        using="gist",
    ),
)
sa.Index("officer_bookings_by_deployment", officer_bookings.c.deployment_id)

deployment_requests = sa.Table(
    "deployment_requests",
    write_metadata,
    sa.Column("deployment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False, index=True),
)
