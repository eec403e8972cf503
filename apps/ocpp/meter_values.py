"""OCPP 1.6 MeterValue entries turned into Voltop's meter readings: the energy register, the
power and the state of charge, in the units the charger names, parsed as Decimal."""

from collections.abc import Iterable

from apps.charging.meter_units import (
    energy_wh_from_reading,
    power_w_from_reading,
    state_of_charge_from_reading,
)
from apps.charging.services import MeterReading
from apps.ocpp.timestamps import ocpp_moment

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
STATE_OF_CHARGE = "SoC"
SIGNED_DATA = "SignedData"


def _sample_value(samples: Iterable[dict], measurand: str) -> dict | None:
    """The sample of `measurand` for the whole connector: a value for one phase only is not the
    connector's total, and signed data is not a number."""
    for sample in samples:
        if (
            sample.get("measurand", ENERGY) == measurand
            and not sample.get("phase")
            and sample.get("format") != SIGNED_DATA
        ):
            return sample
    return None


def meter_readings_of(meter_values: Iterable[dict]) -> list[MeterReading]:
    """Readings from OCPP meterValue entries (keys in snake case), one per entry that carries
    the energy register; entries without one (only power, say) are left out. A value that is
    not a number, or a unit OCPP does not allow for its measurand, raises
    MeterValueFormatError."""
    readings = []
    for entry in meter_values:
        samples = entry.get("sampled_value") or []
        energy = _sample_value(samples, ENERGY)
        if energy is None:
            continue
        power = _sample_value(samples, POWER)
        state_of_charge = _sample_value(samples, STATE_OF_CHARGE)
        readings.append(
            MeterReading(
                measured_at=ocpp_moment(entry["timestamp"], field="timestamp"),
                energy_wh=energy_wh_from_reading(energy["value"], energy.get("unit")),
                power_w=power_w_from_reading(power["value"], power.get("unit")) if power else None,
                state_of_charge_percent=state_of_charge_from_reading(state_of_charge["value"])
                if state_of_charge
                else None,
            )
        )
    return readings
