"""Invoice and credit note totals: VAT per rate over the summed line nets (EN 16931 BR-CO-17),
rounded once per rate, so the lines' nets plus the VAT always make the gross exactly. Pure."""

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from voltop.core.money import round_money, vat_of


class VatSubtotal(NamedTuple):
    """One VAT rate's share of a document (an EN 16931 VAT breakdown row)."""

    rate: Decimal
    taxable: Decimal
    vat: Decimal


class DocumentTotals(NamedTuple):
    net: Decimal
    vat: Decimal
    gross: Decimal
    by_rate: tuple[VatSubtotal, ...]


def document_totals(lines: Iterable[tuple[Decimal, Decimal]], currency: str) -> DocumentTotals:
    """Totals of a document whose lines are (net, VAT rate) pairs."""
    taxable_by_rate: dict[Decimal, Decimal] = {}
    for net, rate in lines:
        rate = rate.normalize() if rate else Decimal(0)
        taxable_by_rate[rate] = taxable_by_rate.get(rate, Decimal(0)) + round_money(net, currency)
    by_rate = tuple(
        VatSubtotal(rate=rate, taxable=taxable, vat=vat_of(taxable, rate, currency))
        for rate, taxable in sorted(taxable_by_rate.items())
    )
    net_total = round_money(sum((row.taxable for row in by_rate), Decimal(0)), currency)
    vat_total = round_money(sum((row.vat for row in by_rate), Decimal(0)), currency)
    return DocumentTotals(
        net=net_total, vat=vat_total, gross=net_total + vat_total, by_rate=by_rate
    )


def _taxable_by_rate(lines: Iterable[tuple[Decimal, Decimal]], currency: str) -> dict:
    taxable: dict[Decimal, Decimal] = {}
    for net, rate in lines:
        rate = rate.normalize() if rate else Decimal(0)
        taxable[rate] = taxable.get(rate, Decimal(0)) + round_money(net, currency)
    return taxable


def credit_note_totals(
    *,
    credited_before: Iterable[tuple[Decimal, Decimal]],
    lines: Iterable[tuple[Decimal, Decimal]],
    currency: str,
) -> DocumentTotals:
    """Totals of a credit note for `lines` (net, rate) of an invoice whose `credited_before`
    lines earlier credit notes took. Per rate, its VAT is the VAT on all that is credited at
    that rate once it is issued, minus the VAT on what was credited before: an invoice's
    credit notes together never give back more VAT than it charged, and give back exactly that
    once every line is credited."""
    before = _taxable_by_rate(credited_before, currency)
    now = _taxable_by_rate(lines, currency)
    by_rate = tuple(
        VatSubtotal(
            rate=rate,
            taxable=taxable,
            vat=vat_of(before.get(rate, Decimal(0)) + taxable, rate, currency)
            - vat_of(before.get(rate, Decimal(0)), rate, currency),
        )
        for rate, taxable in sorted(now.items())
    )
    net_total = round_money(sum((row.taxable for row in by_rate), Decimal(0)), currency)
    vat_total = round_money(sum((row.vat for row in by_rate), Decimal(0)), currency)
    return DocumentTotals(
        net=net_total, vat=vat_total, gross=net_total + vat_total, by_rate=by_rate
    )
