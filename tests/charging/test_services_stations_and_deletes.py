"""Writes of the charging app that the fleet API and the admin share: stations and connectors
made and changed through the service after the model's checks, and deletes that keep what
history refers to (stations, connectors, tariffs and their elements, sessions)."""

import datetime as dt
import threading
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.charging.exceptions import (
    ConnectorIdInUse,
    ConnectorInUse,
    SessionBilled,
    SessionInUse,
    StationIdentityInUse,
    StationInUse,
    TariffInUse,
    TariffNeedsElement,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    Tariff,
    TariffElement,
)
from apps.charging.services import (
    charging_session_delete,
    charging_station_create,
    charging_station_delete,
    charging_station_update,
    connector_create,
    connector_delete,
    connector_update,
    tariff_delete,
    tariff_element_delete,
    tariff_publish,
)
from tests.celery_workers import current_database_url
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    CostCenterFactory,
    DepotFactory,
    FleetFactory,
    MeterValueFactory,
    TariffElementFactory,
    TariffFactory,
    billing_rows_create,
)
from tests.locks import wait_until_blocked_by
from tests.races import taken_after_the_checks
from voltop.core.errors import FieldFixed

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def station_rows() -> list[tuple]:
    return list(
        ChargingStation.objects.order_by("id").values_list("id", "fleet_id", "depot_id", "vendor")
    )


# stations and connectors


def test_a_station_is_made_after_the_models_checks():
    fleet = FleetFactory()
    depot = DepotFactory(fleet=fleet)

    station = charging_station_create(
        fleet=fleet, depot=depot, ocpp_identity="AMS-01", vendor="Alfen", model="Eve"
    )

    assert station_rows() == [(station.pk, fleet.pk, depot.pk, "Alfen")]


def test_a_station_at_another_fleets_depot_is_refused_and_nothing_is_made():
    fleet = FleetFactory()

    with pytest.raises(ValidationError) as refused:
        charging_station_create(
            fleet=fleet,
            depot=DepotFactory(),
            ocpp_identity="AMS-01",
            vendor="Alfen",
            model="Eve",
        )

    assert refused.value.message_dict == {"depot": ["The depot belongs to another fleet."]}
    assert station_rows() == []


def test_moving_a_station_to_another_fleets_depot_is_refused_and_changes_nothing():
    station = ChargingStationFactory()
    before = station_rows()

    with pytest.raises(ValidationError):
        charging_station_update(station=station, changes={"depot": DepotFactory()})
    with pytest.raises(FieldFixed) as moved:
        charging_station_update(station=station, changes={"fleet": FleetFactory()})

    assert (moved.value.field, moved.value.message) == (
        "fleet",
        "A charging station stays in the fleet it was made in; its fleet cannot be changed.",
    )

    assert station_rows() == before


def test_a_taken_ocpp_identity_is_refused_naming_the_field_and_nothing_is_made():
    ChargingStationFactory(ocpp_identity="AMS-01")
    before = station_rows()

    with pytest.raises(StationIdentityInUse) as refused:
        charging_station_create(
            fleet=FleetFactory(), ocpp_identity="AMS-01", vendor="Alfen", model="Eve"
        )

    assert (refused.value.code, refused.value.status, refused.value.field) == (
        "charging.station_identity_in_use",
        409,
        "ocpp_identity",
    )
    assert (
        refused.value.message == "Another station already connects with the OCPP identity AMS-01."
    )
    assert station_rows() == before


def test_an_ocpp_identity_taken_at_the_same_moment_is_the_same_refusal_and_nothing_is_made(
    monkeypatch,
):
    """Two requests at once: both pass the checks, the database's unique index refuses the
    second; that is StationIdentityInUse on "ocpp_identity", not an IntegrityError (a 500)."""
    fleet = FleetFactory()
    taken_after_the_checks(
        monkeypatch, ChargingStation, lambda: ChargingStationFactory(ocpp_identity="AMS-01")
    )

    with pytest.raises(StationIdentityInUse) as refused:
        charging_station_create(fleet=fleet, ocpp_identity="AMS-01", vendor="Alfen", model="Eve")

    assert (refused.value.code, refused.value.field) == (
        "charging.station_identity_in_use",
        "ocpp_identity",
    )
    assert station_rows() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_station_made_while_another_transaction_inserts_its_identity_is_refused_naming_it():
    """For real: another transaction has inserted the identity but not committed, so the
    checks pass and the insert waits on the unique index; once the other commits, the index
    refuses it, and that is StationIdentityInUse on "ocpp_identity", not an IntegrityError."""
    fleet = FleetFactory()
    outcome: dict[str, object] = {}

    def create() -> None:
        try:
            outcome["create"] = charging_station_create(
                fleet=fleet, ocpp_identity="AMS-01", vendor="Alfen", model="Eve"
            )
        except Exception as error:  # kept for the assertions below, whatever it is
            outcome["create"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=create)
    with psycopg.connect(current_database_url()) as other:
        other.execute(
            "INSERT INTO charging_chargingstation (fleet_id, ocpp_identity, vendor, model, "
            "serial_number, firmware_version, status, created_at, updated_at) "
            "VALUES (%s, 'AMS-01', 'ABB', 'Terra', '', '', 'offline', now(), now())",
            [fleet.pk],
        )
        thread.start()
        wait_until_blocked_by(other, outcome)
        other.commit()
    thread.join(timeout=30)

    assert not thread.is_alive()
    refusal = outcome["create"]
    assert isinstance(refusal, StationIdentityInUse), outcome
    assert (refusal.code, refusal.field) == ("charging.station_identity_in_use", "ocpp_identity")
    assert list(ChargingStation.objects.values_list("ocpp_identity", "vendor")) == [
        ("AMS-01", "ABB")
    ]


def test_renaming_a_station_to_an_identity_taken_at_the_same_moment_changes_nothing(
    monkeypatch,
):
    station = ChargingStationFactory(ocpp_identity="AMS-01")
    before = station_rows()
    taken_after_the_checks(
        monkeypatch, ChargingStation, lambda: ChargingStationFactory(ocpp_identity="AMS-02")
    )

    with pytest.raises(StationIdentityInUse):
        charging_station_update(station=station, changes={"ocpp_identity": "AMS-02"})

    assert station_rows() == before
    station.refresh_from_db()
    assert station.ocpp_identity == "AMS-01"


def test_a_connector_id_taken_on_the_station_is_refused_and_changes_nothing():
    station = ChargingStationFactory()
    ConnectorFactory(station=station, connector_id=1)
    second = connector_create(
        station=station,
        connector_id=2,
        standard="IEC_62196_T2",
        power_type="AC_3_PHASE",
        max_kw=Decimal("11.0"),
    )

    with pytest.raises(ConnectorIdInUse) as refused:
        connector_update(connector=second, changes={"connector_id": 1})

    assert (refused.value.code, refused.value.status, refused.value.field) == (
        "charging.connector_id_in_use",
        409,
        "connector_id",
    )
    assert refused.value.message == "The station already has a connector 1."
    assert list(
        station.connectors.order_by("connector_id").values_list("connector_id", "max_kw")
    ) == [
        (1, Decimal("22.0")),
        (2, Decimal("11.0")),
    ]


def test_a_connector_id_taken_at_the_same_moment_is_the_same_refusal_and_nothing_is_made(
    monkeypatch,
):
    """Two requests at once: both pass the checks, the database's unique constraint refuses
    the second; that is ConnectorIdInUse on "connector_id", not an IntegrityError (a 500)."""
    station = ChargingStationFactory()
    taken_after_the_checks(
        monkeypatch, Connector, lambda: ConnectorFactory(station=station, connector_id=1)
    )

    with pytest.raises(ConnectorIdInUse) as refused:
        connector_create(
            station=station,
            connector_id=1,
            standard="IEC_62196_T2",
            power_type="AC_3_PHASE",
            max_kw=Decimal("11.0"),
        )

    assert (refused.value.code, refused.value.field) == (
        "charging.connector_id_in_use",
        "connector_id",
    )
    assert not Connector.objects.exists()


def test_renumbering_onto_a_connector_id_taken_at_the_same_moment_changes_nothing(monkeypatch):
    station = ChargingStationFactory()
    connector = ConnectorFactory(station=station, connector_id=1)
    taken_after_the_checks(
        monkeypatch, Connector, lambda: ConnectorFactory(station=station, connector_id=2)
    )

    with pytest.raises(ConnectorIdInUse):
        connector_update(connector=connector, changes={"connector_id": 2})

    assert list(station.connectors.order_by("id").values_list("id", "connector_id")) == [
        (connector.pk, 1)
    ]


# deletes


def test_a_station_whose_connector_has_sessions_is_not_deleted():
    connector = ConnectorFactory(connector_id=1)
    station = connector.station
    ChargingSessionFactory(fleet=station.fleet, connector=connector)

    with pytest.raises(StationInUse) as refused:
        charging_station_delete(station=station)

    assert refused.value.message == (
        f"Station {station} cannot be deleted: it or its connectors are still referred to by "
        "1 charging session."
    )
    assert Connector.objects.filter(pk=connector.pk).exists()
    assert ChargingStation.objects.filter(pk=station.pk).exists()


def test_a_station_nothing_refers_to_is_deleted_with_its_connectors():
    connector = ConnectorFactory()

    charging_station_delete(station=connector.station)

    assert (ChargingStation.objects.count(), Connector.objects.count()) == (0, 0)


def test_a_connector_a_tariff_applies_to_is_not_deleted():
    connector = ConnectorFactory()
    TariffFactory(fleet=connector.station.fleet, connector=connector)

    with pytest.raises(ConnectorInUse) as refused:
        connector_delete(connector=connector)

    assert refused.value.code == "charging.connector_in_use"
    assert Connector.objects.filter(pk=connector.pk).exists()


def test_a_published_tariff_is_not_deleted_and_one_never_published_is():
    published = TariffFactory(name="Depot")
    TariffElementFactory(tariff=published)
    tariff_publish(tariff=published, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    draft = TariffFactory(name="Draft")
    TariffElementFactory(tariff=draft)

    with pytest.raises(TariffInUse) as refused:
        tariff_delete(tariff=published)
    tariff_delete(tariff=draft)

    assert refused.value.message == (
        "Tariff Depot cannot be deleted: it is still referred to by 1 tariff version. "
        "Deactivate it instead."
    )
    assert list(Tariff.objects.values_list("name", flat=True)) == ["Depot"]
    assert TariffElement.objects.filter(tariff=published).count() == 1


def test_a_tariffs_last_element_is_not_deleted():
    only = TariffElementFactory()

    with pytest.raises(TariffNeedsElement) as refused:
        tariff_element_delete(element=only)

    assert refused.value.field == "elements"
    assert TariffElement.objects.filter(pk=only.pk).exists()


def test_an_element_of_a_tariff_that_keeps_another_is_deleted():
    kept = TariffElementFactory(position=0)
    extra = TariffElementFactory(tariff=kept.tariff, position=1)

    tariff_element_delete(element=extra)

    assert list(TariffElement.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_billed_session_is_not_deleted():
    session = ChargingSessionFactory(billed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))

    with pytest.raises(SessionBilled):
        charging_session_delete(session=session)

    assert ChargingSession.objects.filter(pk=session.pk).exists()


def test_a_session_billing_refers_to_is_not_deleted():
    """Billing's rows refer to the session though it is not marked billed: it stays."""
    fleet = FleetFactory()
    cost_center = CostCenterFactory(fleet=fleet)
    session = ChargingSessionFactory(fleet=fleet, cost_center=cost_center)
    billing_rows_create(
        fleet=fleet, driver=session.driver, cost_center=cost_center, session=session
    )

    with pytest.raises(SessionInUse) as refused:
        charging_session_delete(session=session)

    assert refused.value.code == "charging.session_in_use"
    assert refused.value.message.startswith(f"Session {session.pk} cannot be deleted: ")
    assert refused.value.message.endswith(" Invalidate it instead.")
    assert ChargingSession.objects.filter(pk=session.pk).exists()


def test_a_session_entered_by_mistake_is_deleted_with_its_readings():
    reading = MeterValueFactory()

    charging_session_delete(session=reading.session)

    assert (ChargingSession.objects.count(), MeterValue.objects.count()) == (0, 0)
