"""README documents every export kind's columns under their stable headers."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from apps.exports.choices import ExportKind
from apps.exports.periods import export_period_of_label
from apps.exports.selectors import export_table
from tests.factories import FleetFactory

pytestmark = pytest.mark.django_db


def _readme_headers_of(kind: str) -> list[str]:
    readme = Path(settings.BASE_DIR, "README.md").read_text()
    section = re.search(rf"^#### `{re.escape(kind)}`\n(.*?)(?=^#|\Z)", readme, re.M | re.S)
    assert section, f"README has no section for the {kind} export"
    return re.findall(r"^\| `([^`]+)` \|", section.group(1), re.M)


@pytest.mark.parametrize("kind", ExportKind.values)
def test_readme_lists_each_column_of_the_kind_in_file_order(kind):
    fleet = FleetFactory()
    period = export_period_of_label(kind=fleet.billing_period, label="2026-10", zone=fleet.zone)

    table = export_table(kind=kind, fleet=fleet, period=period)

    assert _readme_headers_of(kind) == table.headers
