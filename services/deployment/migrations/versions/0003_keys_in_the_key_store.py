"""Officers' keys move out of PostgreSQL into the key store (a PKCS#11 token), so that erasure
destroys the only copy; and deployments record who planned them (their manager), for the
need-to-know rule on personal data.

Each key still in `officer_keys` is imported onto the token (sensitive, non-extractable, as a
generated key is) and the table is dropped, then vacuumed away by PostgreSQL in time. Copies of
those keys in write-ahead log segments and backups taken *before* this migration are beyond its
reach: rotate those out as the retention of backups allows. The projection is reset (it gains
`deployments.planned_by` and `deployment_officers.repatriation_notes`) and rebuilt from the
topics.

Revision ID: 0003
"""

import contextlib

import sqlalchemy as sa
from alembic import op

from services.deployment.keystore import KeyExists, keystore_from_env
from services.deployment.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.exec_driver_sql("SELECT to_regclass('public.officer_keys')").scalar():
        legacy = connection.execute(sa.text("SELECT officer_ref, key FROM officer_keys")).all()
        if legacy:
            keys = keystore_from_env()  # KeyStoreUnavailable: configure the key store first
            try:
                for officer_ref, value in legacy:
                    with contextlib.suppress(KeyExists):  # imported by an interrupted run
                        keys.import_key(officer_ref, bytes(value))
            finally:
                keys.close()
        connection.exec_driver_sql("DROP TABLE officer_keys")
    reset_projection(connection, metadata)
