"""Ownership intelligence: which fields cross systems, who really writes them, where to start.

``analyse`` joins three kinds of evidence: the declared map (owners, readers, what each system
maps), the change-log writers earlier runs observed (who actually writes each field, and for which
system they act), and the discrepancies currently open. Every field that crosses a system boundary
gets its gaps flagged and a risk score; the list is ranked so that a team knows where to start.
"""

from detector.discover.analysis import FieldRisk, RiskWeights, analyse, gap_rows

__all__ = ["FieldRisk", "RiskWeights", "analyse", "gap_rows"]
