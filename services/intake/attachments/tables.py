"""Attachments' records and the log of their downloads: the service's own state (outside the
`projection` schema, which a rebuild replaces), the bytes themselves in the blob store."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

metadata = sa.MetaData()

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("attachment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("partner_id", sa.Text, nullable=False),  # the request's, for tenant isolation
    sa.Column("classification", sa.Text, nullable=False),  # the request's when attached
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),  # as judged from the content
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("uploaded_by_role", sa.Text, nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("attachments_by_request", "request_id", "uploaded_at", "attachment_id"),
)

attachment_downloads = sa.Table(
    "attachment_downloads",
    metadata,
    sa.Column("download_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "attachment_id",
        UUID(as_uuid=True),
        sa.ForeignKey("attachments.attachment_id"),
        nullable=False,
    ),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("partner_id", sa.Text),  # the reader's organisation, for a partner
    sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("trace_id", sa.Text),
    sa.Index("attachment_downloads_by_attachment", "attachment_id", "downloaded_at"),
)
