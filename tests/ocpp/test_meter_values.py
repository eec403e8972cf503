"""OCPP 1.6 meterValue entries read as Voltop's meter readings: the energy register, power and
state of charge in the units the charger names, parsed as Decimal."""

import datetime as dt
from datetime import UTC

import pytest

from apps.charging.meter_units import MeterValueFormatError
from apps.charging.services import MeterReading
from apps.ocpp.meter_values import meter_readings_of
from apps.ocpp.timestamps import TimestampInvalid, ocpp_moment, ocpp_timestamp

MOMENT = "2026-03-02T08:00:00Z"


def entry(*samples, timestamp=MOMENT) -> dict:
    return {"timestamp": timestamp, "sampled_value": list(samples)}


def test_energy_power_and_state_of_charge_in_their_units():
    readings = meter_readings_of(
        [
            entry(
                {"value": "12.3456", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "63.5", "measurand": "SoC", "unit": "Percent", "location": "EV"},
            )
        ]
    )

    assert readings == [
        MeterReading(
            measured_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
            energy_wh=12_346,
            power_w=7_400,
            state_of_charge_percent=64,
        )
    ]


def test_a_sample_without_measurand_or_unit_is_the_energy_register_in_wh():
    (reading,) = meter_readings_of([entry({"value": "1000.5"})])

    assert (reading.energy_wh, reading.power_w, reading.state_of_charge_percent) == (
        1_001,
        None,
        None,
    )


def test_values_of_one_phase_and_signed_data_are_not_the_connectors_total():
    (reading,) = meter_readings_of(
        [
            entry(
                {"value": "400", "measurand": "Energy.Active.Import.Register", "phase": "L1"},
                {
                    "value": "ABCDEF",
                    "measurand": "Energy.Active.Import.Register",
                    "format": "SignedData",
                },
                {"value": "1200", "measurand": "Energy.Active.Import.Register"},
                {"value": "3000", "measurand": "Power.Active.Import", "phase": "L1"},
            )
        ]
    )

    assert (reading.energy_wh, reading.power_w) == (1_200, None)


def test_an_entry_without_the_energy_register_is_left_out():
    readings = meter_readings_of(
        [
            entry({"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}),
            entry(
                {"value": "5", "measurand": "Energy.Active.Import.Register"},
                timestamp="2026-03-02T08:01:00+01:00",
            ),
        ]
    )

    assert [(r.measured_at, r.energy_wh) for r in readings] == [
        (dt.datetime(2026, 3, 2, 7, 1, tzinfo=UTC), 5)
    ]


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ({"value": "12,5"}, "energy"),
        ({"value": "12", "unit": "MWh"}, "energy_unit"),
        ({"value": "-1"}, "energy"),
    ],
    ids=["comma", "unit", "negative"],
)
def test_a_value_no_meter_gives_is_refused_naming_the_field(sample, field):
    with pytest.raises(MeterValueFormatError) as refused:
        meter_readings_of([entry(sample)])

    assert refused.value.field == field


def test_timestamps_are_read_as_utc_without_an_offset_and_written_with_a_z():
    assert ocpp_moment("2026-03-02T08:00:00", field="timestamp") == dt.datetime(
        2026, 3, 2, 8, 0, tzinfo=UTC
    )
    assert ocpp_timestamp(
        dt.datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    ) == ("2026-03-02T08:00:00.123Z")
    with pytest.raises(TimestampInvalid):
        ocpp_moment("yesterday", field="timestamp")
