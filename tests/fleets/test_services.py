"""Writes of the fleets app that delete: a depot or cost center nothing refers to goes; one
still in use is refused, saying what refers to it, and kept."""

import pytest

from apps.fleets.exceptions import CostCenterInUse, DepotInUse
from apps.fleets.models import CostCenter, Depot
from apps.fleets.services import cost_center_delete, depot_delete
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
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
