"""A fleet's accounting settings: SKR03's accounts per VAT rate for a new fleet (and, by the
data migration, for every fleet there was), the ledger accounts and DATEV numbers through
fleet_create and fleet_update and the fleet admin page, the accounts per VAT rate through their
services and the page's inline, and accounts longer than the account length refused naming
the field, with nothing changed."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.fleets.chart_of_accounts import account_too_long_message, accounts_too_long
from apps.fleets.choices import MembershipRole, RefundMethod
from apps.fleets.models import Fleet, VatRateAccounts
from apps.fleets.services import (
    fleet_create,
    fleet_delete,
    fleet_update,
    vat_rate_accounts_create,
    vat_rate_accounts_delete,
    vat_rate_accounts_update,
)
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory
from tests.fleets.accounting_form import accounting_form_fields
from tests.migrations import migrate_to, migrate_to_latest

SKR03 = [
    (Decimal("19.00"), "8400", "", "1776", "1576", "9"),
    (Decimal("7.00"), "8300", "", "1771", "1571", "8"),
    (Decimal("0.00"), "8110", "", "", "", ""),
]
ROW = (
    "vat_rate",
    "revenue_account",
    "revenue_tax_code",
    "vat_account",
    "input_vat_account",
    "input_tax_code",
)
BASE = {
    "name": "Fleet A",
    "slug": "fleet-a",
    "country": "DE",
    "currency": "EUR",
    "time_zone": "Europe/Berlin",
    "default_vat_rate": Decimal("19.00"),
}


def _rows(fleet) -> list[tuple]:
    return list(VatRateAccounts.objects.filter(fleet=fleet).values_list(*ROW))


def test_account_numbers_longer_than_the_account_length_are_named_with_why():
    assert accounts_too_long({"bank_account": "12000", "receivables_account": "1400"}, 4) == {
        "bank_account": "12000 has 5 digits; the fleet's accounts have at most 4 (its account "
        "length)."
    }
    assert account_too_long_message("", 4) is None


@pytest.mark.django_db
def test_a_new_fleet_starts_with_skr03s_accounts_for_19_7_and_0_percent():
    fleet = fleet_create(**BASE)

    assert _rows(fleet) == SKR03
    assert (
        fleet.receivables_account,
        fleet.bank_account,
        fleet.charging_cost_account,
        fleet.charging_payable_account,
        fleet.reimbursement_payable_account,
        fleet.account_length,
        fleet.refund_method,
    ) == ("1400", "1200", "4530", "1600", "1740", 4, RefundMethod.SET_OFF)


@pytest.mark.django_db
def test_fleet_create_and_update_take_the_accounting_and_datev_settings():
    fleet = fleet_create(
        **BASE,
        account_length=5,
        fiscal_year_start_month=4,
        bank_account="12010",
        datev_consultant_number=29098,
        datev_client_number=55003,
    )

    fleet_update(
        fleet=fleet,
        changes={"receivables_account": "14001", "refund_method": RefundMethod.PAYOUT},
    )

    fleet.refresh_from_db()
    assert (
        fleet.account_length,
        fleet.fiscal_year_start_month,
        fleet.bank_account,
        fleet.receivables_account,
        fleet.refund_method,
        fleet.datev_consultant_number,
        fleet.datev_client_number,
    ) == (5, 4, "12010", "14001", RefundMethod.PAYOUT, 29098, 55003)


@pytest.mark.django_db
def test_an_account_longer_than_the_account_length_is_refused_and_nothing_is_made():
    with pytest.raises(ValidationError) as refused:
        fleet_create(**BASE, bank_account="12000")

    assert refused.value.message_dict == {
        "bank_account": [
            "12000 has 5 digits; the fleet's accounts have at most 4 (its account length)."
        ]
    }
    assert not Fleet.objects.exists()
    assert not VatRateAccounts.objects.exists()


@pytest.mark.django_db
def test_an_account_length_below_an_account_per_vat_rate_is_refused_and_changes_nothing():
    fleet = fleet_create(**BASE, account_length=5)
    accounts = VatRateAccounts.objects.get(fleet=fleet, vat_rate=19)
    vat_rate_accounts_update(accounts=accounts, changes={"revenue_account": "84000"})

    with pytest.raises(ValidationError) as refused:
        fleet_update(fleet=Fleet.objects.get(pk=fleet.pk), changes={"account_length": 4})

    assert refused.value.message_dict == {
        "account_length": [
            "The account length must be at least 5: the accounts per VAT rate include 84000."
        ]
    }
    assert Fleet.objects.get(pk=fleet.pk).account_length == 5


@pytest.mark.django_db
def test_accounts_per_vat_rate_are_added_changed_and_removed_through_their_services():
    fleet = fleet_create(**BASE)

    added = vat_rate_accounts_create(
        fleet=fleet,
        vat_rate=Decimal("21.00"),
        revenue_account="8200",
        vat_account="1770",
        input_vat_account="1570",
    )
    vat_rate_accounts_update(accounts=added, changes={"input_tax_code": "9"})
    vat_rate_accounts_delete(accounts=VatRateAccounts.objects.get(fleet=fleet, vat_rate=0))

    assert _rows(fleet) == [
        (Decimal("21.00"), "8200", "", "1770", "1570", "9"),
        *SKR03[:2],
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"vat_rate": Decimal("19.00"), "revenue_account": "8400"},
            "__all__",
            "The fleet already has accounts for this VAT rate.",
        ),
        (
            {"vat_rate": Decimal("21.00"), "revenue_account": "82000"},
            "revenue_account",
            "82000 has 5 digits; the fleet's accounts have at most 4 (its account length).",
        ),
        (
            {"vat_rate": Decimal("21.00"), "revenue_account": "82a0"},
            "revenue_account",
            "A ledger account is 1 to 8 digits.",
        ),
    ],
)
def test_bad_accounts_per_vat_rate_are_refused_naming_the_field_and_nothing_is_added(
    fields, field, message
):
    fleet = fleet_create(**BASE)

    with pytest.raises(ValidationError) as refused:
        vat_rate_accounts_create(fleet=fleet, **fields)

    assert refused.value.message_dict[field] == [message]
    assert _rows(fleet) == SKR03


@pytest.mark.django_db
def test_an_empty_fleet_is_deleted_with_its_accounts_per_vat_rate():
    fleet = fleet_create(**BASE)

    fleet_delete(fleet=fleet)

    assert not Fleet.objects.exists()
    assert not VatRateAccounts.objects.exists()


@pytest.mark.django_db
def test_the_fleet_page_saves_accounting_settings_and_a_vat_rates_accounts_through_the_services(
    client,
):
    fleet = FleetFactory(name="Fleet A", slug="fleet-a", country="NL")
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    client.force_login(user)
    change = reverse("admin:fleets_fleet_change", args=[fleet.pk])
    payload = {
        "name": "Fleet A",
        "default_vat_rate": "21.00",
        "billing_period": "monthly",
        "payment_terms_days": "14",
        "csv_delimiter": ",",
        "csv_decimal_separator": ".",
        "depots-TOTAL_FORMS": "0",
        "depots-INITIAL_FORMS": "0",
        "cost_centers-TOTAL_FORMS": "0",
        "cost_centers-INITIAL_FORMS": "0",
        **accounting_form_fields(
            fleet,
            bank_account="1210",
            datev_consultant_number="29098",
            datev_client_number="55003",
            **{
                "vat_rate_accounts-TOTAL_FORMS": "1",
                "vat_rate_accounts-0-vat_rate": "21.00",
                "vat_rate_accounts-0-revenue_account": "8200",
                "vat_rate_accounts-0-vat_account": "1770",
                "vat_rate_accounts-0-input_vat_account": "1570",
                "vat_rate_accounts-0-input_tax_code": "",
                "vat_rate_accounts-0-revenue_tax_code": "",
            },
        ),
    }

    page = client.get(change)
    response = client.post(change, payload)

    assert page.status_code == 200
    assert response.status_code == 302, response.context["adminform"].form.errors
    fleet.refresh_from_db()
    assert (fleet.bank_account, fleet.datev_consultant_number, fleet.datev_client_number) == (
        "1210",
        29098,
        55003,
    )
    assert _rows(fleet) == [(Decimal("21.00"), "8200", "", "1770", "1570", "")]


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_gives_each_fleet_skr03s_rates_it_lacks_and_takes_back_the_defaults():
    fleet = FleetFactory()
    try:
        migrate_to(("fleets", "0006_fleet_accounting_settings"))
        VatRateAccounts.objects.create(
            fleet=fleet, vat_rate=Decimal("19.00"), revenue_account="8401"
        )

        migrate_to(("fleets", "0007_skr03_vat_rate_accounts"))
        after = _rows(fleet)
        migrate_to(("fleets", "0006_fleet_accounting_settings"))
        reversed_rows = _rows(fleet)
    finally:
        migrate_to_latest()

    assert after == [(Decimal("19.00"), "8401", "", "", "", ""), *SKR03[1:]]
    assert reversed_rows == [(Decimal("19.00"), "8401", "", "", "", "")]


@pytest.mark.django_db
def test_a_fleet_added_on_its_page_is_made_with_skr03s_accounts(admin_client):
    add = reverse("admin:fleets_fleet_add")
    payload = {
        **{name: str(value) for name, value in BASE.items()},
        "billing_period": "monthly",
        "payment_terms_days": "14",
        "csv_delimiter": ",",
        "csv_decimal_separator": ".",
        "depots-TOTAL_FORMS": "0",
        "depots-INITIAL_FORMS": "0",
        "cost_centers-TOTAL_FORMS": "0",
        "cost_centers-INITIAL_FORMS": "0",
        **accounting_form_fields(),
    }

    page = admin_client.get(add)
    response = admin_client.post(add, payload)

    assert "vat_rate_accounts-TOTAL_FORMS" not in page.content.decode()
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert _rows(Fleet.objects.get(slug="fleet-a")) == SKR03
