"""The self-contained HTML report (``fieldwarden report``)."""

from detector.report.html import ReportData, render_report

__all__ = ["ReportData", "render_report"]
