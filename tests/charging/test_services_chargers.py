"""The charging services behind the OCPP gateway, called directly: station passwords, tag
authorisation, status reports, and giving a charger's session without a driver its driver."""

import datetime as dt
from datetime import UTC

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from apps.charging import chargers, tasks
from apps.charging.charger_calls import NO_LOCAL_LIST, charger_tag_updates_queue
from apps.charging.chargers import (
    ChargerReadings,
    ChargerStart,
    ChargerStartReport,
    ChargerStop,
    ChargerStopReport,
    ConnectorStatusReport,
    FrameSeen,
    charge_token_authorization,
    charger_messages_prune,
    charger_messages_record,
    charging_session_charger_start,
    charging_session_charger_stop,
    charging_sessions_charger_meter_values,
    charging_sessions_charger_start,
    charging_sessions_charger_stop,
    charging_station_authenticated,
    charging_station_password_set,
    connector_status_record,
    connector_statuses_record,
)
from apps.charging.choices import (
    ChargerCallStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    StationStatus,
    TokenAuthorizationStatus,
)
from apps.charging.exceptions import OtherFleet, StationPasswordInvalid
from apps.charging.models import (
    ChargerCall,
    ChargerMessage,
    ChargingSession,
    ChargingSessionEvent,
    ChargingStation,
    Connector,
)
from apps.charging.services import (
    MeterReading,
    charging_session_record_meter_values,
    charging_session_save_by_manager,
)
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    CostCenterFactory,
    DriverFactory,
    MeterValueFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from voltop.core.errors import DomainError
from voltop.core.history import BEFORE_CHANGE

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "sixteen-chars-ok"


@pytest.fixture
def station():
    return ChargingStationFactory(ocpp_identity="CP-SERVICES")


class TestStationPasswords:
    def test_a_station_authenticates_with_its_password_and_only_the_hash_is_kept(self, station):
        charging_station_password_set(station=station, password=PASSWORD)

        station.refresh_from_db()
        assert station.ocpp_password.startswith("pbkdf2_sha256_station$10000$")
        assert PASSWORD not in station.ocpp_password
        assert charging_station_authenticated(ocpp_identity="CP-SERVICES", password=PASSWORD) == (
            station
        )

    @pytest.mark.parametrize(
        ("identity", "password"),
        [("CP-SERVICES", PASSWORD.upper()), ("CP-ELSEWHERE", PASSWORD)],
        ids=["wrong password", "unknown identity"],
    )
    def test_wrong_credentials_authenticate_no_station(self, station, identity, password):
        charging_station_password_set(station=station, password=PASSWORD)

        assert charging_station_authenticated(ocpp_identity=identity, password=password) is None

    def test_a_password_verified_before_is_not_hashed_again_until_the_station_password_changes(
        self, station, monkeypatch
    ):
        monkeypatch.setattr(chargers, "VERIFIED_PASSWORDS", chargers.VerifiedPasswords())
        hashed = []
        verify = chargers.STATION_PASSWORD_HASHER.verify

        def verify_counted(password, encoded):
            hashed.append(password)
            return verify(password, encoded)

        monkeypatch.setattr(chargers.STATION_PASSWORD_HASHER, "verify", verify_counted)
        charging_station_password_set(station=station, password=PASSWORD)
        new_password = "another-password-0042"

        first = charging_station_authenticated(ocpp_identity="CP-SERVICES", password=PASSWORD)
        again = charging_station_authenticated(ocpp_identity="CP-SERVICES", password=PASSWORD)
        wrong = charging_station_authenticated(ocpp_identity="CP-SERVICES", password=new_password)
        hashed_before_the_change = list(hashed)
        charging_station_password_set(station=station, password=new_password)
        old_after_the_change = charging_station_authenticated(
            ocpp_identity="CP-SERVICES", password=PASSWORD
        )
        new_after_the_change = charging_station_authenticated(
            ocpp_identity="CP-SERVICES", password=new_password
        )

        assert (first, again, wrong) == (station, station, None)
        assert hashed_before_the_change == [PASSWORD, new_password]
        assert old_after_the_change is None
        assert new_after_the_change == station
        assert hashed == [PASSWORD, new_password, PASSWORD, new_password]

    def test_a_station_without_a_password_cannot_connect(self, station):
        assert charging_station_authenticated(ocpp_identity="CP-SERVICES", password="") is None

    @pytest.mark.parametrize(
        "password",
        ["fifteen-chars-x", "x" * 41, " sixteen-chars-ok", "sixteen\tchars-ok"],
        ids=["15 characters", "41 characters", "leading space", "tab"],
    )
    def test_a_password_outside_the_rules_is_refused_and_nothing_changes(self, station, password):
        charging_station_password_set(station=station, password=PASSWORD)
        kept = ChargingStation.objects.get(pk=station.pk).ocpp_password

        with pytest.raises(StationPasswordInvalid) as refused:
            charging_station_password_set(station=station, password=password)

        assert refused.value.field == "password"
        assert "16 to 40 printable characters" in refused.value.message
        assert ChargingStation.objects.get(pk=station.pk).ocpp_password == kept


class TestTokenAuthorization:
    @pytest.mark.parametrize(
        ("token_fields", "driver_status", "expected"),
        [
            ({}, DriverStatus.ACTIVE, TokenAuthorizationStatus.ACCEPTED),
            ({"is_active": False}, DriverStatus.ACTIVE, TokenAuthorizationStatus.BLOCKED),
            ({}, DriverStatus.SUSPENDED, TokenAuthorizationStatus.BLOCKED),
            (
                {"valid_until": MOMENT},
                DriverStatus.ACTIVE,
                TokenAuthorizationStatus.EXPIRED,
            ),
            (
                {"valid_from": MOMENT + dt.timedelta(seconds=1)},
                DriverStatus.ACTIVE,
                TokenAuthorizationStatus.INVALID,
            ),
        ],
        ids=["active", "blocked", "driver suspended", "expired", "not valid yet"],
    )
    def test_a_tags_status_follows_its_token_and_driver(
        self, station, token_fields, driver_status, expected
    ):
        driver = DriverFactory(fleet=station.fleet, status=driver_status)
        ChargeTokenFactory(driver=driver, uid="ABCDEF", **token_fields)

        authorization = charge_token_authorization(station=station, id_tag="abcdef", at=MOMENT)

        assert authorization.status == expected

    def test_an_accepted_tag_with_an_end_carries_its_expiry(self, station):
        ends = MOMENT + dt.timedelta(days=30)
        ChargeTokenFactory(driver=DriverFactory(fleet=station.fleet), uid="T1", valid_until=ends)

        authorization = charge_token_authorization(station=station, id_tag="T1", at=MOMENT)

        assert (authorization.status, authorization.expiry) == ("Accepted", ends)

    def test_a_tag_of_another_fleet_is_invalid(self, station):
        ChargeTokenFactory(uid="T1")

        authorization = charge_token_authorization(station=station, id_tag="T1", at=MOMENT)

        assert (authorization.status, authorization.token) == ("Invalid", None)


class TestStatusReports:
    def test_connector_zero_is_the_station_as_a_whole(self, station):
        connector_status_record(
            station_id=station.pk,
            connector_id=0,
            status="Faulted",
            error_code="GroundFailure",
            info="",
            at=MOMENT,
        )

        station.refresh_from_db()
        assert station.status == StationStatus.FAULTED
        assert not Connector.objects.filter(station=station).exists()

    def test_an_older_report_than_the_one_kept_changes_nothing(self, station):
        ConnectorFactory(station=station, connector_id=1)
        connector_status_record(
            station_id=station.pk,
            connector_id=1,
            status="Charging",
            error_code="NoError",
            info="",
            at=MOMENT,
        )

        connector_status_record(
            station_id=station.pk,
            connector_id=1,
            status="Available",
            error_code="NoError",
            info="",
            at=MOMENT - dt.timedelta(minutes=1),
        )

        connector = Connector.objects.get(station=station, connector_id=1)
        assert (connector.status, connector.status_at) == ("Charging", MOMENT)

    def test_a_new_connector_is_described_like_the_stations_first(self, station):
        ConnectorFactory(
            station=station, connector_id=1, standard="CHADEMO", power_type="DC", max_kw=50
        )

        connector_status_record(
            station_id=station.pk,
            connector_id=3,
            status="Available",
            error_code="NoError",
            info="",
            at=MOMENT,
        )

        connector = Connector.objects.get(station=station, connector_id=3)
        assert (connector.standard, connector.power_type, connector.max_kw) == ("CHADEMO", "DC", 50)

    @staticmethod
    def report(station, connector_id, status, *, at=MOMENT, error_code="NoError", info=""):
        return ConnectorStatusReport(
            station_id=station.pk,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            info=info,
            at=at,
        )

    def test_a_batch_applies_each_report_as_one_by_one_in_the_batch_order(self, station):
        for number in (1, 2):
            ConnectorFactory(station=station, connector_id=number)
        ConnectorFactory(station=station, connector_id=3, status="Charging", status_at=MOMENT)
        later = MOMENT + dt.timedelta(seconds=5)

        outcomes = connector_statuses_record(
            batch=[
                self.report(station, 1, "Preparing"),
                self.report(station, 1, "Faulted", at=later, error_code="GroundFailure", info="x"),
                self.report(station, 2, "Charging", at=later),
                self.report(station, 2, "Available"),
                self.report(station, 3, "Available", at=MOMENT - dt.timedelta(minutes=1)),
                self.report(station, 0, "Unavailable"),
                self.report(station, 4, "Available"),
            ]
        )

        assert outcomes == [None] * 7
        stored = {
            connector.connector_id: (
                connector.status,
                connector.error_code,
                connector.status_info,
                connector.status_at,
            )
            for connector in Connector.objects.filter(station=station)
        }
        assert stored == {
            1: ("Faulted", "GroundFailure", "x", later),
            2: ("Charging", "NoError", "", later),
            3: ("Charging", stored[3][1], stored[3][2], MOMENT),
            4: ("Available", "NoError", "", MOMENT),
        }
        station.refresh_from_db()
        assert station.status == StationStatus.UNAVAILABLE

    def test_only_the_connectors_named_change_not_those_of_their_stations_and_numbers(
        self, station
    ):
        other = ChargingStationFactory(fleet=station.fleet)
        for on, number in ((station, 1), (station, 2), (other, 1), (other, 2)):
            ConnectorFactory(station=on, connector_id=number, status="Available")

        connector_statuses_record(
            batch=[self.report(station, 1, "Charging"), self.report(other, 2, "Faulted")]
        )

        assert sorted(
            Connector.objects.filter(station__in=[station, other]).values_list(
                "station__ocpp_identity", "connector_id", "status"
            )
        ) == sorted(
            [
                (station.ocpp_identity, 1, "Charging"),
                (station.ocpp_identity, 2, "Available"),
                (other.ocpp_identity, 1, "Available"),
                (other.ocpp_identity, 2, "Faulted"),
            ]
        )

    def test_reports_on_known_connectors_cost_the_same_queries_however_many(self, station):
        for number in range(1, 9):
            ConnectorFactory(station=station, connector_id=number)

        with CaptureQueriesContext(connection) as two:
            connector_statuses_record(
                batch=[self.report(station, number, "Available") for number in (1, 2)]
            )
        with CaptureQueriesContext(connection) as six:
            connector_statuses_record(
                batch=[self.report(station, number, "Charging") for number in range(3, 9)]
            )

        assert len(six.captured_queries) == len(two.captured_queries)
        assert set(
            Connector.objects.filter(connector_id__gt=2).values_list("status", flat=True)
        ) == {"Charging"}

    def test_a_report_refused_is_refused_alone_and_the_others_are_recorded(self, station):
        for number in (1, 2):
            ConnectorFactory(station=station, connector_id=number, status="Available")

        outcomes = connector_statuses_record(
            batch=[
                self.report(station, 1, "Charging", at=MOMENT.replace(tzinfo=None)),
                self.report(station, 2, "Charging"),
            ]
        )

        assert isinstance(outcomes[0], DomainError)
        assert outcomes[0].field == "at"
        assert outcomes[1] is None
        assert dict(
            Connector.objects.filter(station=station).values_list("connector_id", "status")
        ) == {1: "Available", 2: "Charging"}


class TestSessionsWithoutDriver:
    @pytest.fixture
    def unattributed(self, station):
        ConnectorFactory(station=station, connector_id=1)
        return charging_session_charger_start(
            station=station, connector_id=1, id_tag="NOBODY", meter_start_wh=0, started_at=MOMENT
        ).session

    def test_a_manager_gives_it_its_driver_with_the_drivers_vehicle_and_cost_center(
        self, station, unattributed
    ):
        driver = DriverFactory(
            fleet=station.fleet, cost_center=CostCenterFactory(fleet=station.fleet)
        )
        assignment = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=station.fleet), driver=driver
        )
        unattributed.driver = driver

        charging_session_save_by_manager(session=unattributed)

        unattributed.refresh_from_db()
        assert (unattributed.driver, unattributed.vehicle, unattributed.cost_center_id) == (
            driver,
            assignment.vehicle,
            driver.cost_center_id,
        )

    def test_a_driver_of_another_fleet_is_refused_and_nothing_changes(self, unattributed):
        unattributed.driver = DriverFactory()

        with pytest.raises(OtherFleet) as refused:
            charging_session_save_by_manager(session=unattributed)

        assert refused.value.field == "driver"
        stored = ChargingSession.objects.get(pk=unattributed.pk)
        assert (stored.driver_id, stored.vehicle_id, stored.cost_center_id) == (None, None, None)

    def test_only_a_charger_may_record_a_session_without_a_driver(self, station):
        session = ChargingSessionFactory.build(
            fleet=station.fleet, driver=None, vehicle=None, source=SessionSource.MANUAL
        )

        with pytest.raises(IntegrityError, match="session_driver_unless_charger_reported"):
            session.save()


def test_recording_a_reading_reads_the_same_rows_however_long_the_session(station):
    session = ChargingSessionFactory(fleet=station.fleet, active=True, meter_start_wh=0)
    for minute in range(1, 41):
        MeterValueFactory(
            session=session,
            measured_at=session.started_at + dt.timedelta(minutes=minute),
            energy_wh=minute * 100,
        )
    reading = MeterReading(
        measured_at=session.started_at + dt.timedelta(minutes=41), energy_wh=4_100
    )

    with CaptureQueriesContext(connection) as queries:
        charging_session_record_meter_values(session=session, readings=[reading])

    reads_of_readings = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "charging_metervalue"' in query["sql"]
    ]
    assert len(reads_of_readings) == 3
    assert all('"charging_metervalue"."measured_at" ' in sql for sql in reads_of_readings)
    assert session.meter_values.count() == 41


class TestChargerMessages:
    def test_frames_are_kept_whole_up_to_their_limit_and_cut_beyond_it(self, station):
        long_frame = "x" * 4_001

        charger_messages_record(
            frames=[
                FrameSeen(station.pk, MOMENT, True, '[2,"1","Heartbeat",{}]'),
                FrameSeen(station.pk, MOMENT, False, long_frame),
            ]
        )

        kept = list(ChargerMessage.objects.order_by("pk").values_list("sent_by_charger", "frame"))
        assert kept == [
            (True, '[2,"1","Heartbeat",{}]'),
            (False, "x" * 4_000 + "… (4001 characters)"),
        ]

    def test_a_frame_with_a_nul_character_is_kept_with_it_escaped_beside_the_others(self, station):
        recorded = charger_messages_record(
            frames=[
                FrameSeen(station.pk, MOMENT, True, "[2,\x00]"),
                FrameSeen(station.pk, MOMENT + dt.timedelta(seconds=1), False, "[3]"),
            ]
        )

        kept = list(ChargerMessage.objects.order_by("pk").values_list("at", "frame"))
        assert recorded == 2
        assert kept == [(MOMENT, "[2,\\u0000]"), (MOMENT + dt.timedelta(seconds=1), "[3]")]

    def test_the_prune_deletes_frames_older_than_the_days_kept(self, station, settings):
        settings.OCPP_MESSAGE_KEEP_DAYS = 7
        now = MOMENT + dt.timedelta(days=7)
        charger_messages_record(
            frames=[
                FrameSeen(station.pk, MOMENT - dt.timedelta(seconds=1), True, "old"),
                FrameSeen(station.pk, MOMENT, True, "just kept"),
            ]
        )

        deleted = charger_messages_prune(now=now)

        assert deleted == 1
        assert list(ChargerMessage.objects.values_list("frame", flat=True)) == ["just kept"]


class TestMeterValuesInBatches:
    @pytest.fixture
    def sessions(self, station):
        connector = ConnectorFactory(station=station, connector_id=1)
        other_connector = ConnectorFactory(station=station, connector_id=2)
        made = []
        for on in (connector, other_connector):
            made.append(
                ChargingSessionFactory(
                    fleet=station.fleet,
                    connector=on,
                    source=SessionSource.OCPP,
                    active=True,
                    started_at=MOMENT,
                    meter_start_wh=1_000,
                )
            )
        return made

    @staticmethod
    def item(station, session, *minutes_and_wh) -> ChargerReadings:
        return ChargerReadings(
            station.pk,
            session.pk,
            tuple(
                MeterReading(measured_at=MOMENT + dt.timedelta(minutes=minute), energy_wh=wh)
                for minute, wh in minutes_and_wh
            ),
        )

    def test_readings_of_many_sessions_are_recorded_in_a_few_queries(
        self, station, sessions, django_assert_max_num_queries
    ):
        first, second = sessions
        batch = [
            self.item(station, first, (1, 1_100), (2, 1_200)),
            self.item(station, second, (1, 1_050)),
        ]

        with django_assert_max_num_queries(4):
            outcomes = charging_sessions_charger_meter_values(batch=batch)

        assert outcomes == [None, None]
        assert list(first.meter_values.values_list("energy_wh", flat=True)) == [1_100, 1_200]
        assert list(second.meter_values.values_list("energy_wh", flat=True)) == [1_050]

    def test_readings_keep_their_power_and_state_of_charge(self, station, sessions):
        first, _ = sessions
        reading = MeterReading(
            measured_at=MOMENT + dt.timedelta(minutes=1),
            energy_wh=1_100,
            power_w=11_000,
            state_of_charge_percent=41,
        )

        charging_sessions_charger_meter_values(
            batch=[ChargerReadings(station.pk, first.pk, (reading,))]
        )

        assert list(
            first.meter_values.values_list(
                "measured_at", "energy_wh", "power_w", "state_of_charge_percent"
            )
        ) == [(MOMENT + dt.timedelta(minutes=1), 1_100, 11_000, 41)]

    def test_a_reading_going_back_is_refused_alone_and_the_rest_of_the_batch_is_recorded(
        self, station, sessions
    ):
        first, second = sessions
        MeterValueFactory(
            session=first, measured_at=MOMENT + dt.timedelta(minutes=1), energy_wh=1_500
        )

        outcomes = charging_sessions_charger_meter_values(
            batch=[
                self.item(station, first, (2, 1_400)),
                self.item(station, second, (1, 1_050)),
            ]
        )

        assert outcomes[0].code == "charging.meter_went_backwards"
        assert outcomes[1] is None
        assert list(first.meter_values.values_list("energy_wh", flat=True)) == [1_500]
        assert list(second.meter_values.values_list("energy_wh", flat=True)) == [1_050]

    def test_a_resent_reading_and_one_between_stored_ones_go_the_one_session_way(
        self, station, sessions
    ):
        first, _ = sessions
        for minute, wh in ((1, 1_100), (3, 1_300)):
            MeterValueFactory(
                session=first, measured_at=MOMENT + dt.timedelta(minutes=minute), energy_wh=wh
            )

        outcomes = charging_sessions_charger_meter_values(
            batch=[self.item(station, first, (1, 1_100), (2, 1_200))]
        )

        assert outcomes == [None]
        assert list(first.meter_values.values_list("energy_wh", flat=True)) == [1_100, 1_200, 1_300]

    def test_readings_of_another_stations_transaction_are_dropped(self, station, sessions):
        first, _ = sessions
        elsewhere = ChargingStationFactory(fleet=station.fleet)

        outcomes = charging_sessions_charger_meter_values(
            batch=[self.item(elsewhere, first, (1, 1_100))]
        )

        assert outcomes == [None]
        assert not first.meter_values.exists()


class TestStartsInBatches:
    SESSION_FIELDS = (
        "fleet_id",
        "location_kind",
        "started_at",
        "meter_start_wh",
        "status",
        "source",
        "charger_issue",
        "purpose",
        "ended_at",
        "meter_stop_wh",
    )

    @staticmethod
    def charging_point(station, number, **driver_fields):
        """A connector of `station` and a driver of its fleet with a token for it."""
        connector = ConnectorFactory(station=station, connector_id=number)
        driver = DriverFactory(fleet=station.fleet, **driver_fields)
        ChargeTokenFactory(driver=driver, uid=f"TAG{number:04d}")
        return connector, driver

    @staticmethod
    def start(station, number, *, at=MOMENT, tag=None, meter_start_wh=1_000):
        return ChargerStartReport(
            station=station,
            connector_id=number,
            id_tag=tag or f"tag{number:04d}",
            meter_start_wh=meter_start_wh,
            started_at=at,
        )

    def stored(self, session_id):
        session = ChargingSession.objects.get(pk=session_id)
        return {field: getattr(session, field) for field in self.SESSION_FIELDS} | {
            "driver": session.driver,
            "vehicle": session.vehicle,
            "cost_center_id": session.cost_center_id,
            "token": session.token,
            "connector": session.connector,
        }

    def test_plain_starts_are_recorded_as_one_by_one_would_record_them(self, station):
        cost_center = CostCenterFactory(fleet=station.fleet)
        batched_points = [
            self.charging_point(station, 1, cost_center=cost_center),
            self.charging_point(station, 2),
        ]
        vehicle = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=station.fleet), driver=batched_points[1][1]
        ).vehicle
        other_station = ChargingStationFactory(fleet=station.fleet, ocpp_identity="CP-ONE-BY-ONE")
        one_by_one_points = [
            self.charging_point(other_station, 101, cost_center=cost_center),
            self.charging_point(other_station, 102),
        ]
        other_vehicle = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=station.fleet), driver=one_by_one_points[1][1]
        ).vehicle

        batched = charging_sessions_charger_start(
            batch=[self.start(station, 1), self.start(station, 2)]
        )
        one_by_one = [
            charging_session_charger_start(
                station=other_station,
                connector_id=number,
                id_tag=f"tag{number:04d}",
                meter_start_wh=1_000,
                started_at=MOMENT,
            )
            for number in (101, 102)
        ]

        assert [outcome.authorization.status for outcome in batched] == ["Accepted"] * 2
        differing = ("connector", "driver", "token", "vehicle")
        for outcome, alone, (connector, driver) in zip(
            batched, one_by_one, batched_points, strict=True
        ):
            stored, expected = self.stored(outcome.session.pk), self.stored(alone.session.pk)
            assert (stored["connector"], stored["driver"]) == (connector, driver)
            assert stored["token"] == driver.tokens.get()
            for field in differing:
                stored.pop(field)
                expected.pop(field)
            assert stored == expected
        assert self.stored(batched[0].session.pk)["cost_center_id"] == cost_center.pk
        assert self.stored(batched[1].session.pk)["vehicle"] == vehicle
        assert self.stored(one_by_one[1].session.pk)["vehicle"] == other_vehicle

    def test_a_batch_costs_a_few_queries_however_many_starts_and_one_per_vehicle(self, station):
        points = [self.charging_point(station, number) for number in range(1, 11)]
        VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=station.fleet), driver=points[9][1])

        with CaptureQueriesContext(connection) as three:
            charging_sessions_charger_start(batch=[self.start(station, n) for n in (1, 2, 3)])
        with CaptureQueriesContext(connection) as six:
            charging_sessions_charger_start(batch=[self.start(station, n) for n in range(4, 10)])
        with CaptureQueriesContext(connection) as one_with_a_vehicle:
            charging_sessions_charger_start(batch=[self.start(station, 10)])

        assert ChargingSession.objects.filter(status=SessionStatus.ACTIVE).count() == 10
        assert len(six.captured_queries) == len(three.captured_queries) <= 11
        assert len(one_with_a_vehicle.captured_queries) == len(three.captured_queries) + 1

    def test_other_starts_go_the_one_start_way_in_the_batch_order(self, station):
        for number in range(1, 7):
            self.charging_point(station, number)
        blocked = ChargeTokenFactory(
            driver=DriverFactory(fleet=station.fleet), uid="BLOCKED1", is_active=False
        )
        left_open = ChargingSessionFactory(
            fleet=station.fleet,
            connector=Connector.objects.get(station=station, connector_id=3),
            active=True,
            source=SessionSource.OCPP,
            started_at=MOMENT - dt.timedelta(hours=2),
            meter_start_wh=0,
        )
        sent_before = charging_session_charger_start(
            station=station,
            connector_id=4,
            id_tag="tag0004",
            meter_start_wh=500,
            started_at=MOMENT - dt.timedelta(minutes=5),
        ).session
        twice = DriverFactory(fleet=station.fleet)
        for uid in ("TWICE-A", "TWICE-B"):
            ChargeTokenFactory(driver=twice, uid=uid)

        outcomes = charging_sessions_charger_start(
            batch=[
                self.start(station, 1, tag="NOBODY"),
                self.start(station, 2, tag=blocked.uid),
                self.start(station, 3),
                self.start(station, 4, at=MOMENT - dt.timedelta(minutes=5), meter_start_wh=500),
                self.start(station, 7, tag="tag0005"),
                self.start(station, 5, tag="TWICE-A"),
                self.start(station, 6, tag="TWICE-B"),
            ]
        )

        statuses = [outcome.authorization.status for outcome in outcomes]
        sessions = [ChargingSession.objects.get(pk=outcome.session.pk) for outcome in outcomes]
        assert statuses == ["Invalid", "Blocked"] + ["Accepted"] * 5
        assert sessions[0].driver is None
        assert "which no driver of the fleet has" in sessions[0].charger_issue
        assert "the token is blocked" in sessions[1].charger_issue
        left_open.refresh_from_db()
        assert left_open.status != SessionStatus.ACTIVE
        assert sessions[2].charger_issue == ""
        assert sessions[3].pk == sent_before.pk
        assert sessions[4].connector == Connector.objects.get(station=station, connector_id=7)
        assert sessions[5].charger_issue == ""
        assert f"in session {sessions[5].pk}" in sessions[6].charger_issue

    def test_a_start_refused_is_refused_alone_and_the_others_are_recorded(self, station):
        for number in (1, 2):
            self.charging_point(station, number)

        outcomes = charging_sessions_charger_start(
            batch=[self.start(station, 1, at=MOMENT.replace(tzinfo=None)), self.start(station, 2)]
        )

        assert isinstance(outcomes[0], DomainError)
        assert outcomes[0].field == "started_at"
        assert isinstance(outcomes[1], ChargerStart)
        assert list(ChargingSession.objects.values_list("connector__connector_id", flat=True)) == [
            2
        ]

    def test_a_remote_start_waiting_for_its_session_is_claimed(self, station):
        connector, driver = self.charging_point(station, 1)
        request = ChargerCall.objects.create(
            station=station,
            action="RemoteStartTransaction",
            payload={"connectorId": 1, "idTag": "TAG0001"},
            status=ChargerCallStatus.ANSWERED,
            answer={"status": "Accepted"},
            driver=driver,
            connector=connector,
            purpose=SessionPurpose.PRIVATE,
            created_at=MOMENT - dt.timedelta(seconds=20),
            answered_at=MOMENT - dt.timedelta(seconds=19),
        )

        (outcome,) = charging_sessions_charger_start(batch=[self.start(station, 1)])

        request.refresh_from_db()
        assert request.session == outcome.session
        assert ChargingSession.objects.get(pk=outcome.session.pk).purpose == SessionPurpose.PRIVATE


class TestStopsInBatches:
    @pytest.fixture
    def sessions(self, station):
        made = []
        for number in (1, 2, 3):
            driver = DriverFactory(fleet=station.fleet)
            ChargeTokenFactory(driver=driver, uid=f"TAG{number:04d}")
            made.append(
                ChargingSessionFactory(
                    fleet=station.fleet,
                    driver=driver,
                    connector=ConnectorFactory(station=station, connector_id=number),
                    source=SessionSource.OCPP,
                    active=True,
                    started_at=MOMENT,
                    meter_start_wh=1_000,
                )
            )
        return made

    @pytest.fixture
    def pricing_queued(self, monkeypatch):
        queued = []
        monkeypatch.setattr(tasks.price_charging_sessions, "delay", queued.append)
        monkeypatch.setattr(
            tasks.price_charging_session, "delay", lambda session_id: queued.append([session_id])
        )
        return queued

    @staticmethod
    def stop(station, session, meter_stop_wh, *, minutes=60, tag=None, readings=()):
        return ChargerStopReport(
            station=station,
            transaction_id=session.pk,
            meter_stop_wh=meter_stop_wh,
            stopped_at=MOMENT + dt.timedelta(minutes=minutes),
            readings=tuple(
                MeterReading(measured_at=MOMENT + dt.timedelta(minutes=minute), energy_wh=wh)
                for minute, wh in readings
            ),
            id_tag=tag,
        )

    def test_stops_are_recorded_with_their_readings_and_priced_by_one_task_after_commit(
        self, station, sessions, pricing_queued, django_capture_on_commit_callbacks
    ):
        first, second, third = sessions

        with django_capture_on_commit_callbacks(execute=True):
            outcomes = charging_sessions_charger_stop(
                batch=[
                    self.stop(station, first, 3_000, readings=[(30, 2_000)]),
                    self.stop(station, second, 1_500, tag="tag0002"),
                    self.stop(station, third, 1_200, tag="NOBODY"),
                ]
            )

        assert [outcome.session.pk for outcome in outcomes] == [s.pk for s in sessions]
        assert outcomes[0].authorization is None
        assert outcomes[1].authorization.status == TokenAuthorizationStatus.ACCEPTED
        assert outcomes[1].authorization.token == second.driver.tokens.get()
        assert outcomes[2].authorization.status == TokenAuthorizationStatus.INVALID
        stored = ChargingSession.objects.filter(pk__in=[s.pk for s in sessions]).order_by("pk")
        assert list(stored.values_list("status", "ended_at", "meter_stop_wh", "energy_wh")) == [
            (SessionStatus.COMPLETED, MOMENT + dt.timedelta(hours=1), 3_000, 2_000),
            (SessionStatus.COMPLETED, MOMENT + dt.timedelta(hours=1), 1_500, 500),
            (SessionStatus.COMPLETED, MOMENT + dt.timedelta(hours=1), 1_200, 200),
        ]
        assert list(first.meter_values.values_list("energy_wh", flat=True)) == [2_000]
        assert pricing_queued == [[first.pk, second.pk, third.pk]]

    def test_plain_stops_are_recorded_as_one_by_one_would_record_them(self, station, sessions):
        first, second, _ = sessions
        MeterValueFactory(
            session=first, measured_at=MOMENT + dt.timedelta(minutes=10), energy_wh=5_000
        )
        implausible_wh = 1_000 + 40_000
        compared = (
            "status",
            "ended_at",
            "meter_stop_wh",
            "energy_wh",
            "energy_source",
            "is_suspect",
            "suspect_reason",
        )

        charging_sessions_charger_stop(
            batch=[self.stop(station, first, implausible_wh, minutes=60)]
        )
        charging_session_charger_stop(
            station=station,
            transaction_id=second.pk,
            meter_stop_wh=implausible_wh,
            stopped_at=MOMENT + dt.timedelta(minutes=60),
            readings=(),
        )

        plainly, one_by_one = (
            ChargingSession.objects.filter(pk=session.pk).values(*compared).get()
            for session in (first, second)
        )
        assert plainly == one_by_one
        assert plainly["is_suspect"] is True
        assert plainly["energy_wh"] == 40_000

    @pytest.mark.postgres
    def test_a_plain_stop_is_kept_in_the_sessions_history_as_one_by_one(self, station, sessions):
        first, second, _ = sessions

        charging_sessions_charger_stop(batch=[self.stop(station, first, 3_000, minutes=30)])
        charging_session_charger_stop(
            station=station,
            transaction_id=second.pk,
            meter_stop_wh=3_000,
            stopped_at=MOMENT + dt.timedelta(minutes=30),
            readings=(),
        )

        plainly, one_by_one = (
            list(
                ChargingSessionEvent.objects.filter(pgh_obj=session).values_list(
                    "pgh_label", "status", "ended_at"
                )
            )
            for session in (first, second)
        )
        assert plainly == one_by_one == [(BEFORE_CHANGE, SessionStatus.ACTIVE, None)]

    def test_plain_stops_cost_the_same_queries_however_many(self, station, sessions):
        more = [
            ChargingSessionFactory(
                fleet=station.fleet,
                driver=DriverFactory(fleet=station.fleet),
                connector=ConnectorFactory(station=station, connector_id=number),
                source=SessionSource.OCPP,
                active=True,
                started_at=MOMENT,
                meter_start_wh=1_000,
            )
            for number in range(4, 8)
        ]
        first, second, third = sessions

        with CaptureQueriesContext(connection) as two:
            charging_sessions_charger_stop(
                batch=[self.stop(station, session, 2_000) for session in (first, second)]
            )
        with CaptureQueriesContext(connection) as five:
            charging_sessions_charger_stop(
                batch=[self.stop(station, session, 2_000) for session in [third, *more]]
            )

        assert len(five.captured_queries) == len(two.captured_queries) <= 6
        assert set(ChargingSession.objects.values_list("status", flat=True)) == {
            SessionStatus.COMPLETED
        }

    def test_a_stop_refused_is_refused_alone_unpriced_and_the_others_are_recorded(
        self, station, sessions, pricing_queued, django_capture_on_commit_callbacks
    ):
        first, second, _ = sessions
        MeterValueFactory(
            session=first, measured_at=MOMENT + dt.timedelta(minutes=50), energy_wh=4_000
        )

        with django_capture_on_commit_callbacks(execute=True):
            outcomes = charging_sessions_charger_stop(
                batch=[
                    self.stop(station, first, 3_000, readings=[(40, 2_000)]),
                    self.stop(station, second, 1_500),
                ]
            )

        assert outcomes[0].code == "charging.meter_went_backwards"
        assert outcomes[0].field == "meter_stop_wh"
        assert isinstance(outcomes[1], ChargerStop)
        first.refresh_from_db()
        assert (first.status, first.ended_at, first.meter_stop_wh) == (
            SessionStatus.ACTIVE,
            None,
            None,
        )
        assert list(first.meter_values.values_list("energy_wh", flat=True)) == [4_000]
        assert ChargingSession.objects.get(pk=second.pk).status == SessionStatus.COMPLETED
        assert pricing_queued == [[second.pk]]

    def test_an_unknown_transaction_and_a_stop_sent_again_are_acknowledged_unchanged(
        self, station, sessions, pricing_queued, django_capture_on_commit_callbacks
    ):
        first, _, _ = sessions
        elsewhere = ChargingStationFactory(fleet=station.fleet)
        charging_sessions_charger_stop(batch=[self.stop(station, first, 3_000, minutes=30)])
        first.refresh_from_db()

        with django_capture_on_commit_callbacks(execute=True):
            outcomes = charging_sessions_charger_stop(
                batch=[
                    self.stop(station, first, 3_000),
                    self.stop(elsewhere, first, 5_000, tag="tag0001"),
                ]
            )

        assert outcomes[0].session.pk == first.pk
        assert outcomes[1].session is None
        assert outcomes[1].authorization.status == TokenAuthorizationStatus.ACCEPTED
        again = ChargingSession.objects.get(pk=first.pk)
        assert (again.meter_stop_wh, again.energy_wh, again.updated_at) == (
            3_000,
            2_000,
            first.updated_at,
        )
        assert pricing_queued == []

    def test_a_batch_that_fails_midway_keeps_no_stop_and_queues_no_pricing(
        self, station, sessions, pricing_queued, django_capture_on_commit_callbacks, monkeypatch
    ):
        first, second, _ = sessions

        def authorization_failing(token, at):
            raise RuntimeError("the database went away")

        monkeypatch.setattr(chargers, "_token_authorization", authorization_failing)
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            charging_sessions_charger_stop(
                batch=[
                    self.stop(station, first, 3_000),
                    self.stop(station, second, 1_500, tag="tag0002"),
                ]
            )

        assert set(
            ChargingSession.objects.filter(pk__in=[first.pk, second.pk]).values_list(
                "status", flat=True
            )
        ) == {SessionStatus.ACTIVE}
        assert pricing_queued == []


class TestTagSweep:
    """charger_tag_updates_queue: which connected stations it brings up to date, and how
    many at a time."""

    @pytest.fixture
    def stations(self):
        return [ChargingStationFactory(ocpp_identity=f"CP-SWEEP-{number}") for number in range(3)]

    @staticmethod
    def _queued_actions() -> list[tuple[str, str]]:
        return list(
            ChargerCall.objects.order_by("station__ocpp_identity").values_list(
                "station__ocpp_identity", "action"
            )
        )

    def test_stations_are_taken_up_to_the_limit_and_the_rest_on_the_next_run(self, stations):
        connected = {station.ocpp_identity for station in stations}

        first = charger_tag_updates_queue(connected=connected, now=MOMENT, limit=2)
        second = charger_tag_updates_queue(connected=connected, now=MOMENT, limit=2)
        third = charger_tag_updates_queue(connected=connected, now=MOMENT, limit=2)

        assert (first, second, third) == (2, 1, 0)
        assert self._queued_actions() == [
            ("CP-SWEEP-0", "GetLocalListVersion"),
            ("CP-SWEEP-1", "GetLocalListVersion"),
            ("CP-SWEEP-2", "GetLocalListVersion"),
        ]

    def test_only_connected_stations_behind_their_fleets_token_changes_are_taken(self):
        synced_at = MOMENT - dt.timedelta(minutes=5)
        up_to_date = ChargingStationFactory(ocpp_identity="CP-UP-TO-DATE")
        behind = ChargingStationFactory(ocpp_identity="CP-BEHIND")
        offline = ChargingStationFactory(ocpp_identity="CP-OFFLINE", fleet=behind.fleet)
        token = ChargeTokenFactory(driver=DriverFactory(fleet=behind.fleet), uid="TAG-CHANGED")
        ChargeToken.objects.filter(pk=token.pk).update(
            updated_at=synced_at + dt.timedelta(minutes=1)
        )
        ChargeTokenFactory(driver=DriverFactory(fleet=up_to_date.fleet), uid="TAG-OLD")
        ChargeToken.objects.filter(uid="TAG-OLD").update(
            updated_at=synced_at - dt.timedelta(minutes=1)
        )
        ChargingStation.objects.filter(pk__in=[up_to_date.pk, behind.pk, offline.pk]).update(
            local_list_version=NO_LOCAL_LIST, tags_synced_at=synced_at
        )

        queued = charger_tag_updates_queue(
            connected={"CP-UP-TO-DATE", "CP-BEHIND"}, now=MOMENT, limit=50
        )

        assert queued == 1
        assert self._queued_actions() == [("CP-BEHIND", "ClearCache")]
