"""A fleet's seller, bank and export settings: the VAT id checked against the fleet's country,
IBAN and BIC checked by schwifty and of one country, the CSV delimiter other than the decimal
separator; each stored in its compact form through fleet_create and fleet_update, and each
refusal naming its field with nothing saved. What the fleet's invoices still lack is listed."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet
from apps.fleets.seller import iban_grouped, invoice_items_missing
from apps.fleets.services import fleet_create, fleet_update
from apps.fleets.validators import bic_matches_iban, normalize_bic, normalize_vat_id
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory
from tests.fleets.accounting_form import accounting_form_fields

SETTINGS = {
    "legal_name": "Voltop Logistics B.V.",
    "street": "Stationsplein 45",
    "postal_code": "3013 AK",
    "city": "Rotterdam",
    "vat_id": "NL853015123B01",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "csv_delimiter": ";",
    "csv_decimal_separator": ",",
    "csv_bom": True,
}
SETTING_FIELDS = tuple(SETTINGS)


def settings_of(fleet: Fleet) -> dict:
    return Fleet.objects.values(*SETTING_FIELDS).get(pk=fleet.pk)


def refusal(changes: dict, fleet: Fleet) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        fleet_update(fleet=fleet, changes=changes)
    return refused.value


# The VAT id, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("NL853015123B01", "NL", "NL853015123B01"),
        ("nl 8530.15.123-b01", "NL", "NL853015123B01"),
        ("EL094014201", "GR", "EL094014201"),
        ("DE12", "DE", "DE12"),
        ("CHE-123.456.788 MWST", "CH", "CHE123456788MWST"),
    ],
)
def test_a_vat_id_is_stored_upper_case_without_spaces_dots_or_hyphens(typed, country, stored):
    assert normalize_vat_id(typed, country=country) == stored


@pytest.mark.parametrize(
    ("typed", "country", "message", "code"),
    [
        (
            "DE123456789",
            "NL",
            "DE123456789 is not a VAT identification number of NL: it must start with NL.",
            "vat_id_wrong_prefix",
        ),
        (
            "GR094014201",
            "GR",
            "GR094014201 is not a VAT identification number of GR: it must start with EL.",
            "vat_id_wrong_prefix",
        ),
        (
            "NL1",
            "NL",
            "NL1 is not a VAT identification number: after NL come 2 to 13 letters or digits.",
            "invalid_vat_id",
        ),
        (
            "NL12345678901234",
            "NL",
            "NL12345678901234 is not a VAT identification number: after NL come 2 to 13 "
            "letters or digits.",
            "invalid_vat_id",
        ),
        (
            "NL85301512/B01",
            "NL",
            "NL85301512/B01 is not a VAT identification number: after NL come 2 to 13 letters "
            "or digits.",
            "invalid_vat_id",
        ),
        (
            "US1",
            "US",
            "US1 is not a VAT identification number: it must be 4 to 20 letters or digits.",
            "invalid_vat_id",
        ),
    ],
)
def test_a_vat_id_not_of_the_fleets_country_or_malformed_is_refused(typed, country, message, code):
    with pytest.raises(ValidationError) as refused:
        normalize_vat_id(typed, country=country)

    assert refused.value.messages == [message]
    assert refused.value.code == code


# BIC and its IBAN, pure ---------------------------------------------------------------------


def test_a_bic_is_stored_compact_and_upper_case():
    assert normalize_bic("coba de ff xxx") == "COBADEFFXXX"


def test_an_invalid_bic_is_refused_saying_why():
    with pytest.raises(ValidationError) as refused:
        normalize_bic("COBAXXFF")

    assert refused.value.messages == ["COBAXXFF is not a valid BIC: Invalid country code 'XX'."]


def test_a_bic_of_another_country_than_the_iban_is_refused():
    with pytest.raises(ValidationError) as refused:
        bic_matches_iban(bic="ABNANL2AXXX", iban="DE89370400440532013000")

    assert refused.value.messages == [
        "The BIC ABNANL2AXXX is of a bank in NL, but the IBAN is of an account in DE."
    ]
    assert refused.value.code == "bic_iban_country_mismatch"


def test_a_bic_and_iban_of_one_country_match():
    assert bic_matches_iban(bic="COBADEFFXXX", iban="DE89370400440532013000") is None


# Through the services -----------------------------------------------------------------------


@pytest.mark.django_db
def test_fleet_update_stores_every_setting_in_its_compact_form():
    fleet = FleetFactory(country="NL")

    fleet_update(
        fleet=fleet,
        changes={
            **SETTINGS,
            "vat_id": "nl 8530 15123 b01",
            "iban": "de89 3704 0044 0532 0130 00",
            "bic": "cobadeffxxx",
        },
    )

    assert settings_of(fleet) == SETTINGS


@pytest.mark.django_db
def test_fleet_create_takes_the_settings():
    fleet = fleet_create(
        name="Voltop Logistics",
        slug="voltop-logistics",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        country="NL",
        default_vat_rate="21.00",
        **SETTINGS,
    )

    assert settings_of(fleet) == SETTINGS


@pytest.mark.django_db
def test_a_fleet_made_without_settings_has_blank_ones_and_csv_defaults():
    fleet = FleetFactory()

    assert settings_of(fleet) == {
        "legal_name": "",
        "street": "",
        "postal_code": "",
        "city": "",
        "vat_id": "",
        "iban": "",
        "bic": "",
        "csv_delimiter": ",",
        "csv_decimal_separator": ".",
        "csv_bom": False,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"iban": "DE89370400440532013001"},
            "iban",
            "DE89370400440532013001 is not a valid IBAN: Invalid checksum digits.",
        ),
        (
            {"bic": "ABNANL2AXXX"},
            "bic",
            "The BIC ABNANL2AXXX is of a bank in NL, but the IBAN is of an account in DE.",
        ),
        (
            {"vat_id": "BE0123456789"},
            "vat_id",
            "BE0123456789 is not a VAT identification number of NL: it must start with NL.",
        ),
        (
            {"csv_delimiter": ",", "csv_decimal_separator": ","},
            "csv_decimal_separator",
            "The CSV decimal separator must differ from the delimiter, or numbers could not be "
            "told from columns.",
        ),
        (
            {"csv_delimiter": "|"},
            "csv_delimiter",
            "Value '|' is not a valid choice.",
        ),
    ],
)
def test_a_refused_setting_names_its_field_and_nothing_is_saved(changes, field, message):
    fleet = FleetFactory(name="Fleet A", country="NL")
    fleet_update(fleet=fleet, changes=SETTINGS)
    before = settings_of(fleet)

    error = refusal({"name": "Renamed", "legal_name": "Other B.V.", **changes}, fleet)

    assert error.message_dict == {field: [message]}
    assert settings_of(fleet) == before
    assert Fleet.objects.get(pk=fleet.pk).name == "Fleet A"


@pytest.mark.django_db
def test_the_database_refuses_a_delimiter_equal_to_the_decimal_separator():
    fleet = FleetFactory()

    with pytest.raises(IntegrityError, match="fleet_csv_delimiter_not_decimal_separator"):
        Fleet.objects.filter(pk=fleet.pk).update(csv_delimiter=",", csv_decimal_separator=",")


# What invoices lack -------------------------------------------------------------------------


def test_a_fleet_without_seller_settings_lacks_address_vat_id_and_iban():
    assert invoice_items_missing(Fleet()) == [
        "street of the legal address",
        "postal code of the legal address",
        "city of the legal address",
        "VAT id",
        "IBAN for payment instructions",
    ]


def test_a_fleet_with_address_vat_id_and_iban_lacks_nothing():
    assert invoice_items_missing(Fleet(**SETTINGS)) == []


def test_an_iban_is_printed_in_groups_of_four():
    assert iban_grouped("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"


@pytest.mark.django_db
def test_the_fleet_admin_page_says_which_items_invoices_lack(client):
    fleet = FleetFactory(country="NL")
    fleet_update(fleet=fleet, changes={"street": "Stationsplein 45", "iban": SETTINGS["iban"]})
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    client.force_login(user)

    page = client.get(reverse("admin:fleets_fleet_change", args=[fleet.pk]))

    assert page.status_code == 200
    fieldsets = [fieldset.name for fieldset in page.context["adminform"]]
    assert fieldsets == [
        None,
        "Billing",
        "Seller on invoices",
        "Bank account",
        "Exports",
        "Accounting",
        "DATEV",
        "Logins",
    ]
    assert (
        "Invoices lack: postal code of the legal address, city of the legal address, VAT id."
        in page.content.decode()
    )


@pytest.mark.django_db
def test_the_fleet_admin_saves_the_settings_through_the_service(client):
    fleet = FleetFactory(name="Fleet A", slug="fleet-a", country="NL")
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    client.force_login(user)
    payload = {
        "name": "Fleet A",
        "default_vat_rate": "21.00",
        "billing_period": "monthly",
        "payment_terms_days": "14",
        **{**SETTINGS, "csv_bom": "on"},
        "depots-TOTAL_FORMS": "0",
        "depots-INITIAL_FORMS": "0",
        "cost_centers-TOTAL_FORMS": "0",
        "cost_centers-INITIAL_FORMS": "0",
        **accounting_form_fields(fleet),
    }

    response = client.post(reverse("admin:fleets_fleet_change", args=[fleet.pk]), payload)

    assert response.status_code == 302
    assert settings_of(fleet) == SETTINGS
    page = client.get(reverse("admin:fleets_fleet_change", args=[fleet.pk]))
    assert "Complete: invoices carry every seller item they must." in page.content.decode()


@pytest.mark.django_db
def test_the_fleet_admin_refuses_a_bic_of_another_country_on_its_field(client):
    fleet = FleetFactory(name="Fleet A", slug="fleet-a", country="NL")
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    client.force_login(user)
    payload = {
        "name": "Fleet A",
        "default_vat_rate": "21.00",
        "billing_period": "monthly",
        "payment_terms_days": "14",
        **{**SETTINGS, "bic": "ABNANL2AXXX", "csv_bom": "on"},
        "depots-TOTAL_FORMS": "0",
        "depots-INITIAL_FORMS": "0",
        "cost_centers-TOTAL_FORMS": "0",
        "cost_centers-INITIAL_FORMS": "0",
        **accounting_form_fields(fleet),
    }

    response = client.post(reverse("admin:fleets_fleet_change", args=[fleet.pk]), payload)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "bic": ["The BIC ABNANL2AXXX is of a bank in NL, but the IBAN is of an account in DE."]
    }
    assert settings_of(fleet)["iban"] == ""
