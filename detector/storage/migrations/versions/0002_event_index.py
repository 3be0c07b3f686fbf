"""Drop ``ix_alert_events_discrepancy_id``: it cost more than it earned.

No query looks events up by discrepancy id (the outbox is read by run, time and delivery), and
discrepancies are never deleted, so the index served nothing; meanwhile every event inserted
went into it at a random place (the ids are hashes), which took about a third of the time of
writing a large run's outbox. If discrepancies are ever purged, ``ON DELETE SET NULL`` will
want the index back.

Revision ID: 0002_event_index
Revises: 0001_initial
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_event_index"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_alert_events_discrepancy_id", table_name="alert_events")


def downgrade() -> None:
    op.create_index("ix_alert_events_discrepancy_id", "alert_events", ["discrepancy_id"])
