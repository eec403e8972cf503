"""The SEPA payout batch admin: made from its add page or the reimbursements' action, its file
downloaded, executed or cancelled through the services, scoped to the user's fleets."""

import datetime as dt
import hashlib

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from apps.payments.choices import PayoutBatchStatus, ReimbursementStatus
from apps.payments.models import PayoutBatch, Reimbursement
from tests.factories import DriverFactory, FleetFactory, MembershipFactory, StaffUserFactory
from tests.payments.factories import ReimbursementFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 6, 13, 0, tzinfo=dt.UTC)
BATCH_ADD = reverse("admin:payments_payoutbatch_add")
BATCH_LIST = reverse("admin:payments_payoutbatch_changelist")
REIMBURSEMENT_LIST = reverse("admin:payments_reimbursement_changelist")


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def _sepa_fleet(**fields):
    return FleetFactory(
        country="DE", iban="DE89370400440532013000", bic="COBADEFFXXX", city="Berlin", **fields
    )


@pytest.fixture
def fleet():
    return _sepa_fleet(name="Fleet A")


@pytest.fixture
def reimbursement(fleet):
    return ReimbursementFactory(driver=DriverFactory(fleet=fleet, account_holder="Sanne de Vries"))


def _login(client, fleet, role=MembershipRole.FINANCE):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=role)
    client.force_login(user)
    return user


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_finance_makes_a_batch_on_the_add_page_and_downloads_its_file(client, fleet, reimbursement):
    user = _login(client, fleet)
    ReimbursementFactory(driver=DriverFactory(fleet=fleet, iban=""))

    response = client.post(BATCH_ADD, {"fleet": fleet.pk, "execution_date": "2026-12-08"})

    batch = PayoutBatch.objects.get()
    assert response.status_code == 302
    assert (batch.created_by, batch.item_count) == (user, 1)
    texts = _messages(response)
    assert any(batch.message_id in text for text in texts)
    assert any("Left out" in text and "no IBAN" in text for text in texts)
    download = client.get(reverse("admin:payments_payoutbatch_file", args=[batch.pk]))
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == batch.sha256
    assert (
        client.get(reverse("admin:payments_payoutbatch_change", args=[batch.pk])).status_code == 200
    )


def test_a_refused_batch_shows_the_reason_on_the_form_and_makes_nothing(client, fleet):
    _login(client, fleet)

    response = client.post(BATCH_ADD, {"fleet": fleet.pk})

    assert response.status_code == 200
    assert "nothing to pay out" in response.content.decode()
    assert not PayoutBatch.objects.exists()


def test_the_add_page_offers_only_fleets_where_the_user_does_finance(client, fleet):
    other = _sepa_fleet(name="Fleet B")
    viewer_of = _sepa_fleet(name="Fleet C")
    user = _login(client, fleet)
    MembershipFactory(user=user, fleet=viewer_of, role=MembershipRole.VIEWER)

    form = client.get(BATCH_ADD).context["adminform"].form

    assert list(form.fields["fleet"].queryset) == [fleet]
    assert other not in form.fields["fleet"].queryset


def test_execute_and_cancel_actions_go_through_the_services(client, fleet, reimbursement):
    _login(client, fleet)
    client.post(BATCH_ADD, {"fleet": fleet.pk})
    batch = PayoutBatch.objects.get()

    client.post(BATCH_LIST, {"action": "cancel", "_selected_action": [batch.pk]})
    response = client.post(BATCH_LIST, {"action": "execute", "_selected_action": [batch.pk]})

    batch.refresh_from_db()
    assert batch.status == PayoutBatchStatus.CANCELLED
    assert any("cancelled" in text and "never executed" in text for text in _messages(response))
    assert Reimbursement.objects.get().status == ReimbursementStatus.APPROVED


def test_the_reimbursements_action_makes_a_batch_of_the_selected_ones(client, fleet, reimbursement):
    ReimbursementFactory(driver=DriverFactory(fleet=fleet, account_holder="Other Payee"))
    _login(client, fleet)

    client.post(
        REIMBURSEMENT_LIST, {"action": "pay_by_sepa", "_selected_action": [reimbursement.pk]}
    )

    batch = PayoutBatch.objects.get()
    assert [item.reimbursement for item in batch.items.all()] == [reimbursement]


def test_a_viewer_can_neither_see_the_add_page_nor_act(client, fleet, reimbursement):
    _login(client, fleet, role=MembershipRole.VIEWER)

    assert client.get(BATCH_ADD).status_code == 403
    client.post(
        REIMBURSEMENT_LIST, {"action": "pay_by_sepa", "_selected_action": [reimbursement.pk]}
    )
    assert not PayoutBatch.objects.exists()
