"""Writes of the fleets app that delete: a fleet, depot or cost center nothing refers to goes;
one still in use is refused, saying what refers to it, and kept. A fleet keeps its last
admin."""

import pytest

from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import CostCenterInUse, DepotInUse, FleetInUse, LastFleetAdmin
from apps.fleets.models import CostCenter, Depot, Fleet, Membership
from apps.fleets.services import (
    cost_center_delete,
    depot_delete,
    fleet_create,
    fleet_delete,
    membership_delete,
    membership_delete_check,
)
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    TariffFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def depot() -> Depot:
    return DepotFactory(name="North")


@pytest.fixture
def cost_center() -> CostCenter:
    return CostCenterFactory(code="CC-100", name="Field service")


def test_a_depot_nothing_refers_to_is_deleted_and_others_stay(depot):
    other = DepotFactory(fleet=depot.fleet)

    depot_delete(depot=depot)

    assert list(Depot.objects.values_list("pk", flat=True)) == [other.pk]


@pytest.mark.parametrize(
    ("reference_make", "what"),
    [
        (lambda depot: VehicleFactory(fleet=depot.fleet, home_depot=depot), "1 vehicle"),
        (
            lambda depot: ChargingStationFactory.create_batch(2, fleet=depot.fleet, depot=depot),
            "2 charging stations",
        ),
        (lambda depot: TariffFactory(fleet=depot.fleet, depot=depot), "1 tariff"),
    ],
    ids=["vehicle", "stations", "tariff"],
)
def test_a_depot_still_in_use_is_refused_and_kept(depot, reference_make, what):
    reference_make(depot)

    with pytest.raises(DepotInUse) as excinfo:
        depot_delete(depot=depot)

    assert (excinfo.value.code, excinfo.value.field, excinfo.value.status) == (
        "fleets.depot_in_use",
        None,
        409,
    )
    assert excinfo.value.message == (
        f"Depot North cannot be deleted: it is still referred to by {what}. "
        "Move those to another depot first."
    )
    assert Depot.objects.filter(pk=depot.pk).exists()


def test_a_cost_center_nothing_refers_to_is_deleted_and_others_stay(cost_center):
    other = CostCenterFactory(fleet=cost_center.fleet)

    cost_center_delete(cost_center=cost_center)

    assert list(CostCenter.objects.values_list("pk", flat=True)) == [other.pk]


def test_a_cost_center_still_in_use_is_refused_listing_every_kind_of_reference(cost_center):
    fleet = cost_center.fleet
    DriverFactory(fleet=fleet, cost_center=cost_center)
    VehicleFactory.create_batch(3, fleet=fleet, cost_center=cost_center)
    ChargingSessionFactory(fleet=fleet, cost_center=cost_center)

    with pytest.raises(CostCenterInUse) as excinfo:
        cost_center_delete(cost_center=cost_center)

    assert (excinfo.value.code, excinfo.value.status) == ("fleets.cost_center_in_use", 409)
    assert excinfo.value.message == (
        "Cost center CC-100 Field service cannot be deleted: it is still referred to by "
        "1 driver, 3 vehicles and 1 charging session. Mark it inactive instead."
    )
    assert CostCenter.objects.filter(pk=cost_center.pk).exists()


def test_a_fleet_with_a_depot_is_not_deleted_and_an_empty_one_is(depot):
    empty = fleet_create(
        name="Spare",
        slug="spare",
        country="NL",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        default_vat_rate="21.00",
    )

    with pytest.raises(FleetInUse) as refused:
        fleet_delete(fleet=depot.fleet)
    fleet_delete(fleet=empty)

    assert refused.value.message == (
        f"Fleet {depot.fleet} cannot be deleted: it is still referred to by 1 depot."
    )
    assert list(Fleet.objects.values_list("pk", flat=True)) == [depot.fleet_id]


def test_the_last_admin_membership_is_refused_by_the_check_and_the_delete():
    only_admin = MembershipFactory(fleet=FleetFactory(), role=MembershipRole.ADMIN)

    with pytest.raises(LastFleetAdmin):
        membership_delete_check(membership=only_admin)
    with pytest.raises(LastFleetAdmin) as refused:
        membership_delete(membership=only_admin)

    assert refused.value.code == "fleets.last_admin"
    assert Membership.objects.filter(pk=only_admin.pk).exists()
