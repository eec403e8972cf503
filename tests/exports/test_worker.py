"""A large export built by a real Celery worker process on Redis: queued on commit, its
progress kept, its file stored with a manifest whose SHA-256 is the stored bytes'."""

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest

from apps.exports.choices import ExportJobStatus
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.services import export_job_start, export_request_check
from apps.fleets.choices import MembershipRole
from tests.celery_workers import celery_workers_fixture  # noqa: F401 - `celery_workers`
from tests.factories import ChargingSessionFactory, DriverFactory, FleetFactory, VehicleFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

MARCH = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def _job_finished(job: ExportJob, seconds: float = 60) -> ExportJob:
    deadline = time.monotonic() + seconds
    while job.status in (ExportJobStatus.PENDING, ExportJobStatus.RUNNING):
        assert time.monotonic() < deadline, f"the job is still {job.status}"
        time.sleep(0.2)
        job.refresh_from_db()
    return job


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_worker_builds_the_file_and_keeps_it_with_its_manifest(
    celery_workers, tmp_path, file_format
):
    media = tmp_path / "media"
    celery_workers.start(MEDIA_ROOT=str(media))
    fleet = FleetFactory()
    driver, vehicle = DriverFactory(fleet=fleet), VehicleFactory(fleet=fleet)
    for index in range(12):
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            vehicle=vehicle,
            started_at=MARCH + dt.timedelta(hours=3 * index),
            ended_at=MARCH + dt.timedelta(hours=3 * index + 1),
        )
    request = export_request_check(
        fleet=fleet,
        kind="sessions",
        file_format=file_format,
        role=MembershipRole.FINANCE,
        first_day="2026-03-01",
        last_day="2026-03-31",
    )

    job = export_job_start(request=request, requested_by_name="finance@example.com")

    job = _job_finished(job)
    assert job.status == ExportJobStatus.DONE, f"{job.error}\n{celery_workers.logs()}"
    manifest = ExportManifest.objects.get()
    assert job.manifest == manifest
    assert (job.rows_total, job.rows_done, manifest.row_count) == (12, 12, 12)
    assert manifest.requested_by_name == "finance@example.com"
    stored = Path(media, "exports", manifest.file.name).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == manifest.sha256
    assert len(stored) == manifest.size_bytes
    assert manifest.expires_at is not None
