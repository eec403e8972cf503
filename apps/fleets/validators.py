"""Checks of a fleet's seller and bank settings that need more than a regular expression: the
VAT identification number against the fleet's country, the IBAN and BIC by schwifty."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

# Country (ISO 3166-1) -> the prefix of its VAT identification numbers: the EU member states.
# Greece writes EL (VAT Directive Art. 215), the one prefix that is not its ISO code.
EU_MEMBER_STATES = (
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
)
EU_VAT_PREFIXES = {code: "EL" if code == "GR" else code for code in EU_MEMBER_STATES.split()}
VAT_ID_SEPARATORS = re.compile(r"[\s.\-]")
EU_VAT_ID_BODY = re.compile(r"^[A-Z0-9]{2,13}$")
OTHER_VAT_ID = re.compile(r"^[A-Z0-9]{4,20}$")
ACCOUNT_NUMBER = RegexValidator(
    r"^[0-9]{1,8}$", "A ledger account is 1 to 8 digits.", code="account_number"
)


def vat_id_compact(value: str) -> str:
    """A VAT identification number as stored: upper case, without spaces, dots or hyphens."""
    return VAT_ID_SEPARATORS.sub("", value).upper()


def normalize_vat_id(value: str, *, country: str) -> str:
    """The VAT identification number in its stored form (vat_id_compact), or ValidationError
    saying what is wrong. For a fleet in an EU country it is that country's prefix (Greece:
    EL) and 2 to 13 letters or digits; elsewhere 4 to 20 letters or digits."""
    vat_id = vat_id_compact(value)
    prefix = EU_VAT_PREFIXES.get(country)
    if prefix is None:
        if not OTHER_VAT_ID.match(vat_id):
            raise ValidationError(
                "%(value)s is not a VAT identification number: it must be 4 to 20 letters or "
                "digits.",
                code="invalid_vat_id",
                params={"value": value},
            )
        return vat_id
    if not vat_id.startswith(prefix):
        raise ValidationError(
            "%(value)s is not a VAT identification number of %(country)s: it must start "
            "with %(prefix)s.",
            code="vat_id_wrong_prefix",
            params={"value": value, "country": country, "prefix": prefix},
        )
    if not EU_VAT_ID_BODY.match(vat_id[len(prefix) :]):
        raise ValidationError(
            "%(value)s is not a VAT identification number: after %(prefix)s come 2 to 13 "
            "letters or digits.",
            code="invalid_vat_id",
            params={"value": value, "prefix": prefix},
        )
    return vat_id


def normalize_iban(value: str) -> str:
    """The IBAN in its compact form (no spaces, upper case), or ValidationError if invalid."""
    try:
        return IBAN(value).compact
    except SchwiftyException as error:
        raise ValidationError(
            "%(value)s is not a valid IBAN: %(reason)s.",
            code="invalid_iban",
            params={"value": value, "reason": str(error).rstrip(".")},
        ) from error


def validate_iban(value: str) -> None:
    normalize_iban(value)


def normalize_bic(value: str) -> str:
    """The BIC in its compact form (no spaces, upper case), or ValidationError if invalid."""
    try:
        return BIC(value).compact
    except SchwiftyException as error:
        raise ValidationError(
            "%(value)s is not a valid BIC: %(reason)s.",
            code="invalid_bic",
            params={"value": value, "reason": str(error).rstrip(".")},
        ) from error


def validate_bic(value: str) -> None:
    normalize_bic(value)


def bic_matches_iban(*, bic: str, iban: str) -> None:
    """Refuse a BIC of a bank in another country than the IBAN's account (ValidationError):
    the country is what schwifty tells of both. An invalid BIC or IBAN is not judged here:
    its own validator says what is wrong with it."""
    try:
        bic_country = BIC(bic).country_code
        iban_country = IBAN(iban).country_code
    except SchwiftyException:
        return
    if bic_country != iban_country:
        raise ValidationError(
            "The BIC %(bic)s is of a bank in %(bic_country)s, but the IBAN is of an account "
            "in %(iban_country)s.",
            code="bic_iban_country_mismatch",
            params={"bic": bic, "bic_country": bic_country, "iban_country": iban_country},
        )
