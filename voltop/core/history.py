"""Recorded history (django-pghistory): database triggers store each change of a tracked model
with its context (the request's method, path and user; or the command or Celery task that made
it), and `object_history` reads it back as who changed what, from what to what, and when.

On PostgreSQL only: on SQLite pgtrigger installs no trigger, nothing is recorded, and no
context is set (pghistory's context is SQL that SQLite does not run)."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pghistory
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field, Model
from django.http import HttpRequest
from django.utils import timezone
from pghistory.middleware import HistoryMiddleware

if TYPE_CHECKING:
    from pghistory.models import Event

CREATE, CHANGE, DELETE = "create", "change", "delete"
# The label of an update event that stores the row as it was before the change (models followed
# without their inserts, whose first change has no earlier event to be compared with).
BEFORE_CHANGE = "before_change"
ACTIONS = {CREATE: "created", CHANGE: "changed", BEFORE_CHANGE: "changed", DELETE: "deleted"}
# Columns every row has that say nothing about a change.
UNSHOWN_FIELDS = {"id", "created_at", "updated_at"}
EMPTY = "—"


def history_recorded() -> bool:
    """Whether this database records history: PostgreSQL, where pgtrigger installs triggers."""
    return connection.vendor == "postgresql"


def history_context(**metadata: Any) -> contextlib.AbstractContextManager:
    """pghistory's context (grouping changes and storing `metadata` with them) on PostgreSQL;
    elsewhere a context that does nothing, since nothing is recorded there."""
    if history_recorded():
        return pghistory.context(**metadata)
    return contextlib.nullcontext()


class HistoryContextMiddleware(HistoryMiddleware):
    """pghistory's middleware, recording the user's login name beside their id (kept when the
    login is later deleted) and the request's method; on PostgreSQL only."""

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["username"] = user.get_username() if user and user.is_authenticated else ""
        context["method"] = request.method
        return context

    def __call__(self, request: HttpRequest):
        if not history_recorded():
            return self.get_response(request)
        return super().__call__(request)


def command_line_execute(argv: list[str]) -> None:
    """Run a `manage.py` command line, its changes recorded as made by "command <name>"."""
    from django.core.management import execute_from_command_line

    name = argv[1] if len(argv) > 1 else "help"
    with history_context(command=name):
        execute_from_command_line(argv)


def history_tracked(*, inserts: bool = True, **options):
    """Track a model's inserts, updates and deletes in its history (a pghistory event model
    beside it), leaving out `updated_at`, so a save that changes nothing else records nothing.
    Without `inserts`, rows are followed from their first change on, and an update stores the
    row as it was before it (label "before_change"), so even the first change shows what it
    changed from. `options` go to `pghistory.track` (say `fields` to follow only some fields:
    an update that changes none of them records nothing)."""
    if "fields" not in options:
        options.setdefault("exclude", ["updated_at"])
    if inserts:
        trackers = [
            pghistory.InsertEvent(CREATE),
            pghistory.UpdateEvent(CHANGE),
            pghistory.DeleteEvent(DELETE),
        ]
    else:
        trackers = [
            pghistory.UpdateEvent(BEFORE_CHANGE, row=pghistory.Old),
            pghistory.DeleteEvent(DELETE),
        ]
    return pghistory.track(*trackers, **options)


# Reading history -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of a change: its name, and its value before and after, as a person reads them
    (`before` is None where the change created the row or its earlier value was not recorded)."""

    field: str
    before: str | None
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change: when, what (created, changed, deleted) of which row, the fields it
    changed, by whom and through what (a request's method and path, a command, a task)."""

    at: datetime
    action: str
    subject: str
    changes: tuple[FieldChange, ...]
    earlier_unknown: bool
    user: str
    origin: str
    event_id: int

    @property
    def at_text(self) -> str:
        """When, in the active time zone with its offset."""
        return moment_text(self.at)


def history_event_model(model: type[Model]) -> type[Event] | None:
    """The pghistory event model that follows `model` (`model.events`), None if none does."""
    from pghistory.models import Event

    for relation in model._meta.related_objects:
        related = relation.related_model
        if (
            isinstance(related, type)
            and issubclass(related, Event)
            and relation.field.name == "pgh_obj"
        ):
            return related
    return None


def object_history(
    obj: Model, *, related: Iterable[tuple[type[Model], str]] = ()
) -> list[HistoryEntry]:
    """The recorded changes of `obj`, newest first, with those of the rows that point at it
    through each (`model`, foreign key name) in `related` (a driver's tokens, say), deleted
    rows included. Reads one query per event model, one for the users named, and one per model
    that the values refer to. The caller has checked that the user may see `obj`."""
    sources: list[tuple[type[Model], type[Event], dict, str]] = []
    own_model = obj._meta.concrete_model
    own_events = history_event_model(own_model)
    if own_events is not None:
        sources.append((own_model, own_events, {"pgh_obj_id": obj.pk}, ""))
    for model, foreign_key in related:
        event_model = history_event_model(model)
        if event_model is not None:
            sources.append((model, event_model, {f"{foreign_key}_id": obj.pk}, "related"))
    loaded = [
        (
            model,
            event_model,
            list(
                event_model.objects.filter(**lookup)
                .select_related("pgh_context")
                .order_by("pgh_obj_id", "pgh_id")
            ),
            kind,
        )
        for model, event_model, lookup, kind in sources
    ]
    grouped = []
    for model, event_model, events, kind in loaded:
        fields = _followed_fields(model, event_model)
        by_row: dict[Any, list[Event]] = defaultdict(list)
        for event in events:
            by_row[event.pgh_obj_id].append(event)
        current = _current_rows(model, obj, list(by_row), kind)
        grouped.append((model, fields, by_row, current, kind))
    display = _ValueDisplay(
        [
            (
                [field for field, _attname in fields],
                [event for events in by_row.values() for event in events] + list(current.values()),
            )
            for _model, fields, by_row, current, _kind in grouped
        ]
    )
    users = _context_users([event for _m, _e, events, _k in loaded for event in events])
    entries: list[HistoryEntry] = []
    for model, fields, by_row, current, kind in grouped:
        for row_id, row_events in by_row.items():
            subject = "" if kind == "" else _subject(model, row_id, current.get(row_id))
            entries.extend(
                _row_entries(row_events, fields, current.get(row_id), subject, display, users)
            )
    entries.sort(key=lambda entry: (entry.at, entry.event_id), reverse=True)
    return entries


def _followed_fields(model: type[Model], event_model: type[Event]) -> list[tuple[Field, str]]:
    """(field of the tracked model, attname on the event) of each followed field shown."""
    fields = []
    for field in event_model._meta.concrete_fields:
        if field.name.startswith("pgh_") or field.name in UNSHOWN_FIELDS:
            continue
        fields.append((model._meta.get_field(field.name), field.attname))
    return fields


def _current_rows(model, obj, row_ids: list, kind: str) -> dict:
    if kind == "":
        return {obj.pk: obj}
    return _rows_by_id(model, row_ids)


def _rows_by_id(model: type[Model], row_ids: Iterable) -> dict:
    """The rows of `model` with these ids, with the rows they point at, which their names
    (`__str__`, e.g. an assignment's "vehicle → driver") read: one query, however many rows."""
    row_ids = set(row_ids) - {None}
    if not row_ids:
        return {}
    pointed_at = [field.name for field in model._meta.concrete_fields if field.many_to_one]
    return model._default_manager.select_related(*pointed_at).in_bulk(row_ids)


def _subject(model: type[Model], row_id, row: Model | None) -> str:
    name = str(model._meta.verbose_name).capitalize()
    if row is None:
        return f"{name} #{row_id} (deleted)"
    return f"{name} {row}"


def _row_entries(
    events: list[Event],
    fields: list[tuple[Field, str]],
    current: Model | None,
    subject: str,
    display: _ValueDisplay,
    users: dict[int, str],
) -> Iterator[HistoryEntry]:
    """The entries of one row's events (in order): each event's values compared with the row's
    values before it. An update stored as the row before it ("before_change") is compared with
    the next event's row (or the row as it is now)."""
    previous: dict | None = None
    for index, event in enumerate(events):
        values = {field: getattr(event, attname) for field, attname in fields}
        if event.pgh_label == BEFORE_CHANGE:
            after = _after_of_before_change(events, index, fields, current)
            before, previous = values, after
        else:
            before, after, previous = previous, values, values
        if event.pgh_label == DELETE:
            changes = ()
        elif before is None:
            changes = tuple(
                FieldChange(field.verbose_name, None, display.text(field, value))
                for field, value in after.items()
                if value not in (None, "")
            )
        else:
            changes = tuple(
                FieldChange(
                    field.verbose_name,
                    display.text(field, before[field]),
                    display.text(field, value),
                )
                for field, value in after.items()
                if value != before[field]
            )
        yield HistoryEntry(
            at=event.pgh_created_at,
            action=ACTIONS.get(event.pgh_label, event.pgh_label),
            subject=subject,
            changes=changes,
            earlier_unknown=event.pgh_label == CHANGE and before is None,
            user=_context_user(event, users),
            origin=_context_origin(event),
            event_id=event.pgh_id,
        )


def _after_of_before_change(events, index: int, fields, current: Model | None) -> dict:
    if index + 1 < len(events):
        following = events[index + 1]
        return {field: getattr(following, attname) for field, attname in fields}
    return {field: getattr(current, field.attname, None) for field, _attname in fields}


def _metadata(event: Event) -> dict:
    context = event.pgh_context
    return context.metadata if context is not None else {}


def _context_users(events: list[Event]) -> dict[int, str]:
    """Login names of the users the contexts name by id only, read at once."""
    ids = {
        _metadata(event).get("user")
        for event in events
        if _metadata(event).get("user") and not _metadata(event).get("username")
    }
    if not ids:
        return {}
    return dict(get_user_model()._default_manager.filter(pk__in=ids).values_list("pk", "username"))


def _context_user(event: Event, users: dict[int, str]) -> str:
    metadata = _metadata(event)
    return metadata.get("username") or users.get(metadata.get("user"), "")


def _context_origin(event: Event) -> str:
    metadata = _metadata(event)
    origins = []
    if metadata.get("url"):
        origins.append(" ".join(part for part in (metadata.get("method"), metadata["url"]) if part))
    if metadata.get("command"):
        origins.append(f"command {metadata['command']}")
    if metadata.get("task"):
        origins.append(f"task {metadata['task']}")
    return " · ".join(origins)


class _ValueDisplay:
    """Field values as a person reads them: choices by their label, rows by their name (read
    once per related model), times in the active zone with their offset."""

    def __init__(self, sources: list[tuple[list[Field], list[Any]]]) -> None:
        """`sources`: followed fields, with the events and rows whose values will be shown."""
        wanted: dict[type[Model], set] = defaultdict(set)
        for fields, rows in sources:
            for field in fields:
                if field.is_relation:
                    wanted[field.related_model].update(
                        getattr(row, field.attname, None) for row in rows
                    )
        self.rows = {related: _rows_by_id(related, ids) for related, ids in wanted.items()}

    def text(self, field: Field, value: Any) -> str:
        if value is None or value == "":
            return EMPTY
        if field.is_relation:
            row = self.rows.get(field.related_model, {}).get(value)
            return str(row) if row is not None else f"#{value} (deleted)"
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, datetime):
            return moment_text(value)
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)


def moment_text(moment: datetime) -> str:
    """`moment` in the active time zone with its offset, e.g. "2026-12-06 17:04:05 +01:00"."""
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"
