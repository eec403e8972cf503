"""Tariff changes through the services: which connectors a tariff prices alone, the rules of an
edit, versions published only when what a version says changes, deactivation and activation,
two deactivations at once, and OCPI documents refused whole before anything is saved."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.charging.exceptions import (
    InvalidTariff,
    TariffChangeInPast,
    TariffCurrencyNotFleets,
    TariffStillNeeded,
    TariffVersionScheduled,
)
from apps.charging.models import Tariff, TariffElement, TariffVersion
from apps.charging.selectors import connector_list_priced_only_by, tariff_list_in_force
from apps.charging.services import (
    tariff_activate,
    tariff_deactivate,
    tariff_import_ocpi,
    tariff_publish,
    tariff_update,
    tariff_update_check,
)
from tests.charging.ocpi_tariff_documents import REFUSED_TARIFFS, TARIFF, tariff_with
from tests.factories import (
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    FleetFactory,
    TariffElementFactory,
    TariffFactory,
)
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NEW_YEAR = dt.datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(request, time_machine):
    if "transaction" not in request.keywords:
        time_machine.move_to(NOW, tick=False)


def published(fleet, **fields) -> Tariff:
    """A tariff of 0.30 per kWh and 0.50 per session, version 1 in force since 1 January."""
    tariff = TariffFactory(fleet=fleet, **fields)
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=NEW_YEAR)
    return tariff


def state(tariff: Tariff) -> tuple:
    return (
        Tariff.objects.values().get(pk=tariff.pk),
        list(tariff.versions.order_by("number").values_list("number", "effective_from", "terms")),
    )


@pytest.fixture
def site():
    """A fleet with a depot of two stations (two connectors, then one) and a station without
    a depot (one connector)."""
    fleet = FleetFactory()
    depot = DepotFactory(fleet=fleet)
    north = ChargingStationFactory(fleet=fleet, depot=depot, ocpp_identity="NORTH")
    south = ChargingStationFactory(fleet=fleet, depot=depot, ocpp_identity="SOUTH")
    road = ChargingStationFactory(fleet=fleet, depot=None, ocpp_identity="ROAD")
    return type(
        "Site",
        (),
        {
            "fleet": fleet,
            "depot": depot,
            "north": north,
            "south": south,
            "road": road,
            "north_1": ConnectorFactory(station=north, connector_id=1),
            "north_2": ConnectorFactory(station=north, connector_id=2),
            "south_1": ConnectorFactory(station=south, connector_id=1),
            "road_1": ConnectorFactory(station=road, connector_id=1),
        },
    )


def names(connectors) -> list[str]:
    return [str(connector) for connector in connectors]


class TestConnectorsPricedOnlyBy:
    def test_the_fleets_only_tariff_prices_every_connector_alone(self, site):
        tariff = published(site.fleet)

        assert names(connector_list_priced_only_by(tariff=tariff, at=NOW)) == [
            "NORTH#1",
            "NORTH#2",
            "ROAD#1",
            "SOUTH#1",
        ]

    def test_a_more_specific_tariff_covers_its_connectors_and_the_fleets_covers_it(self, site):
        fleet_tariff = published(site.fleet)
        depot_tariff = published(site.fleet, depot=site.depot)
        connector_tariff = published(site.fleet, connector=site.north_2)

        assert names(connector_list_priced_only_by(tariff=fleet_tariff, at=NOW)) == ["ROAD#1"]
        assert names(connector_list_priced_only_by(tariff=depot_tariff, at=NOW)) == []
        assert names(connector_list_priced_only_by(tariff=connector_tariff, at=NOW)) == []

    def test_a_station_tariff_alone_leaves_its_station_bare_but_not_the_others(self, site):
        published(site.fleet, station=site.south)
        tariff = published(site.fleet, station=site.north)

        assert names(connector_list_priced_only_by(tariff=tariff, at=NOW)) == [
            "NORTH#1",
            "NORTH#2",
        ]

    def test_other_tariffs_that_cannot_price_now_do_not_cover(self, site):
        tariff = published(site.fleet, depot=site.depot)
        published(site.fleet, is_active=False)
        published(site.fleet, valid_until=dt.datetime(2026, 3, 1, tzinfo=UTC))
        published(site.fleet, valid_from=dt.datetime(2026, 4, 1, tzinfo=UTC))
        TariffElementFactory(tariff=TariffFactory(fleet=site.fleet))
        scheduled = TariffFactory(fleet=site.fleet)
        TariffElementFactory(tariff=scheduled)
        tariff_publish(tariff=scheduled, effective_from=dt.datetime(2026, 4, 1, tzinfo=UTC))
        published(FleetFactory())

        assert names(connector_list_priced_only_by(tariff=tariff, at=NOW)) == [
            "NORTH#1",
            "NORTH#2",
            "SOUTH#1",
        ]
        assert list(tariff_list_in_force(fleet_id=site.fleet.pk, at=NOW)) == [tariff]

    def test_a_tariff_that_prices_nothing_now_leaves_nothing_bare(self, site):
        ended = published(site.fleet, valid_until=dt.datetime(2026, 3, 1, tzinfo=UTC))
        inactive = published(site.fleet, is_active=False)

        assert names(connector_list_priced_only_by(tariff=ended, at=NOW)) == []
        assert names(connector_list_priced_only_by(tariff=inactive, at=NOW)) == []


class TestUpdateCheck:
    @pytest.mark.parametrize(
        ("fields", "changes", "error", "field"),
        [
            ({}, {"currency": "USD"}, InvalidTariff, "currency"),
            ({}, {"is_active": False}, InvalidTariff, "is_active"),
            (
                {},
                {"valid_from": dt.datetime(2026, 4, 1, tzinfo=UTC)},
                TariffChangeInPast,
                "valid_from",
            ),
            (
                {"valid_from": dt.datetime(2026, 3, 1, tzinfo=UTC)},
                {"valid_from": dt.datetime(2026, 4, 1, tzinfo=UTC)},
                TariffChangeInPast,
                "valid_from",
            ),
            (
                {"valid_from": dt.datetime(2026, 4, 1, tzinfo=UTC)},
                {"valid_from": None},
                TariffChangeInPast,
                "valid_from",
            ),
            (
                {"valid_from": dt.datetime(2026, 4, 1, tzinfo=UTC)},
                {"valid_from": dt.datetime(2026, 3, 9, tzinfo=UTC)},
                TariffChangeInPast,
                "valid_from",
            ),
            (
                {"valid_until": dt.datetime(2026, 3, 1, tzinfo=UTC)},
                {"valid_until": None},
                TariffChangeInPast,
                "valid_until",
            ),
            (
                {"valid_from": dt.datetime(2026, 5, 1, tzinfo=UTC)},
                {"valid_until": dt.datetime(2026, 4, 1, tzinfo=UTC)},
                InvalidTariff,
                "valid_until",
            ),
            (
                {},
                {"valid_until": dt.datetime(2026, 4, 1)},  # noqa: DTZ001 - the naive time refused
                NaiveDatetime,
                "valid_until",
            ),
            ({}, {"parking_grace_minutes": -5}, InvalidTariff, "parking_grace_minutes"),
            (
                {"min_price_incl_vat": Decimal("6.00"), "min_price_excl_vat": Decimal("5.00")},
                {"max_price_incl_vat": Decimal("5.99"), "max_price_excl_vat": Decimal("5.00")},
                InvalidTariff,
                "max_price_incl_vat",
            ),
        ],
    )
    def test_a_change_that_breaks_a_rule_names_its_field(self, fields, changes, error, field):
        tariff = TariffFactory(**fields)

        with pytest.raises(error) as refused:
            tariff_update_check(tariff=tariff, changes=changes)

        assert refused.value.field == field

    @pytest.mark.parametrize(
        ("fields", "changes"),
        [
            ({}, {"name": "Renamed", "parking_grace_minutes": 10}),
            ({}, {"valid_until": NOW}),
            ({"valid_until": dt.datetime(2026, 4, 1, tzinfo=UTC)}, {"valid_until": None}),
            (
                {"valid_from": dt.datetime(2026, 3, 1, tzinfo=UTC)},
                {"valid_from": dt.datetime(2026, 3, 1, tzinfo=UTC)},
            ),
            (
                {
                    "min_price_excl_vat": Decimal("4.00"),
                    "min_price_incl_vat": Decimal("5.00"),
                    "max_price_excl_vat": Decimal("4.00"),
                    "max_price_incl_vat": Decimal("4.50"),
                },
                {"name": "Only the name changes"},
            ),
        ],
    )
    def test_a_change_within_the_rules_passes(self, fields, changes):
        tariff_update_check(tariff=TariffFactory(**fields), changes=changes)

    def test_an_effective_from_before_a_scheduled_version_is_refused_for_new_prices_only(self):
        tariff = TariffFactory()
        TariffElementFactory(tariff=tariff)
        tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 4, 1, tzinfo=UTC))

        tariff_update_check(tariff=tariff, changes={"name": "Renamed"})
        tariff_update_check(
            tariff=tariff,
            changes={"max_price_excl_vat": Decimal("9.00")},
            effective_from=dt.datetime(2026, 4, 1, tzinfo=UTC),
        )
        with pytest.raises(TariffVersionScheduled) as refused:
            tariff_update_check(tariff=tariff, changes={"max_price_excl_vat": Decimal("9.00")})

        assert refused.value.message == (
            "Version 1 of the tariff takes effect on 2026-04-01 02:00 CEST; a change can take "
            "effect from then on."
        )

    def test_a_version_at_the_end_of_the_calendar_is_named_in_utc(self):
        tariff = TariffFactory()
        TariffElementFactory(tariff=tariff)
        tariff_publish(tariff=tariff, effective_from=dt.datetime(9999, 12, 31, 23, 30, tzinfo=UTC))

        with pytest.raises(TariffVersionScheduled) as refused:
            tariff_update_check(tariff=tariff, changes={"max_price_excl_vat": Decimal("9.00")})

        assert refused.value.message == (
            "Version 1 of the tariff takes effect on 9999-12-31 23:30 UTC; a change can take "
            "effect from then on."
        )


class TestUpdate:
    def test_new_elements_saved_before_the_update_are_published_with_it(self):
        tariff = published(FleetFactory())
        tariff.elements.update(energy_price=Decimal("0.35"))

        tariff_update(tariff=tariff, changes={})

        version = tariff.versions.get(number=2)
        assert version.effective_from == NOW
        assert version.terms["elements"][0]["price_components"][1] == {
            "type": "ENERGY",
            "price": 0.35,
            "vat": 21,
            "step_size": 1,
        }

    def test_a_tariff_never_published_is_published_by_an_update(self):
        tariff = TariffFactory(name="Draft")
        TariffElementFactory(tariff=tariff)

        tariff_update(tariff=tariff, changes={"name": "Depot"})

        assert list(tariff.versions.values_list("number", "effective_from")) == [(1, NOW)]

    def test_nothing_changed_publishes_nothing_and_saves_nothing(self):
        tariff = published(FleetFactory(), name="Depot")
        before = state(tariff)

        tariff_update(tariff=tariff, changes={"name": "Depot", "depot": None})

        assert state(tariff) == before

    def test_a_refusal_by_a_model_rule_saves_nothing(self, site):
        tariff = published(site.fleet, station=site.north)
        before = state(tariff)

        with pytest.raises(Exception, match="Choose one of depot, station or connector"):
            tariff_update(tariff=tariff, changes={"name": "Renamed", "depot": site.depot})

        assert state(tariff) == before

    def test_moving_a_tariff_within_what_it_priced_alone_is_allowed(self, site):
        tariff = published(site.fleet, depot=site.depot)
        published(site.fleet, station=site.south)

        tariff_update(tariff=tariff, changes={"depot": None, "station": site.north})

        tariff.refresh_from_db()
        assert (tariff.depot, tariff.station) == (None, site.north)

    def test_moving_a_tariff_off_a_connector_it_priced_alone_is_refused(self, site):
        tariff = published(site.fleet, depot=site.depot)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"depot": None, "station": site.north})

        assert (refused.value.field, refused.value.message) == (
            "depot",
            "No other tariff prices charging at SOUTH#1; give it another tariff first.",
        )
        assert state(tariff) == before


APRIL = dt.datetime(2026, 4, 1, tzinfo=UTC)
MAY = dt.datetime(2026, 5, 1, tzinfo=UTC)


class TestWindowChanges:
    def test_ending_a_tariff_that_alone_prices_connectors_is_refused_and_changes_nothing(
        self, site
    ):
        published(site.fleet, station=site.south)
        tariff = published(site.fleet, depot=site.depot)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"valid_until": NOW + dt.timedelta(minutes=1)})

        assert (refused.value.field, refused.value.message) == (
            "valid_until",
            "No other tariff prices charging at NORTH#1, NORTH#2 from 2026-03-10 13:01 CET; "
            "give them another tariff first.",
        )
        assert state(tariff) == before

    def test_an_end_is_checked_at_the_new_end_not_now(self, site):
        """The fleet's tariff from April covers the depot then, not now: an end in April is
        allowed, one in March is not."""
        published(site.fleet, valid_from=APRIL)
        tariff = published(site.fleet, depot=site.depot)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"valid_until": APRIL - dt.timedelta(days=1)})
        assert (refused.value.field, state(tariff)) == ("valid_until", before)

        tariff_update(tariff=tariff, changes={"valid_until": APRIL})

        tariff.refresh_from_db()
        assert tariff.valid_until == APRIL

    def test_bringing_an_end_forward_is_refused_while_the_tariff_alone_prices_then(self, site):
        tariff = published(site.fleet, valid_until=MAY)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"valid_until": APRIL})

        assert refused.value.field == "valid_until"
        assert state(tariff) == before

    def test_putting_an_end_off_or_removing_it_needs_no_other_tariff(self, site):
        tariff = published(site.fleet, valid_until=APRIL)

        tariff_update(tariff=tariff, changes={"valid_until": MAY})
        tariff_update(tariff=tariff, changes={"valid_until": None})

        tariff.refresh_from_db()
        assert tariff.valid_until is None

    def test_an_end_before_the_first_version_takes_effect_is_checked_from_then(self, site):
        """The tariff prices nothing before its version of April: cut off before then, it
        would leave the depot bare from April on."""
        tariff = TariffFactory(fleet=site.fleet, depot=site.depot)
        TariffElementFactory(tariff=tariff)
        tariff_publish(tariff=tariff, effective_from=APRIL)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"valid_until": NOW + dt.timedelta(days=1)})

        assert (refused.value.field, refused.value.message) == (
            "valid_until",
            "No other tariff prices charging at NORTH#1, NORTH#2, SOUTH#1 from 2026-04-01 "
            "02:00 CEST; give them another tariff first.",
        )
        assert state(tariff) == before

    def test_a_later_start_that_leaves_connectors_bare_until_then_is_refused(self, site):
        published(site.fleet, valid_until=APRIL)
        tariff = published(site.fleet, valid_from=APRIL)
        before = state(tariff)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_update(tariff=tariff, changes={"valid_from": MAY})

        assert (refused.value.field, refused.value.message) == (
            "valid_from",
            "No other tariff prices charging at NORTH#1, NORTH#2, ROAD#1, SOUTH#1 from "
            "2026-04-01 02:00 CEST; give them another tariff first.",
        )
        assert state(tariff) == before

    def test_a_later_start_where_another_tariff_prices_until_then_is_allowed(self, site):
        published(site.fleet, valid_until=MAY)
        tariff = published(site.fleet, valid_from=APRIL)

        tariff_update(tariff=tariff, changes={"valid_from": MAY})

        tariff.refresh_from_db()
        assert tariff.valid_from == MAY


class TestEffectiveFrom:
    @pytest.mark.parametrize("changes", [{"name": "Renamed"}, {}, {"depot": None}])
    def test_an_effective_from_for_a_change_that_publishes_nothing_is_refused(self, changes):
        tariff = published(FleetFactory(), name="Depot")
        before = state(tariff)

        with pytest.raises(InvalidTariff) as refused:
            tariff_update(tariff=tariff, changes=changes, effective_from=APRIL)

        assert (refused.value.field, refused.value.message) == (
            "effective_from",
            "effective_from only applies to price or validity changes; this change publishes "
            "no new version.",
        )
        assert state(tariff) == before

    def test_an_effective_from_publishes_new_element_rows_from_then(self):
        tariff = published(FleetFactory())
        tariff.elements.update(energy_price=Decimal("0.35"))

        tariff_update(tariff=tariff, changes={"name": "Renamed"}, effective_from=APRIL)

        assert list(tariff.versions.order_by("number").values_list("number", "effective_from")) == [
            (1, NEW_YEAR),
            (2, APRIL),
        ]


class TestDeactivateAndActivate:
    def test_deactivating_a_tariff_others_cover_switches_it_off(self, site):
        published(site.fleet)
        tariff = published(site.fleet, depot=site.depot)

        tariff_deactivate(tariff=tariff)

        tariff.refresh_from_db()
        assert tariff.is_active is False
        assert tariff.versions.count() == 1

    def test_more_than_five_connectors_left_bare_are_named_five_and_counted(self, site):
        for number in range(3, 6):
            ConnectorFactory(station=site.north, connector_id=number)
        tariff = published(site.fleet)

        with pytest.raises(TariffStillNeeded) as refused:
            tariff_deactivate(tariff=tariff)

        assert refused.value.message == (
            "No other tariff prices charging at NORTH#1, NORTH#2, NORTH#3, NORTH#4, NORTH#5 "
            "and 2 more; give them another tariff first."
        )
        tariff.refresh_from_db()
        assert tariff.is_active is True

    def test_activating_lets_a_tariff_price_again(self, site):
        tariff = published(site.fleet, is_active=False)

        tariff_activate(tariff=tariff)

        assert list(tariff_list_in_force(fleet_id=site.fleet.pk, at=NOW)) == [tariff]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tariffs_covering_the_same_connector_cannot_both_be_deactivated_at_once():
    """Each alone may go, as the other still prices the connector; at once, the fleet lock
    lets one go and refuses the other."""
    connector = ConnectorFactory()
    fleet = connector.station.fleet
    first, second = published(fleet), published(fleet, connector=connector)
    barrier = threading.Barrier(2)
    outcomes = []

    def deactivate(tariff):
        try:
            barrier.wait(timeout=10)
            tariff_deactivate(tariff=tariff)
            outcomes.append("deactivated")
        except TariffStillNeeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=deactivate, args=(tariff,)) for tariff in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["deactivated", "refused"]
    assert Tariff.objects.filter(pk__in=[first.pk, second.pk], is_active=True).count() == 1


class TestCurrency:
    def test_a_tariff_in_another_currency_than_its_fleets_fails_validation(self):
        tariff = TariffFactory.build(fleet=FleetFactory(currency="EUR"), currency="USD")

        with pytest.raises(ValidationError) as refused:
            tariff.full_clean()

        assert [error.code for error in refused.value.error_dict["currency"]] == [
            "not_fleet_currency"
        ]

    def test_a_tariff_in_another_currency_than_its_fleets_is_never_published(self):
        tariff = TariffFactory(fleet=FleetFactory(currency="EUR"), currency="USD")
        TariffElementFactory(tariff=tariff)

        with pytest.raises(TariffCurrencyNotFleets) as refused:
            tariff_publish(tariff=tariff)

        assert refused.value.field == "currency"
        assert not tariff.versions.exists()


class TestImportOcpi:
    @pytest.mark.parametrize(("document", "field", "message"), REFUSED_TARIFFS)
    def test_a_refused_document_names_its_field_and_saves_nothing(self, document, field, message):
        fleet = FleetFactory(currency="EUR")

        with pytest.raises(InvalidTariff) as refused:
            tariff_import_ocpi(fleet=fleet, document=document)

        assert (refused.value.field, refused.value.message) == (field, message)
        assert not Tariff.objects.exists()
        assert not TariffElement.objects.exists()
        assert not TariffVersion.objects.exists()

    @pytest.mark.parametrize(("document", "field", "message"), REFUSED_TARIFFS)
    def test_a_refused_document_leaves_the_tariff_with_its_id_as_it_was(
        self, document, field, message
    ):
        fleet = FleetFactory(currency="EUR")
        tariff, _ = tariff_import_ocpi(fleet=fleet, document=TARIFF)
        before = (state(tariff), list(tariff.elements.values()))

        with pytest.raises(InvalidTariff):
            tariff_import_ocpi(fleet=fleet, document=document)

        assert (state(tariff), list(tariff.elements.values())) == before

    def test_a_vat_rate_of_100_is_kept_as_given(self):
        document = tariff_with(energy_component={"vat": 100})

        tariff, _ = tariff_import_ocpi(fleet=FleetFactory(currency="EUR"), document=document)

        assert tariff.elements.get(position=0).energy_vat_rate == Decimal("100.00")

    def test_the_largest_numbers_the_columns_hold_are_kept_exactly(self):
        document = tariff_with(
            energy_component={"price": Decimal("99999.99999")},
            min_price={"excl_vat": Decimal("1.0001")},
            max_price={"excl_vat": Decimal("99999999.9999")},
        )

        tariff, _ = tariff_import_ocpi(fleet=FleetFactory(currency="EUR"), document=document)

        tariff.refresh_from_db()
        assert tariff.elements.get(position=0).energy_price == Decimal("99999.99999")
        assert (tariff.min_price_excl_vat, tariff.max_price_excl_vat) == (
            Decimal("1.0001"),
            Decimal("99999999.9999"),
        )
