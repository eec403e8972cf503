"""A download whose client goes away mid-file: the COPY feeding it is cancelled, nothing is
recorded, and the connection serves the next query."""

import datetime as dt

import pytest
from django.db import connection

from apps.charging.models import ChargingSession
from apps.exports import csv_files
from apps.exports.models import ExportManifest
from apps.exports.services import export_request_check, export_stream
from apps.fleets.choices import MembershipRole
from tests.factories import ChargingSessionFactory, DriverFactory, FleetFactory, VehicleFactory

SESSIONS = 30_000


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_copy_stopped_mid_file_is_cancelled_and_the_connection_works_on(monkeypatch):
    fleet = FleetFactory()
    driver, vehicle = DriverFactory(fleet=fleet), VehicleFactory(fleet=fleet)
    template = ChargingSessionFactory.build(fleet=fleet, driver=driver, vehicle=vehicle)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    ChargingSession.objects.bulk_create(
        ChargingSession(
            **{
                field.attname: getattr(template, field.attname)
                for field in ChargingSession._meta.concrete_fields
                if field.attname not in ("id", "started_at", "ended_at")
            },
            started_at=start + dt.timedelta(minutes=index),
            ended_at=start + dt.timedelta(minutes=index + 1),
        )
        for index in range(SESSIONS)
    )
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 1024)
    request = export_request_check(
        fleet=fleet,
        kind="sessions",
        file_format="csv",
        role=MembershipRole.ADMIN,
        first_day="2026-03-01",
        last_day="2026-03-31",
    )
    stream = export_stream(request=request, requested_by_name="test")
    received = b"".join(next(stream) for _ in range(5))
    stream.close()

    assert received.count(b"\n") < SESSIONS
    assert not ExportManifest.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('TimeZone'), 41 + 1")
        assert cursor.fetchone() == ("UTC", 42)
    assert ChargingSession.objects.filter(fleet=fleet).count() == SESSIONS
