"""Reads of the drivers app."""

import pytest
from django.contrib.auth import get_user_model

from apps.drivers.selectors import login_with_driver_get
from tests.factories import CostCenterFactory, DriverFactory, FleetFactory, UserFactory

pytestmark = pytest.mark.django_db


def concrete_values(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_a_driver_login_is_read_with_its_driver_as_the_orm_reads_it(django_assert_num_queries):
    # given: a driver with a login, a cost center, a rate and a licence date
    fleet = FleetFactory()
    driver = DriverFactory(
        fleet=fleet,
        user=UserFactory(username="sanne", email="sanne@example.com"),
        cost_center=CostCenterFactory(fleet=fleet),
        phone="+31 6 12345678",
    )
    expected = get_user_model().objects.select_related("driver").get(pk=driver.user_id)

    # when
    with django_assert_num_queries(1):
        user = login_with_driver_get(user_id=driver.user_id)
        read_driver = user.driver

    # then: every column of both rows is what the ORM reads, and the two point at each other
    assert concrete_values(user) == concrete_values(expected)
    assert concrete_values(read_driver) == concrete_values(expected.driver)
    assert read_driver.user is user
    assert user.get_deferred_fields() == set()
    assert read_driver.get_deferred_fields() == set()


def test_a_login_without_a_driver_reads_as_having_none_without_another_query(
    django_assert_num_queries,
):
    staff = UserFactory(username="mila", email="mila@example.com")

    with django_assert_num_queries(1):
        user = login_with_driver_get(user_id=staff.pk)
        assert getattr(user, "driver", None) is None

    assert concrete_values(user) == concrete_values(get_user_model().objects.get(pk=staff.pk))


def test_no_such_login_reads_as_none():
    assert login_with_driver_get(user_id=987654) is None
