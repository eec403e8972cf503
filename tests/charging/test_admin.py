"""Admin of the charging app: stations with their connectors, tariffs with their elements,
versions, price preview and OCPI import/export, and sessions with their price breakdown, filters,
actions and public-session import, for a fleet's manager and its viewer."""

import datetime as dt
import json
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.charging.admin import ChargingSessionAdmin, TariffForm
from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionSource,
    UnpricedReason,
)
from apps.charging.models import (
    ChargingSession,
    Connector,
    MeterValue,
    SessionImport,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.services import charging_session_price, tariff_publish
from apps.fleets.choices import MembershipRole
from apps.vehicles.choices import ConnectorStandard
from tests.charging.ocpi_tariff_documents import REFUSED_TARIFFS
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    MeterValueFactory,
    StaffUserFactory,
    TariffElementFactory,
    TariffFactory,
    VehicleFactory,
    billing_rows_create,
)
from tests.html_tables import object_tools, page_links, table_rows

UTC = dt.UTC


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A")


@pytest.fixture
def manager_client(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.VIEWER)
    client.force_login(user)
    return client


def session_payload(fleet, driver, *, vehicle=None, token=None, connector=None) -> dict:
    return {
        "fleet": str(fleet.pk),
        "driver": str(driver.pk),
        "vehicle": str(vehicle.pk) if vehicle else "",
        "token": str(token.pk) if token else "",
        "connector": str(connector.pk) if connector else "",
        "location_kind": "depot",
        "purpose": "business",
        "started_at_0": "2026-03-02",
        "started_at_1": "08:00:00",
        "ended_at_0": "2026-03-02",
        "ended_at_1": "10:00:00",
        "meter_start_wh": "1000000",
        "meter_stop_wh": "1020500",
        "energy_wh": "20500",
        "status": "completed",
        "source": "manual",
        "external_id": "",
        "meter_values-TOTAL_FORMS": "0",
        "meter_values-INITIAL_FORMS": "0",
    }


def station_page_payload(station) -> dict:
    """The station's change page as it is shown, its inline rows left for the test to add."""
    return {
        "fleet": str(station.fleet_id),
        "depot": str(station.depot_id),
        "ocpp_identity": station.ocpp_identity,
        "vendor": station.vendor,
        "model": station.model,
        "serial_number": station.serial_number,
        "firmware_version": "",
        "status": station.status,
    }


def test_manager_edits_a_connector_inline_on_the_station_page(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)
    connector = ConnectorFactory(station=station)
    payload = {
        **station_page_payload(station),
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "1",
        "connectors-0-id": str(connector.pk),
        "connectors-0-station": str(station.pk),
        "connectors-0-connector_id": "1",
        "connectors-0-standard": ConnectorStandard.IEC_62196_T2_COMBO,
        "connectors-0-power_type": PowerType.DC,
        "connectors-0-max_kw": "150.0",
    }

    response = manager_client.post(
        reverse("admin:charging_chargingstation_change", args=[station.pk]), payload
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"]
    connector.refresh_from_db()
    assert (connector.standard, connector.power_type, connector.max_kw) == (
        ConnectorStandard.IEC_62196_T2_COMBO,
        PowerType.DC,
        Decimal("150.0"),
    )


def test_session_with_another_drivers_token_is_refused_and_saves_nothing(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)
    someone_elses_token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, token=someone_elses_token),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "token": ["The token is another driver's."]
    }
    assert not ChargingSession.objects.exists()


def test_session_mixing_two_fleets_the_manager_edits_is_refused_and_saves_nothing(client, fleet):
    other_fleet = FleetFactory(name="Fleet B")
    user = StaffUserFactory()
    for managed in (fleet, other_fleet):
        MembershipFactory(user=user, fleet=managed, role=MembershipRole.MANAGER)
    client.force_login(user)
    driver = DriverFactory(fleet=fleet)
    other_vehicle = VehicleFactory(fleet=other_fleet)
    other_connector = ConnectorFactory(station=ChargingStationFactory(fleet=other_fleet))

    response = client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, vehicle=other_vehicle, connector=other_connector),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "vehicle": ["Belongs to another fleet."],
        "connector": ["Belongs to another fleet."],
    }
    assert not ChargingSession.objects.exists()


def test_manager_records_a_completed_session_by_hand(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, vehicle=VehicleFactory(fleet=fleet), token=token),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    session = ChargingSession.objects.get()
    assert (session.driver, session.token, session.energy_wh) == (driver, token, 20_500)
    # The manager of an Amsterdam fleet types local time: 08:00 CET is 07:00 UTC.
    assert session.started_at == dt.datetime(2026, 3, 2, 7, tzinfo=UTC)


def public_session_payload(fleet, driver, **fields) -> dict:
    """A completed public session as the manager types it on the add page."""
    return {
        **session_payload(fleet, driver),
        "location_kind": "public",
        "meter_start_wh": "",
        "meter_stop_wh": "",
        **fields,
    }


def test_manager_records_a_public_session_without_the_cost_as_cost_pending(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"), public_session_payload(fleet, driver)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    session = ChargingSession.objects.get()
    assert (session.location_kind, session.price_incl_vat, session.unpriced_reason) == (
        LocationKind.PUBLIC,
        None,
        UnpricedReason.COST_PENDING,
    )
    listed = manager_client.get(
        reverse("admin:charging_chargingsession_changelist"), {"unpriced": "cost_pending"}
    )
    assert [obj.pk for obj in listed.context["cl"].result_list] == [session.pk]


def test_manager_records_a_public_session_at_the_providers_cost(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        public_session_payload(
            fleet, driver, provider_cost_excl_vat="9.50", provider_cost_incl_vat="11.50"
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    session = ChargingSession.objects.get()
    assert (
        session.price_basis,
        session.price_excl_vat,
        session.price_incl_vat,
        session.unpriced_reason,
    ) == (PriceBasis.PROVIDER, Decimal("9.50"), Decimal("11.50"), "")


def test_manager_gives_the_cost_of_a_session_whose_cost_is_pending(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)
    manager_client.post(
        reverse("admin:charging_chargingsession_add"), public_session_payload(fleet, driver)
    )
    session = ChargingSession.objects.get()

    response = manager_client.post(
        reverse("admin:charging_chargingsession_change", args=[session.pk]),
        public_session_payload(fleet, driver, provider_cost_excl_vat="4.00"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    session.refresh_from_db()
    assert (session.price_excl_vat, session.price_incl_vat, session.unpriced_reason) == (
        Decimal("4.00"),
        Decimal("4.00"),
        "",
    )


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"location_kind": "depot", "provider_cost_excl_vat": "4.00"},
            {
                "provider_cost_excl_vat": [
                    "Only a completed public session has a provider's cost; the others are "
                    "priced by their tariff or the driver's home rate."
                ]
            },
        ),
        (
            {"provider_cost_excl_vat": "4.00", "provider_cost_incl_vat": "3.00"},
            {"provider_cost_incl_vat": ["The cost incl. VAT is below the cost excl. VAT."]},
        ),
        (
            {"provider_cost_incl_vat": "4.84"},
            {"provider_cost_excl_vat": ["Give the cost excl. VAT too."]},
        ),
    ],
    ids=["depot-session", "incl-below-excl", "incl-alone"],
)
def test_a_providers_cost_breaking_a_rule_shows_on_its_field_and_saves_nothing(
    manager_client, fleet, fields, errors
):
    driver = DriverFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        public_session_payload(fleet, driver, **fields),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert not ChargingSession.objects.exists()


def test_a_viewer_reads_a_public_session_without_the_cost_fields(viewer_client, fleet):
    session = ChargingSessionFactory(fleet=fleet, location_kind=LocationKind.PUBLIC)

    response = viewer_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    )

    assert response.status_code == 200
    assert "provider_cost_excl_vat" not in response.content.decode()


# -- helpers ---------------------------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def changelist_action(client, model: str, action: str, selected) -> object:
    return client.post(
        reverse(f"admin:charging_{model}_changelist"),
        {"action": action, "_selected_action": [str(obj.pk) for obj in selected]},
    )


ELEMENT_BLANK = {
    "position": "0",
    "energy_price": "",
    "energy_vat_rate": "",
    "energy_step_wh": "1",
    "time_price": "",
    "time_vat_rate": "",
    "time_step_seconds": "1",
    "parking_price": "",
    "parking_vat_rate": "",
    "parking_step_seconds": "1",
    "flat_price": "",
    "flat_vat_rate": "",
    "start_time": "",
    "end_time": "",
    "start_date": "",
    "end_date": "",
    "days_of_week": "[]",
    "min_kwh": "",
    "max_kwh": "",
    "min_power_kw": "",
    "max_power_kw": "",
    "min_current_a": "",
    "max_current_a": "",
    "min_duration_seconds": "",
    "max_duration_seconds": "",
}


def tariff_payload(fleet, elements: list[dict], *, initial_elements: int = 0) -> dict:
    """The tariff form as the admin posts it: the tariff, its element forms (with the management
    form of each inline) and no version rows."""
    payload = {
        "fleet": str(fleet.pk),
        "name": "Depot standard",
        "ocpi_id": "DEPOT-STD",
        "currency": "EUR",
        "is_active": "on",
        "depot": "",
        "station": "",
        "connector": "",
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "min_price_excl_vat": "",
        "min_price_incl_vat": "",
        "max_price_excl_vat": "",
        "max_price_incl_vat": "",
        "parking_grace_minutes": "0",
        "elements-TOTAL_FORMS": str(len(elements)),
        "elements-INITIAL_FORMS": str(initial_elements),
        "elements-MIN_NUM_FORMS": "1",
        "elements-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    for index, element in enumerate(elements):
        for field, value in {**ELEMENT_BLANK, **element}.items():
            payload[f"elements-{index}-{field}"] = value
        # A field with a callable default sends its initial value along, as the page does.
        payload[f"initial-elements-{index}-days_of_week"] = "[]"
    return payload


ENERGY_ELEMENT = {"energy_price": "0.30", "energy_vat_rate": "21"}


def tariff_add(client, fleet, elements: list[dict]):
    return client.post(reverse("admin:charging_tariff_add"), tariff_payload(fleet, elements))


def tariff_change(client, tariff: Tariff, elements: list[dict]):
    """Post the change form of `tariff` with `elements` replacing its elements' values."""
    existing = list(tariff.elements.order_by("pk"))
    rows = [
        {"id": str(element.pk), "tariff": str(tariff.pk), **values}
        for element, values in zip(existing, elements, strict=True)
    ]
    return client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]),
        tariff_payload(tariff.fleet, rows, initial_elements=len(existing)),
    )


def night_tariff_create(fleet) -> Tariff:
    """0.20 per kWh from 22:00 to 06:00 local time, else 0.30 per kWh and a 1.00 flat fee;
    21 % VAT on everything."""
    tariff = TariffFactory(fleet=fleet, name="Night tariff")
    TariffElementFactory(
        tariff=tariff,
        position=0,
        energy_price=Decimal("0.20"),
        start_time=dt.time(22, 0),
        end_time=dt.time(6, 0),
        flat_price=None,
        flat_vat_rate=None,
    )
    TariffElementFactory(tariff=tariff, position=1, flat_price=Decimal("1.00"))
    return tariff


def depot_tariff_create(fleet) -> Tariff:
    """0.30 per kWh and 0.50 per session, 21 % VAT, in force since 1 January 2026."""
    tariff = TariffFactory(fleet=fleet, name="Depot tariff")
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    return tariff


def depot_session_create(fleet, **kwargs) -> ChargingSession:
    """20.5 kWh on 2 March 2026, 08:00-10:00 UTC (09:00-11:00 in Amsterdam), at a depot
    connector, with one meter value at 09:00; not priced yet."""
    connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet))
    session = ChargingSessionFactory(fleet=fleet, connector=connector, **kwargs)
    MeterValueFactory(session=session)
    return session


DEPOT_SESSION_BREAKDOWN = [
    [
        "Period (Europe/Amsterdam)",
        "Dimension",
        "Volume",
        "Step rounding",
        "Unit price",
        "VAT %",
        "Excl. VAT",
        "VAT",
        "Incl. VAT",
    ],
    [
        "2026-03-02 09:00:00 → 11:00:00 charging, 20500 Wh",
        "FLAT",
        "1",
        "0",
        "0.50",
        "21",
        "0.5000",
        "0.1050",
        "0.6050",
    ],
    ["", "ENERGY", "20500 Wh", "0", "0.30", "21", "6.1500", "1.2915", "7.4415"],
    ["Sum of the lines", "6.6500", "1.3965", ""],
    ["Minimum / maximum price adjustment", "0.0000", "", "0.0000"],
    ["Total (EUR, rounded once)", "6.65", "", "8.05"],
]


# -- tariffs: elements inline, versions --------------------------------------------------------


def test_adding_a_tariff_with_an_element_publishes_version_1(manager_client, fleet):
    response = tariff_add(manager_client, fleet, [ENERGY_ELEMENT])

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    tariff = Tariff.objects.get()
    (element,) = tariff.elements.all()
    assert (element.energy_price, element.energy_vat_rate) == (Decimal("0.30"), Decimal("21"))
    (version,) = tariff.versions.all()
    assert version.number == 1
    assert version.terms["elements"] == [
        {"price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}]}
    ]
    assert "Published version 1, in force from now." in messages_of(response)


def test_editing_a_tariff_publishes_version_2_and_keeps_version_1(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()

    response = tariff_change(manager_client, tariff, [{**ENERGY_ELEMENT, "energy_price": "0.35"}])

    assert response.status_code == 302
    versions = {v.number: v.terms["elements"][0] for v in tariff.versions.all()}
    assert versions == {
        1: {"price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}]},
        2: {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1}]},
    }
    assert "Published version 2, in force from now." in messages_of(response)


def test_saving_a_tariff_without_a_change_publishes_no_new_version(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()

    response = tariff_change(manager_client, tariff, [ENERGY_ELEMENT])

    assert response.status_code == 302
    assert list(tariff.versions.values_list("number", flat=True)) == [1]


def test_renaming_a_tariff_publishes_no_new_version(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    payload = tariff_payload(fleet, []) | {"name": "Depot standard, renamed"}

    response = manager_client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]), payload
    )

    assert response.status_code == 302
    assert list(tariff.versions.values_list("number", flat=True)) == [1]
    assert "Published version 2, in force from now." not in messages_of(response)


def test_moving_the_start_of_a_tariff_in_force_is_refused_on_the_field_and_saves_nothing(
    manager_client, fleet
):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    before = Tariff.objects.values().get(pk=tariff.pk)
    payload = tariff_payload(fleet, []) | {
        "name": "Renamed",
        "valid_from_0": "2030-01-01",
        "valid_from_1": "00:00:00",
    }

    response = manager_client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]), payload
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "valid_from": [
            "The tariff is in force; its start cannot move, or sessions it priced would fall "
            "outside it."
        ]
    }
    assert Tariff.objects.values().get(pk=tariff.pk) == before
    assert tariff.versions.count() == 1


def test_moving_the_only_tariff_off_a_station_is_refused_on_the_field_and_saves_nothing(
    manager_client, fleet
):
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-7")
    ConnectorFactory(station=station)
    elsewhere = ChargingStationFactory(fleet=fleet)
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    Tariff.objects.filter(pk=tariff.pk).update(station=station)
    before = Tariff.objects.values().get(pk=tariff.pk)
    payload = tariff_payload(fleet, []) | {"station": str(elsewhere.pk)}

    response = manager_client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]), payload
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "station": ["No other tariff prices charging at CP-7#1; give it another tariff first."]
    }
    assert Tariff.objects.values().get(pk=tariff.pk) == before


def test_a_refusal_after_the_forms_check_is_shown_and_nothing_of_the_save_stays(
    manager_client, fleet, monkeypatch
):
    """The form's check passes while the fleet's tariff covers CP-7; another manager then
    deactivates it before the save, so the service refuses the move: the element saved
    before it is rolled back with it, and the page shows the refusal instead of an error."""
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-7")
    ConnectorFactory(station=station)
    elsewhere = ChargingStationFactory(fleet=fleet)
    covering = depot_tariff_create(fleet)
    tariff = depot_tariff_create(fleet)
    Tariff.objects.filter(pk=tariff.pk).update(station=station)
    (element,) = tariff.elements.all()
    before = (
        Tariff.objects.values().get(pk=tariff.pk),
        list(tariff.elements.values()),
        list(tariff.versions.values()),
        LogEntry.objects.count(),
    )
    checked = TariffForm.service_check

    def check_then_another_manager_deactivates(form):
        checked(form)
        Tariff.objects.filter(pk=covering.pk).update(is_active=False)

    monkeypatch.setattr(TariffForm, "service_check", check_then_another_manager_deactivates)
    change_url = reverse("admin:charging_tariff_change", args=[tariff.pk])
    payload = tariff_payload(
        fleet,
        [
            {
                "id": str(element.pk),
                "tariff": str(tariff.pk),
                **ENERGY_ELEMENT,
                "energy_price": "0.35",
            }
        ],
        initial_elements=1,
    ) | {"station": str(elsewhere.pk)}

    response = manager_client.post(change_url, payload)

    assert (response.status_code, response["Location"]) == (302, change_url)
    assert messages_of(response) == [
        "Nothing was saved. No other tariff prices charging at CP-7#1; give it another tariff "
        "first."
    ]
    assert (
        Tariff.objects.values().get(pk=tariff.pk),
        list(tariff.elements.values()),
        list(tariff.versions.values()),
        LogEntry.objects.count(),
    ) == before


def test_fleet_ocpi_id_currency_and_activity_stay_once_a_tariff_is_made(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    change_url = reverse("admin:charging_tariff_change", args=[tariff.pk])
    payload = tariff_payload(FleetFactory(), []) | {
        "ocpi_id": "OTHER",
        "currency": "USD",
        "is_active": "",
    }

    page = manager_client.get(change_url)
    response = manager_client.post(change_url, payload)

    form_fields = set(page.context["adminform"].form.fields)
    assert not form_fields & {"fleet", "ocpi_id", "currency", "is_active"}
    assert response.status_code == 302
    tariff.refresh_from_db()
    assert (tariff.fleet, tariff.ocpi_id, tariff.currency, tariff.is_active) == (
        fleet,
        "DEPOT-STD",
        "EUR",
        True,
    )


def test_elements_are_not_changed_before_a_version_that_takes_effect_later(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    tariff_publish(tariff=tariff, effective_from=dt.datetime(2030, 1, 1, tzinfo=UTC))

    response = tariff_change(manager_client, tariff, [{**ENERGY_ELEMENT, "energy_price": "0.35"}])

    assert response.status_code == 200
    (elements_inline, _versions_inline) = response.context["inline_admin_formsets"]
    assert elements_inline.formset.non_form_errors() == [
        "Version 2 of the tariff takes effect on 2030-01-01 01:00 CET; a change can take "
        "effect from then on."
    ]
    assert list(tariff.elements.values_list("energy_price", flat=True)) == [Decimal("0.30")]
    assert tariff.versions.count() == 2


def test_deactivating_keeps_a_tariff_a_connector_still_needs_and_reports_it(manager_client, fleet):
    connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, ocpp_identity="CP-9"))
    connector_tariff = depot_tariff_create(fleet)
    connector_tariff.name, connector_tariff.connector = "Connector tariff", connector
    connector_tariff.save()
    fleet_tariff = depot_tariff_create(fleet)
    fleet_tariff.name = "Fleet tariff"
    fleet_tariff.save()

    response = changelist_action(
        manager_client, "tariff", "deactivate_tariffs", [connector_tariff, fleet_tariff]
    )

    assert messages_of(response) == [
        "1 tariff deactivated, 1 refused: Fleet tariff: No other tariff prices charging at "
        "CP-9#1; give it another tariff first."
    ]
    assert dict(Tariff.objects.values_list("name", "is_active")) == {
        "Connector tariff": False,
        "Fleet tariff": True,
    }


def test_activating_lets_a_deactivated_tariff_price_again(manager_client, fleet):
    tariff = depot_tariff_create(fleet)
    Tariff.objects.filter(pk=tariff.pk).update(is_active=False)

    response = changelist_action(manager_client, "tariff", "activate_tariffs", [tariff])

    assert messages_of(response) == ["1 tariff activated."]
    tariff.refresh_from_db()
    assert tariff.is_active is True


def test_viewer_posting_deactivate_changes_nothing(viewer_client, fleet):
    tariff = depot_tariff_create(fleet)

    response = changelist_action(viewer_client, "tariff", "deactivate_tariffs", [tariff])

    assert messages_of(response) == ["No action selected."]
    tariff.refresh_from_db()
    assert tariff.is_active is True


def test_versions_inline_is_read_only_and_posted_version_rows_change_nothing(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    version = tariff.versions.get()
    change_url = reverse("admin:charging_tariff_change", args=[tariff.pk])

    page = manager_client.get(change_url)
    payload = tariff_payload(
        fleet,
        [{"id": str(tariff.elements.get().pk), "tariff": str(tariff.pk), **ENERGY_ELEMENT}],
        initial_elements=1,
    )
    payload.update(
        {
            "versions-TOTAL_FORMS": "1",
            "versions-INITIAL_FORMS": "1",
            "versions-0-id": str(version.pk),
            "versions-0-tariff": str(tariff.pk),
            "versions-0-number": "7",
            "versions-0-effective_from": "2020-01-01 00:00:00",
            "versions-0-DELETE": "on",
        }
    )
    response = manager_client.post(change_url, payload)

    (versions_inline,) = (
        formset
        for formset in page.context["inline_admin_formsets"]
        if formset.formset.prefix == "versions"
    )
    assert (
        versions_inline.has_add_permission,
        versions_inline.has_change_permission,
        versions_inline.has_delete_permission,
    ) == (False, False, False)
    assert 'name="versions-0-number"' not in page.content.decode()
    assert response.status_code == 302
    assert list(TariffVersion.objects.values_list("pk", "number", "effective_from")) == [
        (version.pk, 1, version.effective_from)
    ]


def test_tariff_with_no_element_is_refused_with_a_form_error_and_saves_nothing(
    manager_client, fleet
):
    response = tariff_add(manager_client, fleet, [])

    assert response.status_code == 200
    (elements_inline, _versions_inline) = response.context["inline_admin_formsets"]
    assert elements_inline.formset.non_form_errors() == ["A tariff needs at least one element."]
    assert not Tariff.objects.exists()
    assert not TariffVersion.objects.exists()


def test_removing_the_last_element_of_a_tariff_is_refused_and_changes_nothing(
    manager_client, fleet
):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()

    response = tariff_change(manager_client, tariff, [{**ENERGY_ELEMENT, "DELETE": "on"}])

    assert response.status_code == 200
    (elements_inline, _versions_inline) = response.context["inline_admin_formsets"]
    assert elements_inline.formset.non_form_errors() == ["A tariff needs at least one element."]
    assert tariff.elements.count() == 1
    assert tariff.versions.count() == 1


def test_the_only_element_replaced_by_another_in_one_post_goes_through_the_services(
    manager_client, fleet
):
    """The new element is made before the old one is deleted, so the service deleting it sees
    the tariff keep an element."""
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    (old,) = tariff.elements.all()
    rows = [
        {"id": str(old.pk), "tariff": str(tariff.pk), **ENERGY_ELEMENT, "DELETE": "on"},
        {"energy_price": "0.25", "energy_vat_rate": "21"},
    ]

    response = manager_client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]),
        tariff_payload(fleet, rows, initial_elements=1),
    )

    assert response.status_code == 302
    assert list(tariff.elements.values_list("energy_price", flat=True)) == [Decimal("0.25000")]
    assert tariff.versions.count() == 2


def test_tariff_posted_without_its_element_rows_keeps_them(manager_client, fleet):
    tariff_add(manager_client, fleet, [ENERGY_ELEMENT])
    tariff = Tariff.objects.get()
    payload = tariff_payload(fleet, []) | {"name": "Depot standard, renamed"}

    response = manager_client.post(
        reverse("admin:charging_tariff_change", args=[tariff.pk]), payload
    )

    assert response.status_code == 302
    tariff.refresh_from_db()
    assert tariff.name == "Depot standard, renamed"
    assert list(tariff.elements.values_list("energy_price", flat=True)) == [Decimal("0.30")]


def test_element_with_minimum_energy_above_maximum_is_refused_on_the_field_and_saves_nothing(
    manager_client, fleet
):
    response = tariff_add(
        manager_client, fleet, [{**ENERGY_ELEMENT, "min_kwh": "50", "max_kwh": "10"}]
    )

    assert response.status_code == 200
    (elements_inline, _versions_inline) = response.context["inline_admin_formsets"]
    assert elements_inline.formset.errors == [{"min_kwh": ["The minimum is above the maximum."]}]
    assert not Tariff.objects.exists()


# -- tariffs: price preview ----------------------------------------------------------------------


def preview_url(tariff: Tariff, **query: str) -> str:
    url = reverse("admin:charging_tariff_preview", args=[tariff.pk])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def test_preview_prices_local_evening_hours_with_the_night_element_from_22_00(
    manager_client, fleet
):
    tariff = night_tariff_create(fleet)  # fleet A is in Europe/Amsterdam

    response = manager_client.get(
        preview_url(
            tariff,
            energy_kwh="20",
            started_at="2026-03-02 21:00",
            ended_at="2026-03-02 23:00",
            parking_minutes="0",
        )
    )

    # 10 kWh before 22:00 at 0.30 plus the 1.00 flat fee, 10 kWh after 22:00 at 0.20; 21 % VAT.
    assert response.status_code == 200
    assert table_rows(response, class_="voltop-breakdown") == [
        DEPOT_SESSION_BREAKDOWN[0],
        [
            "2026-03-02 21:00:00 → 22:00:00 charging, 10000 Wh",
            "FLAT",
            "1",
            "0",
            "1.00",
            "21",
            "1.0000",
            "0.2100",
            "1.2100",
        ],
        ["", "ENERGY", "10000 Wh", "0", "0.30", "21", "3.0000", "0.6300", "3.6300"],
        [
            "2026-03-02 22:00:00 → 23:00:00 charging, 10000 Wh",
            "ENERGY",
            "10000 Wh",
            "0",
            "0.20",
            "21",
            "2.0000",
            "0.4200",
            "2.4200",
        ],
        ["Sum of the lines", "6.0000", "1.2600", ""],
        ["Minimum / maximum price adjustment", "0.0000", "", "0.0000"],
        ["Total (EUR, rounded once)", "6.00", "", "7.26"],
    ]


def test_preview_with_parking_minutes_prices_them_as_parking(manager_client, fleet):
    tariff = TariffFactory(fleet=fleet)
    TariffElementFactory(
        tariff=tariff,
        flat_price=None,
        flat_vat_rate=None,
        parking_price=Decimal("6.00"),
        parking_vat_rate=Decimal("21"),
    )

    response = manager_client.get(
        preview_url(
            tariff,
            energy_kwh="11",
            started_at="2026-03-02 09:00",
            ended_at="2026-03-02 10:30",
            parking_minutes="30",
        )
    )

    # 11 kWh at 0.30 = 3.30 in the first hour; 30 minutes parked at 6.00 per hour = 3.00.
    rows = table_rows(response, class_="voltop-breakdown")
    assert rows[1:] == [
        [
            "2026-03-02 09:00:00 → 10:00:00 charging, 11000 Wh",
            "ENERGY",
            "11000 Wh",
            "0",
            "0.30",
            "21",
            "3.3000",
            "0.6930",
            "3.9930",
        ],
        [
            "2026-03-02 10:00:00 → 10:30:00 parked, 0 Wh",
            "PARKING_TIME",
            "1800 s",
            "0",
            "6.00",
            "21",
            "3.0000",
            "0.6300",
            "3.6300",
        ],
        ["Sum of the lines", "6.3000", "1.3230", ""],
        ["Minimum / maximum price adjustment", "0.0000", "", "0.0000"],
        ["Total (EUR, rounded once)", "6.30", "", "7.62"],
    ]


def test_preview_with_the_end_before_the_start_shows_a_form_error_and_no_breakdown(
    manager_client, fleet
):
    tariff = night_tariff_create(fleet)

    response = manager_client.get(
        preview_url(
            tariff,
            energy_kwh="20",
            started_at="2026-03-02 23:00",
            ended_at="2026-03-02 21:00",
            parking_minutes="0",
        )
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"ended_at": ["The end must be after the start."]}
    assert response.context["breakdown"] is None
    assert "voltop-breakdown" not in response.content.decode()


def test_preview_without_input_shows_the_empty_form(manager_client, fleet):
    tariff = night_tariff_create(fleet)

    response = manager_client.get(preview_url(tariff))

    assert response.status_code == 200
    assert response.context["form"].is_bound is False
    assert response.context["breakdown"] is None


def test_preview_of_another_fleets_tariff_is_not_found(manager_client, fleet):
    other_tariff = night_tariff_create(FleetFactory(name="Fleet B"))

    response = manager_client.get(
        preview_url(
            other_tariff,
            energy_kwh="20",
            started_at="2026-03-02 21:00",
            ended_at="2026-03-02 23:00",
            parking_minutes="0",
        )
    )

    assert response.status_code == 404


def test_tariff_change_page_links_to_the_preview(manager_client, fleet):
    tariff = night_tariff_create(fleet)

    response = manager_client.get(reverse("admin:charging_tariff_change", args=[tariff.pk]))

    assert "Preview a price" in object_tools(response)
    assert preview_url(tariff) in page_links(response)


# -- tariffs: OCPI import and export -------------------------------------------------------------


OCPI_NIGHT_TARIFF = {
    "country_code": "NL",
    "party_id": "ABC",
    "id": "AC-NIGHT",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.2, "vat": 21, "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
                {"type": "FLAT", "price": 1, "vat": 21, "step_size": 1},
            ]
        },
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


def tariff_import(client, fleet, content: bytes, name: str = "Night tariff"):
    return client.post(
        reverse("admin:charging_tariff_import"),
        {
            "fleet": str(fleet.pk),
            "name": name,
            "file": SimpleUploadedFile("tariff.json", content, content_type="application/json"),
        },
    )


def test_importing_an_ocpi_tariff_creates_and_publishes_it(manager_client, fleet):
    response = tariff_import(manager_client, fleet, json.dumps(OCPI_NIGHT_TARIFF).encode())

    tariff = Tariff.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:charging_tariff_change", args=[tariff.pk])
    assert (tariff.fleet, tariff.name, tariff.ocpi_id) == (fleet, "Night tariff", "AC-NIGHT")
    assert list(
        tariff.elements.values_list("position", "start_time", "energy_price", "flat_price")
    ) == [
        (0, dt.time(22, 0), Decimal("0.20"), None),
        (1, None, Decimal("0.30"), Decimal("1.00000")),
    ]
    (version,) = tariff.versions.all()
    assert version.number == 1
    assert version.terms["elements"] == [
        {
            "price_components": [{"type": "ENERGY", "price": 0.2, "vat": 21, "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {
            "price_components": [
                {"type": "FLAT", "price": 1, "vat": 21, "step_size": 1},
                {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
            ]
        },
    ]
    assert messages_of(response) == ["Imported and published Night tariff."]


def test_importing_a_known_ocpi_id_again_updates_that_tariff_and_says_so(
    manager_client, fleet, time_machine
):
    time_machine.move_to(dt.datetime(2026, 5, 15, 9, 30, tzinfo=dt.UTC), tick=False)
    tariff_import(manager_client, fleet, json.dumps(OCPI_NIGHT_TARIFF).encode())
    dearer = json.loads(json.dumps(OCPI_NIGHT_TARIFF))
    dearer["elements"][0]["price_components"][0]["price"] = 0.25
    time_machine.move_to(dt.datetime(2026, 5, 15, 9, 31, tzinfo=dt.UTC), tick=False)

    response = tariff_import(manager_client, fleet, json.dumps(dearer).encode(), name="")

    tariff = Tariff.objects.get()
    assert tariff.name == "Night tariff"
    assert list(tariff.versions.values_list("number", flat=True)) == [2, 1]
    assert tariff.elements.get(position=0).energy_price == Decimal("0.25000")
    assert messages_of(response) == [
        "Imported and published Night tariff.",
        "Updated Night tariff, which has this OCPI id; version 2 holds the file's terms.",
    ]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            b'{"id": "AC-NIGHT", ',
            "Malformed JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 20 (char 19)",
        ),
        (
            json.dumps(
                {
                    **OCPI_NIGHT_TARIFF,
                    "elements": [
                        {"price_components": [{"type": "ENERGY", "price": -0.1, "step_size": 1}]}
                    ],
                }
            ).encode(),
            "tariff.elements[0].price_components[0].price must be at least 0, got -0.1.",
        ),
        (
            json.dumps({**OCPI_NIGHT_TARIFF, "currency": "EURO"}).encode(),
            "tariff.currency 'EURO' is not an ISO 4217 currency.",
        ),
    ],
    ids=["malformed JSON", "negative price", "unknown currency"],
)
def test_importing_a_bad_tariff_file_names_the_json_path_and_saves_nothing(
    manager_client, fleet, content, error
):
    response = tariff_import(manager_client, fleet, content)

    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [error]}
    assert not Tariff.objects.exists()
    assert not TariffVersion.objects.exists()


def test_tariff_import_offers_only_the_managers_fleets_and_refuses_another(manager_client, fleet):
    other_fleet = FleetFactory(name="Fleet B")

    page = manager_client.get(reverse("admin:charging_tariff_import"))
    response = tariff_import(manager_client, other_fleet, json.dumps(OCPI_NIGHT_TARIFF).encode())

    assert list(page.context["form"].fields["fleet"].queryset) == [fleet]
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "fleet": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not Tariff.objects.exists()


def test_viewer_is_refused_the_tariff_import(viewer_client, fleet):
    response = tariff_import(viewer_client, fleet, json.dumps(OCPI_NIGHT_TARIFF).encode())

    assert response.status_code == 403
    assert not Tariff.objects.exists()


def test_viewer_exports_the_latest_version_of_a_tariff_as_ocpi_json(viewer_client, fleet):
    tariff = depot_tariff_create(fleet)
    TariffElement.objects.filter(tariff=tariff).update(energy_price=Decimal("0.35"))
    latest = tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 2, 1, tzinfo=UTC))

    response = changelist_action(viewer_client, "tariff", "export_ocpi", [tariff])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="voltop-tariffs.json"'
    assert json.loads(response.content) == latest.terms
    assert latest.number == 2


def test_exporting_an_unpublished_tariff_warns_and_downloads_nothing(manager_client, fleet):
    tariff = TariffFactory(fleet=fleet)

    response = changelist_action(manager_client, "tariff", "export_ocpi", [tariff])

    assert response.status_code == 302
    assert messages_of(response) == ["None of these tariffs is published."]


# -- sessions: the change page -------------------------------------------------------------------


def test_priced_session_page_shows_the_breakdown_meter_values_and_tariff_version(
    manager_client, fleet
):
    tariff = depot_tariff_create(fleet)
    session = charging_session_price(session=depot_session_create(fleet))

    response = manager_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    )

    assert response.status_code == 200
    assert table_rows(response, class_="voltop-breakdown") == DEPOT_SESSION_BREAKDOWN
    version = tariff.versions.get()
    version_url = reverse("admin:charging_tariffversion_change", args=[version.pk])
    assert (
        f'<a href="{version_url}" class="text-link">Depot tariff v1</a>'
        in response.content.decode()
    )
    (meter_values_inline,) = response.context["inline_admin_formsets"]
    assert [form.instance for form in meter_values_inline.formset.forms] == list(
        session.meter_values.all()
    )
    assert "1010000" in response.content.decode()


def test_session_page_names_the_restrictions_its_data_could_not_decide(manager_client, fleet):
    tariff = TariffFactory(fleet=fleet, name="Fast lane")
    TariffElementFactory(tariff=tariff, position=0, max_current_a=Decimal("32"))
    tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    session = charging_session_price(session=depot_session_create(fleet))

    response = manager_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    )

    assert session.price_breakdown["unknown_restrictions"] == [
        "max_current not known for periods 1, 2"
    ]
    assert (
        "Not applied, because the session's data cannot decide them:\n"
        "  max_current not known for periods 1, 2."
    ) in response.content.decode()


def test_session_page_of_a_fully_decided_price_names_no_unknown_restriction(manager_client, fleet):
    depot_tariff_create(fleet)
    session = charging_session_price(session=depot_session_create(fleet))

    response = manager_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    )

    assert session.price_breakdown["unknown_restrictions"] == []
    assert "voltop-unknown-restrictions" not in response.content.decode()


def readonly_texts(response) -> dict[str, dict[str, str]]:
    """The read-only fields of a change page by fieldset name: each field's shown text."""
    return {
        fieldset.name: {
            field.field["name"]: " ".join(str(field.contents()).split())
            for line in fieldset
            for field in line
            if field.is_readonly
        }
        for fieldset in response.context["adminform"]
    }


def test_a_session_page_shows_its_cost_to_the_fleet_apart_from_the_drivers_amount(
    manager_client, fleet
):
    fleet.default_vat_rate = Decimal("9.00")
    fleet.save(update_fields=["default_vat_rate"])
    session = ChargingSessionFactory(
        fleet=fleet,
        driver=DriverFactory(fleet=fleet),
        location_kind=LocationKind.PUBLIC,
        purpose=SessionPurpose.PRIVATE,
        price_currency="EUR",
        price_excl_vat=Decimal("10.00"),
        price_vat=Decimal("2.10"),
        price_incl_vat=Decimal("12.10"),
    )

    response = manager_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    )

    fieldsets = readonly_texts(response)
    cost = fieldsets["Cost to the fleet"]
    assert (cost["price_excl_vat"], cost["price_vat"], cost["price_incl_vat"]) == (
        "10.00",
        "2.10",
        "12.10",
    )
    assert fieldsets["The driver's amount"] == {
        "charged_to_driver": "10.90 EUR: 10.00 excl. VAT + 0.90 VAT at 9 %",
        "reimbursed_to_driver": "—",
    }


def test_billed_session_is_read_only_and_its_post_changes_nothing(manager_client, fleet):
    depot_tariff_create(fleet)
    session = charging_session_price(session=depot_session_create(fleet))
    ChargingSession.objects.filter(pk=session.pk).update(
        billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC)
    )
    session.refresh_from_db()
    change_url = reverse("admin:charging_chargingsession_change", args=[session.pk])
    before = ChargingSession.objects.filter(pk=session.pk).values().get()

    page = manager_client.get(change_url)
    response = manager_client.post(
        change_url,
        session_payload(fleet, session.driver, vehicle=session.vehicle)
        | {"purpose": "private", "energy_wh": "1", "meter_stop_wh": "1000001"},
    )
    delete_page = manager_client.get(
        reverse("admin:charging_chargingsession_delete", args=[session.pk])
    )

    assert page.status_code == 200
    assert (page.context["has_change_permission"], page.context["has_delete_permission"]) == (
        False,
        False,
    )
    assert page.context["adminform"].form.fields == {}
    assert table_rows(page, class_="voltop-breakdown") == DEPOT_SESSION_BREAKDOWN
    assert response.status_code == 403
    assert delete_page.status_code == 403
    assert ChargingSession.objects.filter(pk=session.pk).values().get() == before


def test_a_session_billed_while_its_page_was_saved_is_refused_and_changes_nothing(
    manager_client, fleet, monkeypatch
):
    session = depot_session_create(fleet)
    before = ChargingSession.objects.filter(pk=session.pk).values().get()
    form_saved = ChargingSessionAdmin.save_form

    def save_form_then_a_billing_run_bills(admin_, request, form, change):
        saved = form_saved(admin_, request, form, change)
        ChargingSession.objects.filter(pk=session.pk).update(
            billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC)
        )
        return saved

    monkeypatch.setattr(ChargingSessionAdmin, "save_form", save_form_then_a_billing_run_bills)
    change_url = reverse("admin:charging_chargingsession_change", args=[session.pk])

    response = manager_client.post(
        change_url,
        session_payload(fleet, session.driver, vehicle=session.vehicle)
        | {"purpose": "private", "energy_wh": "1", "meter_stop_wh": "1000001"},
    )

    assert (response.status_code, response["Location"]) == (302, change_url)
    assert messages_of(response) == [
        "Nothing was saved. The session is billed; correct it with a credit note on its invoice."
    ]
    assert ChargingSession.objects.filter(pk=session.pk).values().get() == before


def test_bulk_delete_of_a_billed_session_is_refused_and_deletes_nothing(manager_client, fleet):
    unbilled = depot_session_create(fleet)
    billed = depot_session_create(fleet, billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))

    response = manager_client.post(
        reverse("admin:charging_chargingsession_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(unbilled.pk), str(billed.pk)],
            "post": "yes",
        },
    )

    assert response.context["protected"] == [
        "The session is billed; correct it with a credit note on its invoice."
    ]
    assert set(ChargingSession.objects.values_list("pk", flat=True)) == {unbilled.pk, billed.pk}


# -- sessions: filters ---------------------------------------------------------------------------


@pytest.fixture
def sessions_to_filter(fleet) -> dict[str, ChargingSession]:
    """Five sessions of fleet A that differ in what the filters look at, and one of fleet B
    whose driver number and plate are the same as fleet A's."""
    north, south = DepotFactory(fleet=fleet, name="North"), DepotFactory(fleet=fleet, name="South")
    north_connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, depot=north))
    south_connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, depot=south))
    anna = DriverFactory(fleet=fleet, employee_number="E-ANNA")
    bram = DriverFactory(fleet=fleet, employee_number="E-BRAM")
    car_a = VehicleFactory(fleet=fleet, plate="AB-123-C")
    car_b = VehicleFactory(fleet=fleet, plate="XY-987-Z")

    def on(day: dt.date, **kwargs) -> ChargingSession:
        kwargs.setdefault("fleet", fleet)
        start = dt.datetime.combine(day, dt.time(8), tzinfo=UTC)
        if kwargs.pop("active", False):
            return ChargingSessionFactory(started_at=start, active=True, **kwargs)
        end = start + dt.timedelta(hours=2)
        return ChargingSessionFactory(started_at=start, ended_at=end, **kwargs)

    other_fleet = FleetFactory(name="Fleet B")
    on(
        dt.date(2026, 3, 2),
        fleet=other_fleet,
        driver=DriverFactory(fleet=other_fleet, employee_number="E-ANNA"),
        vehicle=VehicleFactory(fleet=other_fleet, plate="AB-123-C"),
    )
    return {
        "north depot": on(
            dt.date(2026, 3, 2), driver=anna, vehicle=car_a, connector=north_connector
        ),
        "south depot, private": on(
            dt.date(2026, 3, 3),
            driver=bram,
            vehicle=car_b,
            connector=south_connector,
            purpose=SessionPurpose.PRIVATE,
        ),
        "home": on(
            dt.date(2026, 3, 4),
            driver=anna,
            vehicle=car_a,
            location_kind=LocationKind.HOME,
            source=SessionSource.APP,
        ),
        "public import": on(
            dt.date(2026, 4, 1),
            driver=bram,
            vehicle=car_b,
            location_kind=LocationKind.PUBLIC,
            source=SessionSource.IMPORT,
            external_id="CDR-1",
        ),
        "active at north": on(
            dt.date(2026, 4, 2),
            active=True,
            driver=bram,
            vehicle=car_b,
            connector=north_connector,
            source=SessionSource.OCPP,
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"depot": "North"}, {"north depot", "active at north"}),
        ({"driver_number": "e-anna"}, {"north depot", "home"}),
        (
            {"vehicle_plate": " xy-987-z "},
            {"south depot, private", "public import", "active at north"},
        ),
        ({"status__exact": "active"}, {"active at north"}),
        ({"location_kind__exact": "home"}, {"home"}),
        ({"purpose__exact": "private"}, {"south depot, private"}),
        ({"source__exact": "import"}, {"public import"}),
        (
            {"started_at__year": "2026", "started_at__month": "3", "started_at__day": "3"},
            {"south depot, private"},
        ),
        (
            {"started_at__year": "2026", "started_at__month": "4"},
            {"public import", "active at north"},
        ),
        (
            {"driver_number": "E-BRAM", "status__exact": "completed"},
            {"south depot, private", "public import"},
        ),
    ],
    ids=lambda value: "&".join(value) if isinstance(value, dict) else None,
)
def test_session_filters_return_exactly_the_matching_sessions(
    manager_client, fleet, sessions_to_filter, query, expected
):
    if "depot" in query:
        depot_pk = sessions_to_filter["north depot"].connector.station.depot_id
        query = {"connector__station__depot__id__exact": str(depot_pk)}

    response = manager_client.get(reverse("admin:charging_chargingsession_changelist"), query)

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert shown == {sessions_to_filter[name].pk for name in expected}


@pytest.fixture
def sessions_without_a_price(fleet):
    """Sessions of the fleet without a price, one per reason, and some that need no price or
    have one; another fleet's session without a tariff."""
    no_tariff = depot_session_create(fleet)
    cost_pending = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.PUBLIC, connector=None
    )
    for session in (no_tariff, cost_pending, ChargingSessionFactory()):
        charging_session_price(session=session)
    return {
        "no tariff": no_tariff,
        "cost pending": cost_pending,
        "not priced yet": ChargingSessionFactory(fleet=fleet),
        "priced": ChargingSessionFactory(
            fleet=fleet,
            price_basis=PriceBasis.TARIFF,
            price_currency="EUR",
            price_excl_vat=Decimal("6.65"),
            price_vat=Decimal("1.40"),
            price_incl_vat=Decimal("8.05"),
        ),
        "billed": ChargingSessionFactory(
            fleet=fleet, billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC)
        ),
        "active": ChargingSessionFactory(fleet=fleet, active=True),
    }


def test_the_session_list_says_how_many_sessions_have_no_price_and_why(
    manager_client, fleet, sessions_without_a_price
):
    response = manager_client.get(reverse("admin:charging_chargingsession_changelist"))

    assert response.status_code == 200
    notice = re.search(r'<p class="unpriced-sessions">(.*?)</p>', response.content.decode(), re.S)
    assert notice is not None
    assert " ".join(unescape(re.sub(r"<[^>]+>", "", notice.group(1))).split()) == (
        "3 completed sessions without a price, which billing leaves out until priced: "
        "1 · No tariff applies; 1 · Provider's cost pending; 1 · Not priced yet."
    )
    assert re.findall(r'href="\?unpriced=(\w+)"', notice.group(1)) == [
        "no_tariff",
        "cost_pending",
        "not_yet",
    ]


def test_the_session_list_says_nothing_when_every_session_has_a_price(manager_client, fleet):
    ChargingSessionFactory(fleet=fleet, active=True)

    response = manager_client.get(reverse("admin:charging_chargingsession_changelist"))

    assert 'class="unpriced-sessions"' not in response.content.decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UnpricedReason.NO_TARIFF, {"no tariff"}),
        (UnpricedReason.COST_PENDING, {"cost pending"}),
        ("not_yet", {"not priced yet"}),
        ("any", {"no tariff", "cost pending", "not priced yet"}),
    ],
)
def test_the_without_a_price_filter_lists_exactly_those_sessions(
    manager_client, fleet, sessions_without_a_price, value, expected
):
    response = manager_client.get(
        reverse("admin:charging_chargingsession_changelist"), {"unpriced": value}
    )

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert shown == {sessions_without_a_price[name].pk for name in expected}


def filter_inputs(response, title: str) -> list[tuple[str, str, str]]:
    """(type, name, value) of the inputs in the list filter titled `title`."""
    html = response.content.decode()
    section = re.search(
        rf'<details data-filter-title="{re.escape(title)}".*?</details>', html, re.S
    )
    assert section is not None, f"no filter {title!r}"
    return re.findall(r'<input type="(\w+)" name="([^"]+)" value="([^"]*)"', section.group())


def test_text_filters_keep_the_other_active_filters(manager_client, fleet, sessions_to_filter):
    response = manager_client.get(
        reverse("admin:charging_chargingsession_changelist"),
        {"status__exact": "completed", "vehicle_plate": "AB-123-C", "p": "1"},
    )

    assert filter_inputs(response, "driver (employee number)") == [
        ("hidden", "status__exact", "completed"),
        ("hidden", "vehicle_plate", "AB-123-C"),
        ("search", "driver_number", ""),
    ]
    assert filter_inputs(response, "vehicle (plate)") == [
        ("hidden", "status__exact", "completed"),
        ("search", "vehicle_plate", "AB-123-C"),
    ]


# -- sessions: actions ---------------------------------------------------------------------------


def test_price_again_prices_unbilled_sessions_and_reports_billed_ones_as_refused(
    manager_client, fleet
):
    depot_tariff_create(fleet)
    unbilled = depot_session_create(fleet)
    billed = depot_session_create(fleet, billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))
    active = ChargingSessionFactory(fleet=fleet, active=True)

    response = changelist_action(
        manager_client, "chargingsession", "price_again", [unbilled, billed, active]
    )

    assert response.status_code == 302
    prices = dict(
        ChargingSession.objects.values_list("pk", "price_incl_vat").filter(
            pk__in=[unbilled.pk, billed.pk, active.pk]
        )
    )
    assert prices == {unbilled.pk: Decimal("8.05"), billed.pk: None, active.pk: None}
    assert messages_of(response) == [
        f"1 charging session priced, 1 refused: {billed}: The session is billed; correct it "
        "with a credit note on its invoice."
    ]


def test_approve_home_sessions_approves_the_pending_ones_and_reports_the_others_refused(
    manager_client, fleet
):
    pending = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )
    rejected = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.REJECTED
    )

    response = changelist_action(
        manager_client, "chargingsession", "approve_home_sessions", [pending, rejected]
    )

    pending.refresh_from_db()
    rejected.refresh_from_db()
    assert (pending.home_approval, pending.reviewed_by) == (
        HomeApproval.APPROVED,
        response.wsgi_request.user,
    )
    assert (rejected.home_approval, rejected.reviewed_by) == (HomeApproval.REJECTED, None)
    assert messages_of(response) == [
        f"1 charging session approved, 1 refused: {rejected}: The home session is rejected, not "
        "pending."
    ]


def test_reject_home_sessions_asks_why_first_and_changes_nothing_without_a_reason(
    manager_client, fleet
):
    pending = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )
    selected = {"action": "reject_home_sessions", "_selected_action": [str(pending.pk)]}
    changelist = reverse("admin:charging_chargingsession_changelist")

    asked = manager_client.post(changelist, selected)
    without_reason = manager_client.post(changelist, {**selected, "post": "yes", "reason": " "})

    assert asked.templates[0].name == "admin/voltop/reason_action.html"
    assert str(pending) in asked.content.decode()
    assert without_reason.context["form"].errors == {"reason": ["This field is required."]}
    pending.refresh_from_db()
    assert (pending.home_approval, pending.review_note) == (HomeApproval.PENDING, "")


def test_reject_home_sessions_rejects_the_pending_ones_with_the_reason_and_reports_the_rest(
    manager_client, fleet
):
    pending = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )
    approved = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.APPROVED
    )

    response = manager_client.post(
        reverse("admin:charging_chargingsession_changelist"),
        {
            "action": "reject_home_sessions",
            "_selected_action": [str(pending.pk), str(approved.pk)],
            "post": "yes",
            "reason": "The meter photo shows another car",
        },
        follow=True,
    )

    pending.refresh_from_db()
    approved.refresh_from_db()
    assert (pending.home_approval, pending.review_note, pending.reviewed_by) == (
        HomeApproval.REJECTED,
        "The meter photo shows another car",
        response.wsgi_request.user,
    )
    assert approved.home_approval == HomeApproval.APPROVED
    assert messages_of(response) == [
        f"1 charging session rejected, 1 refused: {approved}: The home session is approved, not "
        "pending."
    ]


def test_approving_counts_the_sessions_of_a_fleet_the_manager_only_views_as_left_unchanged(
    client, fleet
):
    viewed_fleet = FleetFactory(name="Fleet B")
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    MembershipFactory(user=user, fleet=viewed_fleet, role=MembershipRole.VIEWER)
    client.force_login(user)
    own = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )
    viewed = ChargingSessionFactory(
        fleet=viewed_fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )

    response = changelist_action(client, "chargingsession", "approve_home_sessions", [own, viewed])

    own.refresh_from_db()
    viewed.refresh_from_db()
    assert (own.home_approval, viewed.home_approval) == (
        HomeApproval.APPROVED,
        HomeApproval.PENDING,
    )
    assert messages_of(response) == [
        "1 charging session approved.",
        "1 charging session left unchanged: your role in their fleet does not allow this.",
    ]


def test_export_cdr_downloads_the_session_as_an_ocpi_cdr(viewer_client, fleet):
    depot_tariff_create(fleet)
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="04AABBCCDD")
    session = charging_session_price(
        session=depot_session_create(fleet, driver=token.driver, token=token)
    )

    response = changelist_action(viewer_client, "chargingsession", "export_cdr", [session])

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="voltop-cdrs.json"'
    cdr = json.loads(response.content)
    assert cdr["id"] == f"VT-{session.pk}"
    assert cdr["cdr_token"]["uid"] == "04AABBCCDD"
    assert (cdr["start_date_time"], cdr["end_date_time"]) == (
        "2026-03-02T08:00:00Z",
        "2026-03-02T10:00:00Z",
    )
    assert (cdr["currency"], cdr["total_energy"], cdr["total_time"]) == ("EUR", 20.5, 2.0)
    assert cdr["total_cost"] == {"excl_vat": 6.65, "incl_vat": 8.05}
    assert cdr["tariffs"] == [session.tariff_version.terms]
    exact = json.loads(response.content, parse_float=Decimal)
    assert [str(exact["total_fixed_cost"][key]) for key in ("excl_vat", "incl_vat")] == [
        "0.50",
        "0.61",
    ]


@pytest.mark.parametrize(
    ("model", "offered"),
    [
        ("chargingsession", [("export_cdr", "Export as OCPI 2.2.1 CDR JSON")]),
        ("tariff", [("export_ocpi", "Export as OCPI 2.2.1 JSON")]),
    ],
)
def test_viewer_is_offered_only_the_export_actions(viewer_client, fleet, model, offered):
    response = viewer_client.get(reverse(f"admin:charging_{model}_changelist"))

    assert response.context["action_form"].fields["action"].choices == [
        ("", "Select action"),
        *offered,
    ]


def test_viewer_posting_price_again_prices_nothing(viewer_client, fleet):
    depot_tariff_create(fleet)
    session = depot_session_create(fleet)

    response = changelist_action(viewer_client, "chargingsession", "price_again", [session])

    session.refresh_from_db()
    assert session.price_incl_vat is None
    assert messages_of(response) == ["No action selected."]


# -- sessions: public import ---------------------------------------------------------------------


def sessions_csv(token_uid: str) -> bytes:
    return (
        "cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency\n"
        f"CDR-1,{token_uid},2026-03-02T08:00:00+01:00,2026-03-02T09:00:00+01:00,12.5,5.00,6.05,EUR\n"
        f"CDR-2,{token_uid},2026-03-03T08:00:00+01:00,2026-03-03T09:00:00+01:00,abc,5.00,6.05,EUR\n"
    ).encode()


def sessions_import(client, fleet, content: bytes, *, only_valid_rows: bool):
    data = {
        "fleet": str(fleet.pk),
        "file": SimpleUploadedFile("sessions.csv", content, content_type="text/csv"),
    }
    if only_valid_rows:
        data["only_valid_rows"] = "on"
    return client.post(reverse("admin:charging_chargingsession_import"), data)


def test_session_import_with_a_bad_row_reports_it_and_imports_nothing(manager_client, fleet):
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    response = sessions_import(
        manager_client, fleet, sessions_csv(token.uid), only_valid_rows=False
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>Nothing imported</h2>" in html
    assert "2 row(s) read, 0 imported, 0 already imported, 1 with errors." in html
    assert table_rows(response, id="import-errors") == [
        ["Line", "Reason"],
        ["3", "energy_kwh 'abc' is not a number"],
    ]
    assert not ChargingSession.objects.exists()


def test_session_import_of_only_valid_rows_imports_the_good_row(manager_client, fleet):
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    response = sessions_import(manager_client, fleet, sessions_csv(token.uid), only_valid_rows=True)

    assert response.status_code == 200
    assert "<h2>Imported 1 session(s)</h2>" in response.content.decode()
    assert table_rows(response, id="import-errors")[1:] == [
        ["3", "energy_kwh 'abc' is not a number"]
    ]
    session = ChargingSession.objects.get()
    assert (session.external_id, session.driver, session.token, session.energy_wh) == (
        "CDR-1",
        token.driver,
        token,
        12_500,
    )
    assert (session.source, session.price_excl_vat, session.price_incl_vat) == (
        SessionSource.IMPORT,
        Decimal("5.00"),
        Decimal("6.05"),
    )
    assert session.started_at == dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def test_a_file_above_the_inline_limit_is_imported_by_a_task_and_followed_on_its_page(
    manager_client, fleet, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_INLINE_MAX_ROWS = 1
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    with django_capture_on_commit_callbacks(execute=True) as after_commit:
        response = sessions_import(
            manager_client, fleet, sessions_csv(token.uid), only_valid_rows=True
        )

    session_import = SessionImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:charging_sessionimport_change", args=[session_import.pk]
    )
    assert len(after_commit) == 1
    assert (session_import.status, session_import.file_name, session_import.rows_total) == (
        SessionImportStatus.DONE,
        "sessions.csv",
        2,
    )
    assert list(ChargingSession.objects.values_list("external_id", flat=True)) == ["CDR-1"]
    page = manager_client.get(response["Location"])
    assert page.status_code == 200
    assert table_rows(page, id="import-errors") == [
        ["Line", "Reason"],
        ["3", "energy_kwh 'abc' is not a number"],
    ]
    assert 'http-equiv="refresh"' not in page.content.decode()


def test_an_import_still_working_reloads_its_page_and_shows_its_rows(manager_client, fleet):
    session_import = SessionImport.objects.create(
        fleet=fleet, file_name="big.csv", file_format="csv", content=b"", rows_total=5_000
    )

    page = manager_client.get(
        reverse("admin:charging_sessionimport_change", args=[session_import.pk])
    )

    html = page.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "0/5000" in html


def test_the_import_pages_never_read_the_uploaded_files(manager_client, fleet):
    session_import = SessionImport.objects.create(
        fleet=fleet, file_name="big.csv", file_format="csv", content=b"x" * 100_000
    )

    with CaptureQueriesContext(connection) as queries:
        listed = manager_client.get(reverse("admin:charging_sessionimport_changelist"))
        shown = manager_client.get(
            reverse("admin:charging_sessionimport_change", args=[session_import.pk])
        )

    assert list(listed.context["cl"].result_list) == [session_import]
    assert shown.status_code == 200
    import_queries = [
        query["sql"] for query in queries if '"charging_sessionimport"' in query["sql"]
    ]
    assert import_queries
    assert not [sql for sql in import_queries if '"charging_sessionimport"."content"' in sql]


def test_another_fleets_imports_are_neither_listed_nor_shown(manager_client, fleet):
    own = SessionImport.objects.create(
        fleet=fleet, file_name="ours.csv", file_format="csv", content=b""
    )
    theirs = SessionImport.objects.create(
        fleet=FleetFactory(name="Fleet B"), file_name="theirs.csv", file_format="csv", content=b""
    )

    listed = manager_client.get(reverse("admin:charging_sessionimport_changelist"))
    shown = manager_client.get(reverse("admin:charging_sessionimport_change", args=[theirs.pk]))

    assert list(listed.context["cl"].result_list) == [own]
    assert shown.status_code == 302
    assert shown["Location"] == reverse("admin:index")


def test_the_session_list_shows_energy_entered_by_a_person(manager_client, fleet):
    ChargingSessionFactory(fleet=fleet, energy_source=EnergySource.ENTERED)
    ChargingSessionFactory(fleet=fleet, energy_wh=None, meter_stop_wh=None, active=True)

    response = manager_client.get(reverse("admin:charging_chargingsession_changelist"))

    energies = re.findall(
        r'<td class="field-energy [^"]*"[^>]*>([^<]*)</td>', response.content.decode()
    )
    assert sorted(energies) == ["20.500 kWh · entered", "—"]


def test_session_import_offers_only_the_managers_fleets(manager_client, fleet):
    FleetFactory(name="Fleet B")

    response = manager_client.get(reverse("admin:charging_chargingsession_import"))

    assert list(response.context["form"].fields["fleet"].queryset) == [fleet]


# -- meter values, stations, connectors, tariffs and sessions go through the services ----------

BILLED_REFUSAL = "The session is billed; correct it with a credit note on its invoice."


def meter_value_payload(session, *, measured_at: str, energy_wh: str) -> dict:
    day, time = measured_at.split(" ")
    return {
        "session": str(session.pk),
        "measured_at_0": day,
        "measured_at_1": time,
        "energy_wh": energy_wh,
        "power_w": "",
        "state_of_charge_percent": "",
    }


def meter_rows() -> list[tuple]:
    return list(
        MeterValue.objects.order_by("id").values_list(
            "id", "session_id", "measured_at", "energy_wh"
        )
    )


def test_a_reading_added_on_a_billed_session_is_refused_and_saves_nothing(manager_client, fleet):
    """5 Wh dated 2030 on a billed session, once saved here, is refused."""
    billed = ChargingSessionFactory(fleet=fleet, billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))

    response = manager_client.post(
        reverse("admin:charging_metervalue_add"),
        meter_value_payload(billed, measured_at="2030-01-01 12:00:00", energy_wh="5"),
        follow=True,
    )

    assert messages_of(response) == [f"Nothing was saved. {BILLED_REFUSAL}"]
    assert meter_rows() == []


def test_a_reading_added_outside_the_session_is_refused_and_saves_nothing(manager_client, fleet):
    session = ChargingSessionFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:charging_metervalue_add"),
        meter_value_payload(session, measured_at="2030-01-01 12:00:00", energy_wh="1010000"),
        follow=True,
    )

    (message,) = messages_of(response)
    assert message.startswith("Nothing was saved. A reading at ")
    assert message.endswith(" lies outside the session.")
    assert meter_rows() == []


def test_a_reading_going_backwards_is_refused_on_its_page_and_changes_nothing(
    manager_client, fleet
):
    session = ChargingSessionFactory(fleet=fleet)
    reading = MeterValueFactory(session=session, energy_wh=1_010_000)
    before = meter_rows()

    response = manager_client.post(
        reverse("admin:charging_metervalue_change", args=[reading.pk]),
        {"measured_at_0": "2026-03-02", "measured_at_1": "10:00:00", "energy_wh": "999000"},
        follow=True,
    )

    (message,) = messages_of(response)
    assert message.startswith("Nothing was saved. The register reads 999000 Wh")
    assert meter_rows() == before


def test_a_reading_inside_a_session_not_billed_is_added_through_the_service(manager_client, fleet):
    session = ChargingSessionFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:charging_metervalue_add"),
        meter_value_payload(session, measured_at="2026-03-02 10:00:00", energy_wh="1010000"),
    )

    assert response.status_code == 302
    ((_, session_id, _, energy_wh),) = meter_rows()
    assert (session_id, energy_wh) == (session.pk, 1_010_000)


def test_a_reading_of_a_billed_session_is_not_deleted_on_its_page_nor_by_the_action(
    manager_client, fleet
):
    billed = ChargingSessionFactory(fleet=fleet, billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))
    reading = MeterValueFactory(session=billed)
    before = meter_rows()

    page = manager_client.post(
        reverse("admin:charging_metervalue_delete", args=[reading.pk]), {"post": "yes"}
    )
    action = manager_client.post(
        reverse("admin:charging_metervalue_changelist"),
        {"action": "delete_selected", "_selected_action": [str(reading.pk)], "post": "yes"},
    )

    assert page.context["protected"] == action.context["protected"] == [BILLED_REFUSAL]
    assert meter_rows() == before


def test_a_station_in_use_is_not_deleted_on_its_page(manager_client, fleet):
    connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, ocpp_identity="AMS-1"))
    ChargingSessionFactory(fleet=fleet, connector=connector)

    response = manager_client.post(
        reverse("admin:charging_chargingstation_delete", args=[connector.station_id]),
        {"post": "yes"},
    )

    assert response.context["protected"] == [
        "Station AMS-1 cannot be deleted: it or its connectors are still referred to by "
        "1 charging session."
    ]
    assert Connector.objects.filter(pk=connector.pk).exists()


def test_a_connector_in_use_ticked_for_deletion_on_the_station_page_is_kept(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="AMS-1")
    connector = ConnectorFactory(station=station)
    ChargingSessionFactory(fleet=fleet, connector=connector)
    payload = {
        **station_page_payload(station),
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "1",
        "connectors-0-id": str(connector.pk),
        "connectors-0-station": str(station.pk),
        "connectors-0-connector_id": "1",
        "connectors-0-standard": connector.standard,
        "connectors-0-power_type": connector.power_type,
        "connectors-0-max_kw": str(connector.max_kw),
        "connectors-0-DELETE": "on",
    }

    response = manager_client.post(
        reverse("admin:charging_chargingstation_change", args=[station.pk]), payload
    )

    (connectors,) = response.context["inline_admin_formsets"]
    assert connectors.formset.non_form_errors() == [
        "Connector AMS-1#1 cannot be deleted: it is still referred to by 1 charging session."
    ]
    assert Connector.objects.filter(pk=connector.pk).exists()


def test_a_connector_added_on_the_station_page_is_made_by_the_service(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)
    payload = {
        **station_page_payload(station),
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "0",
        "connectors-0-station": str(station.pk),
        "connectors-0-connector_id": "1",
        "connectors-0-standard": ConnectorStandard.IEC_62196_T2,
        "connectors-0-power_type": PowerType.AC_3_PHASE,
        "connectors-0-max_kw": "22.0",
    }

    response = manager_client.post(
        reverse("admin:charging_chargingstation_change", args=[station.pk]), payload
    )

    assert response.status_code == 302
    assert list(station.connectors.values_list("connector_id", "max_kw")) == [(1, Decimal("22.0"))]


def test_a_published_tariff_is_not_deleted_on_its_page(manager_client, fleet):
    tariff = depot_tariff_create(fleet)

    response = manager_client.post(
        reverse("admin:charging_tariff_delete", args=[tariff.pk]), {"post": "yes"}
    )

    assert response.context["protected"] == [
        "Tariff Depot tariff cannot be deleted: it is still referred to by 1 tariff version. "
        "Deactivate it instead."
    ]
    assert TariffElement.objects.filter(tariff=tariff).count() == 1


def test_a_session_billing_refers_to_is_not_deleted_by_the_action(manager_client, fleet):
    cost_center = CostCenterFactory(fleet=fleet)
    session = ChargingSessionFactory(fleet=fleet, cost_center=cost_center)
    billing_rows_create(
        fleet=fleet, driver=session.driver, cost_center=cost_center, session=session
    )

    response = manager_client.post(
        reverse("admin:charging_chargingsession_changelist"),
        {"action": "delete_selected", "_selected_action": [str(session.pk)], "post": "yes"},
    )

    (refusal,) = response.context["protected"]
    assert refusal.startswith(f"Session {session.pk} cannot be deleted: ")
    assert ChargingSession.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize(("document", "field", "message"), REFUSED_TARIFFS)
def test_importing_a_refused_tariff_shows_why_naming_its_field_and_saves_nothing(
    manager_client, fleet, document, field, message
):
    response = tariff_import(manager_client, fleet, json.dumps(document).encode())

    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [message]}
    assert not Tariff.objects.exists()
    assert not TariffElement.objects.exists()
    assert not TariffVersion.objects.exists()


def test_importing_a_tariff_nested_100000_deep_is_refused_naming_the_limit(manager_client, fleet):
    response = tariff_import(manager_client, fleet, b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["The JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)"]
    }
    assert not Tariff.objects.exists()


def test_importing_sessions_nested_100000_deep_is_refused_naming_the_limit(manager_client, fleet):
    response = manager_client.post(
        reverse("admin:charging_chargingsession_import"),
        {
            "fleet": str(fleet.pk),
            "file": SimpleUploadedFile(
                "cdrs.json", b"[" * 100_000 + b"]" * 100_000, content_type="application/json"
            ),
        },
    )

    assert response.status_code == 200
    assert "<h2>Nothing imported</h2>" in response.content.decode()
    assert table_rows(response, id="import-errors")[1:] == [
        ["0", "the JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)"]
    ]
    assert not ChargingSession.objects.exists()


def test_days_of_week_nested_100000_deep_are_refused_on_the_field_and_save_nothing(
    manager_client, fleet
):
    element = {**ENERGY_ELEMENT, "days_of_week": "[" * 100_000 + "]" * 100_000}

    response = tariff_add(manager_client, fleet, [element])

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors == [
        {"days_of_week": ["The JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)"]}
    ]
    assert not Tariff.objects.exists()
