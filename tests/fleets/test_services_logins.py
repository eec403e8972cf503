"""The logins' services: made and changed with an e-mail address of their own whatever its
case, also when two requests take it at once; deleted with their memberships, never while
the only admin of a fleet or while rows of record refer to them."""

import datetime as dt
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from apps.drivers.models import Driver
from apps.fleets import services
from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import LastFleetAdmin, LoginInUse, LoginNameInUse
from apps.fleets.models import Membership
from apps.fleets.services import (
    login_create,
    login_delete,
    login_delete_check,
    login_set_password,
    login_update,
)
from tests.factories import (
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
)
from voltop.core.logins import LoginEmailInUse

User = get_user_model()
TAKEN = (
    "Another login already has the e-mail address {email} (case does not matter). Each login "
    "needs its own: a person who drives for two fleets has a login with another address for each."
)


def _logins() -> list[tuple[str, str]]:
    return list(User.objects.order_by("pk").values_list("username", "email"))


def _memberships() -> set[tuple[str, str, str]]:
    return set(Membership.objects.values_list("user__username", "fleet__name", "role"))


@pytest.fixture
def no_email_precheck(monkeypatch):
    """The services' check of the e-mail address passes whatever the address, as when another
    request takes it between the check and the write: the database's index is left to refuse."""
    monkeypatch.setattr(services, "login_email_check", lambda **kwargs: None)


# login_create


@pytest.mark.django_db
def test_login_create_makes_a_login_with_a_password_or_none():
    noor = login_create(username="noor", email="noor@example.com", password="a-long-password")
    bram = login_create(username="bram", email="", password=None)

    assert _logins() == [("noor", "noor@example.com"), ("bram", "")]
    assert User.objects.get(pk=noor.pk).check_password("a-long-password")
    assert not User.objects.get(pk=bram.pk).has_usable_password()


@pytest.mark.django_db
def test_login_create_with_an_email_taken_in_another_case_is_refused_and_creates_nothing():
    UserFactory(username="sanne", email="sanne@example.com")

    with pytest.raises(LoginEmailInUse) as refusal:
        login_create(username="sanne-2", email="SANNE@example.com", password=None)

    assert refusal.value.field == "email"
    assert refusal.value.message == TAKEN.format(email="sanne@example.com")
    assert _logins() == [("sanne", "sanne@example.com")]


@pytest.mark.django_db
def test_login_create_refused_by_the_database_index_is_the_same_refusal(no_email_precheck):
    """Two requests at once: both pass the check, the database's unique index refuses the
    second; that is LoginEmailInUse on "email", not an IntegrityError (a 500)."""
    UserFactory(username="sanne", email="sanne@example.com")

    with pytest.raises(LoginEmailInUse) as refusal:
        login_create(username="sanne-2", email="SANNE@example.com", password=None)

    assert refusal.value.code == "core.login_email_in_use"
    assert refusal.value.field == "email"
    assert refusal.value.message == TAKEN.format(email="SANNE@example.com")
    assert _logins() == [("sanne", "sanne@example.com")]


@pytest.mark.django_db
def test_login_create_of_a_username_taken_at_the_same_moment_names_the_field(monkeypatch):
    """Two requests at once: both pass the model's uniqueness check, the database refuses the
    second; that is LoginNameInUse on "username", not an IntegrityError (a 500)."""
    UserFactory(username="sanne", email="sanne@example.com")
    monkeypatch.setattr(User, "validate_unique", lambda self, exclude=None: None)

    with pytest.raises(LoginNameInUse) as refusal:
        login_create(username="sanne", email="sanne.de.vries@example.com", password=None)

    assert refusal.value.code == "fleets.login_name_in_use"
    assert refusal.value.field == "username"
    assert refusal.value.message == "Another login already has the username sanne."
    assert _logins() == [("sanne", "sanne@example.com")]


# login_update


@pytest.mark.django_db
def test_login_update_changes_fields_and_keeps_its_own_email_in_another_case():
    """The model's clean() writes the domain in lower case, as Django does for every user."""
    sanne = UserFactory(username="sanne", email="sanne@example.com")

    login_update(login=sanne, changes={"email": "Sanne@Example.com", "first_name": "Sanne"})

    sanne.refresh_from_db()
    assert (sanne.email, sanne.first_name) == ("Sanne@example.com", "Sanne")


@pytest.mark.django_db
def test_login_update_to_another_logins_email_is_refused_and_changes_nothing():
    UserFactory(username="sanne", email="sanne@example.com")
    bram = UserFactory(username="bram", email="bram@example.com")

    with pytest.raises(LoginEmailInUse, match=r"sanne@example\.com"):
        login_update(login=bram, changes={"email": "SANNE@example.com", "first_name": "B"})

    bram.refresh_from_db()
    assert (bram.email, bram.first_name) == ("bram@example.com", "")


@pytest.mark.django_db
def test_login_update_refused_by_the_database_index_is_the_same_refusal(no_email_precheck):
    UserFactory(username="sanne", email="sanne@example.com")
    bram = UserFactory(username="bram", email="bram@example.com")

    with pytest.raises(LoginEmailInUse) as refusal:
        login_update(login=bram, changes={"email": "SANNE@example.com"})

    assert refusal.value.field == "email"
    assert _logins() == [("sanne", "sanne@example.com"), ("bram", "bram@example.com")]


@pytest.mark.django_db
def test_login_update_does_not_set_a_password():
    sanne = UserFactory(username="sanne")

    with pytest.raises(ValueError, match="login_set_password"):
        login_update(login=sanne, changes={"password": "plain"})

    sanne.refresh_from_db()
    assert sanne.check_password("correct horse battery staple")


@pytest.mark.django_db
def test_login_set_password_sets_one_or_makes_it_unusable():
    sanne = UserFactory(username="sanne")

    login_set_password(login=sanne, password="another-long-password")
    assert User.objects.get(pk=sanne.pk).check_password("another-long-password")

    login_set_password(login=sanne, password=None)
    assert not User.objects.get(pk=sanne.pk).has_usable_password()


# login_delete


@pytest.fixture
def fleets(db):
    return FleetFactory(name="Fleet A"), FleetFactory(name="Fleet B")


@pytest.mark.django_db
def test_deleting_the_only_admin_of_fleets_is_refused_naming_them_and_changes_nothing(fleets):
    fleet_a, fleet_b = fleets
    sanne = StaffUserFactory(username="sanne")
    MembershipFactory(user=sanne, fleet=fleet_a, role=MembershipRole.ADMIN)
    MembershipFactory(user=sanne, fleet=fleet_b, role=MembershipRole.ADMIN)
    MembershipFactory(user__username="viewer", fleet=fleet_b, role=MembershipRole.VIEWER)
    before = _memberships()

    with pytest.raises(LastFleetAdmin) as refusal:
        login_delete(login=sanne)

    assert refusal.value.code == "fleets.last_admin"
    assert refusal.value.message == (
        "Login sanne cannot be deleted: it is the only admin of Fleet A, Fleet B; make someone "
        "else admin there first."
    )
    assert User.objects.filter(pk=sanne.pk).exists()
    assert _memberships() == before


@pytest.mark.django_db
def test_a_login_that_is_one_of_two_admins_is_deleted_with_its_memberships(fleets):
    fleet_a, fleet_b = fleets
    sanne = StaffUserFactory(username="sanne")
    MembershipFactory(user=sanne, fleet=fleet_a, role=MembershipRole.ADMIN)
    MembershipFactory(user=sanne, fleet=fleet_b, role=MembershipRole.MANAGER)
    MembershipFactory(user__username="bram", fleet=fleet_a, role=MembershipRole.ADMIN)

    login_delete(login=sanne)

    assert not User.objects.filter(pk=sanne.pk).exists()
    assert _memberships() == {("bram", "Fleet A", MembershipRole.ADMIN)}


@pytest.mark.django_db
def test_deleting_a_drivers_login_keeps_the_driver_without_a_login(fleets):
    login = UserFactory(username="driver-login")
    driver = DriverFactory(fleet=fleets[0], user=login)

    login_delete(login=login)

    assert Driver.objects.get(pk=driver.pk).user_id is None


@pytest.mark.django_db
def test_a_login_that_reviewed_a_session_is_refused_and_kept(fleets):
    reviewer = StaffUserFactory(username="reviewer")
    MembershipFactory(user=reviewer, fleet=fleets[0], role=MembershipRole.MANAGER)
    ChargingSessionFactory(
        fleet=fleets[0],
        reviewed_by=reviewer,
        reviewed_at=dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC),
    )

    with pytest.raises(LoginInUse) as refusal:
        login_delete_check(login=reviewer)
    with pytest.raises(LoginInUse):
        login_delete(login=reviewer)

    assert refusal.value.message == (
        "Login reviewer cannot be deleted: it is still referred to by 1 charging session. "
        "Make it inactive instead."
    )
    assert User.objects.filter(pk=reviewer.pk).exists()
    assert _memberships() == {("reviewer", "Fleet A", MembershipRole.MANAGER)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_two_admins_of_a_fleet_deleted_at_once_leave_one(monkeypatch):
    """Each of the two admins alone may go; deleted at the same moment, the fleet lock makes
    the second delete wait for the first and then refuse, so the fleet keeps an admin. The
    lock is taken before the login is judged, so the refusal is login_delete_check's own
    (membership_delete, judging again under its lock, would refuse with the membership's)."""
    fleet = FleetFactory(name="Fleet A")
    first = MembershipFactory(user__username="first", fleet=fleet, role=MembershipRole.ADMIN)
    second = MembershipFactory(user__username="second", fleet=fleet, role=MembershipRole.ADMIN)
    check = services.login_delete_check

    def slow_check(**kwargs):
        check(**kwargs)
        time.sleep(0.3)

    monkeypatch.setattr(services, "login_delete_check", slow_check)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str, login) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=10)
            outcomes[name] = login_delete(login=login)
        except Exception as error:  # kept for the assertions below, whatever it is
            outcomes[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("first", first.user)),
        threading.Thread(target=run, args=("second", second.user)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    refused = [outcome for outcome in outcomes.values() if isinstance(outcome, LastFleetAdmin)]
    assert len(refused) == 1, outcomes
    assert refused[0].message.startswith("Login "), refused[0].message
    assert "cannot be deleted: it is the only admin of Fleet A" in refused[0].message
    assert list(outcomes.values()).count(None) == 1, outcomes
    assert Membership.objects.filter(fleet=fleet, role=MembershipRole.ADMIN).count() == 1
    assert User.objects.count() == 1
