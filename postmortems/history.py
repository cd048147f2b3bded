"""The edit history of a postmortem, as readable word-level diffs of what changed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from postmortems.models import ActionItem, ChangeType, Factor, Incident

HIDDEN_FIELDS = {"version", "updated_at", "created_at", "search_vector"}
WORDS = re.compile(r"\s+|[^\s]+")


@dataclass
class FieldChange:
    label: str
    diff: SafeString


@dataclass
class HistoryEntry:
    at: datetime
    user: str
    what: str  # "Postmortem", "Factor: Root cause: Time handling", …
    kind: str  # "created", "changed", "deleted"
    changes: list[FieldChange] = field(default_factory=list)


def word_diff(old: str, new: str) -> SafeString:
    """Inline diff: removed words in <del>, added words in <ins>, the rest as is."""
    a, b = WORDS.findall(str(old or "")), WORDS.findall(str(new or ""))
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
        if op == "equal":
            parts.append(escape("".join(a[i1:i2])))
    return mark_safe("".join(parts))  # every piece escaped above


def _entries(records, what, names: dict) -> list[HistoryEntry]:
    """Turn one object's history records (oldest first) into entries."""
    entries, previous = [], None
    for record in records:
        kind = {"+": "created", "~": "changed", "-": "deleted"}[record.history_type]
        entry = HistoryEntry(
            at=record.history_date,
            user=record.history_user.get_username() if record.history_user else "system",
            what=what(record),
            kind=kind,
        )
        if previous is not None and kind == "changed":
            delta = record.diff_against(previous, excluded_fields=HIDDEN_FIELDS)
            for change in delta.changes:
                label = record.instance_type._meta.get_field(change.field).verbose_name
                entry.changes.append(FieldChange(label.capitalize(), _diff(change, names)))
            if not entry.changes:
                previous = record
                continue
        entries.append(entry)
        previous = record
    return entries


def _diff(change, names: dict) -> SafeString:
    if isinstance(change.old, list) or isinstance(change.new, list):
        # Many-to-many history is a list of through rows ({"incident": 1,
        # "changetype": 4}); an array field (regions) is a list of strings.
        def label(items):
            return ", ".join(
                sorted(
                    names.get(i.get("changetype"), "?") if isinstance(i, dict) else str(i)
                    for i in items or []
                )
            )

        return word_diff(label(change.old), label(change.new))
    return word_diff(change.old if change.old is not None else "", change.new or "")


def incident_history(
    incident: Incident, *, extra_groups: tuple = (), limit: int = 30
) -> list[HistoryEntry]:
    """Newest first: edits of the postmortem, its factors, its action items and
    any ``extra_groups`` of ``(history queryset ordered by id then date, describe)``."""
    groups = [
        (
            incident.history.select_related("history_user").order_by("history_date"),
            lambda r: "Postmortem",
        ),
        (
            Factor.history.filter(incident_id=incident.id)
            .select_related("history_user", "category")
            .order_by("id", "history_date"),
            lambda r: f"Factor ({r.get_role_display().lower()}): {r.category.name}",
        ),
        (
            ActionItem.history.filter(incident_id=incident.id)
            .select_related("history_user")
            .order_by("id", "history_date"),
            lambda r: f"Action item: {r.title}",
        ),
        *extra_groups,
    ]
    names = dict(ChangeType.objects.values_list("id", "name"))
    entries: list[HistoryEntry] = []
    for records, what in groups:
        by_object: dict[int, list] = {}
        for record in records:
            by_object.setdefault(record.id, []).append(record)
        for object_records in by_object.values():
            entries.extend(_entries(object_records, what, names))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def changes_since(incident: Incident, version: int) -> list[FieldChange]:
    """What was saved after ``version``: the conflict report an editor is shown."""
    then = incident.history.filter(version=version).order_by("-history_date").first()
    now = incident.history.order_by("-history_date").first()
    if then is None or now is None:
        return []
    names = dict(ChangeType.objects.values_list("id", "name"))
    delta = now.diff_against(then, excluded_fields=HIDDEN_FIELDS)
    return [
        FieldChange(
            now.instance_type._meta.get_field(c.field).verbose_name.capitalize(),
            _diff(c, names),
        )
        for c in delta.changes
    ]
