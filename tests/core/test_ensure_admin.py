import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings


@pytest.mark.django_db
def test_ensure_admin_creates_a_superuser_once(monkeypatch, capsys):
    monkeypatch.setenv("VOLTOP_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("VOLTOP_ADMIN_PASSWORD", "a-long-local-password")
    user_model = get_user_model()

    with override_settings(DEBUG=True):
        call_command("ensure_admin")
        call_command("ensure_admin")

    boss = user_model.objects.get(username="boss")
    assert boss.is_superuser
    assert boss.check_password("a-long-local-password")
    assert user_model.objects.count() == 1
    assert "Kept existing admin login 'boss'" in capsys.readouterr().out


@pytest.mark.django_db
def test_ensure_admin_refuses_the_default_password_outside_debug(monkeypatch):
    monkeypatch.delenv("VOLTOP_ADMIN_PASSWORD", raising=False)

    with override_settings(DEBUG=False), pytest.raises(CommandError, match="VOLTOP_ADMIN_PASSWORD"):
        call_command("ensure_admin")

    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_ensure_admin_prints_the_default_password_for_local_use(monkeypatch, capsys):
    monkeypatch.delenv("VOLTOP_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("VOLTOP_ADMIN_USERNAME", raising=False)

    with override_settings(DEBUG=True):
        call_command("ensure_admin")

    assert get_user_model().objects.get(username="admin").check_password("admin")
    assert "Password: admin (local use only" in capsys.readouterr().out
