"""Home-claim meter photos are served to the driver who sent them and to the admins and
managers of their fleet, through the API and the admin; to no one else, and never from a
public URL."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.charging.choices import HomeApproval, LocationKind
from apps.charging.models import ChargingSession
from apps.fleets.choices import MembershipRole
from tests.factories import ChargingSessionFactory, MembershipFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

PHOTO = b"\xff\xd8\xff\xe0 a meter reading 12345 kWh"
MANAGER, ADMIN, VIEWER = MembershipRole.MANAGER, MembershipRole.ADMIN, MembershipRole.VIEWER


@pytest.fixture
def home_session(settings, tmp_path, fleet, driver_a) -> ChargingSession:
    """A home claim of driver A with the meter photo they sent."""
    settings.MEDIA_ROOT = tmp_path
    session = ChargingSessionFactory(
        fleet=fleet,
        driver=driver_a,
        location_kind=LocationKind.HOME,
        home_approval=HomeApproval.PENDING,
    )
    name = default_storage.save("meter-photos/2026/03/meter.jpg", ContentFile(PHOTO))
    ChargingSession.objects.filter(pk=session.pk).update(meter_photo=name)
    session.refresh_from_db()
    return session


def me_photo(session) -> str:
    return f"/api/v1/me/sessions/{session.pk}/meter-photo/"


def fleet_photo(session) -> str:
    return f"/api/v1/fleet/sessions/{session.pk}/meter-photo/"


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


class TestTheDriver:
    def test_the_driver_gets_their_photo_inline_and_not_cached(self, driver_a_client, home_session):
        response = driver_a_client.get(me_photo(home_session), HTTP_ACCEPT="image/*")

        assert response.status_code == 200
        assert streamed(response) == PHOTO
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"] == 'inline; filename="meter.jpg"'
        assert response["Cache-Control"] == "private, no-store"
        assert response["Content-Security-Policy"] == "sandbox"

    def test_the_session_names_the_photo_s_api_address(self, driver_a_client, home_session):
        body = driver_a_client.get(f"/api/v1/me/sessions/{home_session.pk}/").json()

        assert body["meter_photo"] == f"http://testserver{me_photo(home_session)}"

    def test_another_driver_of_the_fleet_is_not_found(self, driver_b_client, home_session):
        response = driver_b_client.get(me_photo(home_session))

        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"

    def test_a_driver_of_another_fleet_is_not_found(self, other_fleet_driver_client, home_session):
        assert other_fleet_driver_client.get(me_photo(home_session)).status_code == 404

    def test_a_session_without_a_photo_is_not_found(self, driver_a_client, fleet, driver_a):
        session = ChargingSessionFactory(fleet=fleet, driver=driver_a)

        assert driver_a_client.get(me_photo(session)).status_code == 404

    def test_anyone_not_logged_in_is_refused(self, anonymous_client, home_session):
        assert anonymous_client.get(me_photo(home_session)).status_code == 401
        assert anonymous_client.get(fleet_photo(home_session)).status_code == 401


class TestTheFleet:
    @pytest.mark.parametrize("role", [MANAGER, ADMIN])
    def test_a_manager_of_the_fleet_gets_the_photo(self, member_client, fleet, home_session, role):
        client = member_client(role, fleet)

        response = client.get(fleet_photo(home_session))
        session = client.get(f"/api/v1/fleet/sessions/{home_session.pk}/").json()

        assert response.status_code == 200
        assert streamed(response) == PHOTO
        assert session["meter_photo"] == f"http://testserver{fleet_photo(home_session)}"

    def test_a_manager_of_another_fleet_is_not_found(
        self, member_client, other_fleet, home_session
    ):
        response = member_client(MANAGER, other_fleet).get(fleet_photo(home_session))

        assert response.status_code == 404

    def test_a_viewer_of_the_fleet_is_refused(self, member_client, fleet, home_session):
        assert member_client(VIEWER, fleet).get(fleet_photo(home_session)).status_code == 403

    def test_the_driver_cannot_use_the_fleet_s_address(self, driver_a_client, home_session):
        assert driver_a_client.get(fleet_photo(home_session)).status_code == 403


class TestTheAdmin:
    def admin_photo(self, session) -> str:
        return reverse("admin:charging_chargingsession_meter_photo", args=[session.pk])

    def staff_of(self, client, fleet, role):
        user = StaffUserFactory()
        MembershipFactory(user=user, fleet=fleet, role=role)
        client.force_login(user)
        return client

    def test_a_manager_of_the_fleet_follows_the_link_on_the_session_s_page(
        self, client, fleet, home_session
    ):
        manager = self.staff_of(client, fleet, MANAGER)

        page = manager.get(reverse("admin:charging_chargingsession_change", args=[home_session.pk]))
        response = manager.get(self.admin_photo(home_session))

        assert f'href="{self.admin_photo(home_session)}"' in page.content.decode()
        assert "/media/" not in page.content.decode()
        assert response.status_code == 200
        assert streamed(response) == PHOTO

    def test_a_manager_of_another_fleet_is_not_found(self, client, other_fleet, home_session):
        manager = self.staff_of(client, other_fleet, MANAGER)

        assert manager.get(self.admin_photo(home_session)).status_code == 404

    def test_a_viewer_of_the_fleet_is_not_found(self, client, fleet, home_session):
        viewer = self.staff_of(client, fleet, VIEWER)

        assert viewer.get(self.admin_photo(home_session)).status_code == 404


def test_uploads_have_no_public_address(client, home_session):
    assert client.get(f"/media/{home_session.meter_photo.name}").status_code == 404
    assert client.get(home_session.meter_photo.url).status_code == 404
