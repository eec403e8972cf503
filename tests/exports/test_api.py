"""The exports endpoints under /api/v1/fleet/: who may export a fleet's file (members and fleet
API keys of the admin and finance roles), the file equal to the service's bytes with its
manifest, each refusal naming its field and leaving nothing behind, background exports as
jobs with a kept file, and the manifests scoped to the caller's fleets."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage
from rest_framework.test import APIClient

from apps.exports.columns import CsvDialect
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.services import export_request_check, export_write
from apps.fleets import services as fleets_services
from apps.fleets.choices import MembershipRole
from tests.factories import DriverFactory, FleetFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the password tests.factories.UserFactory sets
SESSIONS = "/api/v1/fleet/exports/sessions/"
JOBS = "/api/v1/fleet/export-jobs/"
MANIFESTS = "/api/v1/fleet/export-manifests/"
ADMIN, MANAGER, FINANCE, VIEWER = (
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.FINANCE,
    MembershipRole.VIEWER,
)
CSV_TYPE = "text/csv; charset=utf-8"


def _client_of(user) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    client.user = user
    return client


@pytest.fixture
def member_client():
    """member_client(role, fleet): logged in as a new member of `fleet` holding `role`."""

    def client_for(role: str, fleet) -> APIClient:
        user = UserFactory(first_name="Fay", last_name="Nance")
        MembershipFactory(fleet=fleet, user=user, role=role)
        return _client_of(user)

    return client_for


@pytest.fixture
def key_client():
    """key_client(role, fleet): sending a new fleet API key of `role`."""

    def client_for(role: str, fleet) -> APIClient:
        key, key_text = fleets_services.fleet_api_key_issue(
            fleet=fleet, name="Payroll export", role=role
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_text}")
        client.api_key = key
        return client

    return client_for


@pytest.fixture
def other_fleet():
    return FleetFactory(name="Other Fleet")


@pytest.fixture
def export_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return FileSystemStorage(location=str(tmp_path))


def _service_bytes(fleet, *, dialect: CsvDialect | None = None) -> bytes:
    """What the export service writes for the same request (it records a manifest too)."""
    request = export_request_check(
        fleet=fleet,
        kind="sessions",
        file_format="csv",
        role=FINANCE,
        period="2026-10",
        dialect=dialect,
    )
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="test")
    return out.getvalue()


def _content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _errors(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def _nothing_recorded() -> bool:
    return not ExportManifest.objects.exists() and not ExportJob.objects.exists()


# Who may export -----------------------------------------------------------------------------


def test_anonymous_is_refused_with_401_and_nothing_recorded(billed_fleet):
    response = APIClient().get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"})

    assert response.status_code == 401
    assert _nothing_recorded()


def test_a_driver_is_refused_by_the_role_rule(billed_fleet):
    driver = DriverFactory(fleet=billed_fleet, user=UserFactory())

    response = _client_of(driver.user).get(
        SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"}
    )

    assert response.status_code == 403
    assert _errors(response) == [("exports.role_refused", "role")]
    assert _nothing_recorded()


@pytest.mark.parametrize("role", [VIEWER, MANAGER])
def test_viewers_and_managers_are_refused_by_the_role_rule(billed_fleet, member_client, role):
    client = member_client(role, billed_fleet)

    response = client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"})

    assert response.status_code == 403
    assert _errors(response) == [("exports.role_refused", "role")]
    assert "admins and finance" in response.json()["errors"][0]["detail"]
    assert _nothing_recorded()


@pytest.mark.parametrize("role", [VIEWER, MANAGER])
def test_a_fleet_api_key_of_another_role_is_refused(billed_fleet, key_client, role):
    response = key_client(role, billed_fleet).get(
        SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"}
    )

    assert response.status_code == 403
    assert _errors(response) == [("exports.role_refused", "role")]
    assert _nothing_recorded()


@pytest.mark.parametrize("role", [FINANCE, ADMIN])
def test_finance_and_admins_get_the_services_bytes_and_a_manifest_of_them(
    billed_fleet, member_client, role
):
    client = member_client(role, billed_fleet)

    response = client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == CSV_TYPE
    assert response["Content-Disposition"] == (
        f'attachment; filename="{billed_fleet.slug}-sessions-2026-10.csv"'
    )
    assert response["Cache-Control"] == "private, no-store"
    content = _content(response)
    manifest = ExportManifest.objects.get()
    assert manifest.fleet == billed_fleet
    assert manifest.requested_by == client.user
    assert manifest.requested_by_name == "Fay Nance"
    assert manifest.size_bytes == len(content)
    assert manifest.row_count == 23
    assert manifest.parameters["period"] == "2026-10"
    assert not manifest.file
    assert content == _service_bytes(billed_fleet)
    assert ExportManifest.objects.filter(sha256=manifest.sha256).count() == 2
    assert not ExportJob.objects.exists()


def test_a_fleet_api_key_with_the_finance_role_exports_in_its_name(billed_fleet, key_client):
    response = key_client(FINANCE, billed_fleet).get(
        SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"}
    )

    assert response.status_code == 200
    content = _content(response)
    manifest = ExportManifest.objects.get()
    assert manifest.requested_by is None
    assert manifest.requested_by_name == "Payroll export"
    assert content == _service_bytes(billed_fleet)


def test_the_fleet_may_be_named_by_its_id(billed_fleet, member_client):
    client = member_client(FINANCE, billed_fleet)

    response = client.get(SESSIONS, {"fleet": str(billed_fleet.pk), "period": "2026-10"})

    assert response.status_code == 200
    assert _content(response) == _service_bytes(billed_fleet)


@pytest.mark.parametrize("by", ["slug", "pk"])
def test_finance_of_another_fleet_is_not_shown_the_fleet(
    billed_fleet, other_fleet, member_client, by
):
    client = member_client(FINANCE, other_fleet)

    response = client.get(SESSIONS, {"fleet": str(getattr(billed_fleet, by)), "period": "2026-10"})

    assert response.status_code == 404
    assert _errors(response) == [("exports.fleet_unknown", "fleet")]
    assert _nothing_recorded()


def test_a_client_accepting_only_csv_gets_the_file_and_its_refusals_as_json(
    billed_fleet, member_client
):
    client = member_client(FINANCE, billed_fleet)

    exported = client.get(
        SESSIONS,
        {"fleet": billed_fleet.slug, "period": "2026-10", "format": "csv"},
        HTTP_ACCEPT="text/csv",
    )
    refused = client.get(
        SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-09"}, HTTP_ACCEPT="text/csv"
    )

    assert exported.status_code == 200
    assert _content(exported) == _service_bytes(billed_fleet)
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert _errors(refused) == [("exports.period_not_billed", "period")]


def test_the_dialect_given_overrides_the_fleets(billed_fleet, member_client):
    client = member_client(FINANCE, billed_fleet)

    response = client.get(
        SESSIONS,
        {
            "fleet": billed_fleet.slug,
            "period": "2026-10",
            "delimiter": ";",
            "decimal_separator": ",",
            "bom": "true",
        },
    )

    assert response.status_code == 200
    content = _content(response)
    assert content.startswith("\ufeff".encode())
    dialect = CsvDialect(delimiter=";", decimal_separator=",", bom=True)
    assert content == _service_bytes(billed_fleet, dialect=dialect)
    manifest = ExportManifest.objects.get(requested_by=client.user)
    assert (
        manifest.parameters["delimiter"],
        manifest.parameters["decimal_separator"],
        manifest.parameters["bom"],
    ) == (";", ",", True)


# Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "code", "field"),
    [
        (
            "/api/v1/fleet/exports/sessionz/",
            {"period": "2026-10"},
            "exports.kind_unknown",
            "kind",
        ),
        (
            "/api/v1/fleet/exports/invoices/",
            {"period": "2026-10", "format": "ocpi"},
            "exports.format_unknown",
            "format",
        ),
        (SESSIONS, {"period": "2026-10", "format": "pdf"}, "exports.format_unknown", "format"),
        (SESSIONS, {"period": "2026-11"}, "exports.period_not_finished", "period"),
        (
            SESSIONS,
            {"from": "2026-10-01", "to": "2026-11-03"},
            "exports.period_not_finished",
            "to",
        ),
        (SESSIONS, {"period": "2026-09"}, "exports.period_not_billed", "period"),
        (
            SESSIONS,
            {"period": "2026-10", "from": "2026-10-01", "to": "2026-10-31"},
            "exports.period_invalid",
            "period",
        ),
        (SESSIONS, {}, "exports.period_invalid", "period"),
        (SESSIONS, {"period": "October"}, "exports.period_invalid", "period"),
        (SESSIONS, {"from": "2026-10-32", "to": "2026-10-31"}, "exports.period_invalid", "from"),
        (SESSIONS, {"from": "2026-10-01"}, "exports.period_invalid", "to"),
        (SESSIONS, {"from": "0001-01-01", "to": "0001-01-31"}, "exports.period_invalid", "from"),
        (SESSIONS, {"period": "9999-12"}, "exports.period_invalid", "period"),
        (
            SESSIONS,
            {"period": "2026-10", "delimiter": ",", "decimal_separator": ","},
            "exports.invalid",
            "decimal_separator",
        ),
        (SESSIONS, {"period": "2026-10", "delimiter": "|"}, "exports.invalid", "delimiter"),
        (SESSIONS, {"period": "2026-10", "bom": "maybe"}, "invalid", "bom"),
    ],
    ids=[
        "unknown kind",
        "ocpi for invoices",
        "unknown format",
        "unfinished period",
        "unfinished days",
        "period without billing run",
        "period and days",
        "no period",
        "unreadable period",
        "bad day",
        "no last day",
        "days beyond the calendar",
        "period beyond the calendar",
        "delimiter is the decimal separator",
        "unknown delimiter",
        "bom not a yes or no",
    ],
)
def test_bad_input_is_refused_with_400_naming_the_field_and_records_nothing(
    billed_fleet, member_client, path, query, code, field
):
    client = member_client(FINANCE, billed_fleet)

    response = client.get(path, {"fleet": billed_fleet.slug, **query})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert _errors(response) == [(code, field)]
    assert _nothing_recorded()


def test_an_export_without_a_fleet_is_refused_naming_it(billed_fleet, member_client):
    response = member_client(FINANCE, billed_fleet).get(SESSIONS, {"period": "2026-10"})

    assert response.status_code == 400
    assert _errors(response) == [("required", "fleet")]
    assert _nothing_recorded()


def test_the_role_is_checked_before_the_input(billed_fleet, member_client):
    response = member_client(VIEWER, billed_fleet).get(
        "/api/v1/fleet/exports/sessionz/", {"fleet": billed_fleet.slug, "period": "2026-11"}
    )

    assert response.status_code == 403
    assert _errors(response) == [("exports.role_refused", "role")]


# Background exports -------------------------------------------------------------------------


@pytest.fixture
def background_export(
    billed_fleet, member_client, settings, export_storage, django_capture_on_commit_callbacks
):
    """A finance member's export too large to stream, answered with its job; the job ran as
    the request's transaction committed (Celery is eager in the tests)."""
    settings.EXPORT_STREAM_MAX_ROWS = 1
    client = member_client(FINANCE, billed_fleet)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"})
    return client, response


def test_a_large_export_is_answered_202_with_its_job(background_export, billed_fleet):
    _, response = background_export

    assert response.status_code == 202
    job = ExportJob.objects.get()
    body = response.json()
    assert body["id"] == job.pk
    assert body["fleet"] == billed_fleet.pk
    assert (body["kind"], body["format"]) == ("sessions", "csv")
    assert body["status"] == "pending"
    assert (body["rows_total"], body["rows_done"]) == (0, 0)
    assert body["requested_by_name"] == "Fay Nance"
    assert body["links"] == {
        "self": f"http://testserver{JOBS}{job.pk}/",
        "manifest": None,
        "file": None,
    }
    assert response["Location"] == body["links"]["self"]


def test_the_job_is_done_with_a_file_to_download_equal_to_the_services_bytes(
    background_export, billed_fleet
):
    client, response = background_export

    job = client.get(response.json()["links"]["self"])

    assert job.status_code == 200
    body = job.json()
    manifest = ExportManifest.objects.get()
    assert body["status"] == "done"
    assert (body["rows_total"], body["rows_done"]) == (23, 23)
    assert body["manifest"] == manifest.pk
    assert body["links"]["manifest"] == f"http://testserver{MANIFESTS}{manifest.pk}/"
    assert body["links"]["file"] == f"http://testserver{MANIFESTS}{manifest.pk}/file/"
    assert manifest.requested_by == client.user
    download = client.get(body["links"]["file"])
    assert download.status_code == 200
    assert download["Content-Type"] == CSV_TYPE
    assert download["Content-Disposition"] == (
        f'attachment; filename="{billed_fleet.slug}-sessions-2026-10.csv"'
    )
    content = _content(download)
    assert len(content) == manifest.size_bytes
    assert content == _service_bytes(billed_fleet)


def test_another_fleets_finance_cannot_read_the_job_its_manifest_or_file(
    background_export, other_fleet, member_client
):
    stranger = member_client(FINANCE, other_fleet)
    job = ExportJob.objects.get()

    answers = [
        stranger.get(f"{JOBS}{job.pk}/"),
        stranger.get(f"{MANIFESTS}{job.manifest_id}/"),
        stranger.get(f"{MANIFESTS}{job.manifest_id}/file/"),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert stranger.get(MANIFESTS).json()["results"] == []


@pytest.mark.parametrize("role", [VIEWER, MANAGER])
def test_other_roles_of_the_fleet_cannot_read_jobs_or_manifests(
    background_export, member_client, billed_fleet, role
):
    client = member_client(role, billed_fleet)
    job = ExportJob.objects.get()

    answers = [
        client.get(f"{JOBS}{job.pk}/"),
        client.get(MANIFESTS),
        client.get(f"{MANIFESTS}{job.manifest_id}/file/"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]


def test_an_expired_file_is_not_found_while_its_manifest_stays(background_export):
    client, _ = background_export
    manifest = ExportManifest.objects.get()

    with time_machine.travel(manifest.expires_at + dt.timedelta(seconds=1), tick=False):
        client = _client_of(client.user)
        download = client.get(f"{MANIFESTS}{manifest.pk}/file/")
        detail = client.get(f"{MANIFESTS}{manifest.pk}/")

    assert download.status_code == 404
    assert _errors(download) == [("exports.file_gone", "file")]
    assert detail.status_code == 200
    assert detail.json()["file_available"] is False
    assert detail.json()["links"]["file"] is None


# Manifests ----------------------------------------------------------------------------------


def test_the_manifests_list_shows_the_callers_fleets_newest_first(
    billed_fleet, other_fleet, member_client
):
    client = member_client(FINANCE, billed_fleet)
    for _ in range(2):
        response = client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"})
        _content(response)
    ExportManifest.objects.create(
        fleet=other_fleet,
        kind="sessions",
        file_format="csv",
        period_label="2026-10",
        period_start=dt.datetime(2026, 9, 30, 22, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC),
        parameters={},
        file_name="other.csv",
        content_type=CSV_TYPE,
        size_bytes=1,
        sha256="0" * 64,
        row_count=0,
        currency="EUR",
        requested_by_name="someone else",
        created_at=dt.datetime(2026, 11, 3, 10, tzinfo=dt.UTC),
    )

    listed = client.get(MANIFESTS)

    assert listed.status_code == 200
    results = listed.json()["results"]
    ours = list(ExportManifest.objects.filter(fleet=billed_fleet).order_by("-pk"))
    assert [row["id"] for row in results] == [manifest.pk for manifest in ours]
    first = results[0]
    manifest = ours[0]
    assert first["sha256"] == manifest.sha256
    assert first["row_count"] == 23
    assert first["size_bytes"] == manifest.size_bytes
    assert first["requested_by"] == client.user.pk
    assert first["requested_by_name"] == "Fay Nance"
    assert first["file_name"] == f"{billed_fleet.slug}-sessions-2026-10.csv"
    assert first["format"] == "csv"
    assert first["period_label"] == "2026-10"
    assert first["currency"] == billed_fleet.currency
    assert (first["net_total"], first["vat_total"], first["gross_total"]) == (
        str(manifest.net_total),
        str(manifest.vat_total),
        str(manifest.gross_total),
    )
    assert first["file_available"] is False
    assert first["links"] == {
        "self": f"http://testserver{MANIFESTS}{manifest.pk}/",
        "file": None,
    }


def test_a_streamed_export_keeps_no_file_to_download(billed_fleet, member_client):
    client = member_client(FINANCE, billed_fleet)
    _content(client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"}))
    manifest = ExportManifest.objects.get()

    response = client.get(f"{MANIFESTS}{manifest.pk}/file/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 404
    assert _errors(response) == [("exports.file_gone", "file")]


def test_the_manifests_list_reads_a_fixed_number_of_queries(
    billed_fleet, member_client, django_assert_num_queries
):
    client = member_client(FINANCE, billed_fleet)
    for _ in range(3):
        _content(client.get(SESSIONS, {"fleet": billed_fleet.slug, "period": "2026-10"}))

    with django_assert_num_queries(3):
        listed = client.get(MANIFESTS)

    assert len(listed.json()["results"]) == 3
