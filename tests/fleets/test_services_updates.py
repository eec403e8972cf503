"""Updates of the fleets app keep what a row was made with: a fleet's slug, currency, time zone
and country, and the fleet of a depot or cost center. A change to one is refused naming the
field, and nothing changes, the other changes sent with it included."""

import pytest

from apps.fleets.models import CostCenter, Depot, Fleet
from apps.fleets.services import cost_center_update, depot_update, fleet_update
from tests.factories import CostCenterFactory, DepotFactory, FleetFactory
from voltop.core.errors import FieldFixed

pytestmark = pytest.mark.django_db


def fleet_rows() -> list[tuple]:
    return list(
        Fleet.objects.order_by("pk").values_list(
            "pk", "name", "slug", "currency", "time_zone", "country"
        )
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "slug",
            "renamed",
            "A fleet's slug cannot be changed: commands and exports name the fleet by it.",
        ),
        (
            "currency",
            "USD",
            "A fleet's currency cannot be changed: its tariffs, sessions and invoices are in it.",
        ),
        (
            "time_zone",
            "America/New_York",
            "A fleet's time zone cannot be changed: its billing periods and tariff hours were "
            "counted in it.",
        ),
        (
            "country",
            "US",
            "A fleet's country cannot be changed: the tariffs and charge records it publishes "
            "carry it.",
        ),
    ],
)
def test_changing_what_a_fleet_was_made_with_is_refused_and_changes_nothing(field, value, message):
    fleet = FleetFactory(name="Fleet A", slug="fleet-a")
    before = fleet_rows()

    with pytest.raises(FieldFixed) as refused:
        fleet_update(fleet=fleet, changes={"name": "Renamed", field: value})

    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "voltop.field_fixed",
        field,
        message,
    )
    assert fleet_rows() == before


@pytest.mark.parametrize("key", ["fleet", "fleet_id"])
def test_moving_a_depot_to_another_fleet_is_refused_and_changes_nothing(key):
    depot = DepotFactory(name="North")
    other_fleet = FleetFactory()
    before = list(Depot.objects.values_list("pk", "fleet_id", "name"))

    with pytest.raises(FieldFixed) as refused:
        depot_update(
            depot=depot,
            changes={"name": "North yard", key: other_fleet if key == "fleet" else other_fleet.pk},
        )

    assert (refused.value.field, refused.value.message) == (
        "fleet",
        "A depot stays in the fleet it was made in; its fleet cannot be changed.",
    )
    assert list(Depot.objects.values_list("pk", "fleet_id", "name")) == before


def test_moving_a_cost_center_to_another_fleet_is_refused_and_changes_nothing():
    cost_center = CostCenterFactory(code="CC-100", name="Field service")
    other_fleet = FleetFactory()
    before = list(CostCenter.objects.values_list("pk", "fleet_id", "code", "name"))

    with pytest.raises(FieldFixed) as refused:
        cost_center_update(cost_center=cost_center, changes={"name": "Sales", "fleet": other_fleet})

    assert (refused.value.field, refused.value.message) == (
        "fleet",
        "A cost center stays in the fleet it was made in; its fleet cannot be changed.",
    )
    assert list(CostCenter.objects.values_list("pk", "fleet_id", "code", "name")) == before


def test_a_fleets_own_settings_still_change():
    fleet = FleetFactory(name="Fleet A", payment_terms_days=14)

    fleet_update(fleet=fleet, changes={"name": "Renamed", "payment_terms_days": 30})

    fleet.refresh_from_db()
    assert (fleet.name, fleet.payment_terms_days, fleet.currency) == ("Renamed", 30, "EUR")
