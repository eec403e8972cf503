"""Importing a provider's public charging sessions from the documented CSV and from OCPI 2.2.1
CDR JSON: what is created, what is skipped, and every bad row refused with its line."""

import datetime as dt
import json
import math
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charging import cdr_files, services
from apps.charging.cdr_files import RowError
from apps.charging.choices import (
    ImportFileFormat,
    LocationKind,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
)
from apps.charging.models import ChargingSession, SessionImport
from apps.charging.services import public_sessions_import, session_import_start
from apps.charging.tasks import import_public_sessions
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
HEADER = (
    "cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency,location,purpose"
)
CARD = "04AABBCC"
OTHER_FLEETS_CARD = "04FFEEDD"


@pytest.fixture
def fleet():
    """A fleet whose driver has the card 04AABBCC and a vehicle assigned since January."""
    fleet = FleetFactory(slug="evn")
    driver = DriverFactory(fleet=fleet)
    ChargeTokenFactory(driver=driver, uid=CARD, valid_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet),
        driver=driver,
        starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    ChargeTokenFactory(uid=OTHER_FLEETS_CARD)
    return fleet


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


def cdr(cdr_id: str = "EVN-1", **changes) -> dict:
    """An OCPI 2.2.1 CDR of 18.25 kWh charged with the fleet's card, costing 7.30 + 1.53 VAT."""
    document = {
        "country_code": "NL",
        "party_id": "EVN",
        "id": cdr_id,
        "start_date_time": "2026-06-01T06:00:00Z",
        "end_date_time": "2026-06-01T07:30:00Z",
        "cdr_token": {"uid": CARD, "type": "RFID", "contract_id": "NL-EVN-C1"},
        "cdr_location": {"id": "LOC-1", "name": "Zuidas P1"},
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-06-01T06:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 18.25}],
            }
        ],
        "total_cost": {"excl_vat": 7.30, "incl_vat": 8.83},
        "total_energy": 18.25,
        "total_time": 1.5,
        "last_updated": "2026-06-01T07:35:00Z",
    }
    document.update(changes)
    if "charging_periods" not in changes:
        document["charging_periods"][0]["start_date_time"] = document["start_date_time"]
    return document


# After cdr()'s default session on the same card, so the two do not overlap.
LATER = {"start_date_time": "2026-06-01T08:00:00Z", "end_date_time": "2026-06-01T09:30:00Z"}


def json_file(document) -> bytes:
    return json.dumps(document).encode()


def import_csv(fleet, content: bytes, **options):
    return public_sessions_import(fleet=fleet, content=content, file_format="csv", **options)


def import_json(fleet, content: bytes, **options):
    return public_sessions_import(fleet=fleet, content=content, file_format="json", **options)


def all_sessions() -> list[dict]:
    return list(ChargingSession.objects.order_by("pk").values())


VALID_CSV_ROWS = (
    "EVN-1,04aabbcc,2026-06-01T08:00:00+02:00,2026-06-01T09:30:00+02:00,18.250,7.30,8.83,EUR,"
    "Zuidas P1,business",
    "EVN-2,04AABBCC,2026-06-02T19:00:00+02:00,2026-06-02T20:00:00+02:00,9.5,3.325,4.02,EUR,,"
    "private",
)


class TestCsvImport:
    def test_each_row_becomes_a_public_session_priced_at_the_providers_cost(self, fleet):
        report = import_csv(fleet, csv_file(*VALID_CSV_ROWS))

        assert (report.rows, report.imported, report.already_imported, report.errors) == (
            2,
            2,
            0,
            (),
        )
        first, second = ChargingSession.objects.order_by("started_at", "pk")
        driver = fleet.drivers.get()
        vehicle = driver.assignments.get().vehicle
        for session in (first, second):
            assert (session.fleet, session.driver, session.vehicle) == (fleet, driver, vehicle)
            assert session.token.uid == CARD
            assert (session.location_kind, session.status, session.source) == (
                LocationKind.PUBLIC,
                SessionStatus.COMPLETED,
                SessionSource.IMPORT,
            )
            assert (session.price_basis, session.price_currency) == (PriceBasis.PROVIDER, "EUR")
        assert first.external_id == "EVN-1"
        assert (first.started_at, first.ended_at) == (
            dt.datetime(2026, 6, 1, 6, 0, tzinfo=UTC),
            dt.datetime(2026, 6, 1, 7, 30, tzinfo=UTC),
        )
        assert (first.energy_wh, first.purpose) == (18_250, SessionPurpose.BUSINESS)
        assert (first.price_excl_vat, first.price_vat, first.price_incl_vat) == (
            Decimal("7.30"),
            Decimal("1.53"),
            Decimal("8.83"),
        )
        assert first.price_breakdown == {"provider": {"location": "Zuidas P1"}}
        assert (second.external_id, second.energy_wh, second.purpose) == (
            "EVN-2",
            9_500,
            SessionPurpose.PRIVATE,
        )
        # 3.325 and 4.02: the net 3.325 and the VAT 0.695 rounded half-up once each.
        assert (second.price_excl_vat, second.price_vat, second.price_incl_vat) == (
            Decimal("3.33"),
            Decimal("0.70"),
            Decimal("4.03"),
        )

    def test_importing_the_same_file_twice_imports_nothing_new(self, fleet):
        content = csv_file(*VALID_CSV_ROWS)
        import_csv(fleet, content)
        before = all_sessions()

        report = import_csv(fleet, content)

        assert (report.rows, report.imported, report.already_imported, report.errors) == (
            2,
            0,
            2,
            (),
        )
        assert all_sessions() == before

    def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(self, fleet):
        already_there = ChargingSessionFactory(fleet=fleet, driver=fleet.drivers.get())
        before = all_sessions()
        content = csv_file(
            VALID_CSV_ROWS[0],
            "EVN-3,04000000,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2.42,EUR,,",
            f"EVN-4,{OTHER_FLEETS_CARD},2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,"
            "2.42,EUR,,",
            "EVN-5,04AABBCC,2026-06-01 8h,2026-06-01T09:00:00+02:00,5,2,2.42,EUR,,",
            "EVN-6,04AABBCC,2026-06-01T09:00:00+02:00,2026-06-01T08:00:00+02:00,5,2,2.42,EUR,,",
            "EVN-7,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2.42,EUX,,",
            "EVN-8,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,-3,2,2.42,EUR,,",
            "EVN-9,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,,EUR,,",
            "EVN-1,04AABBCC,2026-06-03T08:00:00+02:00,2026-06-03T09:00:00+02:00,5,2,2.42,EUR,,",
            "EVN-10,04AABBCC,2025-12-01T08:00:00+01:00,2025-12-01T09:00:00+01:00,5,2,2.42,EUR,,",
            "EVN-11,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2.42,EUR,,,x",
            "EVN-12,04AABBCC,2026-06-01T08:00:00+00:00,2026-06-01T09:00:00+00:00,5,2,1.50,EUR,,",
            "EVN-13,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2.42,EUR,,"
            "leisure",
            VALID_CSV_ROWS[1],
        )

        report = import_csv(fleet, content)

        assert (report.rows, report.imported, report.already_imported) == (14, 0, 0)
        assert report.errors == (
            RowError(3, "token 04000000 is not a card of this fleet"),
            RowError(4, f"token {OTHER_FLEETS_CARD} is not a card of this fleet"),
            RowError(5, "start '2026-06-01 8h' is not an ISO 8601 date-time"),
            RowError(6, "end is before start"),
            RowError(7, "currency 'EUX' is not an ISO 4217 code"),
            RowError(8, "energy_kwh must be a number of 0 or more, got '-3'"),
            RowError(9, "missing cost_incl_vat"),
            RowError(10, "CDR id EVN-1 repeats line 2"),
            RowError(11, "token 04AABBCC was not valid at the start"),
            RowError(12, "more values than columns"),
            RowError(13, "cost_incl_vat is below cost_excl_vat"),
            RowError(14, "purpose must be business or private, got 'leisure'"),
        )
        assert report.refused
        assert all_sessions() == before
        assert ChargingSession.objects.get().pk == already_there.pk

    def test_with_only_valid_rows_exactly_the_valid_rows_are_imported(self, fleet):
        content = csv_file(
            VALID_CSV_ROWS[0],
            "EVN-3,04000000,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2.42,EUR,,",
            "EVN-1,04AABBCC,2026-06-03T08:00:00+02:00,2026-06-03T09:00:00+02:00,5,2,2.42,EUR,,",
            VALID_CSV_ROWS[1],
        )

        report = import_csv(fleet, content, only_valid_rows=True)

        assert (report.rows, report.imported, report.already_imported) == (4, 2, 0)
        assert report.errors == (
            RowError(3, "token 04000000 is not a card of this fleet"),
            RowError(4, "CDR id EVN-1 repeats line 2"),
        )
        assert not report.refused
        assert list(
            ChargingSession.objects.order_by("external_id").values_list(
                "external_id", "energy_wh", "price_incl_vat"
            )
        ) == [("EVN-1", 18_250, Decimal("8.83")), ("EVN-2", 9_500, Decimal("4.03"))]

    def test_a_header_without_a_required_column_refuses_the_file(self, fleet):
        content = csv_file(
            "EVN-1,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:30:00+02:00,18.25,7.30,8.83",
            header="cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat",
        )

        report = import_csv(fleet, content, only_valid_rows=True)

        assert (report.rows, report.imported, report.already_imported) == (0, 0, 0)
        assert report.errors == (RowError(1, "the header lacks currency"),)
        assert not ChargingSession.objects.exists()

    def test_a_file_with_broken_quoting_is_refused_whole_even_with_only_valid_rows(self, fleet):
        content = csv_file(
            VALID_CSV_ROWS[0],
            'EVN-2,"04AABBCC"x,2026-06-02T19:00:00+02:00,2026-06-02T20:00:00+02:00,9.5,3,4,EUR,,',
            VALID_CSV_ROWS[1],
        )

        report = import_csv(fleet, content, only_valid_rows=True)

        assert (report.rows, report.imported) == (1, 0)
        assert report.errors == (
            RowError(
                3,
                "malformed CSV, the file cannot be read from this line on: ',' expected after '\"'",
            ),
        )
        assert not ChargingSession.objects.exists()

    def test_a_file_that_is_not_utf_8_is_refused(self, fleet):
        content = csv_file(VALID_CSV_ROWS[0]).replace(b"Zuidas", "Zürich".encode("latin-1"))

        report = import_csv(fleet, content, only_valid_rows=True)

        assert (report.rows, report.imported) == (0, 0)
        assert report.errors == (RowError(0, "the file is not UTF-8 text"),)
        assert not ChargingSession.objects.exists()

    def test_energy_in_kwh_becomes_whole_wh_rounded_half_up(self, fleet):
        content = csv_file(
            "EVN-1,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,1.0025,1,1.21,EUR,,",
            "EVN-2,04AABBCC,2026-06-02T08:00:00+02:00,2026-06-02T09:00:00+02:00,0.0015,1,1.21,EUR,,",
        )

        import_csv(fleet, content)

        assert list(
            ChargingSession.objects.order_by("external_id").values_list("external_id", "energy_wh")
        ) == [("EVN-1", 1_003), ("EVN-2", 2)]

    def test_a_sub_cent_cost_is_a_net_and_a_vat_each_rounded_once(self, fleet):
        content = csv_file(
            "EVN-1,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T08:01:00+02:00,0.01,0.0049,"
            "0.005,EUR,,",
            "EVN-2,04AABBCC,2026-06-02T08:00:00+02:00,2026-06-02T08:01:00+02:00,0.01,0.0051,"
            "0.0062,EUR,,",
        )

        import_csv(fleet, content)

        assert list(
            ChargingSession.objects.order_by("external_id").values_list(
                "price_excl_vat", "price_vat", "price_incl_vat"
            )
        ) == [
            (Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
            (Decimal("0.01"), Decimal("0.00"), Decimal("0.01")),
        ]

    def test_values_too_large_to_store_are_reported_instead_of_failing(self, fleet):
        long_id = "X" * 65
        content = csv_file(
            f"{long_id},04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,2,EUR,,",
            "EVN-2,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,1e400,2,2,EUR,,",
            "EVN-3,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:00:00+02:00,5,2,1e12,EUR,,",
        )

        report = import_csv(fleet, content)

        assert report.errors == (
            RowError(2, "the CDR id is longer than 64 characters"),
            RowError(3, "the energy is above 100000 kWh"),
            RowError(4, "the cost is above 9999999999.99"),
        )
        assert not ChargingSession.objects.exists()


class TestJsonImport:
    def test_a_list_of_cdrs_becomes_public_sessions_keeping_the_providers_document(self, fleet):
        second = cdr(
            "EVN-2",
            start_date_time="2026-06-02T17:00:00Z",
            end_date_time="2026-06-02T18:00:00Z",
            total_energy=9.5,
            total_cost={"excl_vat": 3.325, "incl_vat": 4.02},
            cdr_token={"uid": " 04aabbcc ", "type": "RFID"},
        )

        report = import_json(fleet, json_file([cdr(), second]))

        assert (report.rows, report.imported, report.already_imported, report.errors) == (
            2,
            2,
            0,
            (),
        )
        first, other = ChargingSession.objects.order_by("started_at", "pk")
        driver = fleet.drivers.get()
        assert (first.driver, first.vehicle, first.token.uid) == (
            driver,
            driver.assignments.get().vehicle,
            CARD,
        )
        assert (first.external_id, first.location_kind, first.price_basis) == (
            "EVN-1",
            LocationKind.PUBLIC,
            PriceBasis.PROVIDER,
        )
        assert (first.started_at, first.ended_at, first.energy_wh) == (
            dt.datetime(2026, 6, 1, 6, 0, tzinfo=UTC),
            dt.datetime(2026, 6, 1, 7, 30, tzinfo=UTC),
            18_250,
        )
        assert (first.price_excl_vat, first.price_vat, first.price_incl_vat) == (
            Decimal("7.30"),
            Decimal("1.53"),
            Decimal("8.83"),
        )
        assert first.price_breakdown == {"provider": cdr()}
        assert (other.external_id, other.token.uid, other.energy_wh) == ("EVN-2", CARD, 9_500)
        assert (other.price_excl_vat, other.price_vat, other.price_incl_vat) == (
            Decimal("3.33"),
            Decimal("0.70"),
            Decimal("4.03"),
        )

    def test_an_ocpi_response_is_read_from_its_data(self, fleet):
        response = {
            "data": [cdr("EVN-1"), cdr("EVN-2", **LATER)],
            "status_code": 1000,
            "timestamp": "2026-06-02T00:00:00Z",
        }

        report = import_json(fleet, json_file(response))

        assert (report.rows, report.imported, report.errors) == (2, 2, ())
        assert sorted(ChargingSession.objects.values_list("external_id", flat=True)) == [
            "EVN-1",
            "EVN-2",
        ]

    def test_a_single_cdr_object_is_one_row(self, fleet):
        report = import_json(fleet, json_file(cdr()))

        assert (report.rows, report.imported, report.errors) == (1, 1, ())
        assert ChargingSession.objects.get().external_id == "EVN-1"

    def test_importing_the_same_file_twice_imports_nothing_new(self, fleet):
        content = json_file({"data": [cdr("EVN-1"), cdr("EVN-2", **LATER)]})
        import_json(fleet, content)
        before = all_sessions()

        report = import_json(fleet, content)

        assert (report.rows, report.imported, report.already_imported, report.errors) == (
            2,
            0,
            2,
            (),
        )
        assert all_sessions() == before

    def test_every_bad_cdr_is_reported_with_its_position_and_nothing_is_imported(self, fleet):
        cdrs = [
            cdr("EVN-1"),
            cdr("EVN-2", cdr_token={"uid": "04000000", "type": "RFID"}),
            cdr("EVN-3", cdr_token={"uid": OTHER_FLEETS_CARD, "type": "RFID"}),
            cdr("EVN-4", start_date_time="June 1st"),
            cdr("EVN-5", end_date_time="2026-06-01T05:00:00Z"),
            cdr("EVN-6", currency="EUX"),
            cdr("EVN-7", total_energy=-1),
            cdr("EVN-8", total_cost=None),
            cdr("EVN-9", cdr_token={"type": "RFID"}),
            cdr("EVN-1", start_date_time="2026-06-01T05:00:00Z"),
            cdr("EVN-11", cdr_token="04AABBCC"),
            cdr(
                "EVN-12",
                charging_periods=[{"start_date_time": "2026-06-01T06:00:00Z", "dimensions": 5}],
            ),
            cdr("EVN-13", total_cost={"excl_vat": 5, "incl_vat": 4}),
            cdr(""),
            "EVN-15",
            cdr("EVN-16", start_date_time="2025-06-01T06:00:00Z"),
        ]
        before = all_sessions()

        report = import_json(fleet, json_file(cdrs))

        assert (report.rows, report.imported, report.already_imported) == (16, 0, 0)
        assert report.errors == (
            RowError(2, "token 04000000 is not a card of this fleet"),
            RowError(3, f"token {OTHER_FLEETS_CARD} is not a card of this fleet"),
            RowError(4, "cdr.start_date_time 'June 1st' is not a date-time."),
            RowError(5, "cdr.end_date_time is before start_date_time."),
            RowError(6, "cdr.currency 'EUX' is not an ISO 4217 currency."),
            RowError(7, "cdr.total_energy must be at least 0, got -1."),
            RowError(8, "cdr.total_cost is required."),
            RowError(9, "cdr.cdr_token.uid is required."),
            RowError(10, "CDR id EVN-1 repeats line 1"),
            RowError(11, "cdr.cdr_token must be an object."),
            RowError(12, "cdr.charging_periods[0].dimensions must be a list."),
            RowError(13, "cdr.total_cost.incl_vat is below excl_vat."),
            RowError(14, "cdr.id must be a non-empty string, got ''."),
            RowError(15, "A CDR must be a JSON object."),
            RowError(16, "token 04AABBCC was not valid at the start"),
        )
        assert report.refused
        assert all_sessions() == before

    def test_with_only_valid_rows_exactly_the_valid_cdrs_are_imported(self, fleet):
        cdrs = [
            cdr("EVN-1"),
            cdr("EVN-2", currency="EUX"),
            cdr("EVN-3", **LATER, total_energy=10),
        ]

        report = import_json(fleet, json_file(cdrs), only_valid_rows=True)

        assert (report.rows, report.imported, report.already_imported) == (3, 2, 0)
        assert report.errors == (RowError(2, "cdr.currency 'EUX' is not an ISO 4217 currency."),)
        assert list(
            ChargingSession.objects.order_by("external_id").values_list("external_id", "energy_wh")
        ) == [("EVN-1", 18_250), ("EVN-3", 10_000)]

    def test_the_total_energy_in_kwh_becomes_whole_wh_rounded_half_up(self, fleet):
        import_json(fleet, json_file(cdr(total_energy=1.0025)))

        assert ChargingSession.objects.get().energy_wh == 1_003

    def test_a_sub_cent_total_cost_is_a_net_and_a_vat_each_rounded_once(self, fleet):
        import_json(fleet, json_file(cdr(total_cost={"excl_vat": 0.0049, "incl_vat": 0.005})))

        session = ChargingSession.objects.get()
        assert (session.price_excl_vat, session.price_vat, session.price_incl_vat) == (
            Decimal("0.00"),
            Decimal("0.00"),
            Decimal("0.00"),
        )

    def test_malformed_json_is_refused(self, fleet):
        report = import_json(fleet, b'[{"id": "EVN-1",]', only_valid_rows=True)

        assert (report.rows, report.imported) == (0, 0)
        assert report.errors == (
            RowError(
                0,
                "malformed JSON: Expecting property name enclosed in double quotes: "
                "line 1 column 17 (char 16)",
            ),
        )
        assert not ChargingSession.objects.exists()

    def test_a_json_file_that_is_not_utf_8_is_refused(self, fleet):
        content = json_file(cdr()).replace(b"Zuidas", "Zürich".encode("latin-1"))

        report = import_json(fleet, content, only_valid_rows=True)

        assert report.errors == (RowError(0, "the file is not UTF-8 text"),)
        assert not ChargingSession.objects.exists()


class TestWhoAndWhat:
    def test_a_cdr_in_another_currency_than_the_fleets_is_refused_with_its_line(self, fleet):
        before = all_sessions()

        report = import_json(fleet, json_file([cdr("EVN-1"), cdr("EVN-2", currency="CHF")]))

        assert report.errors == (
            RowError(
                2,
                "currency CHF is not the fleet's EUR; billing charges drivers in the fleet's "
                "currency",
            ),
        )
        assert report.imported == 0
        assert all_sessions() == before

    def test_a_cdr_imported_into_another_fleet_is_a_bad_row_not_an_already_imported_one(
        self, fleet
    ):
        other_fleet = FleetFactory()
        ChargeTokenFactory(driver=DriverFactory(fleet=other_fleet), uid="04123456")
        import_json(other_fleet, json_file(cdr("EVN-1", cdr_token={"uid": "04123456"})))
        before = all_sessions()

        report = import_json(fleet, json_file(cdr("EVN-1")))

        assert (report.imported, report.already_imported) == (0, 0)
        assert report.errors == (RowError(1, "CDR id EVN-1 was imported into another fleet"),)
        assert all_sessions() == before

    def test_a_reissued_card_uid_is_the_card_valid_at_the_sessions_start(self, fleet):
        old_holder = fleet.drivers.get()
        old_card = old_holder.tokens.get()
        old_card.valid_until = dt.datetime(2026, 6, 1, tzinfo=UTC)
        old_card.is_active = False
        old_card.save()
        new_holder = DriverFactory(fleet=fleet)
        ChargeTokenFactory(
            driver=new_holder, uid=CARD, valid_from=dt.datetime(2026, 6, 1, tzinfo=UTC)
        )
        cdrs = [
            cdr(
                "EVN-MAY",
                start_date_time="2026-05-31T20:00:00Z",
                end_date_time="2026-05-31T22:00:00Z",
            ),
            cdr("EVN-JUNE", start_date_time="2026-06-01T06:00:00Z"),
        ]

        report = import_json(fleet, json_file(cdrs))

        assert (report.imported, report.errors) == (2, ())
        assert dict(ChargingSession.objects.values_list("external_id", "driver")) == {
            "EVN-MAY": old_holder.pk,
            "EVN-JUNE": new_holder.pk,
        }

    def test_a_driver_without_an_assigned_vehicle_gets_a_session_without_one(self, fleet):
        driver = DriverFactory(fleet=fleet)
        ChargeTokenFactory(driver=driver, uid="04999999")

        import_json(fleet, json_file(cdr(cdr_token={"uid": "04999999"})))

        session = ChargingSession.objects.get()
        assert (session.driver, session.vehicle) == (driver, None)

    def test_a_fast_public_charge_within_the_vehicles_dc_limit_is_not_suspect(self, fleet):
        # 40 kWh in 30 minutes is 80 kW: above the 11 kW AC limit, within the 135 kW DC one.
        fast = cdr(end_date_time="2026-06-01T06:30:00Z", total_energy=40)

        import_json(fleet, json_file(fast))

        session = ChargingSession.objects.get()
        assert (session.is_suspect, session.suspect_reason) == (False, "")

    def test_more_energy_than_the_battery_takes_is_imported_but_suspect(self, fleet):
        import_json(fleet, json_file(cdr(total_energy=90, end_date_time="2026-06-01T08:00:00Z")))

        session = ChargingSession.objects.get()
        assert session.is_suspect
        assert session.suspect_reason == "90 kWh is more than the 77.0 kWh battery can take"


NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def csv_row(cdr_id: str, start: str, end: str, energy_kwh: str = "5", cost: str = "3") -> str:
    return f"{cdr_id},{CARD},{start},{end},{energy_kwh},{cost},{cost},EUR,,"


class TestRowsThatCannotBeTrue:
    """Refused with their line, and nothing of the file imported: sessions in the future,
    energy that rounds to nothing or that no charger delivers, and overlaps on one card."""

    @pytest.fixture(autouse=True)
    def _now(self, time_machine):
        time_machine.move_to(NOW, tick=False)

    def test_a_session_in_the_future_is_refused_beyond_five_minutes_of_clock_skew(self, fleet):
        content = csv_file(
            csv_row("EVN-1", "2026-07-01T11:00:00Z", "2026-07-01T12:04:59Z"),
            csv_row("EVN-2", "2099-06-01T08:00:00Z", "2099-06-01T09:00:00Z"),
            csv_row("EVN-3", "2026-07-01T11:30:00Z", "2026-07-01T12:05:01Z"),
        )

        report = import_csv(fleet, content)

        assert report.errors == (
            RowError(3, "the session starts in the future (2099-06-01 08:00 UTC)"),
            RowError(4, "the session ends in the future (2026-07-01 12:05 UTC)"),
        )
        assert (report.imported, report.refused) == (0, True)
        assert not ChargingSession.objects.exists()

    def test_a_cdr_in_the_future_is_refused_with_its_position(self, fleet):
        future = cdr(
            "EVN-2099",
            start_date_time="2099-06-01T06:00:00Z",
            end_date_time="2099-06-01T07:30:00Z",
        )

        report = import_json(fleet, json_file([cdr(), future]))

        assert report.errors == (
            RowError(2, "the session starts in the future (2099-06-01 06:00 UTC)"),
        )
        assert not ChargingSession.objects.exists()

    def test_energy_below_1_wh_is_refused_before_rounding_even_at_a_cost(self, fleet):
        content = csv_file(
            csv_row("EVN-1", "2026-06-01T08:00:00Z", "2026-06-01T09:00:00Z", "0.0004", "3"),
            csv_row("EVN-2", "2026-06-02T08:00:00Z", "2026-06-02T09:00:00Z", "0", "3"),
            csv_row("EVN-3", "2026-06-03T08:00:00Z", "2026-06-03T09:00:00Z", "0.0005", "3"),
            csv_row("EVN-4", "2026-06-04T08:00:00Z", "2026-06-04T09:00:00Z", "0.0009", "3"),
            csv_row("EVN-5", "2026-06-05T08:00:00Z", "2026-06-05T09:00:00Z", "0.001", "3"),
        )

        report = import_csv(fleet, content)

        rule = "kWh is below 0.001 kWh (1 Wh); a session charges 1 Wh or more"
        assert report.errors == (
            RowError(2, f"the energy 0.0004 {rule}"),
            RowError(3, f"the energy 0 {rule}"),
            RowError(4, f"the energy 0.0005 {rule}"),
            RowError(5, f"the energy 0.0009 {rule}"),
        )
        assert (report.imported, report.refused) == (0, True)
        assert not ChargingSession.objects.exists()

    def test_a_cdr_whose_energy_is_below_1_wh_is_refused(self, fleet):
        report = import_json(
            fleet, json_file([cdr("EVN-1", total_energy=0.0005), cdr("EVN-2", total_energy=0.001)])
        )

        assert report.errors == (
            RowError(
                1,
                "the energy 0.0005 kWh is below 0.001 kWh (1 Wh); a session charges 1 Wh or more",
            ),
        )
        assert (report.imported, report.refused) == (0, True)
        assert not ChargingSession.objects.exists()

    def test_energy_no_charger_delivers_in_the_time_is_refused_not_only_flagged(self, fleet):
        content = csv_file(
            csv_row("EVN-1", "2026-06-01T08:00:00Z", "2026-06-01T08:00:01Z", "500"),
            csv_row("EVN-2", "2026-06-02T08:00:00Z", "2026-06-02T08:00:00Z", "1"),
            # 3,750 kW for 60 s is 62.5 kWh: the most a charger delivers, refused only above.
            csv_row("EVN-3", "2026-06-03T08:00:00Z", "2026-06-03T08:01:00Z", "62.5"),
        )

        report = import_csv(fleet, content)

        assert report.errors == (
            RowError(2, "500 kWh in 1 s is more than any charger delivers (3750 kW)"),
            RowError(3, "1 kWh in 0 s is more than any charger delivers (3750 kW)"),
        )
        assert not ChargingSession.objects.exists()

    def test_sessions_of_one_card_that_overlap_in_the_file_are_each_refused(self, fleet):
        content = csv_file(
            csv_row("EVN-1", "2026-06-01T08:00:00Z", "2026-06-01T10:00:00Z"),
            csv_row("EVN-2", "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"),
            csv_row("EVN-3", "2026-06-01T09:59:00Z", "2026-06-01T10:30:00Z"),
            csv_row("EVN-4", "2026-06-02T08:00:00Z", "2026-06-02T09:00:00Z"),
        )

        report = import_csv(fleet, content)

        assert report.errors == (
            RowError(2, f"overlaps line 4 on card {CARD}"),
            RowError(3, f"overlaps line 4 on card {CARD}"),
            RowError(4, f"overlaps line 2 on card {CARD}"),
        )
        assert (report.imported, report.refused) == (0, True)
        assert not ChargingSession.objects.exists()

    def test_with_only_valid_rows_both_overlapping_rows_are_left_out(self, fleet):
        content = csv_file(
            csv_row("EVN-1", "2026-06-01T08:00:00Z", "2026-06-01T10:00:00Z"),
            csv_row("EVN-2", "2026-06-01T09:00:00Z", "2026-06-01T11:00:00Z"),
            csv_row("EVN-3", "2026-06-02T08:00:00Z", "2026-06-02T09:00:00Z"),
        )

        report = import_csv(fleet, content, only_valid_rows=True)

        assert report.errors == (
            RowError(2, f"overlaps line 3 on card {CARD}"),
            RowError(3, f"overlaps line 2 on card {CARD}"),
        )
        assert list(ChargingSession.objects.values_list("external_id", flat=True)) == ["EVN-3"]

    def test_a_session_overlapping_one_stored_for_the_card_is_refused(self, fleet):
        driver = fleet.drivers.get()
        token = driver.tokens.get()
        stored = ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            token=token,
            started_at=dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 6, 1, 9, 45, tzinfo=UTC),
        )
        charging = ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            token=token,
            started_at=dt.datetime(2026, 6, 20, 7, 0, tzinfo=UTC),
            ended_at=None,
            energy_wh=None,
            status=SessionStatus.ACTIVE,
        )
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            token=token,
            started_at=dt.datetime(2026, 6, 5, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 6, 5, 9, 0, tzinfo=UTC),
            status=SessionStatus.INVALID,
        )
        before = all_sessions()
        content = csv_file(
            csv_row("EVN-1", "2026-06-01T08:00:00Z", "2026-06-01T09:30:00Z"),
            csv_row("EVN-2", "2026-06-01T09:45:00Z", "2026-06-01T10:00:00Z"),
            csv_row("EVN-3", "2026-06-05T08:00:00Z", "2026-06-05T09:00:00Z"),
            csv_row("EVN-4", "2026-06-25T08:00:00Z", "2026-06-25T09:00:00Z"),
        )

        report = import_csv(fleet, content)

        assert report.errors == (
            RowError(
                2,
                f"overlaps session {stored.pk} on card {CARD} "
                "(2026-06-01 09:00 UTC to 2026-06-01 09:45 UTC)",
            ),
            RowError(
                5,
                f"overlaps session {charging.pk} on card {CARD} "
                "(2026-06-20 07:00 UTC to still charging)",
            ),
        )
        assert report.refused
        assert all_sessions() == before

    def test_a_file_imported_again_is_not_refused_as_overlapping_itself(self, fleet):
        content = csv_file(*VALID_CSV_ROWS)
        import_csv(fleet, content)
        before = all_sessions()

        report = import_csv(fleet, content)

        assert (report.imported, report.already_imported, report.errors) == (0, 2, ())
        assert all_sessions() == before


def file_of(rows: int, prefix: str) -> bytes:
    """`rows` one-hour sessions on as many cards, a day apart."""
    first = dt.datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    starts = [first + dt.timedelta(days=index) for index in range(rows)]
    return csv_file(
        *(
            f"{prefix}-{index},{prefix}{index:04X},{start.isoformat()},"
            f"{(start + dt.timedelta(hours=1)).isoformat()},10,3,3.63,EUR,,"
            for index, start in enumerate(starts)
        )
    )


def fleet_with_cards(rows: int, prefix: str):
    fleet = FleetFactory()
    vehicle = VehicleFactory(fleet=fleet)
    for index in range(rows):
        driver = DriverFactory(fleet=fleet)
        ChargeTokenFactory(
            driver=driver,
            uid=f"{prefix}{index:04X}",
            valid_from=dt.datetime(2026, 1, 1, tzinfo=UTC),
        )
        if index % 2 == 0:
            VehicleAssignmentFactory(
                vehicle=vehicle,
                driver=driver,
                starts_at=dt.datetime(2026, 1, 2, tzinfo=UTC) + dt.timedelta(days=index),
                ends_at=dt.datetime(2026, 1, 3, tzinfo=UTC) + dt.timedelta(days=index),
            )
    return fleet


def test_the_query_count_of_an_import_does_not_grow_with_its_rows(
    django_assert_max_num_queries,
):
    small_fleet, large_fleet = fleet_with_cards(10, "04AA"), fleet_with_cards(200, "04BB")
    with CaptureQueriesContext(connection) as small:
        assert import_csv(small_fleet, file_of(10, "04AA")).imported == 10
    # SQLite binds at most 999 values a statement, so it cuts a bulk INSERT into batches;
    # PostgreSQL writes the rows in one.
    fields = [field for field in ChargingSession._meta.concrete_fields if not field.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [None] * 200)
    extra_batches = math.ceil(200 / batch) - math.ceil(10 / batch)

    with django_assert_max_num_queries(len(small) + extra_batches):
        report = import_csv(large_fleet, file_of(200, "04BB"))

    assert (report.imported, report.errors) == (200, ())
    vehicles = dict(
        ChargingSession.objects.filter(fleet=large_fleet).values_list("external_id", "vehicle")
    )
    assert {cdr_id for cdr_id, vehicle in vehicles.items() if vehicle} == {
        f"04BB-{index}" for index in range(0, 200, 2)
    }


class TestImportsInTheBackground:
    """A file above IMPORT_INLINE_MAX_ROWS is kept and imported by a task after commit; its row
    shows the outcome. Tasks run eagerly here; tests/charging/test_tasks.py runs a worker."""

    @pytest.fixture(autouse=True)
    def _small_inline_limit(self, settings):
        settings.IMPORT_INLINE_MAX_ROWS = 1

    def test_a_file_within_the_limit_is_imported_at_once_and_kept(self, fleet, settings):
        settings.IMPORT_INLINE_MAX_ROWS = 2
        content = csv_file(*VALID_CSV_ROWS)

        session_import = session_import_start(fleet=fleet, content=content, file_name="june.CSV")

        session_import.refresh_from_db()
        assert (session_import.status, session_import.file_format) == (
            SessionImportStatus.DONE,
            ImportFileFormat.CSV,
        )
        assert (session_import.rows_done, session_import.rows_total) == (2, 2)
        assert (session_import.imported, session_import.errors) == (2, [])
        assert bytes(session_import.content) == content
        assert ChargingSession.objects.count() == 2

    def test_a_larger_file_is_queued_and_imported_after_commit(
        self, fleet, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as after_commit:
            session_import = session_import_start(
                fleet=fleet, content=csv_file(*VALID_CSV_ROWS), file_name="june.csv"
            )
            assert (session_import.status, session_import.rows_total) == (
                SessionImportStatus.QUEUED,
                2,
            )
            assert not ChargingSession.objects.exists()

        after_commit[0]()

        session_import.refresh_from_db()
        assert session_import.status == SessionImportStatus.DONE
        assert (session_import.rows_done, session_import.imported) == (2, 2)
        assert session_import.finished_at is not None
        assert sorted(ChargingSession.objects.values_list("external_id", flat=True)) == [
            "EVN-1",
            "EVN-2",
        ]

    @pytest.mark.parametrize("file_format", ["csv", "json"])
    def test_rows_done_climbs_while_the_file_is_read_and_is_all_rows_before_the_write(
        self, fleet, monkeypatch, django_capture_on_commit_callbacks, file_format
    ):
        first = dt.datetime(2026, 1, 2, tzinfo=UTC)
        starts = [first + dt.timedelta(hours=hour) for hour in range(2_500)]
        if file_format == "csv":
            content = csv_file(
                *(
                    csv_row(f"EVN-{n}", f"{start:%Y-%m-%dT%H:%M}Z", f"{start:%Y-%m-%dT%H}:30Z")
                    for n, start in enumerate(starts)
                )
            )
            read_row = "_csv_row"
        else:
            content = json_file(
                [
                    cdr(
                        f"EVN-{n}",
                        start_date_time=f"{start:%Y-%m-%dT%H:%M}:00Z",
                        end_date_time=f"{start:%Y-%m-%dT%H}:30:00Z",
                        charging_periods=[],
                    )
                    for n, start in enumerate(starts)
                ]
            )
            read_row = "cdr_from_ocpi"
        with django_capture_on_commit_callbacks() as after_commit:
            session_import = session_import_start(
                fleet=fleet, content=content, file_name=f"year.{file_format}"
            )
        rows_read, seen_while_reading, seen_at_the_write = [0], [], []
        the_row_reader = getattr(cdr_files, read_row)

        def read_a_row_and_look(*args):
            if rows_read[0] % 500 == 0:
                seen_while_reading.append(rows_done_stored())
            rows_read[0] += 1
            return the_row_reader(*args)

        def rows_done_stored():
            return SessionImport.objects.values_list("rows_done", flat=True).get()

        the_write = services._public_sessions_write

        def look_and_write(**kwargs):
            seen_at_the_write.append(rows_done_stored())
            return the_write(**kwargs)

        monkeypatch.setattr(cdr_files, read_row, read_a_row_and_look)
        monkeypatch.setattr(services, "_public_sessions_write", look_and_write)

        after_commit[0]()

        assert seen_while_reading == [0, 0, 1_000, 1_000, 2_000]
        assert seen_at_the_write == [2_500]
        session_import.refresh_from_db()
        assert (session_import.status, session_import.rows_done, session_import.imported) == (
            SessionImportStatus.DONE,
            2_500,
            2_500,
        )

    def test_a_refused_file_is_recorded_with_its_errors_and_imports_nothing(
        self, fleet, django_capture_on_commit_callbacks
    ):
        content = json_file([cdr("EVN-1"), cdr("EVN-2", currency="EUX")])

        with django_capture_on_commit_callbacks(execute=True):
            session_import = session_import_start(
                fleet=fleet, content=content, file_name="cdrs.json"
            )

        session_import.refresh_from_db()
        assert (session_import.status, session_import.file_format) == (
            SessionImportStatus.REFUSED,
            ImportFileFormat.JSON,
        )
        assert session_import.errors == [
            {"line": 2, "reason": "cdr.currency 'EUX' is not an ISO 4217 currency."}
        ]
        assert not ChargingSession.objects.exists()

    def test_a_failure_while_writing_leaves_no_session_and_marks_the_import_failed(
        self, fleet, monkeypatch, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as after_commit:
            session_import = session_import_start(
                fleet=fleet, content=csv_file(*VALID_CSV_ROWS), file_name="june.csv"
            )

        def fail_after_the_sessions_are_written(*args):
            assert ChargingSession.objects.count() == 2
            raise RuntimeError("disk full")

        monkeypatch.setattr(
            "apps.charging.services._record_outcome", fail_after_the_sessions_are_written
        )
        with pytest.raises(RuntimeError):
            after_commit[0]()

        session_import.refresh_from_db()
        assert (session_import.status, session_import.error) == (
            SessionImportStatus.FAILED,
            "RuntimeError: disk full",
        )
        assert not ChargingSession.objects.exists()

    def test_running_a_finished_import_again_changes_nothing(
        self, fleet, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            session_import = session_import_start(
                fleet=fleet, content=csv_file(*VALID_CSV_ROWS), file_name="june.csv"
            )
        before = (all_sessions(), SessionImport.objects.values().get())

        again = import_public_sessions(session_import.pk)

        assert again == SessionImportStatus.DONE
        assert (all_sessions(), SessionImport.objects.values().get()) == before
