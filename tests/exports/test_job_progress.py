"""A background export's progress is committed as it goes, through a connection of its own,
so the admin sees it while the file is still being written in the job's transaction."""

import datetime as dt

import pytest
from django.db import connection, connections

from apps.exports import csv_files, file_formats, services
from apps.exports.choices import ExportJobStatus
from apps.exports.models import ExportJob
from apps.fleets.choices import MembershipRole
from tests.factories import ChargingSessionFactory, DriverFactory, FleetFactory, VehicleFactory

MARCH = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def _rows_done_seen_from_elsewhere(job_id: int) -> int:
    elsewhere = connections.create_connection("default")
    try:
        with elsewhere.cursor() as cursor:
            cursor.execute("SELECT rows_done FROM exports_exportjob WHERE id = %s", [job_id])
            return cursor.fetchone()[0]
    finally:
        elsewhere.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="progress is live on PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_progress_is_seen_by_others_while_the_file_is_written(monkeypatch, settings, file_format):
    settings.EXPORT_PROGRESS_ROWS = 10
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 1)
    monkeypatch.setattr(file_formats, "PROGRESS_EVERY_ROWS", 1)
    fleet = FleetFactory()
    driver, vehicle = DriverFactory(fleet=fleet), VehicleFactory(fleet=fleet)
    for index in range(35):
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            vehicle=vehicle,
            started_at=MARCH + dt.timedelta(hours=index),
            ended_at=MARCH + dt.timedelta(hours=index, minutes=30),
        )
    request = services.export_request_check(
        fleet=fleet,
        kind="sessions",
        file_format=file_format,
        role=MembershipRole.FINANCE,
        first_day="2026-03-01",
        last_day="2026-03-31",
    )
    job = ExportJob.objects.create(
        fleet=fleet,
        kind=request.kind,
        file_format=request.file_format,
        parameters=request.parameters,
        requested_by_name="finance",
    )
    seen = []
    told = services._JobProgress.__call__

    def telling_and_looking(progress, rows):
        told(progress, rows)
        seen.append(_rows_done_seen_from_elsewhere(progress.job_id))

    monkeypatch.setattr(services._JobProgress, "__call__", telling_and_looking)

    job = services.export_job_run(job_id=job.pk)

    assert job.status == ExportJobStatus.DONE, job.error
    assert {10, 20, 30} <= set(seen)
    assert seen == sorted(seen)
    assert (job.rows_done, job.rows_total) == (35, 35)
