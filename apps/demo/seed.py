"""Seed data: the `demo` fleet for trying Voltop locally, and large `load-N` fleets for benchmarks.

Both builders write rows in bulk rather than through the services, because the services lock and
check one row at a time; the rows are valid by construction instead (real EV specifications,
ISO 3779 VINs, IBANs with their checksum, non-overlapping assignments, meter registers that only
rise), and tests/demo/test_seed_demo.py proves it with `full_clean()` and the constraints.
Everything random comes from a seeded `random.Random`, and time from one anchor: midnight today
in the fleet's zone, so a rebuild on the same day makes the same data.

Prices are the exception where it is affordable: the demo fleet's tariffs are published, its home
claims reviewed and its sessions priced through the charging services, as the app does it. Load
fleets, too large for that, are written with their prices, which the pricing engine computes
once per distinct energy (their tariff prices energy alone); tests prove these prices are what
`charging_session_price` gives.
"""

import calendar
import itertools
import logging
import math
import random
import time
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.test.utils import override_settings
from django.utils import timezone

from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    StationStatus,
    UnpricedReason,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.pricing import (
    ChargingPeriod,
    Dimension,
    TariffTerms,
    price_session,
)
from apps.charging.selectors import home_rate_terms, tariff_terms_of_version
from apps.charging.services import (
    charging_day_totals_deferred,
    charging_session_price,
    home_session_review,
    tariff_publish,
)
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.chart_of_accounts import SKR03_RATE_ACCOUNTS, RateAccounts
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, Membership, VatRateAccounts
from apps.payments.choices import BillingRunStatus, PaymentMethod
from apps.payments.models import BillingRun, CreditNote, Invoice, Payment, Reimbursement
from apps.payments.periods import BillingPeriod, billing_period_last_ended, billing_period_of_day
from apps.payments.services import (
    billing_run_advance,
    billing_run_finalize,
    billing_run_plan,
    billing_run_start,
    credit_note_issue,
    payment_record,
    reimbursement_decide,
)
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from voltop.core.errors import DomainError
from voltop.core.logins import login_emails_check
from voltop.core.money import round_money

logger = logging.getLogger(__name__)

DEMO_FLEET_SLUG = "demo"
DEMO_PASSWORD = "voltop-demo"  # noqa: S105 - the documented password of the local demo logins
DEMO_EMAIL_DOMAIN = "demo.voltop.example"
DEMO_MANAGER_EMAIL = f"manager@{DEMO_EMAIL_DOMAIN}"
DEMO_FINANCE_EMAIL = f"finance@{DEMO_EMAIL_DOMAIN}"
DEMO_RANDOM_SEED = 20_240_611
LOAD_FLEET_SLUG_PREFIX = "load-"
SESSIONS_PER_LOAD_DRIVER = 100
LOAD_DRIVERS_PER_DEPOT_CONNECTOR = 3
SEED_MONTHS = 3
FLEET_TIME_ZONE = "Europe/Amsterdam"

PRICE_CURRENCY = "EUR"
PRICE_VAT_RATE = Decimal("21.00")
PUBLIC_PRICE_PER_KWH_INCL_VAT = Decimal("0.59")
LOAD_HOME_RATE_PER_KWH = Decimal("0.25000")
HOME_CLAIMS_PENDING_DAYS = 14

_BATCH_SIZE = 2_000
_SESSION_CHUNK = 25_000


class DemoPasswordOutsideDebug(DomainError):
    code = "demo.password_outside_debug"


class InvalidSeedSize(DomainError):
    code = "demo.invalid_seed_size"


@dataclass(frozen=True)
class DemoLogin:
    """A login of the demo fleet, shown after seeding so a person can try each role."""

    role: str
    username: str


@dataclass(frozen=True)
class SeedReport:
    """What a seed run made: rows per model, the fleets it built or skipped, and its duration."""

    rows_created: dict[str, int]
    fleets_created: tuple[str, ...]
    fleets_skipped: tuple[str, ...]
    seconds: float
    logins: tuple[DemoLogin, ...] = ()
    password: str = ""


@dataclass(frozen=True)
class EvModel:
    """A production EV: usable battery and charging limits as published, VIN prefix parts."""

    make: str
    model: str
    usable_battery_kwh: str
    max_ac_kw: str
    max_dc_kw: str
    consumption_wh_per_km: int
    first_model_year: int
    world_manufacturer_id: str
    descriptor: str
    plant: str
    inlets: tuple[str, ...] = (ConnectorStandard.IEC_62196_T2, ConnectorStandard.IEC_62196_T2_COMBO)

    @property
    def battery_wh(self) -> int:
        return int(Decimal(self.usable_battery_kwh) * 1000)

    @property
    def ac_power_w(self) -> int:
        return int(Decimal(self.max_ac_kw) * 1000)

    @property
    def dc_power_w(self) -> int:
        return int(Decimal(self.max_dc_kw) * 1000)


EV_MODELS: dict[str, EvModel] = {
    "id4": EvModel(
        "Volkswagen", "ID.4 Pro", "77.0", "11.0", "135.0", 185, 2021, "WVG", "ZZZE2", "Z"
    ),
    "model3": EvModel(
        "Tesla", "Model 3 Long Range", "75.0", "11.0", "250.0", 150, 2021, "LRW", "3E7EL", "C"
    ),
    "modely": EvModel(
        "Tesla", "Model Y Long Range", "75.0", "11.0", "250.0", 165, 2022, "XP7", "YGCEL", "B"
    ),
    "ev6": EvModel(
        "Kia", "EV6 Long Range", "74.0", "11.0", "233.0", 170, 2022, "KNA", "C3815", "5"
    ),
    "megane": EvModel(
        "Renault", "Megane E-Tech EV60", "60.0", "22.0", "130.0", 160, 2022, "VF1", "RCB00", "D"
    ),
    "ioniq5": EvModel(
        "Hyundai", "Ioniq 5 77 kWh", "74.0", "11.0", "233.0", 175, 2022, "KMH", "KM81C", "U"
    ),
    "enyaq": EvModel("Skoda", "Enyaq 80", "77.0", "11.0", "135.0", 180, 2021, "TMB", "JC9NY", "M"),
    "polestar2": EvModel(
        "Polestar",
        "2 Long Range Single Motor",
        "75.0",
        "11.0",
        "155.0",
        180,
        2021,
        "LPS",
        "ED3KA",
        "L",
    ),
    "i4": EvModel("BMW", "i4 eDrive40", "80.7", "11.0", "205.0", 165, 2022, "WBY", "71AW0", "N"),
    "e208": EvModel("Peugeot", "e-208", "46.3", "7.4", "100.0", 155, 2021, "VR3", "UHZKX", "W"),
    "leaf": EvModel(
        "Nissan",
        "Leaf 40 kWh",
        "39.0",
        "6.6",
        "50.0",
        165,
        2021,
        "SJN",
        "FAAZE",
        "S",
        inlets=(ConnectorStandard.IEC_62196_T2, ConnectorStandard.CHADEMO),
    ),
    "niro": EvModel(
        "Kia", "Niro EV 64.8 kWh", "64.8", "11.0", "72.0", 160, 2022, "KNA", "CC81G", "7"
    ),
}


@dataclass(frozen=True)
class ChargerModel:
    """A charging station product: vendor, model, firmware and its outlets (standard, type, kW)."""

    vendor: str
    model: str
    firmware_version: str
    serial_prefix: str
    outlets: tuple[tuple[str, str, str], ...]


_T2 = ConnectorStandard.IEC_62196_T2
_CCS2 = ConnectorStandard.IEC_62196_T2_COMBO
_AC3 = PowerType.AC_3_PHASE

CHARGER_MODELS: dict[str, ChargerModel] = {
    "alfen_double": ChargerModel(
        "Alfen", "Eve Double Pro-line", "6.5.1-4269", "ACE", ((_T2, _AC3, "22.0"),) * 2
    ),
    "alfen_single": ChargerModel(
        "Alfen", "Eve Single S-line", "6.5.1-4269", "ACE", ((_T2, _AC3, "11.0"),)
    ),
    "abb_terra_ac": ChargerModel(
        "ABB", "Terra AC W22-T-RD-M-0", "1.7.3", "TACW", ((_T2, _AC3, "22.0"),)
    ),
    "abb_terra_54": ChargerModel(
        "ABB",
        "Terra 54 CJG",
        "1.8.36",
        "T54",
        (
            (_CCS2, PowerType.DC, "50.0"),
            (ConnectorStandard.CHADEMO, PowerType.DC, "50.0"),
            (_T2, _AC3, "43.0"),
        ),
    ),
    "kempower_satellite": ChargerModel(
        "Kempower", "S-Series Satellite", "1.24.2", "KP", ((_CCS2, PowerType.DC, "150.0"),)
    ),
    "zaptec_go": ChargerModel("Zaptec", "Go", "2.3.1.1", "ZAP", ((_T2, _AC3, "22.0"),)),
}

FIRST_NAMES = (
    "Sanne", "Daan", "Lotte", "Bram", "Fleur", "Jeroen", "Anouk", "Thijs", "Eva", "Ruben",
    "Femke", "Lars", "Iris", "Sem", "Noor", "Joost", "Maaike", "Pieter", "Lieke", "Niels",
    "Esther", "Wouter", "Mirjam", "Bas", "Ilse", "Koen", "Floor", "Martijn", "Roos", "Stijn",
)  # fmt: skip
LAST_NAMES = (
    "de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden",
    "Kok", "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "van der Veen", "van Dijk",
)  # fmt: skip
DUTCH_BANK_CODES = ("ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ")


# Identifiers ------------------------------------------------------------------------------------

_VIN_VALUES = {
    **{digit: int(digit) for digit in "0123456789"},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY"
_VIN_YEAR_CODE_FROM = 2010
_VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_LOAD_VIN_PLANT = "9"
_PLATE_LETTERS = "BDFGHJKLNPRSTVXZ"
_PLATE_BANNED = ("SS", "SD", "PKK", "NSB", "KKK", "GVD", "TBS", "VVD", "PVV")


def vin_build(*, ev: EvModel, descriptor: str, model_year: int, plant: str, serial: int) -> str:
    """An ISO 3779 VIN: maker, descriptor, check digit (as North America computes it), model
    year code, plant and a six-digit serial; it never holds I, O or Q."""
    year_code = _VIN_YEAR_CODES[model_year - _VIN_YEAR_CODE_FROM]
    body = f"{ev.world_manufacturer_id}{descriptor}0{year_code}{plant}{serial:06d}"
    total = sum(_VIN_VALUES[char] * weight for char, weight in zip(body, _VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return f"{body[:8]}{check}{body[9:]}"


def _base33(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, len(_VIN_ALPHABET))
        digits.append(_VIN_ALPHABET[remainder])
    return "".join(reversed(digits))


def dutch_plate_series(rng: random.Random) -> Iterator[str]:
    """Distinct Dutch licence plates of side code 10 (XXX-99-X), in a random order."""
    seen: set[str] = set()
    while True:
        letters = "".join(rng.choice(_PLATE_LETTERS) for _ in range(4))
        plate = f"{letters[:3]}-{rng.randint(1, 99):02d}-{letters[3]}"
        if plate in seen or any(banned in letters for banned in _PLATE_BANNED):
            continue
        seen.add(plate)
        yield plate


def dutch_iban(*, bank_code: str, account_number: str) -> str:
    """The Dutch IBAN of a ten-digit account at `bank_code`, with its ISO 7064 mod-97 check."""
    digits = "".join(str(int(char, 36)) for char in f"{bank_code}{account_number}NL00")
    return f"NL{98 - int(digits) % 97:02d}{bank_code}{account_number}"


def dutch_account_number(rng: random.Random) -> str:
    """A ten-digit account number that passes the old Dutch eleven test, as real ones do."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        remainder = -sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if remainder < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(remainder)


def _seeded_random(seed: int | str) -> random.Random:
    """A generator that makes the same data for the same seed; seed data is not secret."""
    return random.Random(seed)  # noqa: S311 - reproducible data, not cryptography


def _rfid_uid(prefix: str, number: int) -> str:
    return f"{prefix}{number:012X}"


# Time -------------------------------------------------------------------------------------------


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def seed_window(zone: zoneinfo.ZoneInfo, *, now: datetime) -> tuple[datetime, datetime]:
    """Three calendar months up to midnight of `now`'s day in `zone`, as (start, anchor) in UTC.
    The start is the same day of the month three months back, or that month's last day where it
    is shorter (29 February and 31 May both go back to the end of November)."""
    today = now.astimezone(zone).date()
    start_day = _months_before(today, SEED_MONTHS)
    return _at(start_day, clock(0), zone), _at(today, clock(0), zone)


def _at(day: date, wall_clock: clock, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, wall_clock, tzinfo=zone).astimezone(UTC)


def _minutes(value: float) -> timedelta:
    """`value` minutes, to the whole second as chargers report time."""
    return timedelta(seconds=round(value * 60))


# Charging physics -------------------------------------------------------------------------------

_CHARGE_STEP = timedelta(minutes=5)
_STEPS_PER_SAMPLE = 3


@dataclass(frozen=True)
class ChargeCurve:
    """A simulated charge: its end, energy and samples (moment, Wh since start, W, SoC %)."""

    ended_at: datetime
    energy_wh: int
    samples: tuple[tuple[datetime, int, int, int], ...]


def charge_power_w(*, state_of_charge: float, max_power_w: int, direct_current: bool) -> int:
    """Power a battery takes at `state_of_charge` (0…1): AC flat, DC tapering above half full."""
    if not direct_current or state_of_charge < 0.5:
        return max_power_w
    return int(max_power_w * max(0.25, 1 - (state_of_charge - 0.5) * 2.2))


def charge_simulate(
    *,
    started_at: datetime,
    latest_end: datetime,
    battery_wh: int,
    level_wh: float,
    target_wh: float,
    max_power_w: int,
    direct_current: bool,
) -> ChargeCurve:
    """Charge from `level_wh` towards `target_wh` in five-minute steps, sampled every 15 minutes.

    AC sessions stay plugged in until `latest_end`; DC sessions end when the target is reached.
    The energy never exceeds what the battery can take (`target_wh` is at most `battery_wh`).
    """
    samples: list[tuple[datetime, int, int, int]] = []
    delivered = 0.0
    moment = started_at
    step = 0
    while moment < latest_end:
        level = level_wh + delivered
        power = (
            charge_power_w(
                state_of_charge=level / battery_wh,
                max_power_w=max_power_w,
                direct_current=direct_current,
            )
            if level < target_wh - 1
            else 0
        )
        if step % _STEPS_PER_SAMPLE == 0:
            samples.append((moment, round(delivered), power, round(100 * level / battery_wh)))
        if direct_current and power == 0:
            break
        step_end = min(moment + _CHARGE_STEP, latest_end)
        gained = power * (step_end - moment).total_seconds() / 3600
        delivered = min(delivered + gained, target_wh - level_wh)
        moment = step_end
        step += 1
    energy_wh = round(delivered)
    if samples[-1][0] != moment:
        samples.append((moment, energy_wh, 0, round(100 * (level_wh + delivered) / battery_wh)))
    return ChargeCurve(ended_at=moment, energy_wh=energy_wh, samples=tuple(samples))


# Prices -----------------------------------------------------------------------------------------

_WH_PER_KWH = Decimal(1000)
_PERCENT = Decimal(100)


def provider_cost(energy_wh: int) -> tuple[Decimal, Decimal, Decimal]:
    """What a public charging provider bills for `energy_wh` at PUBLIC_PRICE_PER_KWH_INCL_VAT:
    (excl. VAT, VAT, incl. VAT), the totals to the cent and the VAT their difference."""
    incl = round_money(PUBLIC_PRICE_PER_KWH_INCL_VAT * energy_wh / _WH_PER_KWH, PRICE_CURRENCY)
    excl = round_money(incl * _PERCENT / (_PERCENT + PRICE_VAT_RATE), PRICE_CURRENCY)
    return excl, incl - excl, incl


def _tariff_create(fleet: Fleet, elements: list[dict], **fields) -> Tariff:
    """A tariff in the fleet's currency with its elements, in the order given."""
    tariff = Tariff.objects.create(fleet=fleet, currency=PRICE_CURRENCY, **fields)
    TariffElement.objects.bulk_create(
        [
            TariffElement(tariff=tariff, position=position, **element)
            for position, element in enumerate(elements)
        ]
    )
    return tariff


class _EnergyPrices:
    """The engine's price of a session under terms that price energy alone, by its energy.

    With no restriction and no FLAT, TIME or PARKING_TIME component, `price_session` gives the
    same totals for any cut of a session into periods with the same energy, so each energy is
    priced once, as one charging period, and looked up after.
    """

    def __init__(self, terms: TariffTerms, zone: zoneinfo.ZoneInfo) -> None:
        if not all(
            element.restrictions is None
            and all(component.dimension is Dimension.ENERGY for component in element.components)
            for element in terms.elements
        ):
            raise ValueError("Only terms that price energy alone can be priced by energy.")
        self.terms = terms
        self.zone = zone
        self._prices: dict[int, tuple[Decimal, Decimal, Decimal]] = {}

    def price(self, energy_wh: int) -> tuple[Decimal, Decimal, Decimal]:
        """(excl. VAT, VAT, incl. VAT) of a session that took `energy_wh`."""
        prices = self._prices.get(energy_wh)
        if prices is None:
            start = datetime(2000, 1, 1, tzinfo=UTC)
            breakdown = price_session(
                terms=self.terms,
                periods=(
                    ChargingPeriod(start, start + timedelta(hours=1), Decimal(energy_wh), True),
                ),
                zone=self.zone,
            )
            prices = (breakdown.total_excl_vat, breakdown.total_vat, breakdown.total_incl_vat)
            self._prices[energy_wh] = prices
        return prices


# Writing rows -----------------------------------------------------------------------------------


def _model_counts(rows: dict[type[models.Model], int]) -> dict[str, int]:
    return {model.__name__: count for model, count in rows.items()}


def _bulk_create(objects: list[models.Model]) -> list[models.Model]:
    if objects:
        type(objects[0]).objects.bulk_create(objects, batch_size=_BATCH_SIZE)
    return objects


# The Dutch rate in SKR03's terms: revenue on 8200 (not an automatic account, so no tax key),
# VAT payable on 1770 and input VAT on 1570, the general VAT accounts.
DEMO_RATE_ACCOUNTS = RateAccounts(PRICE_VAT_RATE, "8200", "", "1770", "1570", "")
# DATEV's own sample consultant and client, which its test installations know.
DEMO_DATEV_CONSULTANT_NUMBER = 29098
DEMO_DATEV_CLIENT_NUMBER = 55003


def _fleet_create(*, name: str, slug: str, legal_name: str, vat_id: str) -> Fleet:
    """A Dutch fleet with all its invoices need (legal name, address, VAT id and account) and
    what its journal and DATEV file need: ledger accounts for its rate of 21 % besides SKR03's
    for 19 %, 7 % and 0 %, and DATEV consultant and client numbers."""
    fleet = Fleet.objects.create(
        name=name,
        slug=slug,
        currency="EUR",
        time_zone=FLEET_TIME_ZONE,
        country="NL",
        default_vat_rate=Decimal("21.00"),
        legal_name=legal_name,
        street="Stationsplein 45",
        postal_code="3013 AK",
        city="Rotterdam",
        vat_id=vat_id,
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        datev_consultant_number=DEMO_DATEV_CONSULTANT_NUMBER,
        datev_client_number=DEMO_DATEV_CLIENT_NUMBER,
    )
    VatRateAccounts.objects.bulk_create(
        VatRateAccounts(fleet=fleet, **rate_accounts._asdict())
        for rate_accounts in (DEMO_RATE_ACCOUNTS, *SKR03_RATE_ACCOUNTS)
    )
    return fleet


# Where the drivers live: (street, postal code, city); a driver's house number follows their
# place in the list, so the addresses take nothing from the seeded random numbers.
_DRIVER_STREETS = (
    ("Prinsengracht", "1015 DX", "Amsterdam"),
    ("Oudegracht", "3511 AR", "Utrecht"),
    ("Grote Markt", "2011 RD", "Haarlem"),
    ("Kerkstraat", "3811 CV", "Amersfoort"),
    ("Langestraat", "1211 GZ", "Hilversum"),
    ("Dorpsstraat", "1182 JE", "Amstelveen"),
    ("Nieuwstraat", "1381 BB", "Weesp"),
    ("Zeestraat", "2042 LB", "Zandvoort"),
)


def _driver_address(index: int) -> dict[str, str]:
    street, postal_code, city = _DRIVER_STREETS[index % len(_DRIVER_STREETS)]
    return {
        "street": f"{street} {index * 7 % 180 + 1}",
        "postal_code": postal_code,
        "city": city,
        "country": "NL",
    }


# The demo fleet ---------------------------------------------------------------------------------

_DEMO_DEPOTS = (
    ("Depot Amsterdam Westpoort", "Hornweg 12\n1045 AR Amsterdam", Decimal("250.0")),
    ("Depot Utrecht Lage Weide", "Atoomweg 50\n3542 AB Utrecht", Decimal("150.0")),
)
_DEMO_COST_CENTERS = (
    ("AMS-OPS", "Operations Amsterdam"),
    ("UTR-OPS", "Operations Utrecht"),
    ("SALES", "Sales"),
    ("SERVICE", "Field service"),
    ("MGMT", "Management"),
)
_DEMO_VEHICLES = (
    ("id4", 0), ("model3", 0), ("id4", 0), ("ev6", 0), ("enyaq", 0), ("ioniq5", 0),
    ("modely", 0), ("polestar2", 0), ("i4", 0), ("e208", 0), ("megane", 0), ("model3", 0),
    ("id4", 1), ("leaf", 1), ("ev6", 1), ("enyaq", 1), ("ioniq5", 1), ("niro", 1),
    ("e208", 1), ("modely", 1),
)  # fmt: skip
_DEMO_HANDOVER_VEHICLES = (4, 8, 10, 14, 16, 18)
_DEMO_DRIVER_COUNT = 30
_DEMO_LEFT_DRIVER = 20
_DEMO_SUSPENDED_DRIVER = 29
_DEMO_STATIONS = (
    ("AMS-01", 0, "alfen_double"),
    ("AMS-02", 0, "alfen_double"),
    ("AMS-03", 0, "alfen_double"),
    ("AMS-04", 0, "abb_terra_ac"),
    ("AMS-05", 0, "kempower_satellite"),
    ("UTR-01", 1, "alfen_double"),
    ("UTR-02", 1, "alfen_double"),
    ("UTR-03", 1, "abb_terra_54"),
    ("HOME-01", None, "alfen_single"),
    ("HOME-02", None, "zaptec_go"),
)
_DEMO_HOME_STATION_VEHICLES = {"HOME-01": 0, "HOME-02": 1}
_STATION_IDENTITY_PREFIX = "VT-DEMO-"


@dataclass
class _DemoDriver:
    """A demo driver and the habits the simulation follows for them."""

    driver: Driver
    token: ChargeToken
    commute_km: int
    charges_at_home: bool
    home_power_w: int
    target_percent: int


@dataclass
class _Stint:
    """A driver's time with a vehicle: [starts_at, ends_at)."""

    person: _DemoDriver
    starts_at: datetime
    ends_at: datetime | None


@dataclass
class _DemoCar:
    """A demo vehicle while the three months are simulated: battery, odometer and drivers."""

    vehicle: Vehicle
    ev: EvModel
    depot_connectors: list[Connector]
    home_connector: Connector | None
    stints: list[_Stint]
    level_wh: float
    odometer_km: float
    free_at: datetime

    def person_at(self, moment: datetime) -> _DemoDriver | None:
        for stint in self.stints:
            if stint.starts_at <= moment and (stint.ends_at is None or moment < stint.ends_at):
                return stint.person
        return None


@dataclass
class _PlannedSession:
    """A charging session the simulation decided on, before its meter readings are numbered."""

    person: _DemoDriver
    vehicle: Vehicle
    connector: Connector | None
    location_kind: str
    purpose: str
    source: str
    curve: ChargeCurve
    started_at: datetime
    direct_current: bool = False
    meter_start_wh: int | None = None
    external_id: str = ""


@dataclass
class _DemoSimulation:
    """Three months of driving and charging of the demo fleet, one day at a time."""

    rng: random.Random
    zone: zoneinfo.ZoneInfo
    anchor: datetime
    sessions: list[_PlannedSession] = field(default_factory=list)
    odometer: dict[int, dict[datetime, int]] = field(default_factory=lambda: defaultdict(dict))
    busy: dict[tuple[str, int], list[tuple[datetime, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def run(self, cars: list[_DemoCar], first_day: date, last_day: date) -> None:
        """Simulate every day from `first_day` up to, not including, `last_day`."""
        for car in cars:
            self._record_odometer(car, _at(first_day, clock(7, 0), self.zone))
        for offset in range((last_day - first_day).days):
            day = first_day + timedelta(days=offset)
            day_start = _at(day, clock(0), self.zone)
            for key, taken in self.busy.items():
                self.busy[key] = [(start, end) for start, end in taken if end > day_start]
            for car in cars:
                self._day(car, day)

    def _record_odometer(self, car: _DemoCar, moment: datetime) -> None:
        self.odometer[car.vehicle.pk][moment] = int(car.odometer_km)

    def _day(self, car: _DemoCar, day: date) -> None:
        """A working day (commute, depot, sometimes a long trip) or a weekend day, then the
        evening; odometer readings on Monday mornings and at handovers."""
        rng = self.rng
        morning = _at(day, clock(7, 0), self.zone)
        if day.weekday() == 0:
            self._record_odometer(car, morning)
        for stint in car.stints[1:]:
            if stint.starts_at.astimezone(self.zone).date() == day:
                self._record_odometer(car, stint.starts_at)
        person = car.person_at(_at(day, clock(8, 0), self.zone))
        if person is None:
            return
        season = 1.25 if day.month in (12, 1, 2) else 1.1 if day.month in (3, 11) else 1.0
        working_day = day.weekday() < 5
        purpose = SessionPurpose.BUSINESS if working_day else SessionPurpose.PRIVATE
        depart = max(morning + _minutes(15 + rng.uniform(0, 60)), car.free_at)
        if working_day and rng.random() < 0.06:
            arrival = self._drive(car, rng.randint(240, 420), depart, 85, season, person, purpose)
        elif working_day:
            arrival = self._drive(car, person.commute_km, depart, 45, season, person, purpose)
            plug_out = _at(day, clock(16, 0), self.zone) + _minutes(rng.uniform(0, 120))
            if rng.random() < 0.85:
                self._depot_charge(car, person, arrival + _minutes(rng.uniform(2, 10)), plug_out)
            evening = max(plug_out + _minutes(rng.uniform(0, 10)), car.free_at)
            business_km = person.commute_km + rng.randint(0, 80)
            arrival = self._drive(car, business_km, evening, 45, season, person, purpose)
        else:
            weekend_km = 0 if rng.random() < 0.35 else rng.randint(10, 90)
            if rng.random() < 0.08:
                weekend_km = rng.randint(180, 420)
            depart = max(_at(day, clock(10, 0), self.zone) + _minutes(rng.uniform(0, 120)), depart)
            arrival = self._drive(car, weekend_km, depart, 70, season, person, purpose)
        self._evening_charge(car, person, day, arrival, purpose)

    def _drive(
        self,
        car: _DemoCar,
        km: float,
        depart: datetime,
        speed_kmh: int,
        season: float,
        person: _DemoDriver,
        purpose: str,
    ) -> datetime:
        """Drive `km` from `depart`, fast-charging on the way whenever the battery would drop
        below its reserve; returns the arrival."""
        wh_per_km = car.ev.consumption_wh_per_km * season
        reserve_wh = 0.12 * car.ev.battery_wh
        moment = depart
        remaining = float(km)
        while remaining > 0:
            leg = min(remaining, max(0.0, (car.level_wh - reserve_wh) / wh_per_km))
            car.level_wh -= leg * wh_per_km
            car.odometer_km += leg
            remaining -= leg
            moment += _minutes(60 * leg / speed_kmh)
            if remaining > 0:
                moment = self._public_fast_charge(car, person, moment, purpose)
        car.free_at = max(car.free_at, moment)
        return moment

    def _plan(
        self,
        car: _DemoCar,
        person: _DemoDriver,
        *,
        connector: Connector | None,
        location_kind: str,
        purpose: str,
        source: str,
        started_at: datetime,
        latest_end: datetime,
        target_percent: int,
        max_power_w: int,
        direct_current: bool,
    ) -> _PlannedSession | None:
        """Charge `car` and record the session, unless the battery is near its target already
        or the session would end after the anchor."""
        target_wh = car.ev.battery_wh * target_percent / 100
        if car.level_wh >= target_wh - 1000 or not started_at < latest_end <= self.anchor:
            return None
        curve = charge_simulate(
            started_at=started_at,
            latest_end=latest_end,
            battery_wh=car.ev.battery_wh,
            level_wh=car.level_wh,
            target_wh=target_wh,
            max_power_w=max_power_w,
            direct_current=direct_current,
        )
        car.level_wh += curve.energy_wh
        car.free_at = curve.ended_at
        planned = _PlannedSession(
            person=person,
            vehicle=car.vehicle,
            connector=connector,
            location_kind=location_kind,
            purpose=purpose,
            source=source,
            curve=curve,
            started_at=started_at,
            direct_current=direct_current,
        )
        self.sessions.append(planned)
        return planned

    def _public_fast_charge(
        self, car: _DemoCar, person: _DemoDriver, arrival: datetime, purpose: str
    ) -> datetime:
        """Charge to 80 % at a public fast charger on the road; returns the departure. A charge
        that would end after the anchor is not recorded."""
        rng = self.rng
        started_at = arrival + _minutes(rng.uniform(2, 8))
        planned = self._plan(
            car,
            person,
            connector=None,
            location_kind=LocationKind.PUBLIC,
            purpose=purpose,
            source=SessionSource.IMPORT if rng.random() < 0.85 else SessionSource.MANUAL,
            started_at=started_at,
            latest_end=started_at + _minutes(60),
            target_percent=80,
            max_power_w=min(car.ev.dc_power_w, rng.choice((50_000, 150_000, 300_000))),
            direct_current=True,
        )
        if planned is None:
            car.level_wh = car.ev.battery_wh * 0.8
            return started_at + _minutes(40)
        return planned.curve.ended_at + _minutes(rng.uniform(1, 4))

    def _is_free(self, key: tuple[str, int], start: datetime, end: datetime) -> bool:
        return all(
            end <= taken_start or taken_end <= start for taken_start, taken_end in self.busy[key]
        )

    def _depot_charge(
        self, car: _DemoCar, person: _DemoDriver, started_at: datetime, plug_out: datetime
    ) -> None:
        """Plug in at the depot on a free connector that fits the car: DC first when the battery
        is low and the driver is in a hurry, else AC until `plug_out`."""
        rng = self.rng
        if car.level_wh > 0.85 * car.ev.battery_wh or started_at >= plug_out:
            return
        candidates = car.depot_connectors[:]
        rng.shuffle(candidates)
        wants_fast = car.level_wh < 0.3 * car.ev.battery_wh and rng.random() < 0.7
        for connector in sorted(
            candidates, key=lambda c: (c.power_type == PowerType.DC) != wants_fast
        ):
            direct_current = connector.power_type == PowerType.DC
            key = ("dc", connector.station_id) if direct_current else ("ac", connector.pk)
            latest_end = started_at + _minutes(75) if direct_current else plug_out
            if not self._is_free(key, started_at, latest_end):
                continue
            connector_w = int(connector.max_kw * 1000)
            vehicle_w = car.ev.dc_power_w if direct_current else car.ev.ac_power_w
            planned = self._plan(
                car,
                person,
                connector=connector,
                location_kind=LocationKind.DEPOT,
                purpose=SessionPurpose.BUSINESS,
                source=SessionSource.OCPP,
                started_at=started_at,
                latest_end=latest_end,
                target_percent=80 if direct_current else person.target_percent,
                max_power_w=min(connector_w, vehicle_w),
                direct_current=direct_current,
            )
            if planned is not None:
                self.busy[key].append((started_at, planned.curve.ended_at))
            return

    def _evening_charge(
        self, car: _DemoCar, person: _DemoDriver, day: date, arrival: datetime, purpose: str
    ) -> None:
        """Charge overnight: at home (on the fleet's wallbox or the driver's own) when the driver
        can; else, on most working days with the battery under half, at the depot, and failing
        that at a public street charger when the battery runs low."""
        rng = self.rng
        started_at = max(arrival, _at(day, clock(17, 30), self.zone)) + _minutes(rng.uniform(5, 40))
        plug_out = _at(day + timedelta(days=1), clock(6, 30), self.zone) + _minutes(
            rng.uniform(0, 40)
        )
        battery_wh = car.ev.battery_wh
        if person.charges_at_home:
            if car.level_wh > 0.55 * battery_wh and rng.random() > 0.2:
                return
            at_fleet_charger = car.home_connector is not None
            self._plan(
                car,
                person,
                connector=car.home_connector,
                location_kind=LocationKind.HOME,
                purpose=SessionPurpose.BUSINESS if rng.random() < 0.8 else SessionPurpose.PRIVATE,
                source=SessionSource.OCPP if at_fleet_charger else SessionSource.APP,
                started_at=started_at,
                latest_end=plug_out,
                target_percent=person.target_percent,
                max_power_w=min(
                    car.ev.ac_power_w,
                    int(car.home_connector.max_kw * 1000)
                    if at_fleet_charger
                    else person.home_power_w,
                ),
                direct_current=False,
            )
        else:
            overnight_at_depot = (
                day.weekday() < 5 and car.level_wh < 0.5 * battery_wh and rng.random() < 0.6
            )
            if overnight_at_depot and self._depot_overnight_charge(car, person, day, arrival):
                return
            if car.level_wh < 0.35 * battery_wh:
                self._plan(
                    car,
                    person,
                    connector=None,
                    location_kind=LocationKind.PUBLIC,
                    purpose=purpose,
                    source=SessionSource.IMPORT if rng.random() < 0.85 else SessionSource.MANUAL,
                    started_at=started_at,
                    latest_end=plug_out,
                    target_percent=90,
                    max_power_w=min(car.ev.ac_power_w, 11_000),
                    direct_current=False,
                )

    def _depot_overnight_charge(
        self, car: _DemoCar, person: _DemoDriver, day: date, arrival: datetime
    ) -> bool:
        """Leave the car at its depot for the night on a free AC charger. The depot's load
        management charges it off-peak, from 22:00, at just the power that fills it by about
        half an hour before the driver collects it in the morning (at least 6 A on one phase).
        Returns whether a connector was free."""
        rng = self.rng
        started_at = max(_at(day, clock(22, 0), self.zone), arrival + _minutes(20)) + _minutes(
            rng.uniform(5, 45)
        )
        plug_out = _at(day + timedelta(days=1), clock(6, 30), self.zone) + _minutes(
            rng.uniform(0, 40)
        )
        if plug_out - started_at < timedelta(hours=4):
            return False
        fast_stations = {c.station_id for c in car.depot_connectors if c.power_type == PowerType.DC}
        candidates = [c for c in car.depot_connectors if c.station_id not in fast_stations]
        rng.shuffle(candidates)
        for connector in candidates:
            key = ("ac", connector.pk)
            if not self._is_free(key, started_at, plug_out):
                continue
            needed_wh = car.ev.battery_wh * person.target_percent / 100 - car.level_wh
            charging_seconds = (plug_out - started_at - timedelta(minutes=30)).total_seconds()
            power_w = min(
                int(connector.max_kw * 1000),
                car.ev.ac_power_w,
                max(1_400, math.ceil(needed_wh * 3600 / charging_seconds)),
            )
            planned = self._plan(
                car,
                person,
                connector=connector,
                location_kind=LocationKind.DEPOT,
                purpose=SessionPurpose.BUSINESS,
                source=SessionSource.OCPP,
                started_at=started_at,
                latest_end=plug_out,
                target_percent=person.target_percent,
                max_power_w=power_w,
                direct_current=False,
            )
            if planned is None:
                return False
            self.busy[key].append((started_at, planned.curve.ended_at))
            return True
        return False


def _demo_guard() -> None:
    """Refuse to make logins with the published demo password outside DEBUG."""
    if not settings.DEBUG:
        raise DemoPasswordOutsideDebug(
            f"The demo fleet's logins share the published password '{DEMO_PASSWORD}'; "
            "build it with DEBUG=true only, on a machine of your own.",
            field="DEBUG",
        )


def demo_fleet_seed() -> SeedReport:
    """Build the `demo` fleet once: depots, vehicles, drivers with logins, stations and three
    months of charging up to today. If it exists already, nothing changes.

    The fleet's logins share the password DEMO_PASSWORD, so this runs with DEBUG on only.
    """
    _demo_guard()
    started = time.perf_counter()
    logins = (
        DemoLogin("fleet manager", DEMO_MANAGER_EMAIL),
        DemoLogin("finance", DEMO_FINANCE_EMAIL),
    )
    with transaction.atomic():
        present = Fleet.objects.filter(slug=DEMO_FLEET_SLUG).exists()
        rows = {} if present else _demo_fleet_build()
        driver_login = (
            Driver.objects.filter(
                fleet__slug=DEMO_FLEET_SLUG,
                status=DriverStatus.ACTIVE,
                user__is_active=True,
                assignments__ends_at__isnull=True,
            )
            .order_by("employee_number")
            .values_list("user__username", flat=True)
            .first()
        )
    if driver_login:
        logins = (*logins, DemoLogin("driver", driver_login))
    if not present:
        rows.update(_demo_billing_history())
        logger.info(
            "seed.demo_fleet_created: built the demo fleet",
            extra={"event": "seed.demo_fleet_created", "slug": DEMO_FLEET_SLUG, "rows": rows},
        )
    return SeedReport(
        rows_created=rows,
        fleets_created=() if present else (DEMO_FLEET_SLUG,),
        fleets_skipped=(DEMO_FLEET_SLUG,) if present else (),
        seconds=time.perf_counter() - started,
        logins=logins,
        password=DEMO_PASSWORD,
    )


def _demo_billing_history() -> dict[str, int]:
    """Bill the demo fleet's ended months through the billing services, then settle some of it
    as a finance team would: payments in full and in part, a credit note, reimbursement
    decisions. Runs after the fleet has committed, so the background work (eager without
    Redis) sees it; the run's steps are also taken here, so the seed finishes billing even
    where a worker would (a step already done changes nothing). The drivers are fictional, so
    their invoices are not e-mailed from here."""
    fleet = Fleet.objects.get(slug=DEMO_FLEET_SLUG)
    now = timezone.now()
    periods = demo_billing_periods(fleet.billing_period, zone=fleet.zone, now=now)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for period in periods:
            run, _ = billing_run_start(fleet=fleet, period=period, now=now)
            billing_run_plan(run=run)
            while billing_run_advance(run_id=run.pk):
                pass
            billing_run_finalize(run=run)
    if BillingRun.objects.filter(fleet=fleet).exclude(status=BillingRunStatus.COMPLETED).exists():
        return {}
    finance = get_user_model().objects.get(username=DEMO_FINANCE_EMAIL)
    invoices = list(Invoice.objects.filter(fleet=fleet).order_by("period_start", "number"))
    for index, invoice in enumerate(invoices[: max(len(invoices) - 6, 0)]):
        share = Decimal("0.5") if index % 5 == 4 else Decimal(1)
        payment_record(
            invoice=invoice,
            amount=round_money(invoice.gross_total * share, invoice.currency),
            currency=invoice.currency,
            method=PaymentMethod.PAYROLL if index % 2 else PaymentMethod.BANK_TRANSFER,
            idempotency_key=f"demo-payment-{invoice.number}",
            received_at=timezone.now(),
            provider_reference=f"SALARY-{invoice.period_start:%Y%m}" if index % 2 else "",
            recorded_by=finance,
        )
    if invoices:
        unpaid = invoices[-1]
        credit_note_issue(
            invoice=unpaid,
            reason="Charger fault: session stopped early, charged in full.",
            line_ids=[unpaid.lines.order_by("position").values_list("pk", flat=True)[0]],
            issued_by=finance,
        )
    for index, reimbursement in enumerate(
        Reimbursement.objects.filter(fleet=fleet).order_by("period_start", "driver_id")
    ):
        if reimbursement.period_end <= periods[-1].start and index % 7 != 6:
            reimbursement_decide(reimbursement=reimbursement, approve=True, decided_by=finance)
    return {
        "BillingRun": BillingRun.objects.filter(fleet=fleet).count(),
        "Invoice": len(invoices),
        "Payment": Payment.objects.filter(fleet=fleet).count(),
        "CreditNote": CreditNote.objects.filter(fleet=fleet).count(),
        "Reimbursement": Reimbursement.objects.filter(fleet=fleet).count(),
    }


def demo_billing_periods(
    kind: str, *, zone: zoneinfo.ZoneInfo, now: datetime
) -> list[BillingPeriod]:
    """The billing periods of the demo's history, oldest first: every period of `kind` from the
    one holding the seed window's first day up to the last one ended at `now`."""
    window_start, _ = seed_window(zone, now=now)
    last = billing_period_last_ended(kind, now, zone)
    period = billing_period_of_day(kind, window_start.astimezone(zone).date(), zone)
    periods = []
    while period.start <= last.start:
        periods.append(period)
        period = billing_period_of_day(kind, period.end_day, zone)
    return periods


def _demo_fleet_build() -> dict[str, int]:
    """Write every row of the demo fleet; returns the rows made per model."""
    rng = _seeded_random(DEMO_RANDOM_SEED)
    zone = zoneinfo.ZoneInfo(FLEET_TIME_ZONE)
    window_start, anchor = seed_window(zone, now=timezone.now())
    rows: Counter[type[models.Model]] = Counter()
    password_hash = make_password(DEMO_PASSWORD)

    fleet = _fleet_create(
        name="Voltop Demo BV",
        slug=DEMO_FLEET_SLUG,
        legal_name="Voltop Demo B.V.",
        vat_id="NL853015123B01",
    )
    depots = _bulk_create(
        [
            Depot(fleet=fleet, name=name, address=address, grid_connection_limit_kw=limit)
            for name, address, limit in _DEMO_DEPOTS
        ]
    )
    cost_centers = _bulk_create(
        [CostCenter(fleet=fleet, code=code, name=name) for code, name in _DEMO_COST_CENTERS]
    )
    staff_logins = (
        (DEMO_MANAGER_EMAIL, "Marloes", "Hoekstra"),
        (DEMO_FINANCE_EMAIL, "Ruud", "Kramer"),
    )
    login_emails_check(emails=[email for email, _, _ in staff_logins])
    staff = _bulk_create(
        [
            get_user_model()(
                username=email,
                email=email,
                first_name=first,
                last_name=last,
                is_staff=True,
                password=password_hash,
            )
            for email, first, last in staff_logins
        ]
    )
    memberships = _bulk_create(
        [
            Membership(user=staff[0], fleet=fleet, role=MembershipRole.MANAGER),
            Membership(user=staff[1], fleet=fleet, role=MembershipRole.FINANCE),
        ]
    )
    rows.update({Fleet: 1, Depot: len(depots), CostCenter: len(cost_centers)})
    rows.update({Membership: len(memberships)})

    people = _demo_drivers_build(rng, fleet, cost_centers, password_hash, window_start, anchor)
    rows.update({get_user_model(): len(staff) + len(people), Driver: len(people)})
    rows[ChargeToken] = len(people)

    stations, connectors = _demo_stations_build(rng, fleet, depots, anchor)
    rows.update({ChargingStation: len(stations), Connector: len(connectors)})
    fast_station_ids = {c.station_id for c in connectors if c.power_type == PowerType.DC}
    versions = _demo_tariffs_publish(
        fleet,
        [station for station in stations if station.pk in fast_station_ids],
        effective_from=window_start - timedelta(days=1),
    )
    rows[Tariff] = rows[TariffVersion] = len(versions)
    rows[TariffElement] = TariffElement.objects.filter(tariff__fleet=fleet).count()

    cars = _demo_vehicles_build(rng, fleet, depots, people, connectors, window_start, anchor)
    rows[Vehicle] = len(cars)
    assignments = _bulk_create(
        [
            VehicleAssignment(
                vehicle=car.vehicle,
                driver=stint.person.driver,
                starts_at=stint.starts_at,
                ends_at=stint.ends_at,
            )
            for car in cars
            for stint in car.stints
        ]
    )
    rows[VehicleAssignment] = len(assignments)

    simulation = _DemoSimulation(rng=rng, zone=zone, anchor=anchor)
    for car in cars:
        simulation.odometer[car.vehicle.pk][car.stints[0].starts_at] = rng.randint(8, 60)
    simulation.run(cars, window_start.astimezone(zone).date(), anchor.astimezone(zone).date())

    sessions, meter_values = _demo_sessions_build(rng, fleet, simulation.sessions)
    rows.update({ChargingSession: sessions, MeterValue: meter_values})
    _demo_sessions_review_and_price(fleet, reviewer=staff[0], anchor=anchor)
    readings = _bulk_create(
        [
            OdometerReading(vehicle=car.vehicle, km=km, recorded_at=moment)
            for car in cars
            for moment, km in sorted(simulation.odometer[car.vehicle.pk].items())
        ]
    )
    rows[OdometerReading] = len(readings)
    return _model_counts(rows)


def _demo_tariffs_publish(
    fleet: Fleet, fast_stations: list[ChargingStation], *, effective_from: datetime
) -> list[TariffVersion]:
    """Publish, from `effective_from`, the fleet's depot tariff (energy cheaper at night, a fee
    per session, parking after half an hour) and a tariff for each DC fast-charging station
    (energy only, with a minimum price)."""
    vat = PRICE_VAT_RATE
    depot = _tariff_create(
        fleet,
        [
            {
                "energy_price": Decimal("0.19"),
                "energy_vat_rate": vat,
                "start_time": clock(22, 0),
                "end_time": clock(7, 0),
            },
            {
                "energy_price": Decimal("0.28"),
                "energy_vat_rate": vat,
                "flat_price": Decimal("0.35"),
                "flat_vat_rate": vat,
                "parking_price": Decimal("1.20"),
                "parking_vat_rate": vat,
                "parking_step_seconds": 300,
            },
        ],
        name="Depot charging",
        ocpi_id="VT-DEMO-DEPOT",
        valid_from=effective_from,
        parking_grace_minutes=30,
    )
    fast = [
        _tariff_create(
            fleet,
            [{"energy_price": Decimal("0.39"), "energy_vat_rate": vat}],
            name=f"Fast charging {station.ocpp_identity}",
            ocpi_id=f"VT-DEMO-FAST-{station.ocpp_identity.removeprefix(_STATION_IDENTITY_PREFIX)}",
            station=station,
            valid_from=effective_from,
            min_price_excl_vat=Decimal("1.00"),
            min_price_incl_vat=Decimal("1.21"),
        )
        for station in fast_stations
    ]
    return [
        tariff_publish(tariff=tariff, effective_from=effective_from) for tariff in [depot, *fast]
    ]


_HOME_REJECTION_SHARE = 0.1
_HOME_REJECTION_REASONS = (
    "The meter photo is missing; claim again with a photo of the wallbox meter.",
    "The meter photo does not show the readings claimed.",
    "Charged on a day of leave; private charging is not reimbursed.",
)


def _demo_sessions_review_and_price(fleet: Fleet, *, reviewer, anchor: datetime) -> None:
    """Review and price the demo sessions through the charging services, as the app does.

    Home claims that ended more than HOME_CLAIMS_PENDING_DAYS ago are reviewed by `reviewer`:
    about one in ten rejected with a reason, the others approved; the younger ones still wait.
    Then every completed session without the provider's cost is priced with
    charging_session_price: at the driver's home rate at home, else with the tariff version in
    force at its start.
    """
    rng = _seeded_random(f"{DEMO_RANDOM_SEED}-home-reviews")
    claims = ChargingSession.objects.filter(
        fleet=fleet,
        home_approval=HomeApproval.PENDING,
        ended_at__lt=anchor - timedelta(days=HOME_CLAIMS_PENDING_DAYS),
    ).order_by("started_at", "pk")
    for session in claims:
        if rng.random() < _HOME_REJECTION_SHARE:
            reason = rng.choice(_HOME_REJECTION_REASONS)
            home_session_review(session=session, approve=False, reviewer=reviewer, reason=reason)
        else:
            home_session_review(session=session, approve=True, reviewer=reviewer)
    unpriced = (
        ChargingSession.objects.filter(fleet=fleet, status=SessionStatus.COMPLETED)
        .exclude(price_basis=PriceBasis.PROVIDER)
        .order_by("started_at", "pk")
    )
    for session in unpriced:
        charging_session_price(session=session)


def _demo_drivers_build(
    rng: random.Random,
    fleet: Fleet,
    cost_centers: list[CostCenter],
    password_hash: str,
    window_start: datetime,
    anchor: datetime,
) -> list[_DemoDriver]:
    """Thirty drivers with logins, IBANs and one RFID card each (the cards are saved with the
    vehicles, once handovers have set their validity)."""
    last_names = list(LAST_NAMES)
    rng.shuffle(last_names)
    employee_numbers = sorted(rng.sample(range(10_000, 99_999), _DEMO_DRIVER_COUNT))
    uids = rng.sample(range(16**12), _DEMO_DRIVER_COUNT)
    people: list[_DemoDriver] = []
    users = []
    for index, (first_name, last_name) in enumerate(zip(FIRST_NAMES, last_names, strict=True)):
        email = f"{first_name}.{last_name.replace(' ', '')}@{DEMO_EMAIL_DOMAIN}".lower()
        status = {
            _DEMO_LEFT_DRIVER: DriverStatus.LEFT,
            _DEMO_SUSPENDED_DRIVER: DriverStatus.SUSPENDED,
        }.get(index, DriverStatus.ACTIVE)
        user = get_user_model()(
            username=email,
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password_hash,
            is_active=status != DriverStatus.LEFT,
        )
        users.append(user)
        charges_at_home = index in _DEMO_HOME_STATION_VEHICLES.values() or rng.random() < 0.6
        phone_number = rng.randint(10_000_000, 99_999_999)
        driver = Driver(
            fleet=fleet,
            user=user,
            employee_number=f"VT{employee_numbers[index]}",
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=f"+31 6 {phone_number // 10_000:04d} {phone_number % 10_000:04d}",
            licence_number=f"{rng.randint(4_000_000_000, 5_999_999_999)}",
            licence_expires_on=anchor.date() + timedelta(days=rng.randint(200, 3_650)),
            cost_center=rng.choice(cost_centers),
            status=status,
            home_rate_per_kwh=Decimal(rng.choice(("0.23000", "0.25000", "0.27500", "0.29000")))
            if charges_at_home
            else Decimal("0"),
            iban=dutch_iban(
                bank_code=rng.choice(DUTCH_BANK_CODES), account_number=dutch_account_number(rng)
            ),
            account_holder=f"{first_name} {last_name}",
            **_driver_address(index),
        )
        hired_at = window_start - timedelta(days=rng.randint(400, 3_000))
        token = ChargeToken(
            driver=driver,
            uid=_rfid_uid("04", uids[index]),
            kind=TokenKind.RFID,
            valid_from=hired_at,
            is_active=status == DriverStatus.ACTIVE,
        )
        people.append(
            _DemoDriver(
                driver=driver,
                token=token,
                commute_km=rng.randint(12, 60),
                charges_at_home=charges_at_home,
                home_power_w=rng.choice((7_400, 11_000, 11_000)),
                target_percent=rng.choice((80, 90, 100)),
            )
        )
    login_emails_check(emails=[user.email for user in users])
    _bulk_create(users)
    _bulk_create([person.driver for person in people])
    return people


def _demo_stations_build(
    rng: random.Random, fleet: Fleet, depots: list[Depot], anchor: datetime
) -> tuple[list[ChargingStation], list[Connector]]:
    """The depots' chargers and two fleet wallboxes at drivers' homes, with their connectors."""
    stations = []
    for suffix, depot_index, charger_key in _DEMO_STATIONS:
        charger = CHARGER_MODELS[charger_key]
        stations.append(
            ChargingStation(
                fleet=fleet,
                depot=depots[depot_index] if depot_index is not None else None,
                ocpp_identity=f"{_STATION_IDENTITY_PREFIX}{suffix}",
                vendor=charger.vendor,
                model=charger.model,
                serial_number=f"{charger.serial_prefix}{rng.randint(1_000_000, 9_999_999)}",
                firmware_version=charger.firmware_version,
                status=StationStatus.AVAILABLE,
                last_heartbeat_at=anchor - timedelta(seconds=rng.randint(30, 900)),
            )
        )
    _bulk_create(stations)
    connectors = _bulk_create(
        [
            Connector(
                station=station,
                connector_id=number,
                standard=standard,
                power_type=power_type,
                max_kw=Decimal(max_kw),
            )
            for station, (_, _, charger_key) in zip(stations, _DEMO_STATIONS, strict=True)
            for number, (standard, power_type, max_kw) in enumerate(
                CHARGER_MODELS[charger_key].outlets, start=1
            )
        ]
    )
    return stations, connectors


def _demo_vehicles_build(
    rng: random.Random,
    fleet: Fleet,
    depots: list[Depot],
    people: list[_DemoDriver],
    connectors: list[Connector],
    window_start: datetime,
    anchor: datetime,
) -> list[_DemoCar]:
    """Twenty vehicles, six of which change hands during the three months, ready to simulate."""
    plates = dutch_plate_series(rng)
    serials = rng.sample(range(100_000, 999_999), len(_DEMO_VEHICLES))
    home_connectors = {
        _DEMO_HOME_STATION_VEHICLES[station_name]: connector
        for connector in connectors
        if (station_name := connector.station.ocpp_identity.removeprefix(_STATION_IDENTITY_PREFIX))
        in _DEMO_HOME_STATION_VEHICLES
    }
    previous_drivers = iter(people[len(_DEMO_VEHICLES) :])
    zone = zoneinfo.ZoneInfo(FLEET_TIME_ZONE)
    first_day = window_start.astimezone(zone).date()
    window_days = (anchor.astimezone(zone).date() - first_day).days
    cars = []
    for index, (model_key, depot_index) in enumerate(_DEMO_VEHICLES):
        ev = EV_MODELS[model_key]
        model_year = rng.randint(max(ev.first_model_year, anchor.year - 4), anchor.year - 1)
        delivered_at = min(
            datetime(model_year, 1, 1, 10, tzinfo=UTC) + timedelta(days=rng.randint(-120, 300)),
            window_start - timedelta(days=rng.randint(30, 60)),
        )
        current = people[index]
        stints = [_Stint(current, delivered_at, None)]
        if index in _DEMO_HANDOVER_VEHICLES:
            handover_day = first_day + timedelta(days=rng.randint(15, window_days - 15))
            while handover_day.weekday() >= 5:
                handover_day += timedelta(days=1)
            handover = _at(handover_day, clock(7, 40), zone)
            previous = next(previous_drivers)
            stints = [_Stint(previous, delivered_at, handover), _Stint(current, handover, None)]
            current.token.valid_from = handover - timedelta(days=rng.randint(3, 20), hours=1)
            if previous.driver.status == DriverStatus.LEFT:
                previous.token.valid_until = handover
        vehicle = Vehicle(
            fleet=fleet,
            vin=vin_build(
                ev=ev,
                descriptor=ev.descriptor,
                model_year=model_year,
                plant=ev.plant,
                serial=serials[index],
            ),
            plate=next(plates),
            make=ev.make,
            model=ev.model,
            model_year=model_year,
            usable_battery_kwh=Decimal(ev.usable_battery_kwh),
            max_ac_kw=Decimal(ev.max_ac_kw),
            max_dc_kw=Decimal(ev.max_dc_kw),
            connector_standards=list(ev.inlets),
            home_depot=depots[depot_index],
            cost_center=current.driver.cost_center,
        )
        depot_connectors = [
            c
            for c in connectors
            if c.station.depot_id == depots[depot_index].pk and c.standard in ev.inlets
        ]
        km_per_day = rng.uniform(45, 95)
        cars.append(
            _DemoCar(
                vehicle=vehicle,
                ev=ev,
                depot_connectors=depot_connectors,
                home_connector=home_connectors.get(index),
                stints=stints,
                level_wh=ev.battery_wh * rng.uniform(0.55, 0.85),
                odometer_km=60 + (window_start - delivered_at).days * km_per_day,
                free_at=window_start,
            )
        )
    _bulk_create([car.vehicle for car in cars])
    _bulk_create([person.token for person in people])
    return cars


def _demo_register_key(planned: _PlannedSession) -> tuple[str, int] | None:
    """Which energy register meters the session: a fleet connector, the driver's own wallbox
    (sessions the app reports), or none (public charge records and manual entries)."""
    if planned.connector is not None:
        return ("connector", planned.connector.pk)
    if planned.source == SessionSource.APP:
        return ("home", planned.person.driver.pk)
    return None


def _demo_register_initial(rng: random.Random, planned: _PlannedSession) -> int:
    """A lifetime register for a meter installed one to three years ago."""
    if planned.connector is None:
        return rng.randint(400_000, 6_000_000)
    if planned.connector.power_type == PowerType.DC:
        return rng.randint(20_000_000, 90_000_000)
    return rng.randint(1_500_000, 18_000_000)


def _demo_provider_price(planned: _PlannedSession, priced_at: datetime) -> dict:
    """Price fields of an imported public session: the provider's cost, as an import sets it."""
    excl, vat, incl = provider_cost(planned.curve.energy_wh)
    return {
        "price_basis": PriceBasis.PROVIDER,
        "price_currency": PRICE_CURRENCY,
        "price_excl_vat": excl,
        "price_vat": vat,
        "price_incl_vat": incl,
        "price_breakdown": {
            "provider": {
                "location": "Fast charger on the road"
                if planned.direct_current
                else "Public street charger",
                "price_per_kwh_incl_vat": str(PUBLIC_PRICE_PER_KWH_INCL_VAT),
            }
        },
        "priced_at": priced_at,
    }


def _demo_sessions_build(
    rng: random.Random, fleet: Fleet, planned_sessions: list[_PlannedSession]
) -> tuple[int, int]:
    """Number the registers, transaction and CDR ids in time order, then write the sessions and
    their meter values; returns how many of each."""
    planned_sessions.sort(key=lambda planned: planned.started_at)
    registers: dict[tuple[str, int], int] = {}
    transaction_numbers: dict[int, int] = {}
    cdr_numbers = itertools.count(rng.randint(100_000, 400_000))
    for planned in planned_sessions:
        register_key = _demo_register_key(planned)
        if register_key is not None:
            if register_key not in registers:
                registers[register_key] = _demo_register_initial(rng, planned)
            planned.meter_start_wh = registers[register_key]
            registers[register_key] += planned.curve.energy_wh
        if planned.source == SessionSource.OCPP:
            station = planned.connector.station
            if station.pk not in transaction_numbers:
                transaction_numbers[station.pk] = rng.randint(1_000, 9_000)
            transaction_numbers[station.pk] += 1
            planned.external_id = f"{station.ocpp_identity}:{transaction_numbers[station.pk]}"
        elif planned.source == SessionSource.IMPORT:
            planned.external_id = f"NL-VTD-C{next(cdr_numbers):08d}"
    now = timezone.now()
    sessions = _bulk_create(
        [
            ChargingSession(
                fleet=fleet,
                driver=planned.person.driver,
                vehicle=planned.vehicle,
                token=planned.person.token
                if planned.source in (SessionSource.OCPP, SessionSource.IMPORT)
                else None,
                connector=planned.connector,
                location_kind=planned.location_kind,
                purpose=planned.purpose,
                started_at=planned.started_at,
                ended_at=planned.curve.ended_at,
                meter_start_wh=planned.meter_start_wh,
                meter_stop_wh=None
                if planned.meter_start_wh is None
                else planned.meter_start_wh + planned.curve.energy_wh,
                energy_wh=planned.curve.energy_wh,
                # Home claims from the app and a manager's entries: a person gave the energy.
                energy_source=EnergySource.ENTERED
                if planned.source in (SessionSource.APP, SessionSource.MANUAL)
                else EnergySource.MEASURED,
                status=SessionStatus.COMPLETED,
                source=planned.source,
                external_id=planned.external_id,
                home_approval=HomeApproval.PENDING
                if planned.source == SessionSource.APP
                else HomeApproval.NOT_REQUIRED,
                **(
                    _demo_provider_price(planned, now)
                    if planned.source == SessionSource.IMPORT
                    else {}
                ),
            )
            for planned in planned_sessions
        ]
    )
    meter_values = _meter_values_insert(
        [
            (session.pk, measured_at, (planned.meter_start_wh or 0) + energy_wh, power_w, soc)
            for planned, session in zip(planned_sessions, sessions, strict=True)
            if planned.source != SessionSource.MANUAL
            for measured_at, energy_wh, power_w, soc in planned.curve.samples
        ]
    )
    return len(sessions), meter_values


# Load-test fleets -------------------------------------------------------------------------------


def _share(total: int, parts: int, number: int) -> int:
    """The `number`-th (from 1) of `parts` near-equal shares of `total`."""
    return total // parts + (1 if number <= total % parts else 0)


def load_fleets_seed(
    *, sessions: int, fleets: int, meter_values_per_session: int = 0
) -> SeedReport:
    """Build `fleets` load-test fleets (slugs load-1 … load-F) sharing `sessions` sessions.

    Each fleet gets its share of sessions // 100 drivers (at least one), a vehicle, an open
    assignment and an RFID token per driver, two depots, a dual-connector AC station for
    every six drivers, so that no connector ever serves two sessions at once, and a published
    depot tariff. Sessions spread over the last three months; `meter_values_per_session` meter
    values are added to each. Completed sessions are written priced as charging_session_price
    would price them (the depot tariff, the home rate, or a provider's cost for imported public
    ones), without the per-period breakdown, which would cost more to write than the rest;
    public ones a manager entered have no provider's cost and are written as cost pending, as
    charging_session_price leaves them.
    A fleet whose slug exists already is skipped; each fleet is built in its own transaction.
    On PostgreSQL the sessions and meter values are written with COPY.
    """
    if sessions < 1 or fleets < 1 or meter_values_per_session < 0:
        raise InvalidSeedSize(
            "Sessions and fleets must be at least 1, meter values per session at least 0.",
            field="sessions",
        )
    started = time.perf_counter()
    drivers = max(fleets, sessions // SESSIONS_PER_LOAD_DRIVER)
    rows: Counter[str] = Counter()
    created, skipped = [], []
    price_books: dict[tuple[TariffTerms, str], _EnergyPrices] = {}
    for number in range(1, fleets + 1):
        slug = f"{LOAD_FLEET_SLUG_PREFIX}{number}"
        if Fleet.objects.filter(slug=slug).exists():
            skipped.append(slug)
            continue
        fleet_rows = _load_fleet_build(
            slug=slug,
            sessions=_share(sessions, fleets, number),
            drivers=_share(drivers, fleets, number),
            meter_values_per_session=meter_values_per_session,
            price_books=price_books,
        )
        rows.update(fleet_rows)
        created.append(slug)
        logger.info(
            "seed.load_fleet_created: built a load-test fleet",
            extra={"event": "seed.load_fleet_created", "slug": slug, "rows": fleet_rows},
        )
    if created:
        _statistics_refresh(rows)
    return SeedReport(
        rows_created=dict(rows),
        fleets_created=tuple(created),
        fleets_skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )


def _statistics_refresh(rows: Counter[str]) -> None:
    """ANALYZE the tables the load fleets were written to, so the planner knows their size at
    once: a bulk load leaves PostgreSQL's statistics as they were until autovacuum (which a
    server may run late or not at all) gets to them, and a planner that believes the sessions
    table holds a few thousand rows picks plans that walk all million of them."""
    if connection.vendor != "postgresql":
        return
    loaded = [model for model in apps.get_models() if rows.get(model.__name__)]
    with connection.cursor() as cursor:
        for model in loaded:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


@dataclass(frozen=True)
class _LoadDriver:
    """What a load session needs of its driver, by id: vehicle, token and charging limits."""

    driver_id: int
    vehicle_id: int
    token_id: int
    battery_wh: int
    ac_power_w: int
    dc_power_w: int


@dataclass(frozen=True)
class _LoadPlan:
    """The ids and time frame a load fleet's sessions are generated from."""

    fleet: Fleet
    drivers: tuple[_LoadDriver, ...]
    connectors: tuple[tuple[int, str, int], ...]
    sessions: int
    meter_values_per_session: int
    window_start: datetime
    anchor: datetime
    tariff_version_id: int
    tariff_prices: _EnergyPrices
    home_prices: _EnergyPrices


@transaction.atomic
def _load_fleet_build(
    *,
    slug: str,
    sessions: int,
    drivers: int,
    meter_values_per_session: int,
    price_books: dict[tuple[TariffTerms, str], _EnergyPrices],
) -> dict[str, int]:
    """Write one load-test fleet; returns the rows made per model. Fleets with the same terms
    share their prices per energy through `price_books`."""
    rng = _seeded_random(slug)
    zone = zoneinfo.ZoneInfo(FLEET_TIME_ZONE)
    window_start, anchor = seed_window(zone, now=timezone.now())
    number = slug.removeprefix(LOAD_FLEET_SLUG_PREFIX)
    fleet = _fleet_create(
        name=f"Load test fleet {number}",
        slug=slug,
        legal_name=f"Load Test Fleet {number} B.V.",
        vat_id=f"NL{int(number):09d}B01",
    )
    depots = _bulk_create(
        [
            Depot(
                fleet=fleet,
                name=f"Depot {name}",
                address=f"Industrieweg {index + 1}\n{name}",
                grid_connection_limit_kw=Decimal("1000.0"),
            )
            for index, name in enumerate(("Rotterdam", "Eindhoven"))
        ]
    )
    cost_centers = _bulk_create(
        [CostCenter(fleet=fleet, code=code, name=name) for code, name in _DEMO_COST_CENTERS[2:]]
    )
    driver_rows = _bulk_create(
        [
            Driver(
                fleet=fleet,
                employee_number=f"L{number}-{index:06d}",
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                email=f"driver{index:06d}@{slug}.voltop.example",
                cost_center=cost_centers[index % len(cost_centers)],
                home_rate_per_kwh=LOAD_HOME_RATE_PER_KWH,
                iban=dutch_iban(
                    bank_code=rng.choice(DUTCH_BANK_CODES),
                    account_number=dutch_account_number(rng),
                ),
                **_driver_address(index),
            )
            for index in range(drivers)
        ]
    )
    models_in_use = [EV_MODELS[key] for key in sorted(EV_MODELS)]
    fleet_code = _base33(fleet.pk, 5)
    plates = dutch_plate_series(rng)
    evs = [rng.choice(models_in_use) for _ in range(drivers)]
    vehicles = []
    for index, (driver, ev) in enumerate(zip(driver_rows, evs, strict=True)):
        model_year = rng.randint(max(ev.first_model_year, anchor.year - 4), anchor.year - 1)
        vehicles.append(
            Vehicle(
                fleet=fleet,
                vin=vin_build(
                    ev=ev,
                    descriptor=fleet_code,
                    model_year=model_year,
                    plant=_LOAD_VIN_PLANT,
                    serial=index,
                ),
                plate=next(plates),
                make=ev.make,
                model=ev.model,
                model_year=model_year,
                usable_battery_kwh=Decimal(ev.usable_battery_kwh),
                max_ac_kw=Decimal(ev.max_ac_kw),
                max_dc_kw=Decimal(ev.max_dc_kw),
                connector_standards=list(ev.inlets),
                home_depot=depots[index % len(depots)],
                cost_center=driver.cost_center,
            )
        )
    _bulk_create(vehicles)
    starts = [window_start - timedelta(days=rng.randint(30, 700)) for _ in range(drivers)]
    assignments = _bulk_create(
        [
            VehicleAssignment(vehicle=vehicle, driver=driver, starts_at=starts_at)
            for vehicle, driver, starts_at in zip(vehicles, driver_rows, starts, strict=True)
        ]
    )
    tokens = _bulk_create(
        [
            ChargeToken(
                driver=driver,
                uid=_rfid_uid(f"0A{fleet.pk:04X}", index),
                kind=TokenKind.RFID,
                valid_from=starts_at,
            )
            for index, (driver, starts_at) in enumerate(zip(driver_rows, starts, strict=True))
        ]
    )
    readings = _bulk_create(
        [
            OdometerReading(vehicle=vehicle, km=rng.randint(10, 60), recorded_at=starts_at)
            for vehicle, starts_at in zip(vehicles, starts, strict=True)
        ]
    )
    connector_count = math.ceil(drivers / LOAD_DRIVERS_PER_DEPOT_CONNECTOR)
    charger = CHARGER_MODELS["alfen_double"]
    stations = _bulk_create(
        [
            ChargingStation(
                fleet=fleet,
                depot=depots[index % len(depots)],
                ocpp_identity=f"{slug.upper()}-CP{index + 1:05d}",
                vendor=charger.vendor,
                model=charger.model,
                serial_number=f"{charger.serial_prefix}{rng.randint(1_000_000, 9_999_999)}",
                firmware_version=charger.firmware_version,
                status=StationStatus.AVAILABLE,
                last_heartbeat_at=anchor,
            )
            for index in range(math.ceil(connector_count / len(charger.outlets)))
        ]
    )
    connectors = _bulk_create(
        [
            Connector(
                station=station,
                connector_id=outlet_number,
                standard=standard,
                power_type=power_type,
                max_kw=Decimal(max_kw),
            )
            for station in stations
            for outlet_number, (standard, power_type, max_kw) in enumerate(charger.outlets, start=1)
        ]
    )
    tariff_version = _load_tariff_publish(fleet, effective_from=window_start - timedelta(days=1))
    plan = _LoadPlan(
        fleet=fleet,
        drivers=tuple(
            _LoadDriver(
                driver_id=driver.pk,
                vehicle_id=vehicle.pk,
                token_id=token.pk,
                battery_wh=ev.battery_wh,
                ac_power_w=ev.ac_power_w,
                dc_power_w=ev.dc_power_w,
            )
            for driver, vehicle, token, ev in zip(driver_rows, vehicles, tokens, evs, strict=True)
        ),
        connectors=tuple(
            (connector.pk, connector.station.ocpp_identity, int(connector.max_kw * 1000))
            for connector in connectors
        ),
        sessions=sessions,
        meter_values_per_session=meter_values_per_session,
        window_start=window_start,
        anchor=anchor,
        tariff_version_id=tariff_version.pk,
        tariff_prices=_price_book(price_books, tariff_terms_of_version(tariff_version), fleet),
        home_prices=_price_book(
            price_books,
            home_rate_terms(currency=fleet.currency, rate_per_kwh=LOAD_HOME_RATE_PER_KWH),
            fleet,
        ),
    )
    session_count, meter_value_count = _load_sessions_write(plan, rng)
    return _model_counts(
        {
            Fleet: 1,
            Depot: len(depots),
            CostCenter: len(cost_centers),
            Driver: len(driver_rows),
            Vehicle: len(vehicles),
            VehicleAssignment: len(assignments),
            ChargeToken: len(tokens),
            OdometerReading: len(readings),
            ChargingStation: len(stations),
            Connector: len(connectors),
            ChargingSession: session_count,
            MeterValue: meter_value_count,
            Tariff: 1,
            TariffElement: 1,
            TariffVersion: 1,
        }
    )


def _price_book(
    books: dict[tuple[TariffTerms, str], _EnergyPrices], terms: TariffTerms, fleet: Fleet
) -> _EnergyPrices:
    """The prices per energy of `terms` in the fleet's zone, made once per seed run."""
    key = (terms, fleet.time_zone)
    if key not in books:
        books[key] = _EnergyPrices(terms, fleet.zone)
    return books[key]


def _load_tariff_publish(fleet: Fleet, *, effective_from: datetime) -> TariffVersion:
    """Publish the load fleet's depot tariff: energy alone, so `_EnergyPrices` can price it."""
    tariff = _tariff_create(
        fleet,
        [{"energy_price": Decimal("0.28"), "energy_vat_rate": PRICE_VAT_RATE}],
        name="Depot charging",
        ocpi_id=f"VT-{fleet.slug.upper()}-DEPOT",
        valid_from=effective_from,
    )
    return tariff_publish(tariff=tariff, effective_from=effective_from)


_SESSION_FIELDS = (
    "created_at", "updated_at", "fleet", "driver", "vehicle", "token", "connector",
    "location_kind", "purpose", "started_at", "ended_at", "meter_start_wh", "meter_stop_wh",
    "energy_wh", "status", "source", "external_id",
    "tariff_version", "price_basis", "price_currency", "price_excl_vat", "price_vat",
    "price_incl_vat", "priced_at", "unpriced_reason",
)  # fmt: skip
_METER_VALUE_FIELDS = ("session", "measured_at", "energy_wh", "power_w", "state_of_charge_percent")

_DEPOT = LocationKind.DEPOT.value
_HOME = LocationKind.HOME.value
_PUBLIC = LocationKind.PUBLIC.value
_BUSINESS = SessionPurpose.BUSINESS.value
_PRIVATE = SessionPurpose.PRIVATE.value
_COMPLETED = SessionStatus.COMPLETED.value
_INVALID = SessionStatus.INVALID.value
_OCPP = SessionSource.OCPP.value
_APP = SessionSource.APP.value
_IMPORT = SessionSource.IMPORT.value
_MANUAL = SessionSource.MANUAL.value
_TARIFF = PriceBasis.TARIFF.value
_HOME_RATE = PriceBasis.HOME_RATE.value
_PROVIDER = PriceBasis.PROVIDER.value
_UNPRICED = (None, "", "", None, None, None, None, "")
_COST_PENDING = (None, "", "", None, None, None, None, UnpricedReason.COST_PENDING.value)


def _price_columns(
    prices_of: Callable[[int], tuple[Decimal, Decimal, Decimal]],
    tariff_version_id: int | None,
    basis: str,
    currency: str,
    priced_at: datetime,
) -> Callable[[int], tuple]:
    """The price columns of _SESSION_FIELDS (tariff version … unpriced reason) for a session's
    energy, priced by `prices_of` once per energy."""
    columns: dict[int, tuple] = {}

    def of(energy_wh: int) -> tuple:
        found = columns.get(energy_wh)
        if found is None:
            excl, vat, incl = prices_of(energy_wh)
            found = (tariff_version_id, basis, currency, excl, vat, incl, priced_at, "")
            columns[energy_wh] = found
        return found

    return of


def _load_session_rows(plan: _LoadPlan, rng: random.Random) -> Iterator[tuple[tuple, list[tuple]]]:
    """Rows of a load fleet's sessions (in _SESSION_FIELDS order) with their meter values
    (_METER_VALUE_FIELDS without the session).

    Time is cut into rounds in which every driver charges once, inside a lane of the round that
    they share with no one on their depot connector; so neither a vehicle nor a connector has
    two sessions at once, and each connector's register rises from session to session.
    """
    driver_count = len(plan.drivers)
    connector_count = len(plan.connectors)
    lanes = math.ceil(driver_count / connector_count)
    rounds = math.ceil(plan.sessions / driver_count)
    lane_seconds = (plan.anchor - plan.window_start).total_seconds() / rounds / lanes
    longest_seconds = min(7 * 3600, 0.85 * lane_seconds)
    registers = [rng.randint(1_500_000, 18_000_000) for _ in range(connector_count)]
    home_registers = [rng.randint(400_000, 6_000_000) for _ in range(driver_count)]
    now = timezone.now()
    fleet_id = plan.fleet.pk
    cdr_prefix = f"NL-{plan.fleet.slug.upper()}-C"
    currency = plan.fleet.currency
    tariff_price = _price_columns(
        plan.tariff_prices.price, plan.tariff_version_id, _TARIFF, currency, now
    )
    home_price = _price_columns(plan.home_prices.price, None, _HOME_RATE, currency, now)
    provider_price = _price_columns(provider_cost, None, _PROVIDER, PRICE_CURRENCY, now)
    per_session = plan.meter_values_per_session
    random_unit = rng.random
    uniform = rng.uniform
    made = 0
    for round_index in range(rounds):
        round_start = round_index * lanes * lane_seconds
        for driver_index, driver in enumerate(plan.drivers):
            if made == plan.sessions:
                return
            made += 1
            connector_index = driver_index % connector_count
            lane_start = round_start + (driver_index // connector_count) * lane_seconds
            started_at = plan.window_start + timedelta(
                seconds=int(lane_start + random_unit() * 0.1 * lane_seconds)
            )
            kind = random_unit()
            connector_id = None
            token_id: int | None = driver.token_id
            external_id = ""
            meter_start = None
            if kind < 0.78:
                connector_id, identity, connector_w = plan.connectors[connector_index]
                power_w = min(driver.ac_power_w, connector_w)
                seconds = int(uniform(0.3, 1.0) * longest_seconds)
                energy = int(
                    min(power_w * seconds / 3600 * uniform(0.4, 0.95), 0.85 * driver.battery_wh)
                )
                meter_start = registers[connector_index]
                registers[connector_index] += energy
                location, source = _DEPOT, _OCPP
                purpose = _BUSINESS if kind < 0.74 else _PRIVATE
                external_id = f"{identity}:{made}"
            elif kind < 0.92:
                power_w = min(driver.ac_power_w, 11_000)
                seconds = int(uniform(0.3, 1.0) * longest_seconds)
                energy = int(
                    min(power_w * seconds / 3600 * uniform(0.4, 0.95), 0.85 * driver.battery_wh)
                )
                meter_start = home_registers[driver_index]
                home_registers[driver_index] += energy
                location, source, token_id = _HOME, _APP, None
                purpose = _BUSINESS if kind < 0.88 else _PRIVATE
            else:
                power_w = min(driver.dc_power_w, 150_000)
                seconds = int(min(uniform(900, 3_000), longest_seconds))
                energy = int(
                    min(power_w * seconds / 3600 * uniform(0.4, 0.7), 0.75 * driver.battery_wh)
                )
                location = _PUBLIC
                purpose = _BUSINESS if kind < 0.96 else _PRIVATE
                if kind < 0.99:
                    source, external_id = _IMPORT, f"{cdr_prefix}{made:09d}"
                else:
                    source, token_id = _MANUAL, None
            ended_at = started_at + timedelta(seconds=seconds)
            status = _INVALID if random_unit() < 0.01 else _COMPLETED
            if status == _INVALID:
                price = _UNPRICED
            elif location == _HOME:
                price = home_price(energy)
            elif source == _IMPORT:
                price = provider_price(energy)
            elif location == _DEPOT:
                price = tariff_price(energy)
            else:
                price = _COST_PENDING
            row = (
                now, now, fleet_id, driver.driver_id, driver.vehicle_id, token_id, connector_id,
                location, purpose, started_at, ended_at, meter_start,
                None if meter_start is None else meter_start + energy, energy, status, source,
                external_id, *price,
            )  # fmt: skip
            values = []
            if per_session:
                base = meter_start or 0
                start_soc = uniform(0.1, 0.95 - energy / driver.battery_wh)
                average_power = int(energy * 3600 / seconds)
                for sample in range(1, per_session + 1):
                    share = sample / per_session
                    values.append(
                        (
                            started_at + timedelta(seconds=seconds * share),
                            base + int(energy * share),
                            0 if sample == per_session else average_power,
                            round(100 * (start_soc + energy * share / driver.battery_wh)),
                        )
                    )
            yield row, values


def _columns(model: type[models.Model], field_names: Iterable[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in field_names]


def _load_sessions_write(plan: _LoadPlan, rng: random.Random) -> tuple[int, int]:
    """Write the fleet's sessions and meter values chunk by chunk; returns how many of each."""
    rows = _load_session_rows(plan, rng)
    write = _chunk_copy if connection.vendor == "postgresql" else _chunk_bulk_create
    sessions = meter_values = 0
    with charging_day_totals_deferred(fleet=plan.fleet):
        while chunk := list(itertools.islice(rows, _SESSION_CHUNK)):
            meter_values += write(chunk, with_meter_values=plan.meter_values_per_session > 0)
            sessions += len(chunk)
    return sessions, meter_values


def _copy_binary(
    cursor, model: type[models.Model], columns: list[str], rows: Iterable[tuple]
) -> None:
    """COPY `rows` into `model`'s table in PostgreSQL's binary format, typed as its columns are."""
    table = model._meta.db_table
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    type_oids = dict(cursor.fetchall())
    quote = connection.ops.quote_name
    with cursor.copy(
        f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types([type_oids[column] for column in columns])
        for row in rows:
            copy.write_row(row)


def _chunk_copy(chunk: list[tuple[tuple, list[tuple]]], *, with_meter_values: bool) -> int:
    """COPY a chunk of sessions and their meter values; when meter values must point at the
    sessions, the sessions' ids are drawn from the table's own sequence first."""
    session_columns = _columns(ChargingSession, _SESSION_FIELDS)
    with connection.cursor() as cursor:
        if not with_meter_values:
            _copy_binary(cursor, ChargingSession, session_columns, (row for row, _ in chunk))
            return 0
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [ChargingSession._meta.db_table, ChargingSession._meta.pk.column, len(chunk)],
        )
        ids = [session_id for (session_id,) in cursor.fetchall()]
        _copy_binary(
            cursor,
            ChargingSession,
            [ChargingSession._meta.pk.column, *session_columns],
            ((session_id, *row) for session_id, (row, _) in zip(ids, chunk, strict=True)),
        )
    return _meter_values_insert(
        [
            (session_id, *value)
            for session_id, (_, values) in zip(ids, chunk, strict=True)
            for value in values
        ]
    )


def _chunk_bulk_create(chunk: list[tuple[tuple, list[tuple]]], *, with_meter_values: bool) -> int:
    """Insert a chunk of sessions with bulk_create (which returns their ids), then their meter
    values."""
    attnames = [ChargingSession._meta.get_field(name).attname for name in _SESSION_FIELDS]
    sessions = _bulk_create(
        [ChargingSession(**dict(zip(attnames, row, strict=True))) for row, _ in chunk]
    )
    if not with_meter_values:
        return 0
    return _meter_values_insert(
        [
            (session.pk, *value)
            for session, (_, values) in zip(sessions, chunk, strict=True)
            for value in values
        ]
    )


def _meter_values_insert(rows: list[tuple]) -> int:
    """Insert meter values given as (session id, measured at, energy Wh, power W, SoC %) rows,
    fast: binary COPY on PostgreSQL, else one prepared INSERT run over all rows.

    Returns how many rows were written.
    """
    columns = _columns(MeterValue, _METER_VALUE_FIELDS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_binary(cursor, MeterValue, columns, rows)
            return len(rows)
        quote = connection.ops.quote_name
        table, column_list = quote(MeterValue._meta.db_table), ", ".join(map(quote, columns))
        placeholders = ", ".join(["%s"] * len(columns))
        insert = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})"  # noqa: S608 - names from the model, values as parameters
        adapt_datetime = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            insert, [(session_id, adapt_datetime(at), *rest) for session_id, at, *rest in rows]
        )
    return len(rows)
