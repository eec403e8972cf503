"""SEPA credit transfer files (pain.001.001.09) from plain values: texts in the EPC character
set, message and end-to-end ids, structured addresses, and the XML, validated against the
schema that sepaxml ships before anyone gets it. No ORM, no clock."""

import datetime as dt
import re
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import sepaxml
import xmlschema
from text_unidecode import unidecode

from apps.payments.exceptions import EpcTextInvalid, PayoutFileInvalid

SCHEMA = "pain.001.001.09"
SCHEMA_PATH = Path(sepaxml.__file__).parent / "schemas" / f"{SCHEMA}.xsd"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
ID_MAX_LENGTH = 35
NAME_MAX_LENGTH = 70
REMITTANCE_MAX_LENGTH = 140
STREET_MAX_LENGTH = 70
POSTAL_CODE_MAX_LENGTH = 16
TOWN_MAX_LENGTH = 35
CENT = Decimal("0.01")

# The EPC's basic Latin character set of SEPA (EPC217-08): what every bank must carry.
EPC_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")
# German letters as Germans write them without umlauts (Müller -> Mueller), which unidecode
# would flatten to a bare vowel (Muller): the payee's bank compares the name.
GERMAN_TRANSLITERATIONS = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ß": "ss",
    "ẞ": "SS",
}
# Punctuation outside the set with a close stand-in inside it.
PUNCTUATION_STAND_INS = {"&": "+", "_": "-", '"': "'", ";": ",", "!": ".", "`": "'"}
WHITESPACE = re.compile(r"\s+")


def _in_epc_set(text: str) -> bool:
    return all(character in EPC_CHARACTERS for character in text)


def _character_in_epc_set(character: str) -> str | None:
    """The character in the EPC set, or None when it has no transliteration into it."""
    if character in EPC_CHARACTERS:
        return character
    if character in GERMAN_TRANSLITERATIONS:
        return GERMAN_TRANSLITERATIONS[character]
    if character in PUNCTUATION_STAND_INS:
        return PUNCTUATION_STAND_INS[character]
    transliterated = "".join(
        PUNCTUATION_STAND_INS.get(letter, letter) for letter in unidecode(character)
    )
    if not transliterated.strip() or not _in_epc_set(transliterated):
        return None
    return transliterated


def epc_text(value: str, *, field: str, label: str, payee: str, max_length: int) -> str:
    """`value` in the EPC character set of SEPA files: umlauts as ae, oe, ue and ß as ss, other
    letters transliterated (Ø -> O, é -> e), runs of white space as one space. A character
    with no transliteration (an emoji, say) is refused, never dropped, naming the field and the
    payee (EpcTextInvalid), as is a text longer than `max_length` once transliterated."""
    parts = []
    for character in WHITESPACE.sub(" ", value).strip():
        transliterated = _character_in_epc_set(character)
        if transliterated is None:
            raise EpcTextInvalid(
                f"The {label} of {payee} holds “{character}” (U+{ord(character):04X}), which "
                "has no form in the EPC character set of SEPA files (letters A to Z, digits "
                "and / - ? : ( ) . , ' +); change it.",
                field=field,
            )
        parts.append(transliterated)
    text = WHITESPACE.sub(" ", "".join(parts)).strip()
    if len(text) > max_length:
        raise EpcTextInvalid(
            f"The {label} of {payee} is {len(text)} characters in the EPC character set "
            f"(“{text}”), more than the {max_length} a SEPA file takes; shorten it.",
            field=field,
        )
    return text


def message_id(*, fleet_id: int, created_at: dt.datetime, token: str) -> str:
    """The file's MsgId: unique per file, at most 35 characters of the EPC set."""
    value = f"VT-{fleet_id}-{created_at:%Y%m%d%H%M%S}-{token}"
    return _checked_id(value)


def end_to_end_id(*, batch_id: int, kind: str, object_id: int) -> str:
    """A transfer's EndToEndId, shown to the payee: the batch and what it pays (R: a
    reimbursement, F: a refund) with their ids, so it is unique with them."""
    return _checked_id(f"VT-B{batch_id}-{kind}{object_id}")


def _checked_id(value: str) -> str:
    if len(value) > ID_MAX_LENGTH or not _in_epc_set(value) or " " in value:
        raise ValueError(f"{value!r} is not an id of a SEPA file (35 characters of the EPC set).")
    return value


@dataclass(frozen=True)
class PostalAddress:
    """A structured address (pain.001.001.09 PstlAdr); texts already in the EPC set."""

    street: str
    postal_code: str
    town: str
    country: str


def postal_address(
    *, street: str, postal_code: str, town: str, country: str
) -> PostalAddress | None:
    """A structured address, or None (left out) without a town and a country: banks refuse
    unstructured addresses, and a structured one needs at least those two."""
    if not town or not country:
        return None
    return PostalAddress(street=street, postal_code=postal_code, town=town, country=country)


@dataclass(frozen=True)
class CreditTransfer:
    """One payment of the file to a creditor."""

    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    creditor_address: PostalAddress | None
    remittance: str


@dataclass(frozen=True)
class CreditTransferFile:
    """What a pain.001.001.09 file says: who pays, when, and the transfers."""

    message_id: str
    created_at: dt.datetime
    requested_execution_date: dt.date
    currency: str
    debtor_name: str
    debtor_iban: str
    debtor_bic: str
    debtor_address: PostalAddress | None
    transfers: tuple[CreditTransfer, ...]


def _amount_text(amount: Decimal) -> str:
    if amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(f"{amount} is not an amount of a SEPA transfer (positive, in cents).")
    return f"{amount:.2f}"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _address(parent: ET.Element, address: PostalAddress | None) -> None:
    if address is None:
        return
    node = _child(parent, "PstlAdr")
    for tag, value in (
        ("StrtNm", address.street),
        ("PstCd", address.postal_code),
        ("TwnNm", address.town),
        ("Ctry", address.country),
    ):
        if value:
            _child(node, tag, value)


def _require_epc_text(value: str, *, field: str, payee: str, max_length: int) -> None:
    if epc_text(value, field=field, label=field, payee=payee, max_length=max_length) != value:
        raise EpcTextInvalid(
            f"The {field} of {payee} is not written in the EPC character set.", field=field
        )


def _texts_in_epc_set(file: CreditTransferFile) -> None:
    """The builder writes texts as given: they must already be in the EPC set."""
    _require_epc_text(
        file.debtor_name, field="debtor_name", payee=file.debtor_name, max_length=NAME_MAX_LENGTH
    )
    for transfer in file.transfers:
        payee = transfer.creditor_name
        _require_epc_text(
            transfer.creditor_name, field="creditor_name", payee=payee, max_length=NAME_MAX_LENGTH
        )
        _require_epc_text(
            transfer.remittance, field="remittance", payee=payee, max_length=REMITTANCE_MAX_LENGTH
        )


def credit_transfer_xml(file: CreditTransferFile) -> bytes:
    """The pain.001.001.09 file: one payment information block (batch booking, service level
    SEPA, charges shared) with a transfer per payment, structured addresses where known.
    The same values give the same bytes. Validated against the schema before it is returned
    (PayoutFileInvalid otherwise)."""
    _texts_in_epc_set(file)
    count = str(len(file.transfers))
    control_sum = _amount_text(sum((transfer.amount for transfer in file.transfers), Decimal(0)))
    document = ET.Element("Document", {"xmlns": NAMESPACE})
    initiation = _child(document, "CstmrCdtTrfInitn")
    header = _child(initiation, "GrpHdr")
    _child(header, "MsgId", file.message_id)
    _child(header, "CreDtTm", file.created_at.replace(microsecond=0).isoformat())
    _child(header, "NbOfTxs", count)
    _child(header, "CtrlSum", control_sum)
    _child(_child(header, "InitgPty"), "Nm", file.debtor_name)

    payment = _child(initiation, "PmtInf")
    _child(payment, "PmtInfId", file.message_id)
    _child(payment, "PmtMtd", "TRF")
    _child(payment, "BtchBookg", "true")
    _child(payment, "NbOfTxs", count)
    _child(payment, "CtrlSum", control_sum)
    _child(_child(_child(payment, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    _child(_child(payment, "ReqdExctnDt"), "Dt", file.requested_execution_date.isoformat())
    debtor = _child(payment, "Dbtr")
    _child(debtor, "Nm", file.debtor_name)
    _address(debtor, file.debtor_address)
    _child(_child(_child(payment, "DbtrAcct"), "Id"), "IBAN", file.debtor_iban)
    _child(_child(_child(payment, "DbtrAgt"), "FinInstnId"), "BICFI", file.debtor_bic)
    _child(payment, "ChrgBr", "SLEV")
    for transfer in file.transfers:
        node = _child(payment, "CdtTrfTxInf")
        _child(_child(node, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        amount = _child(node, "Amt")
        _child(amount, "InstdAmt", _amount_text(transfer.amount), Ccy=file.currency)
        creditor = _child(node, "Cdtr")
        _child(creditor, "Nm", transfer.creditor_name)
        _address(creditor, transfer.creditor_address)
        _child(_child(_child(node, "CdtrAcct"), "Id"), "IBAN", transfer.creditor_iban)
        _child(_child(node, "RmtInf"), "Ustrd", transfer.remittance)
    ET.indent(document, space="  ")
    xml = ET.tostring(document, encoding="UTF-8", xml_declaration=True) + b"\n"
    pain_001_validate(xml)
    return xml


@cache
def _schema() -> xmlschema.XMLSchema:
    """The schema, read once: reading it takes longer than validating a file."""
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def pain_001_validate(xml: bytes) -> None:
    """Refuse a file that does not validate against pain.001.001.09 (PayoutFileInvalid)."""
    errors = list(_schema().iter_errors(xml.decode("utf-8")))
    if errors:
        first = errors[0]
        raise PayoutFileInvalid(
            f"The SEPA file does not validate against {SCHEMA}: {first.reason} at {first.path}.",
            field="xml",
        )
