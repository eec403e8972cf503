"""Recorded history: the admin's history page of a followed row (who changed what, from what to
what, when, through which request, command or task), its tenancy, and the context that
commands and Celery tasks give the changes they make."""

import contextlib
import datetime as dt
import os
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.charging.models import Tariff
from apps.drivers.models import ChargeToken
from apps.fleets.choices import MembershipRole
from apps.fleets.models import Membership
from apps.vehicles.models import Vehicle, VehicleAssignment, VehicleEvent
from tests.core.test_admin_tenancy import form_payload
from tests.factories import (
    ChargeTokenFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from voltop.celery import HistoryTask, app
from voltop.core.history import (
    FieldChange,
    history_context,
    moment_text,
    object_history,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

UTC = dt.UTC


def history_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def manager_of(fleet, role: str = MembershipRole.MANAGER):
    return MembershipFactory(fleet=fleet, role=role, user=StaffUserFactory()).user


@pytest.fixture
def fleet():
    return FleetFactory(time_zone="Europe/Amsterdam")


@pytest.fixture
def vehicle(fleet):
    return VehicleFactory(fleet=fleet, plate="EV-100-A")


def test_managers_change_in_the_admin_is_on_the_vehicles_history_with_login_and_request(
    client, fleet, vehicle
):
    manager = manager_of(fleet)
    client.force_login(manager)
    payload = form_payload(client.get(change_url(vehicle)))
    payload["plate"] = "EV-200-B"

    saved = client.post(change_url(vehicle), payload)
    response = client.get(history_url(vehicle))

    assert saved.status_code == 302
    assert response.status_code == 200
    changed, created = response.context["entries"]
    assert (changed.action, changed.user, changed.origin) == (
        "changed",
        manager.username,
        f"POST {change_url(vehicle)}",
    )
    assert changed.changes == (FieldChange("licence plate", "EV-100-A", "EV-200-B"),)
    assert not changed.earlier_unknown
    assert (created.action, created.user, created.origin) == ("created", "", "")
    assert FieldChange("licence plate", None, "EV-100-A") in created.changes
    assert changed.at >= created.at
    page = response.content.decode()
    assert "EV-100-A → EV-200-B" in page
    assert manager.username in page
    assert f"POST {change_url(vehicle)}" in page


def test_history_page_of_another_fleets_vehicle_is_missing_and_shows_none_of_it(
    client, fleet, vehicle
):
    with history_context(username="first-manager", url="/admin/x", method="POST"):
        Vehicle.objects.filter(pk=vehicle.pk).update(plate="EV-300-C")
    client.force_login(manager_of(FleetFactory()))

    response = client.get(history_url(vehicle))
    index = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"vehicle with ID \u201c{vehicle.pk}\u201d doesn\u2019t exist. Perhaps it was deleted?"
    ]
    assert "EV-300-C" not in index.content.decode()
    assert "first-manager" not in index.content.decode()


@pytest.mark.parametrize("role", [MembershipRole.VIEWER, MembershipRole.FINANCE])
def test_every_member_who_sees_the_vehicle_sees_its_history(client, fleet, vehicle, role):
    client.force_login(manager_of(fleet, role))

    response = client.get(history_url(vehicle))

    assert response.status_code == 200
    assert [entry.action for entry in response.context["entries"]] == ["created"]


def test_bulk_update_is_recorded_with_the_commands_name(fleet, vehicle):
    with history_context(command="fix_plates"):
        Vehicle.objects.filter(pk=vehicle.pk).update(plate="EV-101-A")

    latest = object_history(vehicle)[0]

    assert (latest.action, latest.user, latest.origin) == ("changed", "", "command fix_plates")
    assert latest.changes == (FieldChange("licence plate", "EV-100-A", "EV-101-A"),)


def test_a_save_that_changes_no_followed_field_records_nothing(fleet, vehicle):
    before = VehicleEvent.objects.filter(pgh_obj=vehicle).count()

    vehicle.save(update_fields=["updated_at"])

    assert VehicleEvent.objects.filter(pgh_obj=vehicle).count() == before == 1


def test_values_are_shown_as_people_read_them_and_deleted_rows_are_named(fleet, vehicle):
    driver = DriverFactory(fleet=fleet, first_name="Anna", last_name="Jansen")
    assignment = VehicleAssignmentFactory(vehicle=vehicle, driver=driver)
    assignment_id = assignment.pk
    with history_context(command="cleanup"):
        VehicleAssignment.objects.filter(pk=assignment_id).update(
            ends_at=dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
        )
        assignment.delete()

    entries = object_history(vehicle, related=[(VehicleAssignment, "vehicle")])

    subject = f"Vehicle assignment #{assignment_id} (deleted)"
    deleted, ended, assigned = [entry for entry in entries if entry.subject == subject]
    (created,) = [entry for entry in entries if entry.subject == ""]
    assert (deleted.action, deleted.changes, deleted.origin) == ("deleted", (), "command cleanup")
    assert ended.action == "changed"
    assert [change.field for change in ended.changes] == ["ends at"]
    assert ended.changes[0].before == "—"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Amsterdam")):
        assert ended.changes[0].after == "2026-07-01 12:00:00 +02:00"
    assert assigned.action == "created"
    assert FieldChange("driver", None, str(driver)) in assigned.changes
    assert created.action == "created"


def test_driver_page_lists_its_tokens_and_assignments_changes(client, fleet):
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
    VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet), driver=driver)
    with history_context(command="block_lost_cards"):
        ChargeToken.objects.filter(pk=token.pk).update(is_active=False)
    client.force_login(manager_of(fleet))

    entries = client.get(history_url(driver)).context["entries"]

    subjects = [(entry.subject.split(" ")[0:2], entry.action) for entry in entries]
    assert (["Charge", "token"], "changed") in subjects
    assert (["Vehicle", "assignment"], "created") in subjects
    assert ("", "created") in [(entry.subject, entry.action) for entry in entries]
    (blocked,) = [entry for entry in entries if entry.origin == "command block_lost_cards"]
    assert blocked.changes == (FieldChange("active", "yes", "no"),)


def driver_history_queries(client, driver) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(history_url(driver))
    assert response.status_code == 200
    return len(queries)


def test_the_history_page_reads_as_many_queries_however_long_the_history(client, fleet):
    driver = DriverFactory(fleet=fleet)
    client.force_login(manager_of(fleet))

    def changes_made(count: int) -> None:
        for number in range(count):
            token = ChargeTokenFactory(driver=driver)
            ChargeToken.objects.filter(pk=token.pk).update(is_active=False)
            VehicleAssignmentFactory(
                vehicle=VehicleFactory(fleet=fleet),
                driver=driver,
                starts_at=dt.datetime(2026, 1, 1 + number, tzinfo=UTC),
                ends_at=dt.datetime(2026, 1, 1 + number, 12, tzinfo=UTC),
            )

    changes_made(1)
    short = driver_history_queries(client, driver)
    changes_made(8)
    long = driver_history_queries(client, driver)

    assert len(client.get(history_url(driver)).context["entries"]) == 1 + 9 * 3
    assert long == short


def test_membership_role_change_is_on_the_memberships_history(client, fleet):
    admin_user = manager_of(fleet, MembershipRole.ADMIN)
    membership = MembershipFactory(fleet=fleet, role=MembershipRole.VIEWER)
    client.force_login(admin_user)
    payload = form_payload(client.get(change_url(membership)))
    payload["role"] = MembershipRole.FINANCE

    client.post(change_url(membership), payload)
    entries = client.get(history_url(membership)).context["entries"]

    assert Membership.objects.get(pk=membership.pk).role == MembershipRole.FINANCE
    assert entries[0].changes == (FieldChange("role", "Viewer", "Finance"),)
    assert entries[0].user == admin_user.username


def test_a_models_history_without_tracking_keeps_djangos_page(client, fleet):
    depot_admin = manager_of(fleet)
    client.force_login(depot_admin)
    depot = DepotFactory(fleet=fleet)

    response = client.get(history_url(depot))

    assert response.status_code == 200
    assert "entries" not in response.context
    assert "action_list" in response.context


def test_on_sqlite_the_page_says_that_nothing_is_recorded(client, fleet, vehicle, monkeypatch):
    client.force_login(manager_of(fleet))
    monkeypatch.setattr(connection, "vendor", "sqlite")

    response = client.get(history_url(vehicle))

    assert response.status_code == 200
    assert "This database is SQLite, where no trigger is installed" in response.content.decode()
    assert isinstance(history_context(command="x"), contextlib.nullcontext)


def test_on_sqlite_a_request_sets_no_history_context(client, fleet, vehicle, monkeypatch):
    client.force_login(manager_of(fleet))
    payload = form_payload(client.get(change_url(vehicle)))
    payload["plate"] = "EV-400-D"
    monkeypatch.setattr(connection, "vendor", "sqlite")

    saved = client.post(change_url(vehicle), payload)

    monkeypatch.undo()
    assert saved.status_code == 302
    latest = object_history(Vehicle.objects.get(pk=vehicle.pk))[0]
    assert (latest.action, latest.user, latest.origin) == ("changed", "", "")


def test_moment_text_is_in_the_active_zone_with_its_offset():
    moment = dt.datetime(2026, 1, 5, 16, 4, 5, tzinfo=UTC)

    with timezone.override(zoneinfo.ZoneInfo("Europe/Amsterdam")):
        assert moment_text(moment) == "2026-01-05 17:04:05 +01:00"
    with timezone.override(zoneinfo.ZoneInfo("America/St_Johns")):
        assert moment_text(moment) == "2026-01-05 12:34:05 -03:30"


# Commands and tasks ------------------------------------------------------------------------------


TARIFF_FILE = Path(__file__).parents[1] / "charging" / "fixtures" / "tariff_day_night_parking.json"


@pytest.mark.django_db(transaction=True)
def test_a_manage_py_command_records_its_name():
    fleet = FleetFactory()
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT'] or 5432}/{database['NAME']}",
    }

    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "import_tariff", "--fleet", fleet.slug, str(TARIFF_FILE)],
        cwd=settings.BASE_DIR,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )

    (created,) = object_history(Tariff.objects.get(fleet=fleet))
    assert (created.action, created.origin) == ("created", "command import_tariff")
    assert created.user == ""


@app.task(name="tests.core.rename_vehicle")
def rename_vehicle(vehicle_id: int, plate: str) -> None:
    Vehicle.objects.filter(pk=vehicle_id).update(plate=plate)


def test_a_celery_task_records_its_name(fleet, vehicle):
    rename_vehicle.apply(args=[vehicle.pk, "EV-555-T"])

    latest = object_history(vehicle)[0]

    assert latest.origin == "task tests.core.rename_vehicle"
    assert latest.changes == (FieldChange("licence plate", "EV-100-A", "EV-555-T"),)


def test_every_voltop_task_records_its_name():
    app.loader.import_default_modules()
    voltop_tasks = {
        name: task for name, task in app.tasks.items() if name.startswith(("apps.", "voltop."))
    }

    assert voltop_tasks
    assert all(isinstance(task, HistoryTask) for task in voltop_tasks.values())
