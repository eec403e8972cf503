"""The exports in the admin: the Exports page for a fleet's finance and admins (streamed,
refused on its field, or built in the background), the manifests and their kept files, and
"Export the selection" on the lists; nobody else exports, and nothing is recorded when refused."""

import datetime as dt
import io

import pytest
import time_machine
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from apps.charging.models import ChargingSession
from apps.exports.choices import ExportJobStatus, ExportKind
from apps.exports.columns import CsvDialect
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.selectors import TABLES
from apps.exports.services import export_request_check, export_write
from apps.fleets.choices import MembershipRole
from apps.fleets.services import fleet_update
from apps.payments.models import Invoice, Reimbursement
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory, UserFactory
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

EXPORT_PAGE = reverse("admin:exports_export")
MANIFEST_LIST = reverse("admin:exports_exportmanifest_changelist")
SESSION_LIST = reverse("admin:charging_chargingsession_changelist")
FINANCE, ADMIN, MANAGER, VIEWER = (
    MembershipRole.FINANCE,
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.VIEWER,
)


@pytest.fixture(autouse=True)
def kept_files(tmp_path, monkeypatch):
    """Kept export files go to a directory of the test's own."""
    monkeypatch.setattr(
        ExportManifest._meta.get_field("file"), "storage", FileSystemStorage(location=tmp_path)
    )
    return tmp_path


def logged_in(client, *fleet_roles):
    user = StaffUserFactory(first_name="Fran", last_name="Finance")
    for fleet, role in fleet_roles:
        MembershipFactory(user=user, fleet=fleet, role=role)
    client.force_login(user)
    return user


def export_form(fleet, **fields) -> dict:
    return {
        "fleet": fleet.pk,
        "kind": "sessions",
        "period": "2026-10",
        "first_day": "",
        "last_day": "",
        "file_format": "csv",
        "delimiter": ",",
        "decimal_separator": ".",
        **fields,
    }


def written_bytes(fleet, **options) -> bytes:
    options.setdefault("period", "2026-10")
    request = export_request_check(
        fleet=fleet, kind="sessions", file_format="csv", role=FINANCE, **options
    )
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="comparison")
    return out.getvalue()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def offered_actions(client, model) -> set[str]:
    response = client.get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    )
    return set(admin.site._registry[model].get_actions(response.wsgi_request))


def nothing_recorded() -> bool:
    return not ExportManifest.objects.exists() and not ExportJob.objects.exists()


# -- the Exports page ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [FINANCE, ADMIN])
def test_finance_and_admins_download_a_streamed_csv_equal_to_the_written_file_and_it_is_recorded(
    client, billed_fleet, role
):
    user = logged_in(client, (billed_fleet, role))

    page = client.get(EXPORT_PAGE)
    response = client.post(EXPORT_PAGE, export_form(billed_fleet))
    content = b"".join(response.streaming_content)

    assert page.status_code == 200
    assert list(page.context["form"].fields["fleet"].queryset) == [billed_fleet]
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{billed_fleet.slug}-sessions-2026-10.csv"'
    )
    manifest = ExportManifest.objects.get()
    assert (manifest.requested_by, manifest.requested_by_name) == (user, "Fran Finance")
    assert (manifest.kind, manifest.period_label, manifest.row_count) == ("sessions", "2026-10", 23)
    assert manifest.size_bytes == len(content)
    assert content == written_bytes(billed_fleet)
    assert content.startswith(b"session_id,employee_number,driver,")


def test_the_form_is_prefilled_with_the_fleets_csv_settings(client, billed_fleet):
    logged_in(client, (billed_fleet, FINANCE))
    fleet_update(
        fleet=billed_fleet,
        changes={"csv_delimiter": ";", "csv_decimal_separator": ",", "csv_bom": True},
    )

    form = client.get(EXPORT_PAGE).context["form"]

    assert {name: form.initial[name] for name in ("delimiter", "decimal_separator", "bom")} == {
        "delimiter": ";",
        "decimal_separator": ",",
        "bom": True,
    }
    assert form.initial["fleet"] == billed_fleet.pk


def test_the_chosen_dialect_and_days_are_what_the_file_is_written_with(client, billed_fleet):
    logged_in(client, (billed_fleet, FINANCE))

    response = client.post(
        EXPORT_PAGE,
        export_form(
            billed_fleet,
            period="",
            first_day="2026-10-01",
            last_day="2026-10-15",
            delimiter=";",
            decimal_separator=",",
            bom="on",
        ),
    )
    content = b"".join(response.streaming_content)

    assert content.startswith("\ufeffsession_id;".encode())
    assert content == written_bytes(
        billed_fleet,
        period="",
        first_day="2026-10-01",
        last_day="2026-10-15",
        dialect=CsvDialect(delimiter=";", decimal_separator=",", bom=True),
    )
    assert ExportManifest.objects.get(requested_by__isnull=False).period_label == (
        "2026-10-01_2026-10-15"
    )


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_managers_and_viewers_get_no_page_and_their_post_exports_nothing(
    client, billed_fleet, role
):
    logged_in(client, (billed_fleet, role))

    page = client.get(EXPORT_PAGE)
    posted = client.post(EXPORT_PAGE, export_form(billed_fleet))
    manifests = client.get(MANIFEST_LIST)

    assert (page.status_code, posted.status_code, manifests.status_code) == (403, 403, 403)
    assert nothing_recorded()


def test_anonymous_visitors_are_sent_to_the_login(client, billed_fleet):
    response = client.get(EXPORT_PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_another_fleets_finance_cannot_choose_this_fleet(client, billed_fleet):
    other_fleet = FleetFactory()
    logged_in(client, (other_fleet, FINANCE), (billed_fleet, VIEWER))

    response = client.post(EXPORT_PAGE, export_form(billed_fleet))

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "fleet": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert list(response.context["form"].fields["fleet"].queryset) == [other_fleet]
    assert nothing_recorded()


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"period": "2026-11"},
            {
                "period": [
                    "The period 2026-11 runs until the end of 2026-11-30 (Europe/Amsterdam); "
                    "it can be exported from 2026-12-01."
                ]
            },
        ),
        (
            {"period": "2026-09"},
            {"period": ["The period 2026-09 has no billing run; bill it first."]},
        ),
        (
            {"period": "", "first_day": "2026-10-20", "last_day": "2026-11-03"},
            {
                "last_day": [
                    "The period 2026-10-20_2026-11-03 runs until the end of 2026-11-03 "
                    "(Europe/Amsterdam); it can be exported from 2026-11-04."
                ]
            },
        ),
        (
            {"period": "2026-10", "first_day": "2026-10-01", "last_day": "2026-10-02"},
            {
                "period": [
                    "Give either a billing period (such as 2026-10) or the first and last day."
                ]
            },
        ),
        (
            {"kind": "general-ledger"},
            {
                "kind": [
                    "Select a valid choice. general-ledger is not one of the available choices."
                ]
            },
        ),
        (
            {"decimal_separator": ",", "delimiter": ","},
            {
                "decimal_separator": [
                    "The decimal separator must differ from the delimiter, or amounts split in two."
                ]
            },
        ),
    ],
    ids=["unfinished", "not-billed", "days-unfinished", "both", "unknown-kind", "dialect"],
)
def test_a_refused_export_shows_the_error_on_its_field_and_records_nothing(
    client, billed_fleet, fields, errors
):
    logged_in(client, (billed_fleet, FINANCE))

    response = client.post(EXPORT_PAGE, export_form(billed_fleet, **fields))

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert nothing_recorded()


# -- background exports and kept files -----------------------------------------------------------


@pytest.fixture
def background_export(client, billed_fleet, settings, django_capture_on_commit_callbacks):
    """Finance's export of October, too large to stream (one row streams at most), built by
    the worker once the page's transaction commits."""
    settings.EXPORT_STREAM_MAX_ROWS = 1
    logged_in(client, (billed_fleet, FINANCE))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EXPORT_PAGE, export_form(billed_fleet))
    return response


def test_a_large_export_runs_in_the_background_and_its_kept_file_is_downloaded_by_finance(
    client, billed_fleet, background_export
):
    job = ExportJob.objects.get()

    page = client.get(background_export["Location"])
    download = client.get(reverse("admin:exports_exportmanifest_download", args=[job.manifest.pk]))

    assert background_export["Location"] == reverse("admin:exports_exportjob_change", args=[job.pk])
    assert (job.status, job.rows_done, job.rows_total, job.error) == (
        ExportJobStatus.DONE,
        23,
        23,
        "",
    )
    assert page.status_code == 200
    assert page.context["working"] is False
    assert b'http-equiv="refresh"' not in page.content
    assert f"Download {job.manifest.file_name}".encode() in page.content
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="{billed_fleet.slug}-sessions-2026-10.csv"'
    )
    assert b"".join(download.streaming_content) == written_bytes(billed_fleet)
    assert job.manifest.expires_at == dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)


def test_a_job_still_working_has_a_page_that_reloads_itself(client, billed_fleet):
    logged_in(client, (billed_fleet, FINANCE))
    job = ExportJob.objects.create(
        fleet=billed_fleet,
        kind="sessions",
        file_format="csv",
        parameters={},
        status=ExportJobStatus.RUNNING,
        rows_total=23,
        rows_done=10,
        requested_by_name="Fran Finance",
    )

    page = client.get(reverse("admin:exports_exportjob_change", args=[job.pk]))

    assert page.context["working"] is True
    assert b'<meta http-equiv="refresh" content="2">' in page.content
    assert b"10/23" in page.content


def test_another_fleets_finance_cannot_download_the_kept_file(
    client, billed_fleet, background_export
):
    manifest = ExportManifest.objects.get()
    logged_in(client, (FleetFactory(), FINANCE), (billed_fleet, MANAGER))

    download = client.get(reverse("admin:exports_exportmanifest_download", args=[manifest.pk]))
    job_page = client.get(reverse("admin:exports_exportjob_change", args=[manifest.job.pk]))

    assert download.status_code == 404
    assert job_page.status_code == 302  # the admin sends a row outside the user's reach home


def test_an_expired_file_is_refused_with_a_message(client, billed_fleet, background_export):
    manifest = ExportManifest.objects.get()
    url = reverse("admin:exports_exportmanifest_download", args=[manifest.pk])

    with time_machine.travel(manifest.expires_at, tick=False):
        download = client.get(url)
        listed = client.get(MANIFEST_LIST)

    assert download.status_code == 410
    assert b"is no longer kept" in download.content
    assert b"expired 10 Nov 2026 10:00 +0100" in listed.content


def test_the_manifest_list_shows_times_in_the_fleets_zone_and_control_totals(client, billed_fleet):
    logged_in(client, (billed_fleet, FINANCE))
    b"".join(client.post(EXPORT_PAGE, export_form(billed_fleet)).streaming_content)
    manifest = ExportManifest.objects.get()

    listed = client.get(MANIFEST_LIST)
    detail = client.get(reverse("admin:exports_exportmanifest_change", args=[manifest.pk]))

    assert listed.status_code == 200
    assert b"3 Nov 2026 10:00 +0100" in listed.content
    totals = " / ".join(
        f"{amount} EUR" for amount in (manifest.net_total, manifest.vat_total, manifest.gross_total)
    )
    assert totals.encode() in listed.content
    assert manifest.sha256[:12].encode() in listed.content
    assert b"not kept (downloaded at once)" in listed.content
    assert detail.status_code == 200
    assert manifest.sha256.encode() in detail.content


def test_a_manifest_of_another_fleet_is_not_listed(client, billed_fleet):
    other_fleet = FleetFactory()
    logged_in(client, (billed_fleet, FINANCE))
    b"".join(client.post(EXPORT_PAGE, export_form(billed_fleet)).streaming_content)
    client.force_login(logged_in(client, (other_fleet, FINANCE)))

    listed = client.get(MANIFEST_LIST)

    assert listed.context["cl"].result_count == 0


# -- "Export the selection" ----------------------------------------------------------------------


SELECTABLE = [ChargingSession, Invoice, Reimbursement]


@pytest.mark.parametrize("role", [FINANCE, ADMIN])
def test_finance_and_admins_are_offered_the_selection_export_where_its_kind_exists(
    client, billed_fleet, role
):
    logged_in(client, (billed_fleet, role))

    offered = {model: "export_selection" in offered_actions(client, model) for model in SELECTABLE}

    assert offered == {
        ChargingSession: True,
        Invoice: ExportKind.INVOICES in TABLES,
        Reimbursement: ExportKind.REIMBURSEMENTS in TABLES,
    }


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_managers_and_viewers_are_not_offered_the_selection_export_and_posting_it_does_nothing(
    client, billed_fleet, role
):
    logged_in(client, (billed_fleet, role))
    sessions = ChargingSession.objects.filter(fleet=billed_fleet)[:2]

    offered = set().union(*(offered_actions(client, model) for model in SELECTABLE))
    response = client.post(
        SESSION_LIST,
        {"action": "export_selection", "_selected_action": [session.pk for session in sessions]},
    )

    assert "export_selection" not in offered
    assert response.status_code == 302
    assert messages_of(response) == [
        "Items must be selected in order to perform actions on them. No items have been changed."
    ] or messages_of(response) == ["No action selected."]
    assert nothing_recorded()


def test_the_selected_sessions_export_as_csv_for_the_days_they_span(client, billed_fleet):
    user = logged_in(client, (billed_fleet, FINANCE))
    sessions = list(
        ChargingSession.objects.filter(fleet=billed_fleet, ended_at__isnull=False).order_by(
            "started_at", "pk"
        )[3:5]
    )
    ids = [session.pk for session in sessions]

    response = client.post(SESSION_LIST, {"action": "export_selection", "_selected_action": ids})
    content = b"".join(response.streaming_content)

    manifest = ExportManifest.objects.get()
    zone = billed_fleet.zone
    first_day = min(session.ended_at for session in sessions).astimezone(zone).date()
    last_day = max(session.ended_at for session in sessions).astimezone(zone).date()
    label = f"{first_day:%Y-%m-%d}_{last_day:%Y-%m-%d}"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{billed_fleet.slug}-sessions-{label}-selection.csv"'
    )
    assert (manifest.requested_by, manifest.row_count, manifest.parameters["selection"]) == (
        user,
        2,
        sorted(ids),
    )
    lines = content.decode().splitlines()
    assert [int(line.split(",")[0]) for line in lines[1:]] == ids
    assert content == written_bytes(
        billed_fleet, period="", first_day=first_day, last_day=last_day, selection=ids
    )


def test_a_selection_spanning_two_fleets_is_refused_with_a_message(client, billed_fleet):
    second_fleet = billing_fleet_create(
        drivers=1, sessions_per_driver=1, month_start=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    )
    logged_in(client, (billed_fleet, FINANCE), (second_fleet, FINANCE))
    ids = [
        ChargingSession.objects.filter(fleet=fleet, ended_at__isnull=False).first().pk
        for fleet in (billed_fleet, second_fleet)
    ]

    response = client.post(SESSION_LIST, {"action": "export_selection", "_selected_action": ids})

    assert response.status_code == 302
    assert messages_of(response) == [
        "Nothing was exported: the selection holds rows of 2 fleets. Export one fleet's rows "
        "at a time (filter the list by fleet)."
    ]
    assert nothing_recorded()


def test_a_selection_in_a_fleet_where_the_user_manages_is_refused_by_the_role_rule(
    client, billed_fleet
):
    logged_in(client, (billed_fleet, MANAGER), (FleetFactory(), FINANCE))
    session = ChargingSession.objects.filter(fleet=billed_fleet, ended_at__isnull=False).first()

    response = client.post(
        SESSION_LIST, {"action": "export_selection", "_selected_action": [session.pk]}
    )

    assert messages_of(response) == [
        "Nothing was exported. Only the fleet's admins and finance may export; your role does "
        "not allow it."
    ]
    assert nothing_recorded()


def test_a_selection_with_a_session_still_charging_is_refused_as_its_day_is_not_over(
    client, billed_fleet
):
    logged_in(client, (billed_fleet, FINANCE))
    charging = ChargingSession.objects.get(fleet=billed_fleet, ended_at__isnull=True)
    with time_machine.travel(charging.started_at + dt.timedelta(hours=1), tick=False):
        response = client.post(
            SESSION_LIST, {"action": "export_selection", "_selected_action": [charging.pk]}
        )

    assert messages_of(response) == [
        "Nothing was exported. The period 2026-10-31_2026-10-31 runs until the end of "
        "2026-10-31 (Europe/Amsterdam); it can be exported from 2026-11-01."
    ]
    assert nothing_recorded()


def test_a_plain_user_without_staff_rights_has_no_page(client, billed_fleet):
    user = UserFactory()
    MembershipFactory(user=user, fleet=billed_fleet, role=FINANCE)
    client.force_login(user)

    response = client.get(EXPORT_PAGE)

    assert response.status_code == 302
    assert nothing_recorded()
