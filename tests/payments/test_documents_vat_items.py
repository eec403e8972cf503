"""Invoices and credit notes carry what EU VAT Directive Art. 226 asks: number and issue date,
the seller's legal name, address and VAT id, the customer's name and address, the supply
period in the fleet's zone, the lines with their VAT rate, the VAT per rate, and (invoices)
the payment instructions. A fleet whose settings lack an item still gets its documents."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.http import HttpResponse
from django.utils.html import strip_tags

from apps.fleets.services import fleet_update
from apps.payments import services
from apps.payments.documents import (
    credit_note_html,
    credit_note_pdf,
    credit_note_pdf_filename,
    invoice_html,
)
from apps.payments.models import Invoice
from tests.factories import DriverFactory, FleetFactory
from tests.html_tables import table_rows
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
ISSUED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

SELLER = {
    "legal_name": "Voltop Logistics B.V.",
    "street": "Stationsplein 45",
    "postal_code": "3013 AK",
    "city": "Rotterdam",
    "vat_id": "NL853015123B01",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
}


def text_of(html: str) -> str:
    """The document's text as a person reads it: line breaks and runs of white space one
    space, tags gone."""
    return re.sub(r"\s+", " ", strip_tags(re.sub(r"<br\s*/?>", " ", html))).strip()


@pytest.fixture
def fleet():
    fleet = FleetFactory(name="Voltop Logistics", country="NL", default_vat_rate=D("21.00"))
    fleet_update(fleet=fleet, changes=SELLER)
    return fleet


@pytest.fixture
def driver(fleet):
    return DriverFactory(
        fleet=fleet,
        first_name="Sanne",
        last_name="de Vries",
        employee_number="E00042",
        street="Prinsengracht 263",
        postal_code="1016 GV",
        city="Amsterdam",
        country="NL",
    )


@pytest.fixture
def invoice(driver, run_billing) -> Invoice:
    """October (in Amsterdam) billed on 2 November: two lines, nets 10.00 and 5.00 at 21 %."""
    for day, net in ((3, D("10.00")), (4, D("5.00"))):
        priced_session_create(
            driver=driver, started_at=dt.datetime(2026, 10, day, 8, tzinfo=UTC), price_excl_vat=net
        )
    with time_machine.travel(ISSUED_AT, tick=False):
        run_billing(driver.fleet, "2026-10")
    return Invoice.objects.get(driver=driver)


def test_the_invoice_carries_every_item_art_226_asks(invoice):
    text = text_of(invoice_html(invoice))

    assert "Invoice VT-2026-000001" in text
    assert "Issued 2 Nov 2026" in text
    assert "Due 16 Nov 2026" in text
    assert "Supply period 2026-10-01 to 2026-10-31" in text
    assert (
        "Seller Voltop Logistics B.V. Stationsplein 45 3013 AK Rotterdam Netherlands "
        "VAT id NL853015123B01"
    ) in text
    assert "Customer Sanne de Vries Prinsengracht 263 1016 GV Amsterdam Netherlands" in text
    assert (
        "Please transfer 18.15 EUR by 16 Nov 2026 to Voltop Logistics B.V.: "
        "IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX Reference to quote: VT-2026-000001"
    ) in text


def test_the_invoice_lines_show_quantity_description_net_and_rate_and_vat_per_rate(invoice):
    response = HttpResponse(invoice_html(invoice))

    lines = table_rows(response, class_="lines")
    totals = table_rows(response, class_="totals")

    assert lines == [
        ["#", "Description", "Vehicle", "kWh", "Net / kWh", "Net", "VAT %"],
        ["1", "Depot charging, 2026-10-03 10:00", "–", "20.000", "0.50000", "10.00", "21.00"],
        ["2", "Depot charging, 2026-10-04 10:00", "–", "20.000", "0.25000", "5.00", "21.00"],
    ]
    assert totals == [
        ["Total net", "15.00 EUR"],
        ["VAT 21 % on 15.00", "3.15 EUR"],
        ["Total", "18.15 EUR"],
    ]


def test_an_invoice_of_a_fleet_without_seller_settings_still_renders_and_says_what_is_lacking(
    run_billing,
):
    fleet = FleetFactory(name="Bare Fleet", country="NL")
    driver = DriverFactory(fleet=fleet, first_name="Sanne", last_name="de Vries")
    priced_session_create(
        driver=driver, started_at=dt.datetime(2026, 10, 3, 8, tzinfo=UTC), price_excl_vat=D("1")
    )
    with time_machine.travel(ISSUED_AT, tick=False):
        run_billing(fleet, "2026-10")

    text = text_of(invoice_html(Invoice.objects.get(driver=driver)))

    assert "Seller Bare Fleet Netherlands VAT id not given" in text
    assert "Customer Sanne de Vries Employee" in text
    assert "Bare Fleet has given no bank account yet and will tell you how to pay." in text
    assert "Reference to quote: VT-2026-000001" in text


def test_the_credit_note_carries_seller_customer_invoice_reason_lines_and_vat(invoice):
    line = invoice.lines.get(position=1)
    with time_machine.travel(dt.datetime(2026, 11, 5, 10, tzinfo=UTC), tick=False):
        credit_note = services.credit_note_issue(
            invoice=invoice, reason="Charger fault", line_ids=[line.pk]
        )

    html = credit_note_html(credit_note)
    text = text_of(html)
    response = HttpResponse(html)

    assert "Credit note CN-2026-000001 for invoice VT-2026-000001" in text
    assert "Issued 5 Nov 2026" in text
    assert "Supply period 2026-10-01 to 2026-10-31" in text
    assert (
        "Seller Voltop Logistics B.V. Stationsplein 45 3013 AK Rotterdam Netherlands "
        "VAT id NL853015123B01"
    ) in text
    assert "Customer Sanne de Vries Prinsengracht 263 1016 GV Amsterdam Netherlands" in text
    assert "Reason Charger fault" in text
    assert table_rows(response, class_="lines")[1:] == [
        ["1", "Depot charging, 2026-10-03 10:00", "20.000", "−10.00", "21.00"]
    ]
    assert table_rows(response, class_="totals") == [
        ["Total net credited", "−10.00 EUR"],
        ["VAT 21 % on 10.00", "−2.10 EUR"],
        ["Total credited", "−12.10 EUR"],
    ]


def test_the_credit_note_prints_as_a_pdf_under_its_number(invoice):
    credit_note = services.credit_note_issue(invoice=invoice, reason="Charged twice")

    assert credit_note_pdf(credit_note).startswith(b"%PDF-")
    assert credit_note_pdf_filename(credit_note) == "CN-2026-000001.pdf"
