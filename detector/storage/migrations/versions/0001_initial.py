"""Initial schema: runs, sources, discrepancies, the alert outbox, cursors, observed changes.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types, so later model changes cannot rewrite history.
UTC_TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON()
NAME = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC_TS, nullable=False),
        sa.Column("finished_at", UTC_TS, nullable=True),
        sa.Column("records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("values_compared", sa.Integer(), server_default="0", nullable=False),
        sa.Column("discrepancies", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opened", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reopened", sa.Integer(), server_default="0", nullable=False),
        sa.Column("by_kind", JSON_DOC, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'partial', 'failed', 'aborted')",
            name=op.f("ck_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_status", "runs", ["status"])

    op.create_table(
        "run_sources",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("system", NAME, nullable=False),
        sa.Column("entity", NAME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("problems", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), server_default="0", nullable=False),
        sa.Column("problem_samples", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_sources_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "system", "entity", name=op.f("pk_run_sources")),
    )
    op.create_index("ix_run_sources_system_entity", "run_sources", ["system", "entity", "run_id"])

    op.create_table(
        "discrepancies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity", NAME, nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("field", NAME, nullable=True),
        sa.Column("owner", NAME, nullable=True),
        sa.Column("system", NAME, nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_value", sa.Text(), nullable=True),
        sa.Column("system_value", sa.Text(), nullable=True),
        sa.Column("writer", sa.Text(), nullable=True),
        sa.Column("changed_at", UTC_TS, nullable=True),
        sa.Column("owner_changed_at", UTC_TS, nullable=True),
        sa.Column("first_seen", UTC_TS, nullable=False),
        sa.Column("last_seen", UTC_TS, nullable=False),
        sa.Column("detected_at", UTC_TS, nullable=False),
        sa.Column("opened_at", UTC_TS, nullable=True),
        sa.Column("resolved_at", UTC_TS, nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("acked_at", UTC_TS, nullable=True),
        sa.Column("last_alerted_at", UTC_TS, nullable=True),
        sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'pending', 'acknowledged', 'resolved')",
            name=op.f("ck_discrepancies_status"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["runs.id"],
            name=op.f("fk_discrepancies_last_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancies")),
    )
    op.create_index(
        "ix_discrepancies_scope", "discrepancies", ["entity", "system", "kind", "status", "key"]
    )
    op.create_index("ix_discrepancies_status", "discrepancies", ["status"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TS, nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("discrepancy_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("entity", NAME, nullable=True),
        sa.Column("field", NAME, nullable=True),
        sa.Column("system", NAME, nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.CheckConstraint(
            "event IN ('opened', 'resolved', 'reopened', 'reminder', 'source_failed', "
            "'source_recovered')",
            name=op.f("ck_alert_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["discrepancy_id"],
            ["discrepancies.id"],
            name=op.f("fk_alert_events_discrepancy_id_discrepancies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_alert_events_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_at", "alert_events", ["at"])
    op.create_index("ix_alert_events_discrepancy_id", "alert_events", ["discrepancy_id"])
    op.create_index("ix_alert_events_run_id", "alert_events", ["run_id"])

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sink", NAME, nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTC_TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UTC_TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_alert_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.id"],
            name=op.f("fk_alert_deliveries_event_id_alert_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("event_id", "sink", name=op.f("uq_alert_deliveries_event_id_sink")),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "cursors",
        sa.Column("system", NAME, nullable=False),
        sa.Column("entity", NAME, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_cursors_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("system", "entity", name=op.f("pk_cursors")),
    )

    op.create_table(
        "observed_changes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("entity", NAME, nullable=False),
        sa.Column("field", NAME, nullable=False),
        sa.Column("system", NAME, nullable=False),
        sa.Column("acting_system", NAME, nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("changed_at", UTC_TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_observed_changes_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_changes")),
    )
    op.create_index("ix_observed_changes_changed_at", "observed_changes", ["changed_at"])
    op.create_index("ix_observed_changes_entity_field", "observed_changes", ["entity", "field"])

    op.create_table(
        "record_hashes",
        sa.Column("system", NAME, nullable=False),
        sa.Column("entity", NAME, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("system", "entity", "key", name=op.f("pk_record_hashes")),
    )


def downgrade() -> None:
    for table in (
        "record_hashes",
        "observed_changes",
        "cursors",
        "alert_deliveries",
        "alert_events",
        "discrepancies",
        "run_sources",
        "runs",
    ):
        op.drop_table(table)
