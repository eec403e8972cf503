"""XLSX and OCPI CDR JSON files of an export table, written as bytes."""

import zoneinfo
from collections.abc import Callable, Iterator

from apps.exports.selectors import ExportTable
from apps.fleets.models import Fleet


def xlsx_chunks(
    table: ExportTable, *, zone: zoneinfo.ZoneInfo, progress: Callable[[int], None] | None
) -> Iterator[bytes]:
    raise NotImplementedError


def ocpi_chunks(
    table: ExportTable, *, fleet: Fleet, progress: Callable[[int], None] | None
) -> Iterator[bytes]:
    raise NotImplementedError
