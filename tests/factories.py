"""factory_boy factories for every domain model, producing valid rows by default."""

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db.models import Model

from apps.charging.choices import (
    ChargerCallStatus,
    ImportFileFormat,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
)
from apps.charging.models import (
    ChargerCall,
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    SessionImport,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.services import tariff_publish
from apps.drivers.models import ChargeToken, Driver
from apps.exports.choices import ExportJobStatus
from apps.exports.models import ExportJob, ExportManifest
from apps.fleets.choices import MembershipRole
from apps.fleets.invitations import invitation_secret_hash
from apps.fleets.models import (
    CostCenter,
    Depot,
    Fleet,
    FleetApiKey,
    Invitation,
    Membership,
    VatRateAccounts,
)
from apps.fleets.services import fleet_api_key_issue
from apps.payments import services as payments_services
from apps.payments.choices import (
    BillingRunStatus,
    BillingUnitStatus,
    LeftOutReason,
    PaymentMethod,
)
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    BillingUnit,
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    PayoutBatch,
    PayoutItem,
    PayrollDeduction,
    PayrollDeductionItem,
    Refund,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment

UTC = dt.UTC
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_vin_counter = itertools.count(1)


def next_vin() -> str:
    number = next(_vin_counter)
    digits = []
    for _ in range(8):
        number, remainder = divmod(number, len(VIN_ALPHABET))
        digits.append(VIN_ALPHABET[remainder])
    return "WVWZZZ1K" + "X" + "".join(reversed(digits))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class StaffUserFactory(UserFactory):
    is_staff = True


class FleetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fleet

    name = factory.Sequence(lambda n: f"Fleet {n}")
    slug = factory.Sequence(lambda n: f"fleet-{n}")
    currency = "EUR"
    time_zone = "Europe/Amsterdam"
    country = "NL"
    default_vat_rate = Decimal("21.00")


class DepotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Depot

    fleet = factory.SubFactory(FleetFactory)
    name = factory.Sequence(lambda n: f"Depot {n}")
    address = "Stationsplein 1, Amsterdam"
    grid_connection_limit_kw = Decimal("250.0")


class CostCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostCenter

    fleet = factory.SubFactory(FleetFactory)
    code = factory.Sequence(lambda n: f"CC-{n:03d}")
    name = factory.Sequence(lambda n: f"Cost center {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(StaffUserFactory)
    fleet = factory.SubFactory(FleetFactory)
    role = MembershipRole.MANAGER


class InvitationFactory(factory.django.DjangoModelFactory):
    """An open invitation; its link's secret is "secret-<email>"."""

    class Meta:
        model = Invitation

    fleet = factory.SubFactory(FleetFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = MembershipRole.VIEWER
    secret_hash = factory.LazyAttribute(lambda row: invitation_secret_hash(f"secret-{row.email}"))
    expires_at = factory.LazyFunction(lambda: dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=7))


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    fleet = factory.SubFactory(FleetFactory)
    employee_number = factory.Sequence(lambda n: f"D-{n:06d}")
    first_name = "Sanne"
    last_name = factory.Sequence(lambda n: f"de Vries {n}")
    email = factory.Sequence(lambda n: f"driver{n}@example.com")
    home_rate_per_kwh = Decimal("0.25000")
    iban = "NL91ABNA0417164300"


class ChargeTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargeToken

    driver = factory.SubFactory(DriverFactory)
    uid = factory.Sequence(lambda n: f"04A1B2C3{n:06X}")
    valid_from = dt.datetime(2026, 1, 1, tzinfo=UTC)


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    fleet = factory.SubFactory(FleetFactory)
    vin = factory.LazyFunction(next_vin)
    plate = factory.Sequence(lambda n: f"EV-{n:03d}-X")
    make = "Volkswagen"
    model = "ID.4 Pro"
    model_year = 2024
    usable_battery_kwh = Decimal("77.0")
    max_ac_kw = Decimal("11.0")
    max_dc_kw = Decimal("135.0")
    connector_standards = factory.LazyFunction(
        lambda: [ConnectorStandard.IEC_62196_T2, ConnectorStandard.IEC_62196_T2_COMBO]
    )


class VehicleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleAssignment

    vehicle = factory.SubFactory(VehicleFactory)
    driver = factory.SubFactory(DriverFactory, fleet=factory.SelfAttribute("..vehicle.fleet"))
    starts_at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    ends_at = None


class OdometerReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OdometerReading

    vehicle = factory.SubFactory(VehicleFactory)
    km = 10_000
    recorded_at = dt.datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


class ChargingStationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingStation

    fleet = factory.SubFactory(FleetFactory)
    depot = factory.SubFactory(DepotFactory, fleet=factory.SelfAttribute("..fleet"))
    ocpp_identity = factory.Sequence(lambda n: f"CP-{n:04d}")
    vendor = "Alfen"
    model = "Eve Double Pro-line"
    serial_number = factory.Sequence(lambda n: f"ACE{n:07d}")


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    station = factory.SubFactory(ChargingStationFactory)
    connector_id = 1
    standard = ConnectorStandard.IEC_62196_T2
    power_type = PowerType.AC_3_PHASE
    max_kw = Decimal("22.0")


class ChargingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingSession

    fleet = factory.SubFactory(FleetFactory)
    driver = factory.SubFactory(DriverFactory, fleet=factory.SelfAttribute("..fleet"))
    vehicle = factory.SubFactory(VehicleFactory, fleet=factory.SelfAttribute("..fleet"))
    location_kind = LocationKind.DEPOT
    purpose = SessionPurpose.BUSINESS
    started_at = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    ended_at = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    meter_start_wh = 1_000_000
    meter_stop_wh = 1_020_500
    energy_wh = 20_500
    status = SessionStatus.COMPLETED
    source = SessionSource.MANUAL

    class Params:
        active = factory.Trait(
            status=SessionStatus.ACTIVE, ended_at=None, meter_stop_wh=None, energy_wh=None
        )


class MeterValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterValue

    session = factory.SubFactory(ChargingSessionFactory)
    measured_at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    energy_wh = 1_010_000
    power_w = 11_000
    state_of_charge_percent = 55


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff

    fleet = factory.SubFactory(FleetFactory)
    name = factory.Sequence(lambda n: f"Depot tariff {n}")
    ocpi_id = factory.Sequence(lambda n: f"TARIFF-{n}")
    currency = factory.LazyAttribute(lambda tariff: tariff.fleet.currency)


class TariffElementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffElement

    tariff = factory.SubFactory(TariffFactory)
    energy_price = Decimal("0.30000")
    energy_vat_rate = Decimal("21.00")
    flat_price = Decimal("0.50000")
    flat_vat_rate = Decimal("21.00")


class SessionImportFactory(factory.django.DjangoModelFactory):
    """A provider's file of one public session, imported through the admin."""

    class Meta:
        model = SessionImport

    fleet = factory.SubFactory(FleetFactory)
    file_name = "sessions.csv"
    file_format = ImportFileFormat.CSV
    content = (
        b"cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency\n"
        b"CDR-1,04A1B2C3,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z,10.000,4.00,4.84,EUR\n"
    )
    status = SessionImportStatus.DONE
    rows_total = 1
    rows_done = 1
    imported = 1


class DriverUserFactory(UserFactory):
    """The login a driver uses in the mobile app: not staff."""

    username = factory.Sequence(lambda n: f"driver-login{n}")


@dataclass(frozen=True)
class FleetRows:
    """One fleet with one row of every fleet-owned model, linked to each other."""

    fleet: Fleet
    depot: Depot
    cost_center: CostCenter
    membership: Membership
    invitation: Invitation
    api_key: FleetApiKey
    driver: Driver
    token: ChargeToken
    vehicle: Vehicle
    assignment: VehicleAssignment
    odometer_reading: OdometerReading
    station: ChargingStation
    connector: Connector
    session: ChargingSession
    meter_value: MeterValue
    tariff: Tariff
    tariff_element: TariffElement
    tariff_version: TariffVersion
    session_import: SessionImport
    billing_run: BillingRun
    billing_unit: BillingUnit
    billing_left_out: BillingLeftOut
    invoice: Invoice
    invoice_line: InvoiceLine
    payment: Payment
    credit_note: CreditNote
    credit_note_line: CreditNoteLine
    cost_allocation: CostAllocation
    reimbursement: Reimbursement
    reimbursement_line: ReimbursementLine
    statement: Statement
    export_manifest: ExportManifest
    export_job: ExportJob
    payout_batch: PayoutBatch
    payout_item: PayoutItem
    refund: Refund
    vat_rate_accounts: VatRateAccounts
    payroll_deduction: PayrollDeduction
    payroll_deduction_item: PayrollDeductionItem
    start_request: ChargerCall
    stop_request: ChargerCall

    def row_of(self, model: type[Model] | str) -> Model:
        """This fleet's row of `model`, or the row a field names where it holds several of a
        model (the driver's start and stop requests); for the user model, the driver's
        login."""
        if isinstance(model, str):
            return getattr(self, model)
        if model is get_user_model():
            return self.driver.user
        (row,) = (value for value in vars(self).values() if type(value) is model)
        return row


def fleet_rows_create(**fleet_kwargs) -> FleetRows:
    """A fleet with one row of every model: a viewer's membership, a driver with a login and a
    token, a vehicle assigned to them with an odometer reading, a station with a connector, a
    completed session there with one meter value, and the billing of March 2026 with one row of
    every billing document (see billing_rows_create)."""
    fleet = FleetFactory(**fleet_kwargs)
    depot = DepotFactory(fleet=fleet)
    cost_center = CostCenterFactory(fleet=fleet)
    driver = DriverFactory(fleet=fleet, cost_center=cost_center, user=DriverUserFactory())
    token = ChargeTokenFactory(driver=driver)
    vehicle = VehicleFactory(fleet=fleet, home_depot=depot, cost_center=cost_center)
    station = ChargingStationFactory(fleet=fleet, depot=depot)
    connector = ConnectorFactory(station=station)
    tariff = TariffFactory(fleet=fleet)
    tariff_element = TariffElementFactory(tariff=tariff)
    tariff_version = tariff_publish(
        tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    session = ChargingSessionFactory(
        fleet=fleet,
        driver=driver,
        vehicle=vehicle,
        token=token,
        connector=connector,
        tariff_version=tariff_version,
    )
    billing_rows = billing_rows_create(
        fleet=fleet, driver=driver, cost_center=cost_center, session=session
    )
    return FleetRows(
        fleet=fleet,
        depot=depot,
        cost_center=cost_center,
        membership=MembershipFactory(fleet=fleet, role=MembershipRole.VIEWER),
        invitation=InvitationFactory(fleet=fleet),
        api_key=fleet_api_key_issue(fleet=fleet, name="Payroll export", role=MembershipRole.VIEWER)[
            0
        ],
        driver=driver,
        token=token,
        vehicle=vehicle,
        assignment=VehicleAssignmentFactory(vehicle=vehicle, driver=driver),
        odometer_reading=OdometerReadingFactory(vehicle=vehicle),
        station=station,
        connector=connector,
        session=session,
        meter_value=MeterValueFactory(session=session),
        tariff=tariff,
        tariff_element=tariff_element,
        tariff_version=tariff_version,
        session_import=SessionImportFactory(fleet=fleet),
        **billing_rows,
        **export_rows_create(fleet=fleet),
        **payout_rows_create(fleet=fleet, reimbursement=billing_rows["reimbursement"]),
        refund=Refund.objects.get(invoice=billing_rows["invoice"]),
        vat_rate_accounts=VatRateAccounts.objects.create(
            fleet=fleet,
            vat_rate=Decimal("19.00"),
            revenue_account="8400",
            vat_account="1776",
            input_vat_account="1576",
            input_tax_code="9",
        ),
        **payroll_rows_create(fleet=fleet, driver=driver),
        **charger_request_rows_create(driver=driver, connector=connector, session=session),
    )


def charger_request_rows_create(*, driver, connector, session) -> dict:
    """A start the driver asked the connector's charger for, answered, and a stop of their
    session, queued."""
    moment = dt.datetime(2026, 3, 2, 7, 59, tzinfo=UTC)
    return {
        "start_request": ChargerCall.objects.create(
            station=connector.station,
            action="RemoteStartTransaction",
            payload={"connectorId": connector.connector_id, "idTag": "APP0000000000000001"},
            status=ChargerCallStatus.ANSWERED,
            answer={"status": "Accepted"},
            driver=driver,
            connector=connector,
            session=session,
            created_at=moment,
            answered_at=moment,
        ),
        "stop_request": ChargerCall.objects.create(
            station=connector.station,
            action="RemoteStopTransaction",
            payload={"transactionId": session.pk},
            driver=driver,
            connector=connector,
            session=session,
            created_at=moment,
        ),
    }


def payout_rows_create(*, fleet, reimbursement) -> dict:
    """A SEPA payout batch of the fleet, made but not executed, holding the fleet's
    reimbursement, written as the service writes it."""
    driver = reimbursement.driver
    batch = PayoutBatch.objects.create(
        fleet=fleet,
        message_id=f"VT-{fleet.pk}-20260303090000-rows",
        currency=fleet.currency,
        requested_execution_date=dt.date(2026, 3, 4),
        item_count=1,
        total=reimbursement.amount,
        debtor_name="Fleet GmbH",
        debtor_iban="DE89370400440532013000",
        debtor_bic="COBADEFFXXX",
    )
    item = PayoutItem.objects.create(
        batch=batch,
        reimbursement=reimbursement,
        driver=driver,
        amount=reimbursement.amount,
        end_to_end_id=f"VT-B{batch.pk}-R{reimbursement.pk}",
        creditor_name="Sanne de Vries",
        creditor_iban=driver.iban,
        remittance="Reimbursement of home charging 2026-03",
    )
    return {"payout_batch": batch, "payout_item": item}


def payroll_rows_create(*, fleet, driver) -> dict:
    """A payroll deduction of March 2026 prepared on the fleet's one invoice, written as the
    payroll service writes it (the invoice is settled already, so the service would leave it
    out)."""
    period = payments_services.billing_period_for(fleet=fleet, label="2026-03")
    invoice = Invoice.objects.get(fleet=fleet, driver=driver)
    deduction = PayrollDeduction.objects.create(
        fleet=fleet,
        period_label=period.label,
        period_start=period.start,
        period_end=period.end,
        currency=fleet.currency,
        driver_count=1,
        item_count=1,
        total=invoice.gross_total,
        prepared_at=dt.datetime(2026, 4, 2, 8, 0, tzinfo=UTC),
    )
    item = PayrollDeductionItem.objects.create(
        deduction=deduction, invoice=invoice, driver=driver, amount=invoice.gross_total
    )
    return {"payroll_deduction": deduction, "payroll_deduction_item": item}


def export_rows_create(*, fleet) -> dict:
    """An export of the fleet's March 2026 sessions, its file downloaded at once, and a job
    that failed to build the same export in the background."""
    exported_at = dt.datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    period = payments_services.billing_period_for(fleet=fleet, label="2026-03")
    parameters = {"kind": "sessions", "format": "csv", "period": "2026-03"}
    manifest = ExportManifest.objects.create(
        fleet=fleet,
        kind="sessions",
        file_format="csv",
        period_label="2026-03",
        period_start=period.start,
        period_end=period.end,
        parameters=parameters,
        file_name=f"{fleet.slug}-sessions-2026-03.csv",
        content_type="text/csv; charset=utf-8",
        size_bytes=1200,
        sha256="a" * 64,
        row_count=1,
        currency=fleet.currency,
        requested_by_name="Fleet finance",
        created_at=exported_at,
    )
    job = ExportJob.objects.create(
        fleet=fleet,
        kind="sessions",
        file_format="csv",
        parameters=parameters,
        status=ExportJobStatus.FAILED,
        rows_total=1,
        error="OperationalError: the database went away",
        requested_by_name="Fleet finance",
        started_at=exported_at,
        finished_at=exported_at,
    )
    return {"export_manifest": manifest, "export_job": job}


def billing_rows_create(*, fleet, driver, cost_center, session) -> dict:
    """The fleet's billing run of March 2026 with one row of each billing document, all about
    the fleet's one session.

    The fleet rows hold one session, left unbilled so the charging admin can still change it;
    a run through the services would bill it, so these rows are written as billing writes them.
    The invoice is then issued, paid in part (2.00) and credited whole through the services,
    which leaves it paid, overpaid by the 2.00.
    """
    period = payments_services.billing_period_for(fleet=fleet, label="2026-03")
    billed_at = dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    owed, business_cost, reimbursed = Decimal("7.44"), Decimal("6.15"), Decimal("5.13")
    period_fields = {"period_start": period.start, "period_end": period.end}
    run = BillingRun.objects.create(
        fleet=fleet,
        period_kind=period.kind,
        period_label=period.label,
        status=BillingRunStatus.COMPLETED,
        currency=fleet.currency,
        units_total=1,
        units_done=1,
        session_count=1,
        statement_count=1,
        invoice_count=1,
        invoiced_total=owed,
        allocated_total=business_cost,
        reimbursed_total=reimbursed,
        started_at=billed_at,
        finished_at=billed_at,
        **period_fields,
    )
    unit = BillingUnit.objects.create(
        run=run,
        number=1,
        driver_ids=[driver.pk],
        status=BillingUnitStatus.DONE,
        finished_at=billed_at,
    )
    draft = Invoice.objects.create(
        fleet=fleet,
        driver=driver,
        billing_run=run,
        currency=fleet.currency,
        net_total=business_cost,
        vat_total=owed - business_cost,
        gross_total=owed,
        **period_fields,
    )
    invoice_line = InvoiceLine.objects.create(
        invoice=draft,
        session=session,
        position=1,
        description="Depot charging, 2026-03-02 09:00",
        quantity_kwh=Decimal("20.500"),
        unit_price=Decimal("0.30000"),
        net=business_cost,
        vat_rate=fleet.default_vat_rate,
        vat=owed - business_cost,
        gross=owed,
    )
    invoice = payments_services.invoice_issue(invoice=draft, now=billed_at)
    payment, _created = payments_services.payment_record(
        invoice=invoice,
        amount=Decimal("2.00"),
        currency=fleet.currency,
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key=f"fleet-rows-{fleet.pk}",
        received_at=dt.datetime(2026, 4, 10, 9, 0, tzinfo=UTC),
        now=dt.datetime(2026, 4, 10, 9, 0, tzinfo=UTC),
    )
    credit_note = payments_services.credit_note_issue(
        invoice=invoice,
        reason="Charged by mistake",
        now=dt.datetime(2026, 4, 12, 9, 0, tzinfo=UTC),
    )
    invoice.refresh_from_db()
    reimbursement = Reimbursement.objects.create(
        fleet=fleet,
        driver=driver,
        billing_run=run,
        currency=fleet.currency,
        energy_wh=session.energy_wh,
        amount=reimbursed,
        **period_fields,
    )
    return {
        "billing_run": run,
        "billing_unit": unit,
        "invoice": invoice,
        "invoice_line": invoice_line,
        "payment": payment,
        "credit_note": credit_note,
        "credit_note_line": credit_note.lines.get(),
        "cost_allocation": CostAllocation.objects.create(
            fleet=fleet,
            billing_run=run,
            cost_center=cost_center,
            session=session,
            driver=driver,
            currency=fleet.currency,
            amount=business_cost,
            vat=owed - business_cost,
            **period_fields,
        ),
        "reimbursement": reimbursement,
        "reimbursement_line": ReimbursementLine.objects.create(
            reimbursement=reimbursement,
            session=session,
            energy_wh=session.energy_wh,
            meter_source=session.energy_source,
            price_basis=PriceBasis.HOME_RATE,
            rate_per_kwh=Decimal("0.25000"),
            amount=reimbursed,
        ),
        "billing_left_out": BillingLeftOut.objects.create(
            run=run, session=session, reason=LeftOutReason.NOT_PRICED_YET
        ),
        "statement": Statement.objects.create(
            fleet=fleet,
            driver=driver,
            billing_run=run,
            period_label=period.label,
            currency=fleet.currency,
            invoice=invoice,
            reimbursement=reimbursement,
            private_session_count=1,
            business_session_count=1,
            home_session_count=1,
            private_owed=owed,
            business_cost=business_cost,
            reimbursement_due=reimbursed,
            net_to_driver=reimbursed - owed,
            **period_fields,
        ),
    }
