"""The charging management commands: price_cdr, import_tariff, export_tariff, import_sessions
and export_cdr, each a thin interface that prints what its service or selector returns."""

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.charging.choices import PriceBasis
from apps.charging.models import ChargingSession, Tariff, TariffElement, TariffVersion
from apps.charging.ocpi import cdr_from_ocpi, tariff_terms_from_ocpi
from apps.charging.pricing import Price
from apps.charging.services import charging_session_price, tariff_publish
from tests.charging.ocpi_tariff_documents import REFUSED_TARIFFS
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    TariffElementFactory,
    TariffFactory,
)

UTC = dt.UTC
FIXTURES = Path(__file__).parent / "fixtures"
TARIFF_FILE = str(FIXTURES / "tariff_day_night_parking.json")
CDR_FILE = str(FIXTURES / "cdr_evening_charge.json")
FREE_OF_CHARGE_FILE = str(FIXTURES / "tariff_free_of_charge.json")
COMPLEX_TARIFF_FILE = str(FIXTURES / "tariff_complex.json")
COMPLEX_CDR_FILE = str(FIXTURES / "cdr_complex_monday_min_max_current.json")


def run(*arguments) -> str:
    output = io.StringIO()
    call_command(*arguments, stdout=output)
    return output.getvalue()


def write_json(path: Path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def write_nested(path: Path, depth: int = 100_000) -> str:
    """A JSON file of arrays nested `depth` deep, far deeper than Python's reader can recurse."""
    path.write_text("[" * depth + "]" * depth)
    return str(path)


TOO_DEEP = "the JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)"


class TestPriceCdr:
    """The fixture tariff prices energy at 0.40/kWh from 08:00 to 20:00 and 0.25/kWh otherwise,
    a 0.50 flat fee and parking at 6.00/h in 15-minute steps, all with 21 % VAT. The fixture CDR
    charges 22 kWh from 17:00 to 19:00 UTC and parks until 20:20 UTC."""

    def test_in_the_chargers_zone_the_totals_are_the_hand_computed_ones(self):
        # Amsterdam is UTC+2: 11 kWh before 20:00 at 0.40 = 4.40, 11 kWh after at 0.25 = 2.75;
        # flat 0.50; 80 min parked bill 6 steps of 15 min = 1.5 h at 6.00 = 9.00.
        # Excl. VAT 16.65; VAT 21 % of it = 3.4965; incl. 20.1465, rounded 20.15.
        printed = json.loads(
            run("price_cdr", TARIFF_FILE, CDR_FILE, "--timezone", "Europe/Amsterdam")
        )

        assert printed["ocpi"] == {
            "currency": "EUR",
            "total_cost": {"excl_vat": "16.65", "incl_vat": "20.15"},
            "total_fixed_cost": {"excl_vat": "0.50", "incl_vat": "0.61"},
            "total_energy": "22",
            "total_energy_cost": {"excl_vat": "7.15", "incl_vat": "8.65"},
            "total_time": "2.0000",
            "total_time_cost": {"excl_vat": "0.00", "incl_vat": "0.00"},
            "total_parking_time": "1.3333",
            "total_parking_cost": {"excl_vat": "9.00", "incl_vat": "10.89"},
        }
        assert (printed["lines_excl_vat"], printed["lines_vat"]) == ("16.6500", "3.4965")
        assert printed["cdr_id"] == "EVN-CDR-0001"
        assert printed["cdr_total_cost"] == {"excl_vat": "16.65", "incl_vat": "20.15"}
        assert [
            (line["dimension"], line["volume"], line["step_extra"], line["excl_vat"])
            for period in printed["periods"]
            for line in period["lines"]
        ] == [
            ("FLAT", "1", "0", "0.5000"),
            ("ENERGY", "11000", "0", "4.4000"),
            ("ENERGY", "11000", "0", "2.7500"),
            ("PARKING_TIME", "4800", "600", "9.0000"),
        ]

    def test_without_a_zone_time_restrictions_are_read_in_utc(self):
        # 17:00-19:00 UTC is all before 20:00: 22 kWh at 0.40 = 8.80; + 0.50 + 9.00 = 18.30;
        # VAT 3.843; incl. 22.143, rounded 22.14.
        printed = json.loads(run("price_cdr", TARIFF_FILE, CDR_FILE))

        assert printed["ocpi"]["total_cost"] == {"excl_vat": "18.30", "incl_vat": "22.14"}
        assert printed["ocpi"]["total_energy_cost"] == {"excl_vat": "8.80", "incl_vat": "10.65"}

    def test_files_wrapped_in_an_ocpi_response_are_read_from_their_data(self, tmp_path):
        tariff = write_json(
            tmp_path / "t.json", {"data": json.loads(Path(TARIFF_FILE).read_text())}
        )
        cdr = write_json(tmp_path / "c.json", {"data": json.loads(Path(CDR_FILE).read_text())})

        printed = json.loads(run("price_cdr", tariff, cdr, "--timezone", "Europe/Amsterdam"))

        assert printed["ocpi"]["total_cost"] == {"excl_vat": "16.65", "incl_vat": "20.15"}

    def test_a_malformed_json_file_is_refused_naming_the_file(self, tmp_path):
        broken = tmp_path / "broken.json"
        broken.write_text('{"id": "T1",')

        with pytest.raises(CommandError, match=rf"^{broken}: malformed JSON: Expecting"):
            run("price_cdr", str(broken), CDR_FILE)

    def test_a_missing_file_is_refused_naming_it(self, tmp_path):
        missing = tmp_path / "missing.json"

        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, str(missing))

        assert str(refused.value) == f"{missing} cannot be read: No such file or directory."

    def test_a_malformed_tariff_is_refused_naming_the_json_path(self, tmp_path):
        tariff = json.loads(Path(TARIFF_FILE).read_text())
        tariff["elements"][2]["price_components"][1]["step_size"] = -1
        path = write_json(tmp_path / "tariff.json", tariff)

        with pytest.raises(CommandError) as refused:
            run("price_cdr", path, CDR_FILE)

        assert str(refused.value) == (
            f"{path}: tariff.elements[2].price_components[1].step_size must be a whole number "
            "≥ 0, got -1."
        )

    def test_the_free_of_charge_example_with_step_size_0_prices_the_cdr_at_nothing(self):
        printed = json.loads(run("price_cdr", FREE_OF_CHARGE_FILE, CDR_FILE))

        assert printed["ocpi"]["total_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
        assert [
            (line["dimension"], line["excl_vat"])
            for period in printed["periods"]
            for line in period["lines"]
        ] == [("FLAT", "0.0000")]

    def test_the_complex_tariff_example_prices_a_cdr_stating_min_and_max_current(self):
        # OCPI 2.2.1's complex tariff: charging Monday from 09:30 for 147 minutes at 6-16 A,
        # then parked 42 minutes. Flat 2.50; TIME below 32 A at 1.00/h, 147 min = 2.45 (the
        # step is taken on the priced parking time); parking 5.00/h, 42 min billed as 45 = 3.75.
        printed = json.loads(
            run("price_cdr", COMPLEX_TARIFF_FILE, COMPLEX_CDR_FILE, "--timezone", "Europe/Berlin")
        )

        assert printed["ocpi"]["total_cost"] == {"excl_vat": "8.70", "incl_vat": "9.94"}
        assert printed["ocpi"]["total_time_cost"] == {"excl_vat": "2.45", "incl_vat": "2.94"}
        assert printed["ocpi"]["total_parking_cost"] == {"excl_vat": "3.75", "incl_vat": "4.13"}
        assert printed["unknown_restrictions"] == []

    def test_a_cdr_without_the_current_a_tariff_restricts_by_says_so(self, tmp_path):
        cdr = json.loads(Path(COMPLEX_CDR_FILE).read_text())
        cdr["charging_periods"][0]["dimensions"] = cdr["charging_periods"][0]["dimensions"][:2]
        path = write_json(tmp_path / "cdr.json", cdr)

        printed = json.loads(
            run("price_cdr", COMPLEX_TARIFF_FILE, path, "--timezone", "Europe/Berlin")
        )

        assert printed["ocpi"]["total_time_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
        assert printed["unknown_restrictions"] == [
            "max_current not known for period 1",
            "min_current not known for period 1",
        ]

    def test_a_malformed_cdr_is_refused_naming_the_json_path(self, tmp_path):
        cdr = json.loads(Path(CDR_FILE).read_text())
        cdr["charging_periods"][0]["dimensions"][0]["volume"] = "lots"
        path = write_json(tmp_path / "cdr.json", cdr)

        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, path)

        assert str(refused.value) == (
            f"{path}: cdr.charging_periods[0].dimensions[0].volume must be a number, got 'lots'."
        )

    def test_a_cdr_in_another_currency_than_the_tariff_is_refused(self, tmp_path):
        cdr = json.loads(Path(CDR_FILE).read_text())
        cdr["currency"] = "CHF"
        path = write_json(tmp_path / "cdr.json", cdr)

        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, path)

        assert str(refused.value) == "cdr.currency CHF is not the tariff.currency EUR."

    def test_a_cdr_without_charging_periods_is_refused(self, tmp_path):
        cdr = json.loads(Path(CDR_FILE).read_text())
        cdr["charging_periods"] = []
        path = write_json(tmp_path / "cdr.json", cdr)

        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, path)

        assert str(refused.value) == f"{path}: cdr.charging_periods holds nothing to price."

    def test_a_cdr_energy_too_large_to_price_is_refused_naming_its_field(self, tmp_path):
        cdr = json.loads(Path(CDR_FILE).read_text())
        cdr["charging_periods"][0]["dimensions"][0]["volume"] = 1e30
        path = write_json(tmp_path / "cdr.json", cdr)

        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, path)

        assert str(refused.value) == (
            f"{path}: cdr.charging_periods[0].dimensions[0].volume must be below 1000000000, "
            "got 1E+30."
        )

    @pytest.mark.parametrize("nested", ["tariff", "cdr"])
    def test_json_nested_100000_deep_is_refused_naming_the_limit(self, tmp_path, nested):
        deep = write_nested(tmp_path / "deep.json")
        files = {"tariff": TARIFF_FILE, "cdr": CDR_FILE, nested: deep}

        with pytest.raises(CommandError) as refused:
            run("price_cdr", files["tariff"], files["cdr"])

        assert str(refused.value) == f"{deep}: {TOO_DEEP}."

    def test_an_unknown_time_zone_is_refused(self):
        with pytest.raises(CommandError) as refused:
            run("price_cdr", TARIFF_FILE, CDR_FILE, "--timezone", "Mars/Olympus")

        assert str(refused.value) == "--timezone 'Mars/Olympus' is not an IANA time zone."


@pytest.mark.django_db
class TestImportAndExportTariff:
    @pytest.fixture(autouse=True)
    def _now(self, time_machine):
        time_machine.move_to(dt.datetime(2026, 5, 15, 9, 30, tzinfo=UTC), tick=False)

    def test_importing_creates_and_publishes_the_tariff(self):
        fleet = FleetFactory(slug="acme")

        printed = run("import_tariff", "--fleet", "acme", TARIFF_FILE, "--name", "Public EVN")

        tariff = Tariff.objects.get()
        assert (tariff.fleet, tariff.ocpi_id, tariff.name, tariff.currency) == (
            fleet,
            "DAY-NIGHT-PARK",
            "Public EVN",
            "EUR",
        )
        assert list(
            tariff.elements.values_list("position", "energy_price", "flat_price", "parking_price")
        ) == [
            (0, Decimal("0.40000"), None, None),
            (1, Decimal("0.25000"), None, None),
            (2, None, Decimal("0.50000"), Decimal("6.00000")),
        ]
        version = tariff.versions.get()
        assert version.effective_from == dt.datetime(2026, 5, 15, 9, 30, tzinfo=UTC)
        assert tariff_terms_from_ocpi(version.terms) == tariff_terms_from_ocpi(
            json.loads(Path(TARIFF_FILE).read_text())
        )
        assert printed == (
            "Tariff DAY-NIGHT-PARK 'Public EVN' of fleet acme: version 1, in force from "
            "2026-05-15 09:30:00 UTC.\n"
        )

    def test_importing_the_same_file_again_publishes_no_new_version(self, time_machine):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)
        time_machine.move_to(dt.datetime(2026, 5, 16, tzinfo=UTC), tick=False)

        printed = run("import_tariff", "--fleet", "acme", TARIFF_FILE)

        assert TariffVersion.objects.count() == 1
        assert Tariff.objects.get().name == "OCPI tariff DAY-NIGHT-PARK"
        assert "version 1, in force from 2026-05-15 09:30:00 UTC" in printed

    def test_importing_changed_terms_publishes_a_new_version(self, tmp_path, time_machine):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["elements"][1]["price_components"][0]["price"] = 0.22
        time_machine.move_to(dt.datetime(2026, 5, 16, tzinfo=UTC), tick=False)

        run("import_tariff", "--fleet", "acme", write_json(tmp_path / "t.json", document))

        tariff = Tariff.objects.get()
        assert list(tariff.versions.values_list("number", flat=True)) == [2, 1]
        assert tariff.elements.get(position=1).energy_price == Decimal("0.22000")

    def test_reservation_elements_are_left_out(self, tmp_path):
        FleetFactory(slug="acme")
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["elements"].insert(
            0,
            {
                "price_components": [{"type": "FLAT", "price": 5, "step_size": 1}],
                "restrictions": {"reservation": "RESERVATION"},
            },
        )

        run("import_tariff", "--fleet", "acme", write_json(tmp_path / "t.json", document))

        tariff = Tariff.objects.get()
        assert list(tariff.elements.values_list("flat_price", flat=True)) == [
            None,
            None,
            Decimal("0.50000"),
        ]

    def test_a_tariff_pricing_only_reservations_is_refused(self, tmp_path):
        FleetFactory(slug="acme")
        document = json.loads(Path(TARIFF_FILE).read_text())
        for element in document["elements"]:
            element["restrictions"] = {"reservation": "RESERVATION"}
        path = write_json(tmp_path / "t.json", document)

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", path)

        assert str(refused.value) == (
            f"{path}: tariff.elements price only reservations; Voltop prices charging sessions."
        )
        assert not Tariff.objects.exists()

    def test_a_tariff_in_another_currency_than_the_fleets_is_refused_and_nothing_is_created(
        self, tmp_path
    ):
        FleetFactory(slug="acme", name="Acme", currency="EUR")
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["currency"] = "XXX"
        path = write_json(tmp_path / "t.json", document)

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", path)

        assert str(refused.value) == (
            f"{path}: The tariff is in XXX, but Acme bills in EUR: sessions it priced could "
            "never be billed. Give the prices in EUR."
        )
        assert not Tariff.objects.exists()
        assert not TariffVersion.objects.exists()

    def test_importing_again_in_another_currency_changes_nothing(self, tmp_path):
        FleetFactory(slug="acme", currency="EUR")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)
        before = list(Tariff.objects.values()), list(TariffVersion.objects.values())
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["currency"] = "USD"

        with pytest.raises(CommandError):
            run("import_tariff", "--fleet", "acme", write_json(tmp_path / "t.json", document))

        assert (list(Tariff.objects.values()), list(TariffVersion.objects.values())) == before

    def test_importing_again_with_a_name_renames_the_tariff(self):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)

        run("import_tariff", "--fleet", "acme", TARIFF_FILE, "--name", "EVN public")

        assert list(Tariff.objects.values_list("name", flat=True)) == ["EVN public"]
        assert TariffVersion.objects.count() == 1

    def test_an_unknown_fleet_slug_is_refused_and_nothing_is_created(self):
        FleetFactory(slug="acme")

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acne", TARIFF_FILE)

        assert str(refused.value) == "--fleet: no fleet has the slug 'acne'."
        assert not Tariff.objects.exists()

    def test_a_malformed_json_file_is_refused_and_nothing_is_created(self, tmp_path):
        FleetFactory(slug="acme")
        broken = tmp_path / "broken.json"
        broken.write_bytes(b"\xff\xfe not json")

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", str(broken))

        assert str(refused.value) == f"{broken}: the file is not UTF-8 text."
        assert not Tariff.objects.exists()

    def test_an_invalid_tariff_is_refused_naming_the_json_path_and_nothing_is_created(
        self, tmp_path
    ):
        FleetFactory(slug="acme")
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["currency"] = "EUX"
        path = write_json(tmp_path / "t.json", document)

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", path)

        assert str(refused.value) == f"{path}: tariff.currency 'EUX' is not an ISO 4217 currency."
        assert not Tariff.objects.exists()

    @pytest.mark.parametrize(("document", "field", "message"), REFUSED_TARIFFS)
    def test_a_refused_tariff_names_its_field_and_nothing_is_created(
        self, tmp_path, document, field, message
    ):
        FleetFactory(slug="acme", currency="EUR")
        path = write_json(tmp_path / "t.json", document)

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", path)

        assert str(refused.value) == f"{path}: {message}"
        assert not Tariff.objects.exists()
        assert not TariffElement.objects.exists()
        assert not TariffVersion.objects.exists()

    def test_json_nested_100000_deep_is_refused_naming_the_limit(self, tmp_path):
        FleetFactory(slug="acme")
        deep = write_nested(tmp_path / "deep.json")

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", deep)

        assert str(refused.value) == f"{deep}: {TOO_DEEP}."
        assert not Tariff.objects.exists()

    def test_a_tariff_id_too_long_to_store_is_refused(self, tmp_path):
        FleetFactory(slug="acme")
        document = json.loads(Path(TARIFF_FILE).read_text())
        document["id"] = "T" * 37
        path = write_json(tmp_path / "t.json", document)

        with pytest.raises(CommandError) as refused:
            run("import_tariff", "--fleet", "acme", path)

        assert str(refused.value) == f"{path}: tariff.id is longer than 36 characters."
        assert not Tariff.objects.exists()

    def test_export_prints_the_latest_versions_ocpi_json(self):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)

        printed = json.loads(run("export_tariff", "--fleet", "acme", "DAY-NIGHT-PARK"))

        assert printed == TariffVersion.objects.get().terms
        assert (printed["id"], printed["country_code"], printed["last_updated"]) == (
            "DAY-NIGHT-PARK",
            "NL",
            "2026-05-15T09:30:00Z",
        )

    def test_an_exported_tariff_imports_into_another_fleet_with_the_same_terms(self, tmp_path):
        FleetFactory(slug="acme")
        FleetFactory(slug="other")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)
        exported = tmp_path / "exported.json"

        printed = run("export_tariff", "--fleet", "acme", "DAY-NIGHT-PARK", "-o", str(exported))
        run("import_tariff", "--fleet", "other", str(exported))

        assert printed == f"Wrote tariff DAY-NIGHT-PARK version 1 to {exported}.\n"
        acme, other = (
            tariff_terms_from_ocpi(Tariff.objects.get(fleet__slug=slug).versions.get().terms)
            for slug in ("acme", "other")
        )
        assert acme == other

    def test_the_free_of_charge_example_exports_as_it_was_imported_with_step_size_0(self):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", FREE_OF_CHARGE_FILE)

        printed = json.loads(run("export_tariff", "--fleet", "acme", "15"))

        assert printed["elements"] == json.loads(Path(FREE_OF_CHARGE_FILE).read_text())["elements"]
        assert tariff_terms_from_ocpi(printed) == tariff_terms_from_ocpi(
            json.loads(Path(FREE_OF_CHARGE_FILE).read_text())
        )

    def test_export_of_an_unknown_ocpi_id_is_refused(self):
        FleetFactory(slug="acme")

        with pytest.raises(CommandError) as refused:
            run("export_tariff", "--fleet", "acme", "NOPE")

        assert str(refused.value) == "OCPI_ID: fleet acme has no tariff with OCPI id 'NOPE'."

    def test_export_of_another_fleets_tariff_is_refused(self):
        FleetFactory(slug="acme")
        FleetFactory(slug="other")
        run("import_tariff", "--fleet", "other", TARIFF_FILE)

        with pytest.raises(CommandError, match="fleet acme has no tariff with OCPI id"):
            run("export_tariff", "--fleet", "acme", "DAY-NIGHT-PARK")

    def test_export_of_an_unpublished_tariff_is_refused(self):
        TariffElementFactory(tariff=TariffFactory(fleet=FleetFactory(slug="acme"), ocpi_id="T1"))

        with pytest.raises(CommandError) as refused:
            run("export_tariff", "--fleet", "acme", "T1")

        assert str(refused.value) == "Tariff T1 of fleet acme is not published."

    def test_export_to_an_unwritable_path_is_refused(self, tmp_path):
        FleetFactory(slug="acme")
        run("import_tariff", "--fleet", "acme", TARIFF_FILE)
        target = tmp_path / "no-such-dir" / "t.json"

        with pytest.raises(CommandError) as refused:
            run("export_tariff", "--fleet", "acme", "DAY-NIGHT-PARK", "-o", str(target))

        assert str(refused.value) == f"-o {target} cannot be written: No such file or directory."


SESSIONS_CSV = (
    "cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency\n"
    "EVN-1,04AABBCC,2026-06-01T08:00:00+02:00,2026-06-01T09:30:00+02:00,18.25,7.30,8.83,EUR\n"
    "EVN-2,04000000,2026-06-01T10:00:00+02:00,2026-06-01T11:00:00+02:00,5,2,2.42,EUR\n"
    "EVN-3,04AABBCC,2026-06-01T12:00:00+02:00,2026-06-01T11:00:00+02:00,5,2,2.42,EUR\n"
    "EVN-4,04AABBCC,2026-06-02T08:00:00+02:00,2026-06-02T09:00:00+02:00,9.5,3.325,4.02,EUR\n"
)


@pytest.mark.django_db
class TestImportSessions:
    @pytest.fixture
    def fleet(self):
        fleet = FleetFactory(slug="acme")
        ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="04AABBCC")
        return fleet

    def test_a_file_with_bad_rows_is_refused_and_every_error_printed(self, fleet, tmp_path):
        path = tmp_path / "sessions.csv"
        path.write_text(SESSIONS_CSV)
        output = io.StringIO()

        with pytest.raises(CommandError) as refused:
            call_command("import_sessions", "--fleet", "acme", str(path), stdout=output)

        assert str(refused.value) == (
            f"Nothing imported: 2 error(s) in {path}. Fix them, or pass --only-valid-rows to "
            "import the valid rows."
        )
        assert output.getvalue() == (
            "Rows:             4\n"
            "Imported:         0\n"
            "Already imported: 0\n"
            "line 3: token 04000000 is not a card of this fleet\n"
            "line 4: end is before start\n"
        )
        assert not ChargingSession.objects.exists()

    def test_with_only_valid_rows_the_valid_rows_are_imported(self, fleet, tmp_path):
        path = tmp_path / "sessions.csv"
        path.write_text(SESSIONS_CSV)

        printed = run("import_sessions", "--fleet", "acme", str(path), "--only-valid-rows")

        assert printed == (
            "Rows:             4\n"
            "Imported:         2\n"
            "Already imported: 0\n"
            "line 3: token 04000000 is not a card of this fleet\n"
            "line 4: end is before start\n"
            "Imported 2 session(s).\n"
        )
        assert list(
            ChargingSession.objects.order_by("external_id").values_list(
                "external_id", "price_excl_vat", "price_vat", "price_incl_vat"
            )
        ) == [
            ("EVN-1", Decimal("7.30"), Decimal("1.53"), Decimal("8.83")),
            ("EVN-4", Decimal("3.33"), Decimal("0.70"), Decimal("4.03")),
        ]

    def test_a_cdr_json_file_imports_and_a_second_run_imports_nothing_new(self, fleet, tmp_path):
        cdr = json.loads(Path(CDR_FILE).read_text())
        path = write_json(tmp_path / "cdrs.json", {"data": [cdr], "status_code": 1000})
        first = run("import_sessions", "--fleet", "acme", path)

        again = run("import_sessions", "--fleet", "acme", path)

        assert first.endswith("Imported 1 session(s).\n")
        assert again == (
            "Rows:             1\n"
            "Imported:         0\n"
            "Already imported: 1\n"
            "Imported 0 session(s).\n"
        )
        session = ChargingSession.objects.get()
        assert (session.external_id, session.energy_wh, session.price_basis) == (
            "EVN-CDR-0001",
            22_000,
            PriceBasis.PROVIDER,
        )
        assert (session.price_excl_vat, session.price_incl_vat) == (
            Decimal("16.65"),
            Decimal("20.15"),
        )

    def test_bad_cdrs_are_printed_by_position_and_a_broken_file_as_the_file(self, fleet, tmp_path):
        cdrs = write_json(tmp_path / "cdrs.json", [{"id": "X"}])
        broken = tmp_path / "broken.json"
        broken.write_text("[")
        cdrs_output, broken_output = io.StringIO(), io.StringIO()

        with pytest.raises(CommandError):
            call_command("import_sessions", "--fleet", "acme", cdrs, stdout=cdrs_output)
        with pytest.raises(CommandError):
            call_command("import_sessions", "--fleet", "acme", str(broken), stdout=broken_output)

        assert cdrs_output.getvalue().splitlines()[3:] == ["CDR 1: cdr.currency is required."]
        assert broken_output.getvalue().splitlines() == [
            "Rows:             0",
            "Imported:         0",
            "Already imported: 0",
            "file: malformed JSON: Expecting value: line 1 column 2 (char 1)",
        ]
        assert not ChargingSession.objects.exists()

    def test_json_nested_100000_deep_is_refused_naming_the_limit(self, fleet, tmp_path):
        deep = write_nested(tmp_path / "deep.json")
        output = io.StringIO()

        with pytest.raises(CommandError) as refused:
            call_command("import_sessions", "--fleet", "acme", deep, stdout=output)

        assert str(refused.value) == (
            f"Nothing imported: 1 error(s) in {deep}. Fix them, or pass --only-valid-rows to "
            "import the valid rows."
        )
        assert output.getvalue().splitlines()[3:] == [f"file: {TOO_DEEP}"]
        assert not ChargingSession.objects.exists()

    def test_a_file_that_is_neither_json_nor_csv_is_refused(self, fleet, tmp_path):
        path = tmp_path / "sessions.xlsx"
        path.write_bytes(b"PK")

        with pytest.raises(CommandError) as refused:
            run("import_sessions", "--fleet", "acme", str(path))

        assert str(refused.value) == f"{path}: the file name must end in .json or .csv."

    def test_an_unknown_fleet_slug_is_refused(self, fleet, tmp_path):
        path = tmp_path / "sessions.csv"
        path.write_text(SESSIONS_CSV)

        with pytest.raises(CommandError) as refused:
            run("import_sessions", "--fleet", "nope", str(path))

        assert str(refused.value) == "--fleet: no fleet has the slug 'nope'."
        assert not ChargingSession.objects.exists()


@pytest.mark.django_db
class TestExportCdr:
    @pytest.fixture
    def priced_session(self):
        """20.5 kWh from 08:00 to 10:00 UTC at a depot, priced with 0.30/kWh and a 0.50 flat
        fee, 21 % VAT: 6.15 + 0.50 = 6.65 excl., 8.0465 incl., rounded 8.05."""
        connector = ConnectorFactory()
        fleet = connector.station.fleet
        driver = DriverFactory(fleet=fleet, employee_number="E-7")
        token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
        tariff = TariffFactory(fleet=fleet)
        TariffElementFactory(tariff=tariff)
        tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
        session = ChargingSessionFactory(
            fleet=fleet, driver=driver, token=token, connector=connector
        )
        return charging_session_price(session=session)

    def test_a_priced_session_exports_as_a_cdr_with_its_costs(self, priced_session):
        printed = json.loads(run("export_cdr", str(priced_session.pk)))

        assert printed["id"] == f"VT-{priced_session.pk}"
        assert (printed["start_date_time"], printed["end_date_time"]) == (
            "2026-03-02T08:00:00Z",
            "2026-03-02T10:00:00Z",
        )
        assert printed["cdr_token"] == {"uid": "04AABBCC", "type": "RFID", "contract_id": "E-7"}
        assert (printed["currency"], printed["total_energy"], printed["total_time"]) == (
            "EUR",
            20.5,
            2.0,
        )
        assert printed["total_cost"] == {"excl_vat": 6.65, "incl_vat": 8.05}
        assert printed["total_energy_cost"] == {"excl_vat": 6.15, "incl_vat": 7.44}
        assert printed["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.61}
        assert printed["charging_periods"] == [
            {
                "start_date_time": "2026-03-02T08:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": 20.5},
                    {"type": "TIME", "volume": 2.0},
                ],
            }
        ]
        assert printed["tariffs"] == [priced_session.tariff_version.terms]

    def test_money_is_written_as_exact_numbers_to_the_cent(self, priced_session):
        text = run("export_cdr", str(priced_session.pk))

        printed = json.loads(text, parse_float=Decimal)
        assert [
            (field, str(printed[field]["excl_vat"]), str(printed[field]["incl_vat"]))
            for field in ("total_cost", "total_energy_cost", "total_fixed_cost")
        ] == [
            ("total_cost", "6.65", "8.05"),
            ("total_energy_cost", "6.15", "7.44"),
            ("total_fixed_cost", "0.50", "0.61"),
        ]
        assert '"total_fixed_cost": {\n    "excl_vat": 0.50,\n    "incl_vat": 0.61\n  }' in text
        assert str(printed["total_energy"]) == "20.500"

    def test_an_exported_cdr_reads_back_and_prices_to_the_same_totals(
        self, priced_session, tmp_path
    ):
        cdr_path = tmp_path / "cdr.json"
        run("export_cdr", str(priced_session.pk), "-o", str(cdr_path))
        tariff_path = write_json(tmp_path / "tariff.json", priced_session.tariff_version.terms)

        read_back = cdr_from_ocpi(json.loads(cdr_path.read_text()))
        repriced = json.loads(run("price_cdr", tariff_path, str(cdr_path)))

        assert (read_back.total_energy_wh, read_back.total_cost) == (
            20_500,
            Price(Decimal("6.65"), Decimal("8.05")),
        )
        assert repriced["ocpi"]["total_cost"] == {"excl_vat": "6.65", "incl_vat": "8.05"}

    def test_writing_to_a_file_says_where(self, priced_session, tmp_path):
        target = tmp_path / "cdr.json"

        printed = run("export_cdr", str(priced_session.pk), "-o", str(target))

        assert printed == f"Wrote CDR VT-{priced_session.pk} to {target}.\n"
        assert json.loads(target.read_text())["id"] == f"VT-{priced_session.pk}"

    @pytest.mark.parametrize("session_id", ["999999", "abc", "-1"])
    def test_an_unknown_session_id_is_refused(self, priced_session, session_id):
        with pytest.raises(CommandError) as refused:
            run("export_cdr", session_id)

        assert str(refused.value) == f"SESSION_ID: no charging session has the id '{session_id}'."
