"""The work-to-do list: each count is the fleet's rows that wait for someone, never another
fleet's, read in the same number of queries whatever the fleet's size; each link lists exactly
the rows counted."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from apps.charging.choices import (
    HomeApproval,
    LocationKind,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import ChargingSession, ChargingStation, Connector
from apps.dashboard.selectors import work_to_do
from apps.dashboard.views import work_to_do_items
from apps.drivers.choices import DriverStatus
from apps.drivers.models import Driver
from apps.fleets.choices import MembershipRole
from apps.payments.choices import BillingRunStatus, InvoiceStatus, ReimbursementStatus
from apps.payments.models import BillingRun, Invoice, Reimbursement
from tests.dashboard.charging_rows import NOW, billing_run_create
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WORK_QUERIES = 15
OTHER_CURRENCY = {"EUR": "CHF", "CHF": "EUR", "USD": "EUR", "GBP": "EUR"}
TODAY = dt.date(2026, 12, 6)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@dataclass
class WorkRows:
    """A fleet's rows around NOW, those that wait for someone and near misses that do not."""

    sessions: list[ChargingSession] = field(default_factory=list)
    stations: list[ChargingStation] = field(default_factory=list)
    connectors: list[Connector] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)
    runs: list[BillingRun] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    reimbursements: list[Reimbursement] = field(default_factory=list)


def driver(rows: WorkRows, fleet, **fields) -> Driver:
    made = DriverFactory(
        fleet=fleet,
        **{"iban": "NL91ABNA0417164300", "account_holder": "S. de Vries", **fields},
    )
    rows.drivers.append(made)
    return made


def run(rows: WorkRows, fleet, *, idle: dt.timedelta | None = None, **fields):
    """A run of the month after the fleet's last, idle for `idle` if given."""
    index = len(rows.runs)
    start = dt.datetime(2024 + index // 12, index % 12 + 1, 1, tzinfo=UTC)
    made = billing_run_create(
        fleet, f"{start:%Y-%m}", start, start + dt.timedelta(days=28), **fields
    )
    if idle is not None:
        BillingRun.objects.filter(pk=made.pk).update(updated_at=NOW - idle)
        made.refresh_from_db()
    rows.runs.append(made)
    return made


def work_rows_create(fleet, *, scale: int = 1) -> WorkRows:
    """`scale` times over: home claims pending and decided, suspect sessions unbilled, billed
    and invalid, sessions still charging just over and just under a day after they started,
    sessions left without a price for each reason and priced ones, failed, stalled and busy
    billing runs, overdue and not overdue invoices, licences expired and expiring within 30
    days or just after, reimbursements pending, approved with and without payout details, paid
    and rejected."""
    rows = WorkRows()
    payee = driver(rows, fleet, licence_expires_on=dt.date(2028, 1, 1))
    no_iban = driver(rows, fleet, iban="", licence_expires_on=TODAY + dt.timedelta(days=30))
    no_holder = driver(rows, fleet, account_holder="", licence_expires_on=dt.date(2026, 11, 2))
    driver(rows, fleet, licence_expires_on=TODAY + dt.timedelta(days=31))
    driver(rows, fleet, licence_expires_on=dt.date(2026, 1, 1), status=DriverStatus.LEFT)
    driver(rows, fleet, licence_expires_on=TODAY, status=DriverStatus.SUSPENDED)

    def session(**fields):
        rows.sessions.append(ChargingSessionFactory(fleet=fleet, driver=payee, **fields))

    priced = {"price_incl_vat": Decimal("4.84"), "price_currency": fleet.currency}
    for _ in range(scale):
        session(location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING)
        session(location_kind=LocationKind.HOME, home_approval=HomeApproval.APPROVED, **priced)
        session(location_kind=LocationKind.HOME, home_approval=HomeApproval.REJECTED)
        session(is_suspect=True, suspect_reason="Too much energy", **priced)
        session(is_suspect=True, billed_at=NOW, **priced)
        session(is_suspect=True, status=SessionStatus.INVALID, invalid_reason="Test")
        session(active=True, started_at=NOW - dt.timedelta(hours=24, seconds=1))
        session(active=True, started_at=NOW - dt.timedelta(hours=23, minutes=59))
        for reason in UnpricedReason.values:
            session(location_kind=LocationKind.PUBLIC, unpriced_reason=reason)
        session(**priced)
        session(billed_at=NOW, **priced)
        session(status=SessionStatus.INVALID, invalid_reason="Duplicate")
        session(price_incl_vat=Decimal("5.20"), price_currency=OTHER_CURRENCY[fleet.currency])
        session(
            price_incl_vat=Decimal("5.20"),
            price_currency=OTHER_CURRENCY[fleet.currency],
            billed_at=NOW,
        )
        session(location_kind=LocationKind.HOME, purpose=SessionPurpose.BUSINESS)
        session(location_kind=LocationKind.HOME, purpose=SessionPurpose.PRIVATE)
        session(location_kind=LocationKind.HOME, purpose=SessionPurpose.BUSINESS, billed_at=NOW)
        session(source=SessionSource.OCPP, charger_issue="Started with a blocked tag.")
        session(source=SessionSource.OCPP, charger_issue="Interrupted.", billed_at=NOW, **priced)
        session(
            source=SessionSource.OCPP,
            charger_issue="Interrupted.",
            status=SessionStatus.INVALID,
            invalid_reason="Test",
        )
        for status in (SessionStatus.COMPLETED, SessionStatus.ACTIVE, SessionStatus.INVALID):
            unknown_tag = ChargingSessionFactory(
                fleet=fleet,
                driver=payee,
                source=SessionSource.OCPP,
                charger_issue="Started with tag X, which no driver of the fleet has.",
                **({"active": True} if status == SessionStatus.ACTIVE else {"status": status}),
            )
            ChargingSession.objects.filter(pk=unknown_tag.pk).update(driver=None)
            unknown_tag.refresh_from_db()
            rows.sessions.append(unknown_tag)
        for connected, password in ((False, "hash"), (True, "hash"), (False, "")):
            station = ChargingStationFactory(
                fleet=fleet, is_connected=connected, ocpp_password=password
            )
            rows.stations.append(station)
            for connector_id, status in enumerate(("Faulted", "Available", ""), start=1):
                rows.connectors.append(
                    ConnectorFactory(station=station, connector_id=connector_id, status=status)
                )

    for _ in range(scale):
        run(rows, fleet, status=BillingRunStatus.FAILED)
        run(rows, fleet, status=BillingRunStatus.RUNNING, idle=dt.timedelta(minutes=20))
        run(rows, fleet, status=BillingRunStatus.PENDING, idle=dt.timedelta(hours=3))
        run(rows, fleet, status=BillingRunStatus.RUNNING, idle=dt.timedelta(minutes=5))
    completed = run(rows, fleet)

    number = iter(range(1, 1000))

    def invoice(status, due_at, **fields):
        issued = status != InvoiceStatus.DRAFT
        rows.invoices.append(
            Invoice.objects.create(
                fleet=fleet,
                driver=payee,
                currency=fleet.currency,
                period_start=dt.datetime(2026, 10, 1, tzinfo=UTC),
                period_end=dt.datetime(2026, 11, 1, tzinfo=UTC),
                status=status,
                number=f"INV-{fleet.pk}-{next(number)}" if issued else "",
                issued_at=dt.datetime(2026, 11, 1, tzinfo=UTC) if issued else None,
                due_at=due_at,
                **fields,
            )
        )

    for _ in range(scale):
        invoice(InvoiceStatus.ISSUED, NOW - dt.timedelta(days=1))
        invoice(InvoiceStatus.ISSUED, NOW + dt.timedelta(minutes=1))
        invoice(InvoiceStatus.PAID, NOW - dt.timedelta(days=5), paid_at=NOW)
        invoice(InvoiceStatus.DRAFT, None)

    def reimbursement(billing_run, to, status, **fields):
        rows.reimbursements.append(
            Reimbursement.objects.create(
                fleet=fleet,
                driver=to,
                billing_run=billing_run,
                period_start=billing_run.period_start,
                period_end=billing_run.period_end,
                currency=fleet.currency,
                energy_wh=10_000,
                amount=Decimal("2.50"),
                status=status,
                **fields,
            )
        )

    for index in range(scale):
        first, second = rows.runs[4 * index], rows.runs[4 * index + 1]
        reimbursement(first, payee, ReimbursementStatus.PENDING)
        reimbursement(first, no_iban, ReimbursementStatus.APPROVED)
        reimbursement(first, no_holder, ReimbursementStatus.APPROVED)
        reimbursement(second, payee, ReimbursementStatus.APPROVED)
        reimbursement(second, no_iban, ReimbursementStatus.PENDING)
        reimbursement(second, no_holder, ReimbursementStatus.PAID, paid_at=NOW)
    reimbursement(completed, no_iban, ReimbursementStatus.REJECTED)
    return rows


def expected_rows(rows: WorkRows) -> dict[str, set[int]]:
    """Each work-to-do item's rows, read from the rows as made."""

    def unbilled_completed(session):
        return session.status == SessionStatus.COMPLETED and session.billed_at is None

    def unpriced(session):
        return unbilled_completed(session) and session.price_incl_vat is None

    expected = {
        "home_claims": {s.pk for s in rows.sessions if s.home_approval == HomeApproval.PENDING},
        "reimbursements_pending": {
            r.pk for r in rows.reimbursements if r.status == ReimbursementStatus.PENDING
        },
        "sessions_suspect": {s.pk for s in rows.sessions if s.is_suspect and unbilled_completed(s)},
        "sessions_charging_long": {
            s.pk
            for s in rows.sessions
            if s.status == SessionStatus.ACTIVE and NOW - s.started_at > dt.timedelta(hours=24)
        },
        "sessions_no_driver": {
            s.pk for s in rows.sessions if s.driver_id is None and s.status != SessionStatus.INVALID
        },
        "sessions_charger_issue": {
            s.pk
            for s in rows.sessions
            if s.charger_issue
            and s.driver_id is not None
            and s.billed_at is None
            and s.status != SessionStatus.INVALID
        },
        "stations_offline": {
            station.pk
            for station in rows.stations
            if station.ocpp_password and not station.is_connected
        },
        "connectors_faulted": {c.pk for c in rows.connectors if c.status == "Faulted"},
        "sessions_unpriced": {s.pk for s in rows.sessions if unpriced(s)},
        "sessions_other_currency": {
            s.pk
            for s in rows.sessions
            if unbilled_completed(s)
            and s.price_incl_vat is not None
            and s.price_currency != s.fleet.currency
        },
        "sessions_home_unclaimed": {
            s.pk
            for s in rows.sessions
            if unbilled_completed(s)
            and s.location_kind == LocationKind.HOME
            and s.purpose == SessionPurpose.BUSINESS
            and s.home_approval == HomeApproval.NOT_REQUIRED
        },
        "billing_runs": {
            r.pk
            for r in rows.runs
            if r.status == BillingRunStatus.FAILED
            or (
                r.status in (BillingRunStatus.PENDING, BillingRunStatus.RUNNING)
                and r.updated_at < NOW - dt.timedelta(minutes=15)
            )
        },
        "invoices_overdue": {
            i.pk for i in rows.invoices if i.status == InvoiceStatus.ISSUED and i.due_at < NOW
        },
        "licences": {
            d.pk
            for d in rows.drivers
            if d.status != DriverStatus.LEFT
            and d.licence_expires_on <= TODAY + dt.timedelta(days=30)
        },
        "payout_details": {
            r.pk
            for r in rows.reimbursements
            if r.status == ReimbursementStatus.APPROVED
            and (not r.driver.iban or not r.driver.account_holder)
        },
    }
    for reason in [*UnpricedReason.values, ""]:
        expected[f"sessions_unpriced_{reason or 'not_yet'}"] = {
            s.pk for s in rows.sessions if unpriced(s) and s.unpriced_reason == reason
        }
    return expected


@pytest.fixture
def fleet_and_rows():
    work_rows_create(FleetFactory(name="Other fleet"), scale=2)
    fleet = FleetFactory(name="Our fleet")
    return fleet, work_rows_create(fleet)


@pytest.mark.parametrize("scale", [1, 3])
def test_work_to_do_is_counted_in_the_same_number_of_queries_whatever_the_fleet_size(
    django_assert_num_queries, scale
):
    fleet = FleetFactory()
    work_rows_create(fleet, scale=scale)

    with django_assert_num_queries(WORK_QUERIES):
        work = work_to_do(fleet=fleet, now=NOW)

    assert work.home_claims_pending == scale


def test_each_count_is_the_fleets_rows_that_wait_and_no_other_fleets(fleet_and_rows):
    fleet, rows = fleet_and_rows

    work = work_to_do(fleet=fleet, now=NOW)

    expected = {key: len(pks) for key, pks in expected_rows(rows).items()}
    assert {
        "home_claims": work.home_claims_pending,
        "reimbursements_pending": work.reimbursements_pending,
        "sessions_suspect": work.sessions_suspect,
        "sessions_charging_long": work.sessions_charging_long,
        "sessions_no_driver": work.sessions_without_driver,
        "sessions_charger_issue": work.sessions_charger_issue,
        "stations_offline": work.stations_offline,
        "connectors_faulted": work.connectors_faulted,
        "sessions_unpriced": work.sessions_unpriced_total,
        "sessions_other_currency": work.sessions_other_currency,
        "sessions_home_unclaimed": work.sessions_home_unclaimed,
        "billing_runs": work.billing_runs_failed_or_stalled,
        "invoices_overdue": work.invoices_overdue,
        "licences": work.licences_expiring,
        "payout_details": work.reimbursements_without_payout_details,
    } == {key: count for key, count in expected.items() if not key.startswith("sessions_unpriced_")}
    assert work.sessions_unpriced == {
        reason: expected[f"sessions_unpriced_{reason or 'not_yet'}"]
        for reason in [*UnpricedReason.values, ""]
        if expected[f"sessions_unpriced_{reason or 'not_yet'}"]
    }
    assert all(count for count in expected.values())


def all_items(items: list[dict]) -> list[dict]:
    return [sub for item in items for sub in [item, *item.get("reasons", [])]]


def listed_pks(client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {row.pk for row in response.context_data["cl"].result_list}


def test_each_link_lists_exactly_the_rows_counted(client, fleet_and_rows):
    fleet, rows = fleet_and_rows
    manager = StaffUserFactory()
    MembershipFactory(user=manager, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(manager)
    items = all_items(work_to_do_items(fleet, work_to_do(fleet=fleet, now=NOW)))
    expected = expected_rows(rows)

    listed = {item["key"]: listed_pks(client, item["url"]) for item in items}

    assert listed == {item["key"]: expected[item["key"]] for item in items}
    assert {item["key"]: item["count"] for item in items} == {
        item["key"]: len(expected[item["key"]]) for item in items
    }
    assert len(items) == len(expected)


def test_a_manager_of_two_fleets_follows_a_link_to_the_rows_of_that_fleet_only(
    client, fleet_and_rows
):
    fleet, rows = fleet_and_rows
    other = FleetFactory(name="Second fleet of the same manager")
    other_rows = work_rows_create(other)
    manager = StaffUserFactory()
    for each in (fleet, other):
        MembershipFactory(user=manager, fleet=each, role=MembershipRole.ADMIN)
    client.force_login(manager)

    for each, each_rows in ((fleet, rows), (other, other_rows)):
        items = all_items(work_to_do_items(each, work_to_do(fleet=each, now=NOW)))
        expected = expected_rows(each_rows)
        assert {item["key"]: listed_pks(client, item["url"]) for item in items} == {
            item["key"]: expected[item["key"]] for item in items
        }
