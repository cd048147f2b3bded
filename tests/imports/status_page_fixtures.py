"""Shared helpers for the parser tests: fixture payloads and UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from imports.records import ImportBatch, ImportedIncident

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "status_pages"


def read_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def by_id(batch: ImportBatch) -> dict[str, ImportedIncident]:
    return {incident.external_id: incident for incident in batch.incidents}
