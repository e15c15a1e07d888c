"""The partners' webhook endpoints and the deliveries owed to them.

Both are the service's own working state, not a read model: they live outside the `projection`
schema, so that a projection rebuild neither drops them nor (by the unique event per endpoint)
owes a delivery twice. An endpoint's secret is here because every attempt is signed with it;
it never travels on Kafka."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID

metadata = sa.MetaData()

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("endpoint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("partner_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    #: Only these event types (null: every one the partner may see).
    sa.Column("event_types", ARRAY(sa.Text)),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Index("webhook_endpoints_by_partner", "partner_id", "created_at", "endpoint_id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    #: The `webhook-id`: the same for every attempt and redelivery of this message.
    sa.Column("delivery_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "endpoint_id",
        UUID(as_uuid=True),
        sa.ForeignKey("webhook_endpoints.endpoint_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    #: The body exactly as signed and sent, fixed when the event was met: retries send it again.
    sa.Column("body", sa.Text, nullable=False),
    #: pending (due at `next_attempt_at`), delivered, or dead (every attempt failed).
    sa.Column("state", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("endpoint_id", "event_id", name="webhook_deliveries_once_per_event"),
    sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="webhook_delivery_state"),
    sa.Index(
        "webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=sa.text("state = 'pending'"),
    ),
    sa.Index("webhook_deliveries_by_endpoint", "endpoint_id", "created_at", "delivery_id"),
)
