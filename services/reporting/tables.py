"""The reporting service's projection tables (schema `projection`, rebuilt from the topics)."""

import sqlalchemy as sa

from shared.backbone_tables import PROJECTION_SCHEMA

metadata = sa.MetaData(schema=PROJECTION_SCHEMA)
