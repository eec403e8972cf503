"""The pure SEPA module: texts in the EPC character set, ids, and pain.001.001.09 files."""

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import xmlschema
from hypothesis import given
from hypothesis import strategies as st

from apps.payments import sepa
from apps.payments.exceptions import EpcTextInvalid, PayoutFileInvalid

NS = {"p": sepa.NAMESPACE}
CREATED_AT = dt.datetime(2026, 12, 6, 14, 30, 5, tzinfo=dt.UTC)


def _epc(value: str, max_length: int = 70) -> str:
    return sepa.epc_text(
        value,
        field="account_holder",
        label="account holder",
        payee="driver X",
        max_length=max_length,
    )


def _file(**changes) -> sepa.CreditTransferFile:
    values = {
        "message_id": "VT-1-20261206143005-abc123",
        "created_at": CREATED_AT,
        "requested_execution_date": dt.date(2026, 12, 7),
        "currency": "EUR",
        "debtor_name": "Voltop Flotte GmbH",
        "debtor_iban": "DE89370400440532013000",
        "debtor_bic": "COBADEFFXXX",
        "debtor_address": sepa.postal_address(
            street="Hauptstrasse 1", postal_code="10115", town="Berlin", country="DE"
        ),
        "transfers": (
            sepa.CreditTransfer(
                end_to_end_id="VT-B1-R1",
                amount=Decimal("12.30"),
                creditor_name="Juergen Muessig",
                creditor_iban="NL91ABNA0417164300",
                creditor_address=sepa.postal_address(
                    street="Damrak 1", postal_code="1012 LG", town="Amsterdam", country="NL"
                ),
                remittance="Reimbursement of home charging 2026-11",
            ),
            sepa.CreditTransfer(
                end_to_end_id="VT-B1-F2",
                amount=Decimal("0.05"),
                creditor_name="Anna Berg",
                creditor_iban="DE02120300000000202051",
                creditor_address=None,
                remittance="Refund on invoice VT-2026-000001",
            ),
        ),
    }
    values.update(changes)
    return sepa.CreditTransferFile(**values)


def test_german_letters_are_written_out_and_others_transliterated():
    assert _epc("Jürgen  Müßig-Ødegård") == "Juergen Muessig-Odegard"
    assert _epc("ÄÖÜ äöü ẞ Zoë Łukasz & Co.") == "AeOeUe aeoeue SS Zoe Lukasz + Co."


@given(st.text(max_size=40))
def test_a_text_is_either_refused_or_wholly_in_the_epc_set(value):
    try:
        text = _epc(value, max_length=1000)
    except EpcTextInvalid:
        return
    assert set(text) <= sepa.EPC_CHARACTERS
    assert text == text.strip()


def test_an_emoji_is_refused_naming_the_field_the_payee_and_the_character():
    with pytest.raises(EpcTextInvalid) as refusal:
        _epc("Anna 🚗 Berg")

    assert refusal.value.code == "payments.epc_text_invalid"
    assert refusal.value.field == "account_holder"
    assert "driver X" in refusal.value.message
    assert "U+1F697" in refusal.value.message


def test_a_text_too_long_once_transliterated_is_refused_not_cut():
    with pytest.raises(EpcTextInvalid, match="71 characters"):
        _epc("ü" + "a" * 69)


def test_ids_are_at_most_35_characters_of_the_epc_set():
    message_id = sepa.message_id(fleet_id=123456, created_at=CREATED_AT, token="abcdef")
    end_to_end_id = sepa.end_to_end_id(batch_id=10**9, kind="R", object_id=10**12)

    assert message_id == "VT-123456-20261206143005-abcdef"
    assert end_to_end_id == "VT-B1000000000-R1000000000000"
    assert len(message_id) <= 35
    assert len(end_to_end_id) <= 35
    with pytest.raises(ValueError, match="35 characters"):
        sepa.end_to_end_id(batch_id=10**15, kind="R", object_id=10**15)


def test_the_file_validates_against_the_schema_with_structured_addresses():
    xml = sepa.credit_transfer_xml(_file())

    schema = xmlschema.XMLSchema(str(sepa.SCHEMA_PATH))
    schema.validate(xml.decode())
    document = ET.fromstring(xml)  # noqa: S314 - the file this test just made
    debtor = document.find(".//p:PmtInf/p:Dbtr/p:PstlAdr", NS)
    creditors = document.findall(".//p:CdtTrfTxInf/p:Cdtr", NS)
    assert [child.tag.split("}")[1] for child in debtor] == ["StrtNm", "PstCd", "TwnNm", "Ctry"]
    assert [child.text for child in creditors[0].find("p:PstlAdr", NS)] == [
        "Damrak 1",
        "1012 LG",
        "Amsterdam",
        "NL",
    ]
    assert creditors[1].find("p:PstlAdr", NS) is None
    assert document.find(".//p:GrpHdr/p:CtrlSum", NS).text == "12.35"
    assert document.find(".//p:GrpHdr/p:NbOfTxs", NS).text == "2"
    assert document.find(".//p:GrpHdr/p:CreDtTm", NS).text == "2026-12-06T14:30:05+00:00"
    assert [node.text for node in document.findall(".//p:EndToEndId", NS)] == [
        "VT-B1-R1",
        "VT-B1-F2",
    ]


def test_an_address_without_a_town_or_country_is_left_out():
    assert sepa.postal_address(street="Damrak 1", postal_code="1012", town="", country="NL") is None
    assert sepa.postal_address(street="Damrak 1", postal_code="1012", town="A", country="") is None


def test_the_same_values_give_the_same_bytes():
    assert sepa.credit_transfer_xml(_file()) == sepa.credit_transfer_xml(_file())


def test_a_file_the_schema_refuses_is_never_returned():
    with pytest.raises(PayoutFileInvalid) as refusal:
        sepa.credit_transfer_xml(_file(debtor_bic="NOT A BIC"))

    assert refusal.value.code == "payments.payout_file_invalid"


def test_a_text_outside_the_epc_set_is_refused_by_the_builder():
    with pytest.raises(EpcTextInvalid):
        sepa.credit_transfer_xml(_file(debtor_name="Flotte GmbH & Co"))


def test_an_amount_with_fractions_of_a_cent_is_refused():
    transfer = _file().transfers[0]
    bad = sepa.CreditTransfer(**{**transfer.__dict__, "amount": Decimal("1.005")})

    with pytest.raises(ValueError, match="in cents"):
        sepa.credit_transfer_xml(_file(transfers=(bad,)))
