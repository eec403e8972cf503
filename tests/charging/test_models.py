"""Rules of the charging tables: each one refused by full_clean() on its field, and by the
database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.charging.choices import PriceBasis, SessionSource, SessionStatus, UnpricedReason
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    TariffElement,
)
from tests.constraints import (
    NON_FIELD,
    constraints_needing_a_message,
    error_codes,
    full_clean_errors,
    refused_by_database,
)
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MeterValueFactory,
    TariffElementFactory,
    TariffFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
STARTED = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MIN_ZERO = "Ensure this value is greater than or equal to 0."

SESSION_FIELDS = [
    "status",
    "location_kind",
    "purpose",
    "source",
    "started_at",
    "ended_at",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
]


def _unsaved_session(driver, **values) -> ChargingSession:
    """A session of `driver` in their fleet, with a vehicle of that fleet, not yet saved."""
    return ChargingSessionFactory.build(
        fleet=driver.fleet,
        driver=driver,
        vehicle=VehicleFactory(fleet=driver.fleet),
        **values,
    )


def _session_row(session: ChargingSession) -> tuple:
    return ChargingSession.objects.values_list(*SESSION_FIELDS).get(pk=session.pk)


@pytest.mark.parametrize("constraint", constraints_needing_a_message("charging"))
def test_constraint_tells_the_user_which_rule_was_broken(constraint):
    message = constraint.get_violation_error_message()

    assert constraint.name not in message
    assert message.endswith(".")
    assert constraint.violation_error_code is not None


# Station and connector


def test_station_at_a_depot_of_another_fleet_is_refused_on_depot():
    station = ChargingStationFactory.build(fleet=FleetFactory(), depot=DepotFactory())

    error = full_clean_errors(station)

    assert error.message_dict == {"depot": ["The depot belongs to another fleet."]}
    assert error_codes(error) == {"depot": ["other_fleet"]}
    assert ChargingStation.objects.count() == 0


def test_station_with_an_unknown_status_is_refused_by_the_database():
    station = ChargingStationFactory()

    with refused_by_database("station_status_valid"):
        ChargingStation.objects.filter(pk=station.pk).update(status="exploded")

    assert ChargingStation.objects.get(pk=station.pk).status == "offline"


def test_connector_numbered_from_1_is_valid():
    connector = ConnectorFactory.build(station=ChargingStationFactory(), connector_id=1)

    connector.full_clean()
    connector.save()

    assert Connector.objects.get(pk=connector.pk).connector_id == 1


def test_connector_id_0_is_refused_on_the_field_and_by_the_database():
    connector = ConnectorFactory(connector_id=1)
    connector.connector_id = 0

    error = full_clean_errors(connector)
    with refused_by_database("connector_id_from_1"):
        connector.save()

    assert error.message_dict == {
        "connector_id": ["Ensure this value is greater than or equal to 1."]
    }
    assert Connector.objects.get(pk=connector.pk).connector_id == 1


def test_connector_id_taken_on_the_same_station_is_refused_by_full_clean():
    existing = ConnectorFactory(connector_id=1)
    duplicate = ConnectorFactory.build(station=existing.station, connector_id=1)

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["Connector with this Station and Connector id already exists."]
    }
    assert error_codes(error) == {NON_FIELD: ["unique_together"]}
    assert Connector.objects.count() == 1


def test_connector_id_taken_on_the_same_station_is_refused_by_the_database():
    existing = ConnectorFactory(connector_id=1)

    with refused_by_database("connector_id_unique_per_station"):
        Connector.objects.bulk_create(
            [
                ConnectorFactory.build(station=existing.station, connector_id=2),
                ConnectorFactory.build(station=existing.station, connector_id=1),
            ]
        )

    assert list(Connector.objects.values_list("connector_id", flat=True)) == [1]


def test_connector_id_used_on_another_station_is_valid():
    ConnectorFactory(connector_id=1)
    connector = ConnectorFactory.build(station=ChargingStationFactory(), connector_id=1)

    connector.full_clean()
    connector.save()

    assert Connector.objects.filter(connector_id=1).count() == 2


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"max_kw": Decimal("0.0")}, "connector_max_kw_positive"),
        ({"standard": "SCHUKO"}, "connector_standard_valid"),
        ({"power_type": "AC_2_PHASE"}, "connector_power_type_valid"),
    ],
    ids=["max-kw", "standard", "power-type"],
)
def test_connector_with_an_impossible_value_is_refused_on_the_field_and_by_the_database(
    changes, constraint
):
    connector = ConnectorFactory()
    (field,) = changes
    setattr(connector, field, changes[field])

    assert list(error_codes(full_clean_errors(connector))) == [field]
    with refused_by_database(constraint):
        connector.save()

    stored = Connector.objects.get(pk=connector.pk)
    assert (stored.max_kw, stored.standard, stored.power_type) == (
        Decimal("22.0"),
        "IEC_62196_T2",
        "AC_3_PHASE",
    )


# Session: period, meter and energy


SESSION_RULES = [
    pytest.param(
        {"ended_at": STARTED - dt.timedelta(minutes=1)},
        ("ended_at", "ends_before_start", "A session cannot end before it starts."),
        "session_ends_after_it_starts",
        id="ends-before-start",
    ),
    pytest.param(
        {"status": SessionStatus.INVALID, "meter_stop_wh": 999_000, "energy_wh": None},
        (
            "meter_stop_wh",
            "meter_stop_below_start",
            "The meter stop (999000 Wh) cannot be below the meter start (1000000 Wh).",
        ),
        "session_meter_stop_not_below_start",
        id="meter-stop-below-start",
    ),
    pytest.param(
        {"energy_wh": 20_000},
        (
            "energy_wh",
            "energy_not_meter_difference",
            "The energy must be meter stop minus meter start: 20500 Wh.",
        ),
        "session_energy_is_meter_difference",
        id="energy-not-stop-minus-start",
    ),
    pytest.param(
        {"ended_at": None},
        ("ended_at", "completed_without_end", "A completed session needs its end."),
        "session_completed_has_end_and_energy",
        id="completed-without-end",
    ),
    pytest.param(
        {"meter_stop_wh": None, "energy_wh": None},
        ("energy_wh", "completed_without_energy", "A completed session needs its energy."),
        "session_completed_has_end_and_energy",
        id="completed-without-energy",
    ),
    pytest.param(
        {"status": SessionStatus.ACTIVE, "meter_stop_wh": None, "energy_wh": None},
        (
            "ended_at",
            "active_has_end",
            "An active session has no end yet; complete it to set one.",
        ),
        "session_active_has_no_end",
        id="active-with-end",
    ),
    pytest.param(
        {"meter_start_wh": -1, "meter_stop_wh": None},
        ("meter_start_wh", "min_value", MIN_ZERO),
        "session_meter_start_not_negative",
        id="negative-meter-start",
    ),
    pytest.param(
        {"meter_start_wh": None, "meter_stop_wh": None, "energy_wh": -1},
        ("energy_wh", "min_value", MIN_ZERO),
        "session_energy_not_negative",
        id="negative-energy",
    ),
    pytest.param(
        {"status": "paused"},
        ("status", "invalid_choice", "Value 'paused' is not a valid choice."),
        "session_status_valid",
        id="unknown-status",
    ),
    pytest.param(
        {"location_kind": "office"},
        ("location_kind", "invalid_choice", "Value 'office' is not a valid choice."),
        "session_location_kind_valid",
        id="unknown-location",
    ),
    pytest.param(
        {"purpose": "mixed"},
        ("purpose", "invalid_choice", "Value 'mixed' is not a valid choice."),
        "session_purpose_valid",
        id="unknown-purpose",
    ),
    pytest.param(
        {"source": "ocpi"},
        ("source", "invalid_choice", "Value 'ocpi' is not a valid choice."),
        "session_source_valid",
        id="unknown-source",
    ),
]


@pytest.mark.parametrize(("changes", "expected", "constraint"), SESSION_RULES)
def test_session_breaking_a_rule_is_refused_by_full_clean_on_the_field_concerned(
    changes, expected, constraint
):
    session = ChargingSessionFactory()
    before = _session_row(session)
    for name, value in changes.items():
        setattr(session, name, value)
    field, code, message = expected

    error = full_clean_errors(session)

    assert error.message_dict == {field: [message]}
    assert error_codes(error) == {field: [code]}
    assert _session_row(session) == before


def test_an_unknown_reason_to_have_no_price_is_refused_by_the_database():
    session = ChargingSessionFactory()
    before = ChargingSession.objects.values().get(pk=session.pk)

    with refused_by_database("session_unpriced_reason_valid"):
        ChargingSession.objects.filter(pk=session.pk).update(unpriced_reason="forgotten")

    assert ChargingSession.objects.values().get(pk=session.pk) == before


def test_a_priced_session_with_a_reason_to_have_no_price_is_refused_by_the_database():
    session = ChargingSessionFactory(
        price_basis=PriceBasis.TARIFF,
        price_currency="EUR",
        price_excl_vat=Decimal("5.00"),
        price_vat=Decimal("1.05"),
        price_incl_vat=Decimal("6.05"),
    )
    before = ChargingSession.objects.values().get(pk=session.pk)

    with refused_by_database("session_priced_has_no_unpriced_reason"):
        ChargingSession.objects.filter(pk=session.pk).update(
            unpriced_reason=UnpricedReason.NO_TARIFF
        )

    assert ChargingSession.objects.values().get(pk=session.pk) == before


@pytest.mark.parametrize(("changes", "expected", "constraint"), SESSION_RULES)
def test_session_breaking_a_rule_is_refused_by_the_database_and_nothing_changes(
    changes, expected, constraint
):
    session = ChargingSessionFactory()
    before = _session_row(session)

    with refused_by_database(constraint):
        ChargingSession.objects.filter(pk=session.pk).update(**changes)

    assert _session_row(session) == before


def test_session_breaking_a_rule_in_a_bulk_insert_saves_no_session():
    driver = DriverFactory()
    valid = _unsaved_session(driver)
    broken = _unsaved_session(driver, energy_wh=1)

    with refused_by_database("session_energy_is_meter_difference"):
        ChargingSession.objects.bulk_create([valid, broken])

    assert ChargingSession.objects.count() == 0


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="completed-with-meters"),
        pytest.param({"ended_at": STARTED, "meter_stop_wh": 1_000_000, "energy_wh": 0}, id="0s"),
        pytest.param({"meter_start_wh": None, "meter_stop_wh": None}, id="energy-only"),
        pytest.param({"active": True}, id="active"),
        pytest.param(
            {"status": SessionStatus.INVALID, "meter_stop_wh": None, "energy_wh": None},
            id="invalid-without-energy",
        ),
    ],
)
def test_session_keeping_every_rule_is_valid_and_saved(values):
    session = ChargingSessionFactory(**values)

    session.full_clean()

    stored = ChargingSession.objects.get(pk=session.pk)
    assert (stored.ended_at, stored.energy_wh) == (session.ended_at, session.energy_wh)


# Session: one active per connector, external id per source


def test_second_active_session_on_a_connector_is_refused_on_connector():
    connector = ConnectorFactory()
    existing = ChargingSessionFactory(
        active=True, connector=connector, fleet=connector.station.fleet
    )
    second = _unsaved_session(existing.driver, active=True, connector=connector)

    error = full_clean_errors(second)

    assert error.message_dict == {"connector": ["This connector already has an active session."]}
    assert error_codes(error) == {"connector": ["unique"]}
    assert ChargingSession.objects.count() == 1


def test_second_active_session_on_a_connector_is_refused_by_the_database():
    connector = ConnectorFactory()
    existing = ChargingSessionFactory(
        active=True, connector=connector, fleet=connector.station.fleet
    )

    with refused_by_database("session_one_active_per_connector"):
        ChargingSessionFactory(
            active=True, connector=connector, fleet=existing.fleet, driver=existing.driver
        )

    assert list(ChargingSession.objects.values_list("pk", flat=True)) == [existing.pk]


def test_completing_the_active_session_frees_the_connector_for_the_next():
    connector = ConnectorFactory()
    fleet = connector.station.fleet
    first = ChargingSessionFactory(active=True, connector=connector, fleet=fleet)
    ChargingSession.objects.filter(pk=first.pk).update(
        status=SessionStatus.COMPLETED,
        ended_at=STARTED + dt.timedelta(hours=1),
        meter_stop_wh=1_010_000,
        energy_wh=10_000,
    )

    second = _unsaved_session(first.driver, active=True, connector=connector)
    second.full_clean()
    second.save()

    assert list(
        ChargingSession.objects.filter(connector=connector)
        .order_by("pk")
        .values_list("status", flat=True)
    ) == [SessionStatus.COMPLETED, SessionStatus.ACTIVE]


def test_active_sessions_on_other_connectors_or_without_one_are_valid():
    station = ChargingStationFactory()
    fleet = station.fleet
    for connector_id in (1, 2):
        ChargingSessionFactory(
            active=True,
            fleet=fleet,
            connector=ConnectorFactory(station=station, connector_id=connector_id),
        )
    home = [ChargingSessionFactory(active=True, fleet=fleet, connector=None) for _ in range(2)]

    for session in home:
        session.full_clean()

    assert ChargingSession.objects.filter(status=SessionStatus.ACTIVE).count() == 4


def test_external_id_known_for_the_same_source_is_refused_by_full_clean():
    existing = ChargingSessionFactory(source=SessionSource.OCPP, external_id="4711")
    duplicate = _unsaved_session(existing.driver, source=SessionSource.OCPP, external_id="4711")

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["A session with this external id already exists for this source."]
    }
    assert error_codes(error) == {NON_FIELD: ["session_external_id_unique_per_source"]}
    assert ChargingSession.objects.count() == 1


def test_external_id_known_for_the_same_source_is_refused_by_the_database():
    existing = ChargingSessionFactory(source=SessionSource.OCPP, external_id="4711")

    with refused_by_database("session_external_id_unique_per_source"):
        ChargingSessionFactory(fleet=existing.fleet, source=SessionSource.OCPP, external_id="4711")

    assert list(ChargingSession.objects.values_list("pk", flat=True)) == [existing.pk]


def test_empty_external_ids_repeat_and_an_id_may_repeat_across_sources():
    first = ChargingSessionFactory(source=SessionSource.MANUAL, external_id="")
    fleet = first.fleet

    ChargingSessionFactory(fleet=fleet, source=SessionSource.MANUAL, external_id="")
    ChargingSessionFactory(fleet=fleet, source=SessionSource.OCPP, external_id="4711")
    other_source = _unsaved_session(first.driver, source=SessionSource.IMPORT, external_id="4711")
    other_source.full_clean()
    other_source.save()

    assert ChargingSession.objects.count() == 4


# Session: everything in the session's fleet


@pytest.mark.parametrize(
    ("field", "other_fleet_row"),
    [
        ("driver", lambda: DriverFactory()),
        ("vehicle", lambda: VehicleFactory()),
        ("token", lambda: ChargeTokenFactory()),
        ("connector", lambda: ConnectorFactory()),
    ],
)
def test_session_with_a_row_of_another_fleet_is_refused_on_that_field(field, other_fleet_row):
    session = ChargingSessionFactory()
    before = _session_row(session)
    setattr(session, field, other_fleet_row())

    error = full_clean_errors(session)

    assert error.message_dict == {field: ["Belongs to another fleet."]}
    assert error_codes(error) == {field: ["other_fleet"]}
    assert _session_row(session) == before


def test_session_with_another_drivers_token_is_refused_on_token():
    session = ChargingSessionFactory()
    session.token = ChargeTokenFactory(driver=DriverFactory(fleet=session.fleet))

    error = full_clean_errors(session)

    assert error.message_dict == {"token": ["The token is another driver's."]}
    assert error_codes(error) == {"token": ["other_driver"]}


def test_session_with_its_own_fleets_driver_vehicle_token_and_connector_is_valid():
    session = ChargingSessionFactory()
    session.token = ChargeTokenFactory(driver=session.driver)
    station = ChargingStationFactory(fleet=session.fleet)
    session.connector = ConnectorFactory(station=station)

    session.full_clean()


# Meter values


@pytest.mark.parametrize(
    ("field", "value", "message", "constraint"),
    [
        (
            "state_of_charge_percent",
            101,
            "Ensure this value is less than or equal to 100.",
            "meter_value_soc_at_most_100",
        ),
        ("power_w", -1, MIN_ZERO, "meter_value_power_not_negative"),
        ("energy_wh", -1, MIN_ZERO, "meter_value_energy_not_negative"),
    ],
    ids=["soc-above-100", "negative-power", "negative-energy"],
)
def test_meter_value_out_of_range_is_refused_on_the_field_and_by_the_database(
    field, value, message, constraint
):
    meter_value = MeterValueFactory(state_of_charge_percent=55, power_w=11_000, energy_wh=1_010_000)
    setattr(meter_value, field, value)

    error = full_clean_errors(meter_value)
    with refused_by_database(constraint):
        meter_value.save()

    assert error.message_dict == {field: [message]}
    stored = MeterValue.objects.get(pk=meter_value.pk)
    assert (stored.state_of_charge_percent, stored.power_w, stored.energy_wh) == (
        55,
        11_000,
        1_010_000,
    )


@pytest.mark.parametrize(("soc", "power_w"), [(100, 0), (0, 350_000), (None, None)])
def test_meter_value_at_the_edges_of_its_ranges_is_valid(soc, power_w):
    meter_value = MeterValueFactory(state_of_charge_percent=soc, power_w=power_w)

    meter_value.full_clean()

    stored = MeterValue.objects.get(pk=meter_value.pk)
    assert (stored.state_of_charge_percent, stored.power_w) == (soc, power_w)


def test_second_meter_value_at_the_same_moment_is_refused_by_full_clean():
    existing = MeterValueFactory()
    duplicate = MeterValue(
        session=existing.session, measured_at=existing.measured_at, energy_wh=1_011_000
    )

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["Meter value with this Session and Measured at already exists."]
    }
    assert MeterValue.objects.count() == 1


def test_second_meter_value_at_the_same_moment_is_refused_by_the_database():
    existing = MeterValueFactory(energy_wh=1_010_000)

    with refused_by_database("meter_value_one_per_moment"):
        MeterValue.objects.create(
            session=existing.session, measured_at=existing.measured_at, energy_wh=1_011_000
        )

    assert list(MeterValue.objects.values_list("energy_wh", flat=True)) == [1_010_000]


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("min_kwh", "max_kwh"),
        ("min_power_kw", "max_power_kw"),
        ("min_current_a", "max_current_a"),
        ("min_duration_seconds", "max_duration_seconds"),
    ],
)
def test_tariff_element_with_a_minimum_above_its_maximum_is_refused_on_the_minimum(low, high):
    element = TariffElementFactory.build(tariff=TariffFactory(), **{low: 20, high: 10})

    with pytest.raises(ValidationError) as refused:
        element.full_clean()

    assert refused.value.message_dict == {low: ["The minimum is above the maximum."]}


def test_tariff_element_step_sizes_of_0_are_valid_and_stored_as_given():
    element = TariffElementFactory.build(
        tariff=TariffFactory(),
        energy_step_wh=0,
        time_price=Decimal("1.00000"),
        time_step_seconds=0,
        parking_price=Decimal("2.00000"),
        parking_step_seconds=0,
        flat_step=0,
    )

    element.full_clean()
    element.save()

    assert TariffElement.objects.values_list(
        "energy_step_wh", "time_step_seconds", "parking_step_seconds", "flat_step"
    ).get(pk=element.pk) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "field", ["energy_step_wh", "time_step_seconds", "parking_step_seconds", "flat_step"]
)
def test_tariff_element_negative_step_size_is_refused_on_the_field_and_by_the_database(field):
    element = TariffElementFactory()
    setattr(element, field, -1)

    error = full_clean_errors(element)
    with refused_by_database(f"charging_tariffelement_{field}_check"):
        element.save()

    assert error.message_dict == {field: [MIN_ZERO]}
    assert getattr(TariffElement.objects.get(pk=element.pk), field) == 1
