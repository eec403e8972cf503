"""SEPA payouts: a batch pays a fleet's approved reimbursements and owed refunds by credit
transfer from the fleet's account, as a pain.001.001.09 file; it is then executed (what it paid
is paid) or cancelled (what it held is free again)."""

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from schwifty import IBAN

from apps.drivers.models import Driver
from apps.fleets.choices import RefundMethod
from apps.fleets.models import Fleet
from apps.fleets.validators import bic_matches_iban, normalize_bic, normalize_iban
from apps.payments import sepa
from apps.payments.choices import (
    PayoutBatchStatus,
    RefundStatus,
    ReimbursementStatus,
)
from apps.payments.exceptions import (
    PayoutAccountInvalid,
    PayoutAlreadyInBatch,
    PayoutBatchCancelled,
    PayoutBatchExecuted,
    PayoutCurrencyNotEuro,
    PayoutExecutionDateInvalid,
    PayoutNothingToPay,
    PayoutSettingsMissing,
    RefundNotOwed,
    ReimbursementAlreadyPaid,
    ReimbursementNotApproved,
)
from apps.payments.models import PayoutBatch, PayoutItem, Refund, Reimbursement
from apps.payments.services import reimbursement_mark_paid
from voltop.core.errors import NotFound
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)

SEPA_CURRENCY = "EUR"
REIMBURSEMENT = "R"
REFUND = "F"
NO_IBAN = "no IBAN"
NO_ACCOUNT_HOLDER = "no account holder"
NOTHING_TO_PAY = "an amount of zero"


@dataclass(frozen=True)
class PayoutLeftOut:
    """A reimbursement or refund that was due but is not in the batch, and why."""

    driver: Driver
    description: str
    amount: Decimal
    reason: str

    def __str__(self) -> str:
        return f"{self.description} of {_driver_text(self.driver)}, {self.amount}: {self.reason}"


@dataclass(frozen=True)
class PayoutBatchCreated:
    """A new batch, with what was due and left out of it."""

    batch: PayoutBatch
    left_out: tuple[PayoutLeftOut, ...]


@dataclass(frozen=True)
class _Due:
    """One reimbursement or refund to pay, with the driver it is paid to."""

    kind: str
    row: Reimbursement | Refund
    description: str
    remittance: str

    @property
    def driver(self) -> Driver:
        return self.row.driver


def _driver_text(driver: Driver) -> str:
    return f"driver {driver.first_name} {driver.last_name} ({driver.employee_number})"


def _fleet_text(fleet: Fleet) -> str:
    return f"fleet {fleet.name}"


def _address_texts(*, street: str, postal_code: str, town: str, country: str, payee: str) -> dict:
    """The parts of an address in the EPC set; all empty (left out) without a town and a
    country, since a structured address needs both."""
    if not town.strip() or not country:
        return {"street": "", "postal_code": "", "town": "", "country": ""}
    return {
        "street": sepa.epc_text(
            street, field="street", label="street", payee=payee, max_length=sepa.STREET_MAX_LENGTH
        ),
        "postal_code": sepa.epc_text(
            postal_code,
            field="postal_code",
            label="postal code",
            payee=payee,
            max_length=sepa.POSTAL_CODE_MAX_LENGTH,
        ),
        "town": sepa.epc_text(
            town, field="city", label="city", payee=payee, max_length=sepa.TOWN_MAX_LENGTH
        ),
        "country": str(country),
    }


def _debtor(fleet: Fleet) -> dict:
    """The batch's debtor fields from the fleet's settings, or a refusal naming the field."""
    if fleet.currency != SEPA_CURRENCY:
        raise PayoutCurrencyNotEuro(
            f"SEPA credit transfers are in euros; the {_fleet_text(fleet)} bills in "
            f"{fleet.currency}.",
            field="currency",
        )
    for field, label in (("iban", "IBAN"), ("bic", "BIC")):
        if not getattr(fleet, field).strip():
            raise PayoutSettingsMissing(
                f"The {_fleet_text(fleet)} has no {label}: a payout file needs the account it "
                "pays from. Set it in the fleet's bank settings.",
                field=field,
            )
    try:
        iban = normalize_iban(fleet.iban)
    except ValidationError as error:
        raise PayoutAccountInvalid(
            f"The IBAN of the {_fleet_text(fleet)} is invalid: {error.messages[0]}", field="iban"
        ) from error
    try:
        bic = normalize_bic(fleet.bic)
        bic_matches_iban(bic=bic, iban=iban)
    except ValidationError as error:
        raise PayoutAccountInvalid(
            f"The BIC of the {_fleet_text(fleet)} is invalid: {error.messages[0]}", field="bic"
        ) from error
    payee = _fleet_text(fleet)
    address = _address_texts(
        street=fleet.street,
        postal_code=fleet.postal_code,
        town=fleet.city,
        country=fleet.country,
        payee=payee,
    )
    return {
        "debtor_name": sepa.epc_text(
            fleet.legal_name or fleet.name,
            field="legal_name",
            label="name",
            payee=payee,
            max_length=sepa.NAME_MAX_LENGTH,
        ),
        "debtor_iban": iban,
        "debtor_bic": bic,
        **{f"debtor_{part}": value for part, value in address.items()},
    }


def _creditor_iban(driver: Driver) -> str:
    try:
        iban = normalize_iban(driver.iban)
    except ValidationError as error:
        raise PayoutAccountInvalid(
            f"The IBAN of {_driver_text(driver)} is invalid: {error.messages[0]}", field="iban"
        ) from error
    if not IBAN(iban).in_sepa_zone:
        raise PayoutAccountInvalid(
            f"The IBAN of {_driver_text(driver)} is of an account outside the SEPA area, which "
            "a SEPA credit transfer cannot reach.",
            field="iban",
        )
    return iban


def _creditor(driver: Driver) -> dict:
    """The item's creditor fields from the driver, in the EPC set."""
    payee = _driver_text(driver)
    address = _address_texts(
        street=driver.street,
        postal_code=driver.postal_code,
        town=driver.city,
        country=driver.country,
        payee=payee,
    )
    return {
        "creditor_name": sepa.epc_text(
            driver.account_holder,
            field="account_holder",
            label="account holder",
            payee=payee,
            max_length=sepa.NAME_MAX_LENGTH,
        ),
        "creditor_iban": _creditor_iban(driver),
        **{f"creditor_{part}": value for part, value in address.items()},
    }


def _held(field: str) -> Exists:
    return Exists(PayoutItem.objects.filter(**{field: OuterRef("pk")}, released=False))


def _reimbursement_due(reimbursement: Reimbursement) -> _Due:
    label = reimbursement.billing_run.period_label
    return _Due(
        kind=REIMBURSEMENT,
        row=reimbursement,
        description=f"reimbursement {reimbursement.pk} ({label})",
        remittance=f"Reimbursement of home charging {label}",
    )


def _refund_due(refund: Refund) -> _Due:
    return _Due(
        kind=REFUND,
        row=refund,
        description=f"refund {refund.pk} (invoice {refund.invoice.number})",
        remittance=f"Refund on invoice {refund.invoice.number}",
    )


def _given_reimbursements_due(fleet: Fleet, reimbursements: Iterable[Reimbursement]) -> list:
    """The given reimbursements, each refused by name unless approved, unpaid and free."""
    ids = [reimbursement.pk for reimbursement in reimbursements]
    rows = (
        Reimbursement.objects.select_for_update(of=("self",))
        .filter(fleet=fleet, pk__in=ids)
        .select_related("driver", "billing_run")
        .order_by("driver_id", "pk")
    )
    due = []
    for reimbursement in rows:
        name = f"Reimbursement {reimbursement.pk} of {_driver_text(reimbursement.driver)}"
        if reimbursement.status == ReimbursementStatus.PAID:
            raise ReimbursementAlreadyPaid(
                f"{name} was paid on "
                f"{local_time_text(reimbursement.paid_at, fleet.zone)}; a reimbursement is "
                "paid once.",
                field="reimbursements",
            )
        if reimbursement.status != ReimbursementStatus.APPROVED:
            raise ReimbursementNotApproved(
                f"{name} is {reimbursement.get_status_display().lower()}; only an approved "
                "reimbursement is paid out.",
                field="reimbursements",
            )
        holding = (
            PayoutItem.objects.filter(reimbursement=reimbursement, released=False)
            .select_related("batch")
            .first()
        )
        if holding is not None:
            raise PayoutAlreadyInBatch(
                f"{name} is already in the payout batch {holding.batch.message_id}.",
                field="reimbursements",
            )
        due.append(_reimbursement_due(reimbursement))
    if len(due) != len(set(ids)):
        raise NotFound(
            f"A reimbursement chosen is not one of the {_fleet_text(fleet)}.",
            field="reimbursements",
        )
    return due


def _all_due(fleet: Fleet) -> list[_Due]:
    """The fleet's approved reimbursements and, when it pays refunds out, owed refunds that
    no open batch holds, locked."""
    reimbursements = (
        Reimbursement.objects.select_for_update(of=("self",))
        .filter(fleet=fleet, status=ReimbursementStatus.APPROVED)
        .filter(~_held("reimbursement"))
        .select_related("driver", "billing_run")
        .order_by("driver_id", "pk")
    )
    due = [_reimbursement_due(reimbursement) for reimbursement in reimbursements]
    if fleet.refund_method == RefundMethod.PAYOUT:
        refunds = (
            Refund.objects.select_for_update(of=("self",))
            .filter(fleet=fleet, status=RefundStatus.OWED)
            .filter(~_held("refund"))
            .select_related("driver", "invoice")
            .order_by("driver_id", "pk")
        )
        due += [_refund_due(refund) for refund in refunds]
    return due


def _left_out_reason(due: _Due) -> str | None:
    if not due.driver.iban.strip():
        return NO_IBAN
    if not due.driver.account_holder.strip():
        return NO_ACCOUNT_HOLDER
    if due.row.amount <= 0:
        return NOTHING_TO_PAY
    return None


def _nothing_to_pay_text(fleet: Fleet, left_out: list[PayoutLeftOut]) -> str:
    if left_out:
        reasons = "; ".join(str(entry) for entry in left_out)
        return f"The {_fleet_text(fleet)} has nothing to pay out: left out {reasons}."
    refunds = (
        ", and no refund is owed"
        if fleet.refund_method == RefundMethod.PAYOUT
        else " (refunds are set off against the next invoice)"
    )
    return (
        f"The {_fleet_text(fleet)} has nothing to pay out: no reimbursement is approved, "
        f"unpaid and free of an open batch{refunds}."
    )


def _execution_date(fleet: Fleet, execution_date: dt.date | None, now: dt.datetime) -> dt.date:
    today = now.astimezone(fleet.zone).date()
    if execution_date is None:
        return today
    if execution_date < today:
        raise PayoutExecutionDateInvalid(
            f"The execution date {execution_date.isoformat()} has passed: choose "
            f"{today.isoformat()} (today in the fleet's time zone) or later.",
            field="execution_date",
        )
    return execution_date


@transaction.atomic
def payout_batch_create(
    *,
    fleet: Fleet,
    created_by,
    execution_date: dt.date | None = None,
    now: dt.datetime | None = None,
    reimbursements: Iterable[Reimbursement] | None = None,
) -> PayoutBatchCreated:
    """Make a SEPA payout batch of the fleet paying, to each driver's IBAN in their account
    holder's name, every approved unpaid reimbursement and, when the fleet pays refunds out,
    every owed refund that no open batch holds; or only the `reimbursements` given, each refused
    by name if paid, not approved or in an open batch. The fleet is locked first, then the rows,
    so two batches made at once never pay one thing twice (and the database refuses it).

    Drivers without an IBAN or an account holder are left out and reported, never silently.
    Refused whole, with nothing written: a fleet without SEPA settings (currency EUR, IBAN,
    BIC), an invalid IBAN or BIC, a name or address with a character outside the EPC set that
    cannot be transliterated, an execution date in the past, and nothing to pay. The file is
    validated against pain.001.001.09 and its SHA-256 stored.
    """
    now = now or timezone.now()
    require_aware(now, field="now")
    fleet = Fleet.objects.select_for_update().get(pk=fleet.pk)
    debtor = _debtor(fleet)
    requested = _execution_date(fleet, execution_date, now)
    due = (
        _all_due(fleet)
        if reimbursements is None
        else _given_reimbursements_due(fleet, reimbursements)
    )
    paying, left_out = [], []
    for item in due:
        reason = _left_out_reason(item)
        if reason is None:
            paying.append((item, _creditor(item.driver)))
        else:
            left_out.append(PayoutLeftOut(item.driver, item.description, item.row.amount, reason))
    if not paying:
        raise PayoutNothingToPay(_nothing_to_pay_text(fleet, left_out))
    batch = PayoutBatch.objects.create(
        fleet=fleet,
        message_id=sepa.message_id(
            fleet_id=fleet.pk, created_at=now.astimezone(dt.UTC), token=secrets.token_hex(3)
        ),
        currency=fleet.currency,
        requested_execution_date=requested,
        item_count=len(paying),
        total=sum((item.row.amount for item, _creditor_fields in paying), Decimal("0.00")),
        created_by=created_by,
        **debtor,
    )
    items = [
        PayoutItem(
            batch=batch,
            reimbursement=item.row if item.kind == REIMBURSEMENT else None,
            refund=item.row if item.kind == REFUND else None,
            driver=item.driver,
            amount=item.row.amount,
            end_to_end_id=sepa.end_to_end_id(
                batch_id=batch.pk, kind=item.kind, object_id=item.row.pk
            ),
            remittance=sepa.epc_text(
                item.remittance,
                field="remittance",
                label="remittance",
                payee=_driver_text(item.driver),
                max_length=sepa.REMITTANCE_MAX_LENGTH,
            ),
            **creditor,
        )
        for item, creditor in paying
    ]
    try:
        with transaction.atomic():
            PayoutItem.objects.bulk_create(items)
    except IntegrityError as error:
        raise PayoutAlreadyInBatch(
            "A reimbursement or refund of the batch is already in another payout batch.",
            field="reimbursements",
        ) from error
    batch.sha256 = hashlib.sha256(payout_batch_xml(batch)).hexdigest()
    batch.save(update_fields=["sha256", "updated_at"])
    logger.info(
        "payments.payout_batch_created",
        extra={
            "payout_batch_id": batch.pk,
            "fleet_id": fleet.pk,
            "item_count": batch.item_count,
            "total": str(batch.total),
            "left_out_count": len(left_out),
        },
    )
    return PayoutBatchCreated(batch=batch, left_out=tuple(left_out))


def _address(*, street: str, postal_code: str, town: str, country: str):
    return sepa.postal_address(street=street, postal_code=postal_code, town=town, country=country)


def payout_batch_xml(batch: PayoutBatch) -> bytes:
    """The batch's pain.001.001.09 file, rebuilt from its stored rows: the same bytes every
    time, so their SHA-256 is the one stored when it was made. Validated against the schema."""
    zone = batch.fleet.zone
    transfers = tuple(
        sepa.CreditTransfer(
            end_to_end_id=item.end_to_end_id,
            amount=item.amount,
            creditor_name=item.creditor_name,
            creditor_iban=item.creditor_iban,
            creditor_address=_address(
                street=item.creditor_street,
                postal_code=item.creditor_postal_code,
                town=item.creditor_town,
                country=item.creditor_country,
            ),
            remittance=item.remittance,
        )
        for item in batch.items.order_by("pk")
    )
    return sepa.credit_transfer_xml(
        sepa.CreditTransferFile(
            message_id=batch.message_id,
            created_at=batch.created_at.astimezone(zone),
            requested_execution_date=batch.requested_execution_date,
            currency=batch.currency,
            debtor_name=batch.debtor_name,
            debtor_iban=batch.debtor_iban,
            debtor_bic=batch.debtor_bic,
            debtor_address=_address(
                street=batch.debtor_street,
                postal_code=batch.debtor_postal_code,
                town=batch.debtor_town,
                country=batch.debtor_country,
            ),
            transfers=transfers,
        )
    )


def payout_batch_filename(batch: PayoutBatch) -> str:
    """The name the batch's file is downloaded under."""
    return f"{batch.message_id}.xml"


def _batch_locked(batch: PayoutBatch) -> PayoutBatch:
    Fleet.objects.select_for_update().get(pk=batch.fleet_id)
    return PayoutBatch.objects.select_for_update().select_related("fleet").get(pk=batch.pk)


def _refund_mark_paid(refund: Refund, *, now: dt.datetime) -> None:
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.OWED:
        raise RefundNotOwed(
            f"Refund {refund.pk} is {refund.get_status_display().lower()}, no longer owed; "
            "cancel the batch and make a new one.",
            field="status",
        )
    refund.status = RefundStatus.PAID
    refund.settled_at = now
    refund.save(update_fields=["status", "settled_at", "updated_at"])


@transaction.atomic
def payout_batch_execute(*, batch: PayoutBatch, by, now: dt.datetime | None = None) -> PayoutBatch:
    """Record that the bank paid the batch: its reimbursements are paid (through
    reimbursement_mark_paid, at `now`) and its refunds paid. Only a created batch is executed;
    executing it again returns it unchanged, a cancelled one is refused and nothing changes."""
    now = now or timezone.now()
    require_aware(now, field="now")
    batch = _batch_locked(batch)
    if batch.status == PayoutBatchStatus.EXECUTED:
        return batch
    if batch.status == PayoutBatchStatus.CANCELLED:
        raise PayoutBatchCancelled(
            f"The payout batch {batch.message_id} was cancelled on "
            f"{local_time_text(batch.cancelled_at, batch.fleet.zone)}; a cancelled batch is "
            "never executed. Make a new batch.",
            field="status",
        )
    for item in batch.items.select_related("reimbursement", "refund").order_by("pk"):
        if item.reimbursement is not None:
            reimbursement_mark_paid(
                reimbursement=item.reimbursement,
                paid_at=now,
                paid_by=by,
                now=now,
                payout_batch=batch,
            )
        else:
            _refund_mark_paid(item.refund, now=now)
    batch.status = PayoutBatchStatus.EXECUTED
    batch.executed_at = now
    batch.executed_by = by
    batch.save(update_fields=["status", "executed_at", "executed_by", "updated_at"])
    logger.info(
        "payments.payout_batch_executed",
        extra={"payout_batch_id": batch.pk, "item_count": batch.item_count},
    )
    return batch


@transaction.atomic
def payout_batch_cancel(*, batch: PayoutBatch, by, now: dt.datetime | None = None) -> PayoutBatch:
    """Cancel a batch the bank has not paid: its items are released, so what they held can go
    into a new batch. Cancelling it again returns it unchanged; an executed batch is refused
    and nothing changes."""
    now = now or timezone.now()
    require_aware(now, field="now")
    batch = _batch_locked(batch)
    if batch.status == PayoutBatchStatus.CANCELLED:
        return batch
    if batch.status == PayoutBatchStatus.EXECUTED:
        raise PayoutBatchExecuted(
            f"The payout batch {batch.message_id} was executed on "
            f"{local_time_text(batch.executed_at, batch.fleet.zone)}: the bank paid it, so it "
            "cannot be cancelled.",
            field="status",
        )
    batch.items.update(released=True)
    batch.status = PayoutBatchStatus.CANCELLED
    batch.cancelled_at = now
    batch.cancelled_by = by
    batch.save(update_fields=["status", "cancelled_at", "cancelled_by", "updated_at"])
    logger.info("payments.payout_batch_cancelled", extra={"payout_batch_id": batch.pk})
    return batch
