"""OCPI 2.2.1 pricing, pure: tariff terms and charging periods in, a frozen breakdown out.

Semantics (OCPI 2.2.1 Tariffs module, with the maintainers' 2.2.1 bug-fix notes):
- Per dimension (ENERGY, TIME, PARKING_TIME, FLAT) the first tariff element that prices the
  dimension and whose restrictions all match is used; no match means no cost for it.
- TIME is time charging, PARKING_TIME is time plugged in while no energy flows.
- Restrictions are evaluated in the location's zone; a period that crosses a boundary (a time
  of day, midnight, a duration or an energy threshold) is split there, and neighbouring pieces
  priced by the same elements are merged again, so an arbitrary extra split changes nothing.
- Current and power restrictions hold for a period when they hold for every value it reached:
  min_current / min_power against its lowest value (MIN_CURRENT / MIN_POWER, else CURRENT /
  POWER), max_current / max_power against its highest (MAX_CURRENT / MAX_POWER, else CURRENT /
  POWER); minimums are inclusive, maximums exclusive. A parked period has current and power 0.
  A power bound a period does not state is its average power (energy over duration). A current
  bound it does not state is not guessed: where the bound it does state already breaks the
  restriction the element does not apply; otherwise the restriction is unknown, the element
  does not apply there, and the breakdown's unknown_restrictions says so ("max_current not
  known for period 1"), so a missing current never silently prices a dimension at 0.
- A time-of-day window is [start_time, end_time) in local time. An end_time of 00:00 is the end
  of the day ("To stop at end of the day use: 00:00"); an end_time before the start_time wraps
  past midnight; an end_time equal to the start_time is the whole day, so 00:00-00:00 is too.
- step_size rounds up once per session: ENERGY over the session's priced energy (Wh); TIME and
  PARKING_TIME together once, over the priced parking time when parking is priced and over the
  charging time otherwise (seconds). The step of the last period's component is used and the
  extra volume is billed on that last period. A step_size of 0 (OCPI types it as an int, and
  its free-of-charge example uses 0) is priced exactly as a step_size of 1.
- A session pays at most one FLAT: that of the first period in which an element pricing FLAT
  applies. An element whose FLAT applies only later in the session (a time, day or duration
  restriction that starts to match) charges it then, once; a session that ends before any
  FLAT applies pays none, and a FLAT of another element that applies later still is not
  added. (OCPI leaves this open: ocpi/ocpi #176, #390.)
- A min_price without incl_vat bounds the total excluding VAT only: the amount it adds carries
  no VAT, since the tariff states none for it, so the total including VAT rises by the same
  amount and keeps the VAT of the lines. With incl_vat, each total has its own minimum.
- Each line is computed to 4 decimals (half-up) from the exact price times volume, never from a
  quotient cut to a working precision, so an exact tie rounds up; totals are the sums of the
  lines, then clamped by the tariff's min/max price, then rounded once to the currency's
  minor unit.
"""

from __future__ import annotations

import enum
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import MAX_PREC, ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, Inexact
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from voltop.core.money import round_line_quotient, round_money

FOUR_PLACES = Decimal("0.0001")
MICRO = Decimal("0.000001")
ZERO = Decimal(0)
ONE = Decimal(1)
WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)
EXACT = Context(prec=MAX_PREC, traps=[Inexact])
IDLE_POWER_W = 100
MIDNIGHT = time(0)


class Dimension(enum.StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


DIMENSIONS = tuple(Dimension)
VOLUME_PER_PRICED_UNIT = {
    Dimension.ENERGY: 1000,
    Dimension.FLAT: 1,
    Dimension.PARKING_TIME: 3600,
    Dimension.TIME: 3600,
}


class DayOfWeek(enum.IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@dataclass(frozen=True, slots=True)
class Price:
    """An amount excluding VAT and, when known, including VAT."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """The price of one unit of a dimension: per kWh, per hour, or per session (FLAT)."""

    dimension: Dimension
    price: Decimal
    vat_rate: Decimal | None = None
    step_size: int = 1


@dataclass(frozen=True, slots=True)
class Restrictions:
    """When a tariff element applies; empty fields do not restrict."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] = frozenset()
    reservation: str | None = None

    @property
    def needs_local_time(self) -> bool:
        return bool(
            self.start_time or self.end_time or self.start_date or self.end_date or self.day_of_week
        )


@dataclass(frozen=True, slots=True)
class TariffElement:
    components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None

    def component(self, dimension: Dimension) -> PriceComponent | None:
        for component in self.components:
            if component.dimension is dimension:
                return component
        return None


@dataclass(frozen=True, slots=True)
class TariffTerms:
    """Everything pricing needs from a tariff version."""

    currency: str
    elements: tuple[TariffElement, ...]
    min_price: Price | None = None
    max_price: Price | None = None
    parking_grace_seconds: int = 0


class MeterSample(NamedTuple):
    """A reading of the energy register (Wh) and, optionally, the power (W) at a moment."""

    measured_at: datetime
    energy_wh: int
    power_w: int | None = None


class ChargingPeriod(NamedTuple):
    """A stretch of a session: its energy (Wh), whether energy was flowing and, where known, its
    power (kW) and current (A), each as one value or as the lowest and highest it reached."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    power_kw: Decimal | None = None
    current_a: Decimal | None = None
    min_power_kw: Decimal | None = None
    max_power_kw: Decimal | None = None
    min_current_a: Decimal | None = None
    max_current_a: Decimal | None = None

    @property
    def seconds(self) -> Decimal:
        return _seconds(self.end - self.start)


class PriceLine(NamedTuple):
    """One dimension of one period: what was billed, at what price, with what VAT."""

    dimension: Dimension
    volume: Decimal
    step_extra: Decimal
    unit_price: Decimal
    vat_rate: Decimal | None
    excl_vat: Decimal
    vat: Decimal
    element_index: int

    @property
    def incl_vat(self) -> Decimal:
        return self.excl_vat + self.vat

    @property
    def billed_volume(self) -> Decimal:
        return self.volume + self.step_extra


class PricedPeriod(NamedTuple):
    start: datetime
    end: datetime
    charging: bool
    energy_wh: Decimal
    lines: tuple[PriceLine, ...]


class DimensionTotal(NamedTuple):
    volume: Decimal
    excl_vat: Decimal
    vat: Decimal

    @property
    def incl_vat(self) -> Decimal:
        return self.excl_vat + self.vat


class PriceBreakdown(NamedTuple):
    """The priced session: periods with their lines, totals exact to 4 places and rounded.

    `unknown_restrictions` says which restrictions could not be evaluated for which of the
    given periods (numbered from 1) because the periods lack the data, e.g. "max_current not
    known for period 1": an element so restricted was not applied there.
    """

    currency: str
    periods: tuple[PricedPeriod, ...]
    dimensions: dict[Dimension, DimensionTotal]
    lines_excl_vat: Decimal
    lines_vat: Decimal
    price_limit_adjustment: Price
    total_excl_vat: Decimal
    total_incl_vat: Decimal
    unknown_restrictions: tuple[str, ...] = ()

    @property
    def total_vat(self) -> Decimal:
        return self.total_incl_vat - self.total_excl_vat

    def as_dict(self) -> dict:
        """The whole breakdown as JSON-ready values: decimals as strings, times in ISO 8601."""
        return {
            "currency": self.currency,
            "periods": [
                {
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                    "charging": period.charging,
                    "energy_wh": _plain(period.energy_wh),
                    "lines": [
                        {
                            "dimension": line.dimension.value,
                            "volume": _plain(line.volume),
                            "step_extra": _plain(line.step_extra),
                            "unit_price": str(line.unit_price),
                            "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
                            "excl_vat": str(line.excl_vat),
                            "vat": str(line.vat),
                            "incl_vat": str(line.incl_vat),
                            "element": line.element_index,
                        }
                        for line in period.lines
                    ],
                }
                for period in self.periods
            ],
            "lines_excl_vat": str(self.lines_excl_vat),
            "lines_vat": str(self.lines_vat),
            "price_limit_adjustment": {
                "excl_vat": str(self.price_limit_adjustment.excl_vat),
                "incl_vat": str(self.price_limit_adjustment.incl_vat),
            },
            "unknown_restrictions": list(self.unknown_restrictions),
            "ocpi": self.as_ocpi(),
        }

    def as_ocpi(self) -> dict:
        """Totals under the OCPI 2.2.1 CDR field names, money rounded to the currency."""

        def cost(dimension: Dimension) -> dict:
            total = self.dimensions[dimension]
            return {
                "excl_vat": str(round_money(total.excl_vat, self.currency)),
                "incl_vat": str(round_money(total.incl_vat, self.currency)),
            }

        return {
            "currency": self.currency,
            "total_cost": {
                "excl_vat": str(self.total_excl_vat),
                "incl_vat": str(self.total_incl_vat),
            },
            "total_fixed_cost": cost(Dimension.FLAT),
            "total_energy": _plain(self.dimensions[Dimension.ENERGY].volume),
            "total_energy_cost": cost(Dimension.ENERGY),
            "total_time": str(self.dimensions[Dimension.TIME].volume),
            "total_time_cost": cost(Dimension.TIME),
            "total_parking_time": str(self.dimensions[Dimension.PARKING_TIME].volume),
            "total_parking_cost": cost(Dimension.PARKING_TIME),
        }


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 5400.000000 → "5400", 0.50 → "0.5"."""
    return f"{value.normalize():f}"


def _seconds(delta: timedelta) -> Decimal:
    whole = delta.days * 86400 + delta.seconds
    if delta.microseconds:
        return Decimal(whole * 1_000_000 + delta.microseconds).scaleb(-6)
    return Decimal(whole)


def _four(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def charging_periods_from_meter_values(
    *,
    started_at: datetime,
    ended_at: datetime,
    meter_start_wh: int,
    meter_stop_wh: int,
    samples: Iterable[MeterSample],
    idle_power_w: int = IDLE_POWER_W,
) -> tuple[ChargingPeriod, ...]:
    """Cut a session into periods between consecutive register readings.

    A period is charging when its average power reaches `idle_power_w`; otherwise the vehicle
    is only parked. Samples outside the session are ignored.
    """
    periods = []
    start, start_wh = started_at, meter_start_wh
    inside = [sample[:2] for sample in sorted(samples) if started_at < sample[0] < ended_at]
    for end, end_wh in [*inside, (ended_at, meter_stop_wh)]:
        if end <= start:
            continue
        delta = end - start
        microseconds = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        energy = end_wh - start_wh
        periods.append(
            ChargingPeriod(
                start,
                end,
                Decimal(energy),
                energy * 3_600_000_000 >= idle_power_w * microseconds,
            )
        )
        start, start_wh = end, end_wh
    return tuple(periods)


class _CompiledTerms:
    """Pre-computed facts about a tariff that decide where periods must be split."""

    __slots__ = (
        "day_regimes",
        "dimension_elements",
        "duration_marks",
        "energy_marks_wh",
        "local_time_only",
        "merges_runs",
        "needs_local_time",
        "terms",
        "time_marks",
    )

    def __init__(self, terms: TariffTerms):
        self.terms = terms
        restrictions = [
            element.restrictions
            for element in terms.elements
            if element.restrictions is not None and element.restrictions.reservation is None
        ]
        self.needs_local_time = any(r.needs_local_time for r in restrictions)
        self.time_marks = sorted(
            {mark for r in restrictions for mark in (r.start_time, r.end_time) if mark}
            | ({time(0, 0)} if self.needs_local_time else set())
        )
        self.duration_marks = sorted(
            {
                seconds
                for r in restrictions
                for seconds in (r.min_duration, r.max_duration)
                if seconds is not None
            }
        )
        self.energy_marks_wh = sorted(
            {
                kwh * WH_PER_KWH
                for r in restrictions
                for kwh in (r.min_kwh, r.max_kwh)
                if kwh is not None
            }
        )
        self.merges_runs = not self.energy_marks_wh and not any(
            r.min_power is not None
            or r.max_power is not None
            or r.min_current is not None
            or r.max_current is not None
            for r in restrictions
        )
        self.dimension_elements = {
            dimension: tuple(
                (index, element.restrictions, component)
                for index, element in enumerate(terms.elements)
                if (component := element.component(dimension)) is not None
                and (element.restrictions is None or element.restrictions.reservation is None)
            )
            for dimension in DIMENSIONS
        }
        self.local_time_only = (
            self.needs_local_time and self.merges_runs and not self.duration_marks
        )
        self.day_regimes: dict = {}

    def regime_at(self, moment: datetime, zone: ZoneInfo) -> tuple:
        """For a tariff restricted by local time alone: the elements that apply at `moment` for
        (energy, charging time, parking time, flat fee), looked up in the moment's local day."""
        day = moment.astimezone(zone).date()
        entry = self.day_regimes.get((zone, day))
        if entry is None:
            if len(self.day_regimes) > 4096:
                self.day_regimes.clear()
            cuts = _local_day_cuts(zone, day, tuple(self.time_marks))
            elements = self.dimension_elements
            regimes = []
            for cut in cuts:
                local = cut.astimezone(zone)
                regimes.append(
                    tuple(
                        _applicable(elements[dimension], None, cut, zone, local, set())
                        for dimension in (
                            Dimension.ENERGY,
                            Dimension.TIME,
                            Dimension.PARKING_TIME,
                            Dimension.FLAT,
                        )
                    )
                )
            entry = self.day_regimes[(zone, day)] = (cuts, regimes)
        cuts, regimes = entry
        return regimes[bisect_right(cuts, moment) - 1]


_compiled_cache: dict[int, tuple[TariffTerms, _CompiledTerms]] = {}


def _compiled(terms: TariffTerms) -> _CompiledTerms:
    """Compiled facts of `terms`, kept per terms object (callers reuse one per tariff)."""
    entry = _compiled_cache.get(id(terms))
    if entry is None or entry[0] is not terms:
        if len(_compiled_cache) > 1024:
            _compiled_cache.clear()
        entry = _compiled_cache[id(terms)] = (terms, _CompiledTerms(terms))
    return entry[1]


def _offset_change(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after `low`, to the second, whose UTC offset differs from low's."""
    offset = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond else high


@lru_cache(maxsize=8192)
def _local_day_cuts(zone: ZoneInfo, day: date, marks: tuple[time, ...]) -> tuple[datetime, ...]:
    """UTC instants on local `day` where a restriction may switch: each time-of-day mark (both
    readings of an ambiguous one) and any change of the zone's offset."""
    day_start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    next_day_start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    cuts = set()
    if day_start.astimezone(zone).utcoffset() != next_day_start.astimezone(zone).utcoffset():
        cuts.add(_offset_change(day_start, next_day_start, zone))
    for mark in marks:
        for fold in (0, 1):
            cuts.add(datetime.combine(day, mark, tzinfo=zone).replace(fold=fold).astimezone(UTC))
    return tuple(sorted(cuts))


def _session_cuts(
    start: datetime, end: datetime, compiled: _CompiledTerms, zone: ZoneInfo
) -> list[datetime]:
    """Instants in (start, end) where a time, date or duration restriction may switch."""
    cuts: set[datetime] = set()
    if compiled.needs_local_time:
        marks = tuple(compiled.time_marks)
        day = start.astimezone(zone).date()
        last_day = end.astimezone(zone).date()
        while day <= last_day:
            cuts.update(
                instant for instant in _local_day_cuts(zone, day, marks) if start < instant < end
            )
            day += timedelta(days=1)
    for seconds in compiled.duration_marks:
        instant = start + timedelta(seconds=seconds)
        if start < instant < end:
            cuts.add(instant)
    return sorted(cuts)


@dataclass(slots=True)
class _Piece:
    """A part of a given period between two boundaries where a restriction may switch."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    period: ChargingPeriod
    energy_before_wh: Decimal


def _split(
    period: ChargingPeriod,
    energy_before_wh: Decimal,
    session_cuts: list[datetime],
    compiled: _CompiledTerms,
) -> list[_Piece]:
    first = bisect_right(session_cuts, period.start)
    last = bisect_left(session_cuts, period.end)
    energy = period.energy_wh
    cuts: dict[datetime, Decimal | None] = (
        dict.fromkeys(session_cuts[first:last]) if first != last else {}
    )
    if energy > 0:
        for mark in compiled.energy_marks_wh:
            if energy_before_wh < mark < energy_before_wh + energy:
                share = (mark - energy_before_wh) / energy
                instant = period.start + (period.end - period.start) * float(share)
                if period.start < instant < period.end:
                    cuts[instant] = mark - energy_before_wh
    if not cuts:
        return [
            _Piece(
                period.start,
                period.end,
                energy,
                period.charging,
                period,
                energy_before_wh,
            )
        ]
    pieces = []
    total_seconds = period.seconds
    boundaries = [period.start, *sorted(cuts), period.end]
    assigned = ZERO
    for index, (start, end) in enumerate(itertools.pairwise(boundaries)):
        if index == len(boundaries) - 2:
            part = energy - assigned
        else:
            exact = cuts[end]
            part = (
                exact - assigned
                if exact is not None
                else (energy * _seconds(end - period.start) / total_seconds).quantize(MICRO)
                - assigned
            )
        pieces.append(
            _Piece(
                start,
                end,
                part,
                period.charging,
                period,
                energy_before_wh + assigned,
            )
        )
        assigned += part
    return pieces


def _matches(
    restrictions: Restrictions | None,
    piece: _Piece,
    session_start: datetime,
    zone: ZoneInfo,
    local: datetime | None,
    unknown: set[str],
) -> bool:
    """Whether every restriction holds for `piece`. A restriction the piece lacks the data for
    does not hold, and its name is added to `unknown`, when all the others hold."""
    if restrictions is None:
        return True
    r = restrictions
    if r.needs_local_time:
        assert local is not None  # noqa: S101 - computed whenever a tariff needs local time
        if (r.start_time is not None or r.end_time is not None) and not _within_time_of_day(
            local.time(), r.start_time, r.end_time
        ):
            return False
        if not _within(local.date(), r.start_date, r.end_date):
            return False
        if r.day_of_week and DayOfWeek(local.weekday()) not in r.day_of_week:
            return False
    if (r.min_kwh is not None or r.max_kwh is not None) and not _within(
        piece.energy_before_wh / WH_PER_KWH, r.min_kwh, r.max_kwh
    ):
        return False
    if (r.min_duration is not None or r.max_duration is not None) and not _within(
        _seconds(piece.start - session_start), r.min_duration, r.max_duration
    ):
        return False
    if r.min_power is not None or r.max_power is not None:
        lowest, highest = _power_range(piece)
        if (r.min_power is not None and lowest < r.min_power) or (
            r.max_power is not None and highest >= r.max_power
        ):
            return False
    if r.min_current is not None or r.max_current is not None:
        if piece.charging:
            period = piece.period
            lowest = _first_known(period.min_current_a, period.current_a)
            highest = _first_known(period.max_current_a, period.current_a)
        else:
            lowest = highest = ZERO
        not_known = []
        if r.min_current is not None:
            holds = _range_at_least(lowest, highest, r.min_current)
            if holds is False:
                return False
            if holds is None:
                not_known.append("min_current")
        if r.max_current is not None:
            holds = _range_below(lowest, highest, r.max_current)
            if holds is False:
                return False
            if holds is None:
                not_known.append("max_current")
        if not_known:
            unknown.update(not_known)
            return False
    return True


def _first_known(*values: Decimal | None) -> Decimal | None:
    return next((value for value in values if value is not None), None)


def _power_range(piece: _Piece) -> tuple[Decimal, Decimal]:
    """The lowest and highest power (kW) of a piece: MIN_POWER and MAX_POWER, else POWER, else
    the average power over the piece; 0 while parked."""
    if not piece.charging:
        return ZERO, ZERO
    period = piece.period
    lowest = _first_known(period.min_power_kw, period.power_kw)
    highest = _first_known(period.max_power_kw, period.power_kw)
    if lowest is None or highest is None:
        average = (
            piece.energy_wh * SECONDS_PER_HOUR / _seconds(piece.end - piece.start) / WH_PER_KWH
        )
        lowest = average if lowest is None else lowest
        highest = average if highest is None else highest
    return lowest, highest


def _range_at_least(
    lowest: Decimal | None, highest: Decimal | None, minimum: Decimal
) -> bool | None:
    """Whether all of [lowest, highest] is ≥ minimum; None when the known bounds cannot tell."""
    if lowest is not None:
        return lowest >= minimum
    if highest is not None and highest < minimum:
        return False
    return None


def _range_below(lowest: Decimal | None, highest: Decimal | None, maximum: Decimal) -> bool | None:
    """Whether all of [lowest, highest] is < maximum; None when the known bounds cannot tell."""
    if highest is not None:
        return highest < maximum
    if lowest is not None and lowest >= maximum:
        return False
    return None


def _within_time_of_day(moment: time, start: time | None, end: time | None) -> bool:
    """Whether a local time of day lies in [start, end). No start is 00:00; no end, or an end of
    00:00, is the end of the day; an end before the start wraps past midnight, and an end equal
    to the start is the whole day (00:00 to 00:00 included)."""
    start = MIDNIGHT if start is None else start
    if end == start:
        return True
    if end is None or end == MIDNIGHT:
        return moment >= start
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _within(value, low, high) -> bool:
    """low ≤ value < high, an empty bound not bounding: OCPI's min inclusive, max exclusive."""
    return (low is None or value >= low) and (high is None or value < high)


def _applicable(
    candidates: tuple[tuple[int, Restrictions | None, PriceComponent], ...],
    piece: _Piece,
    session_start: datetime,
    zone: ZoneInfo,
    local: datetime | None,
    unknown: set[str],
) -> tuple[int, PriceComponent] | None:
    for index, restrictions, component in candidates:
        if _matches(restrictions, piece, session_start, zone, local, unknown):
            return index, component
    return None


@dataclass(slots=True)
class _Period:
    start: datetime
    end: datetime
    charging: bool
    energy_wh: Decimal
    energy: tuple[int, PriceComponent] | None
    time_like: tuple[int, PriceComponent] | None
    flat: tuple[int, PriceComponent] | None


def _periods(
    periods: Sequence[ChargingPeriod],
    compiled: _CompiledTerms,
    zone: ZoneInfo,
    session_cuts: list[datetime] | None = None,
    runs_merged: bool = False,
) -> tuple[list[_Period], tuple[str, ...]]:
    """The pieces of `periods` with the elements that price them, neighbours priced alike
    merged; and which restrictions could not be evaluated for which periods."""
    session_start = periods[0].start
    if session_cuts is None:
        session_cuts = _session_cuts(session_start, periods[-1].end, compiled, zone)
    elements = compiled.dimension_elements
    merged: list[_Period] = []
    energy_before = ZERO
    periods_lacking: dict[str, list[int]] = {}
    unknown: set[str] = set()
    if compiled.merges_runs and not runs_merged:
        periods = _merge_runs(periods, session_cuts)
    for number, period in enumerate(periods, 1):
        for piece in _split(period, energy_before, session_cuts, compiled):
            if compiled.local_time_only:
                energy, charging_time, parking_time, flat = compiled.regime_at(piece.start, zone)
                time_like = charging_time if piece.charging else parking_time
            else:
                local = piece.start.astimezone(zone) if compiled.needs_local_time else None
                time_dimension = Dimension.TIME if piece.charging else Dimension.PARKING_TIME
                energy, time_like, flat = (
                    _applicable(elements[dimension], piece, session_start, zone, local, unknown)
                    for dimension in (Dimension.ENERGY, time_dimension, Dimension.FLAT)
                )
            last = merged[-1] if merged else None
            if (
                last is not None
                and last.end == piece.start
                and last.charging == piece.charging
                and last.energy == energy
                and last.time_like == time_like
                and last.flat == flat
            ):
                last.end = piece.end
                last.energy_wh += piece.energy_wh
            else:
                merged.append(
                    _Period(
                        piece.start,
                        piece.end,
                        piece.charging,
                        piece.energy_wh,
                        energy,
                        time_like,
                        flat,
                    )
                )
        if unknown:
            for restriction in unknown:
                periods_lacking.setdefault(restriction, []).append(number)
            unknown.clear()
        energy_before += period.energy_wh
    if not periods_lacking:
        return merged, ()
    return merged, tuple(
        f"{restriction} not known for period{'s' if len(numbers) > 1 else ''} "
        + ", ".join(map(str, numbers))
        for restriction, numbers in sorted(periods_lacking.items())
    )


def _merge_runs(
    periods: Sequence[ChargingPeriod], session_cuts: list[datetime]
) -> list[ChargingPeriod]:
    """Join neighbouring periods of the same state that no restriction boundary separates."""
    runs: list[ChargingPeriod] = []
    run_start: ChargingPeriod | None = None
    run_end: datetime | None = None
    run_energy = ZERO
    for period in periods:
        if run_start is not None:
            if (
                run_start.charging == period.charging
                and run_end == period.start
                and bisect_right(session_cuts, run_start.start)
                == bisect_left(session_cuts, period.end)
            ):
                run_end = period.end
                run_energy += period.energy_wh
                continue
            runs.append(run_start._replace(end=run_end, energy_wh=run_energy))
        run_start, run_end, run_energy = period, period.end, period.energy_wh
    if run_start is not None:
        runs.append(run_start._replace(end=run_end, energy_wh=run_energy))
    return runs


def _step_extra(total: Decimal, step_size: int) -> Decimal:
    """What rounding `total` up to whole steps adds; a step_size of 0 is one of 1."""
    step = step_size or 1
    if step == 1 and total == total.to_integral_value():
        return ZERO
    steps = (total / step).to_integral_value(rounding=ROUND_CEILING)
    return steps * step - total


class _DimensionSums:
    """A dimension's billed volume and its running amounts. Amounts are rounded as running
    sums, so each line is its share of the rounded total: the lines of a dimension always add
    up to the total, and the total only ever grows with the volume.

    The sums are kept exact, as the sum of price times volume (and of that times the VAT rate),
    and divided by the volume per priced unit (Wh per kWh, seconds per hour) only when rounded,
    so a total that is exactly a half is rounded up and never seen as just below it."""

    __slots__ = (
        "excl_vat",
        "per_priced_unit",
        "price_volume",
        "price_volume_rate",
        "vat",
        "volume",
    )

    def __init__(self, per_priced_unit: int) -> None:
        self.per_priced_unit = per_priced_unit
        self.volume = self.price_volume = self.price_volume_rate = self.excl_vat = self.vat = ZERO


class _LazySums(dict):
    """Sums per dimension, made when a dimension gets its first line."""

    def __missing__(self, dimension: Dimension) -> _DimensionSums:
        sums = self[dimension] = _DimensionSums(VOLUME_PER_PRICED_UNIT[dimension])
        return sums


def _line(
    dimension: Dimension,
    applied: tuple[int, PriceComponent],
    volume: Decimal,
    step_extra: Decimal,
    sums: _DimensionSums,
) -> PriceLine:
    index, component = applied
    billed = volume + step_extra
    sums.volume += billed
    price_volume = EXACT.multiply(component.price, billed)
    sums.price_volume = EXACT.add(sums.price_volume, price_volume)
    excl_vat = round_line_quotient(sums.price_volume, sums.per_priced_unit)
    excl_share, sums.excl_vat = excl_vat - sums.excl_vat, excl_vat
    vat_share = ZERO
    if component.vat_rate:
        sums.price_volume_rate = EXACT.add(
            sums.price_volume_rate, EXACT.multiply(price_volume, component.vat_rate)
        )
        vat = round_line_quotient(sums.price_volume_rate, sums.per_priced_unit * 100)
        vat_share, sums.vat = vat - sums.vat, vat
    return PriceLine(
        dimension,
        volume,
        step_extra,
        component.price,
        component.vat_rate,
        excl_share,
        vat_share,
        index,
    )


def _rounding(
    indexes: list[int], volumes: Sequence[Decimal], applied: list
) -> tuple[int | None, Decimal]:
    """Where the session's step rounding is billed (the last of `indexes`), and how much."""
    if not indexes:
        return None, ZERO
    last = indexes[-1]
    total = sum((volumes[i] for i in indexes), ZERO).quantize(MICRO)
    return last, _step_extra(total, applied[last][1].step_size)


def price_session(
    *, terms: TariffTerms, periods: Sequence[ChargingPeriod], zone: ZoneInfo
) -> PriceBreakdown:
    """Price a session's periods with `terms`; `zone` is where time restrictions are read."""
    return _price(terms, _compiled(terms), periods, zone)


def price_meter_values(
    *,
    terms: TariffTerms,
    started_at: datetime,
    ended_at: datetime,
    meter_start_wh: int,
    meter_stop_wh: int,
    samples: Iterable[MeterSample],
    zone: ZoneInfo,
    idle_power_w: int = IDLE_POWER_W,
) -> PriceBreakdown:
    """Price a session from its register readings. The result is that of `price_session` on
    `charging_periods_from_meter_values`; readings between which no restriction can switch are
    joined as they are read instead of becoming periods first."""
    compiled = _compiled(terms)
    if not compiled.merges_runs:
        periods = charging_periods_from_meter_values(
            started_at=started_at,
            ended_at=ended_at,
            meter_start_wh=meter_start_wh,
            meter_stop_wh=meter_stop_wh,
            samples=samples,
            idle_power_w=idle_power_w,
        )
        return _price(terms, compiled, periods, zone)
    cuts = _session_cuts(started_at, ended_at, compiled, zone)
    runs: list[ChargingPeriod] = []
    run_start, run_energy, run_charging = started_at, 0, None
    run_limit = cuts[0] if cuts else None
    start, start_wh = started_at, meter_start_wh
    readings = [sample for sample in sorted(samples) if started_at < sample[0] < ended_at]
    readings.append((ended_at, meter_stop_wh))
    for end, end_wh, *_ in readings:
        if end <= start:
            continue
        delta = end - start
        microseconds = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        energy = end_wh - start_wh
        charging = energy * 3_600_000_000 >= idle_power_w * microseconds
        if run_charging is not None and (
            charging != run_charging or (run_limit is not None and end > run_limit)
        ):
            runs.append(ChargingPeriod(run_start, start, Decimal(run_energy), run_charging))
            run_start, run_energy = start, 0
            position = bisect_right(cuts, run_start)
            run_limit = cuts[position] if position < len(cuts) else None
        run_charging = charging
        run_energy += energy
        start, start_wh = end, end_wh
    if run_charging is not None:
        runs.append(ChargingPeriod(run_start, start, Decimal(run_energy), run_charging))
    return _price(terms, compiled, runs, zone, cuts, runs_merged=True)


def _price(
    terms: TariffTerms,
    compiled: _CompiledTerms,
    periods: Sequence[ChargingPeriod],
    zone: ZoneInfo,
    session_cuts: list[datetime] | None = None,
    *,
    runs_merged: bool = False,
) -> PriceBreakdown:
    merged, unknown_restrictions = (
        _periods(periods, compiled, zone, session_cuts, runs_merged) if periods else ([], ())
    )
    billable: list[Decimal] = []
    priced_energy: list[int] = []
    priced_parking: list[int] = []
    priced_time: list[int] = []
    energy_total = charging_seconds = parked_seconds = ZERO
    grace_left = Decimal(terms.parking_grace_seconds)
    for index, period in enumerate(merged):
        seconds = _seconds(period.end - period.start)
        energy_total += period.energy_wh
        if period.energy is not None and period.energy_wh > 0:
            priced_energy.append(index)
        if period.charging:
            charging_seconds += seconds
            if period.time_like is not None:
                priced_time.append(index)
        else:
            parked_seconds += seconds
            if period.time_like is not None:
                if grace_left:
                    waived = min(grace_left, seconds)
                    grace_left -= waived
                    seconds -= waived
                if seconds > 0:
                    priced_parking.append(index)
        billable.append(seconds)
    energy_extra_at, energy_extra = _rounding(
        priced_energy, [period.energy_wh for period in merged], [p.energy for p in merged]
    )
    time_extra_at, time_extra = _rounding(
        priced_parking or priced_time, billable, [period.time_like for period in merged]
    )

    sums = _LazySums()
    flat_charged = False
    priced_periods = []
    for index, period in enumerate(merged):
        lines = []
        if period.flat is not None and not flat_charged:
            lines.append(_line(Dimension.FLAT, period.flat, ONE, ZERO, sums[Dimension.FLAT]))
            flat_charged = True
        if period.energy is not None and period.energy_wh > 0:
            extra = energy_extra if index == energy_extra_at else ZERO
            lines.append(
                _line(
                    Dimension.ENERGY, period.energy, period.energy_wh, extra, sums[Dimension.ENERGY]
                )
            )
        if period.time_like is not None:
            dimension = Dimension.TIME if period.charging else Dimension.PARKING_TIME
            extra = time_extra if index == time_extra_at else ZERO
            lines.append(
                _line(dimension, period.time_like, billable[index], extra, sums[dimension])
            )
        priced_periods.append(
            PricedPeriod(period.start, period.end, period.charging, period.energy_wh, tuple(lines))
        )

    volumes = {
        Dimension.ENERGY: energy_total / WH_PER_KWH,
        Dimension.TIME: _four(charging_seconds / SECONDS_PER_HOUR),
        Dimension.PARKING_TIME: _four(parked_seconds / SECONDS_PER_HOUR),
        Dimension.FLAT: sums[Dimension.FLAT].volume if Dimension.FLAT in sums else ZERO,
    }
    dimensions = {
        dimension: DimensionTotal(volumes[dimension], ZERO, ZERO)
        if (bucket := sums.get(dimension)) is None
        else DimensionTotal(volumes[dimension], bucket.excl_vat, bucket.vat)
        for dimension in DIMENSIONS
    }
    return _limited(terms, tuple(priced_periods), dimensions, unknown_restrictions)


def _limited(
    terms: TariffTerms,
    periods: tuple[PricedPeriod, ...],
    dimensions: dict,
    unknown_restrictions: tuple[str, ...],
) -> PriceBreakdown:
    """The breakdown with its totals clamped by the tariff's min and max price, then rounded."""
    lines_excl = sum((total.excl_vat for total in dimensions.values()), ZERO)
    lines_vat = sum((total.vat for total in dimensions.values()), ZERO)
    excl = lines_excl
    incl = lines_excl + lines_vat
    if terms.min_price is not None:
        excl = max(excl, terms.min_price.excl_vat)
        if terms.min_price.incl_vat is not None:
            incl = max(incl, terms.min_price.incl_vat)
        else:
            incl += excl - lines_excl
    if terms.max_price is not None:
        excl = min(excl, terms.max_price.excl_vat)
        incl = min(incl, terms.max_price.incl_vat if terms.max_price.incl_vat is not None else incl)
    incl = max(incl, excl)
    return PriceBreakdown(
        currency=terms.currency,
        periods=periods,
        dimensions=dimensions,
        lines_excl_vat=lines_excl,
        lines_vat=lines_vat,
        price_limit_adjustment=Price(
            excl_vat=excl - lines_excl, incl_vat=incl - (lines_excl + lines_vat)
        ),
        total_excl_vat=round_money(excl, terms.currency),
        total_incl_vat=round_money(incl, terms.currency),
        unknown_restrictions=unknown_restrictions,
    )


def split_period(period: ChargingPeriod, at: datetime) -> tuple[ChargingPeriod, ChargingPeriod]:
    """Two periods that together are `period`, cut at `at` with energy shared by time."""
    share = _seconds(at - period.start) / period.seconds
    first_energy = (period.energy_wh * share).quantize(MICRO)
    return (
        period._replace(end=at, energy_wh=first_energy),
        period._replace(start=at, energy_wh=period.energy_wh - first_energy),
    )
