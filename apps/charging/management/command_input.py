"""What the charging commands read and write: a fleet named by its slug, JSON and data files,
and JSON output to stdout or a file; every failure is a CommandError naming what was wrong."""

from pathlib import Path

from django.core.management.base import CommandError, OutputWrapper

from apps.fleets.models import Fleet
from voltop.core.json_input import JsonInputRefused, json_input_parse
from voltop.core.json_text import json_text


def fleet_by_slug(slug: str) -> Fleet:
    fleet = Fleet.objects.filter(slug=slug).first()
    if fleet is None:
        raise CommandError(f"--fleet: no fleet has the slug {slug!r}.")
    return fleet


def file_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CommandError(f"{path} cannot be read: {error.strerror}.") from error


def json_file(path: str):
    """The file's JSON with numbers as Decimal, so prices are read exactly; a file that is not
    UTF-8 JSON, or is larger or nested deeper than the limits for outside JSON, is refused."""
    try:
        return json_input_parse(file_bytes(path))
    except JsonInputRefused as error:
        raise CommandError(f"{path}: {error.message}.") from error


def json_write(document, *, output: str | None, stdout: OutputWrapper, what: str) -> None:
    """Write the document as indented JSON to `output`, or to stdout without it; decimals are
    written as exact numbers."""
    text = json_text(document)
    if output is None:
        stdout.write(text)
        return
    try:
        Path(output).write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise CommandError(f"-o {output} cannot be written: {error.strerror}.") from error
    stdout.write(f"Wrote {what} to {output}.")
