"""A login's e-mail address is unique without regard to case among logins that have one: the
check every interface goes through, the database's own index, and the migration adding it."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.constraints import refused_by_database
from tests.factories import StaffUserFactory, UserFactory
from tests.migrations import (
    applied_migrations,
    migrate_to,
    migrate_to_latest,
    table_constraint_names,
)
from voltop.core.logins import (
    LOGIN_EMAIL_INDEX,
    LoginEmailInUse,
    login_email_check,
    login_emails_check,
    login_get_by_email,
)
from voltop.core.migration_operations import ClashesFound

User = get_user_model()
ADD_URL = "/admin/auth/user/add/"


def _emails() -> list[tuple[int, str]]:
    return list(User.objects.order_by("pk").values_list("pk", "email"))


@pytest.mark.django_db
class TestTheDatabase:
    def test_an_email_another_login_has_in_another_case_is_refused(self):
        sanne = UserFactory(username="sanne", email="sanne@example.com")

        with refused_by_database(LOGIN_EMAIL_INDEX):
            User.objects.create(username="sanne-2", email="SANNE@Example.com")

        assert _emails() == [(sanne.pk, "sanne@example.com")]

    def test_logins_without_an_email_are_many(self):
        UserFactory(username="first", email="")
        UserFactory(username="second", email="")

        assert User.objects.filter(email="").count() == 2


@pytest.mark.django_db
class TestTheCheck:
    def test_an_email_another_login_has_in_another_case_is_refused_naming_the_field(self):
        UserFactory(username="sanne", email="sanne@example.com")

        with pytest.raises(LoginEmailInUse) as refusal:
            login_email_check(email="Sanne@EXAMPLE.com")

        assert refusal.value.code == "core.login_email_in_use"
        assert refusal.value.field == "email"
        assert "sanne@example.com" in refusal.value.message

    def test_the_login_keeps_its_own_email_in_another_case(self):
        sanne = UserFactory(username="sanne", email="sanne@example.com")

        login_email_check(email="SANNE@example.com", exclude_pk=sanne.pk)

    def test_two_new_logins_with_one_email_are_refused(self):
        with pytest.raises(LoginEmailInUse, match="given to two logins"):
            login_emails_check(emails=["bram@example.com", "", "BRAM@example.com"])

    def test_empty_emails_are_no_one_s(self):
        UserFactory(username="first", email="")

        login_emails_check(emails=["", ""])

    def test_a_login_is_found_by_its_email_in_any_case(self):
        sanne = UserFactory(username="sanne", email="sanne@example.com")
        UserFactory(username="no-email", email="")

        assert login_get_by_email(email="SANNE@example.COM") == sanne
        assert login_get_by_email(email="") is None
        assert login_get_by_email(email="bram@example.com") is None


@pytest.mark.django_db
class TestInterfaces:
    def test_ensure_admin_refuses_an_email_another_login_has(self, monkeypatch):
        sanne = UserFactory(username="sanne", email="admin@example.com")
        monkeypatch.setenv("VOLTOP_ADMIN_USERNAME", "boss")
        monkeypatch.setenv("VOLTOP_ADMIN_EMAIL", "ADMIN@example.com")
        monkeypatch.setenv("VOLTOP_ADMIN_PASSWORD", "a-long-local-password")

        with override_settings(DEBUG=True), pytest.raises(CommandError, match="e-mail address"):
            call_command("ensure_admin")

        assert _emails() == [(sanne.pk, "admin@example.com")]

    def test_the_admin_refuses_a_new_login_with_an_email_another_login_has(self, client):
        boss = StaffUserFactory(username="boss", email="boss@example.com", is_superuser=True)
        client.force_login(boss)
        sanne = UserFactory(username="sanne", email="sanne@example.com")

        response = client.post(
            ADD_URL,
            {
                "username": "sanne-2",
                "email": "SANNE@example.com",
                "usable_password": "true",
                "password1": "a-long-new-password",
                "password2": "a-long-new-password",
            },
        )

        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {
            "email": [
                "Another login already has the e-mail address sanne@example.com (case does not "
                "matter). Each login needs its own: a person who drives for two fleets has a "
                "login with another address for each."
            ]
        }
        assert _emails() == [(boss.pk, "boss@example.com"), (sanne.pk, "sanne@example.com")]

    def test_the_admin_refuses_changing_an_email_to_another_login_s(self, client):
        boss = StaffUserFactory(username="boss", email="boss@example.com", is_superuser=True)
        client.force_login(boss)
        sanne = UserFactory(username="sanne", email="sanne@example.com")
        bram = UserFactory(username="bram", email="bram@example.com")
        page = client.get(f"/admin/auth/user/{bram.pk}/change/")
        form = page.context["adminform"].form
        data = {
            name: value
            for name, value in {**form.initial, "email": "Sanne@Example.com"}.items()
            if value is not None and name in form.fields and name != "password"
        }
        data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "08:00:00"

        response = client.post(f"/admin/auth/user/{bram.pk}/change/", data)

        assert response.status_code == 200
        assert list(response.context["adminform"].form.errors) == ["email"]
        assert _emails() == [
            (boss.pk, "boss@example.com"),
            (sanne.pk, "sanne@example.com"),
            (bram.pk, "bram@example.com"),
        ]

    def test_the_admin_creates_a_login_with_an_email_of_its_own(self, client):
        boss = StaffUserFactory(username="boss", email="boss@example.com", is_superuser=True)
        client.force_login(boss)

        response = client.post(
            ADD_URL,
            {
                "username": "noor",
                "email": "noor@example.com",
                "usable_password": "true",
                "password1": "a-long-new-password",
                "password2": "a-long-new-password",
            },
        )

        assert response.status_code == 302
        assert User.objects.get(username="noor").email == "noor@example.com"


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_logins_sharing_an_email_and_refuses_to_run_changing_nothing():
    migrate_to(("core", "0001_initial"))
    try:
        first = UserFactory(username="sanne", email="sanne@example.com")
        second = UserFactory(username="sanne-2", email="SANNE@example.com")
        UserFactory(username="bram", email="bram@example.com")
        UserFactory(username="no-email-1", email="")
        UserFactory(username="no-email-2", email="")

        with pytest.raises(ClashesFound) as refusal:
            migrate_to(("core", "0002_login_email_unique_any_case"))

        message = str(refusal.value)
        assert f"  - ids {first.pk}, {second.pk} (email SANNE@EXAMPLE.COM)\n" in message
        assert "1 group(s) of rows of auth_user" in message
        assert "0002_login_email_unique_any_case" not in applied_migrations("core")
        assert LOGIN_EMAIL_INDEX not in table_constraint_names("auth_user")

        User.objects.filter(pk=second.pk).update(email="sanne.de.vries@example.com")
        migrate_to(("core", "0002_login_email_unique_any_case"))

        assert LOGIN_EMAIL_INDEX in table_constraint_names("auth_user")
    finally:
        User.objects.all().delete()
        migrate_to_latest()
