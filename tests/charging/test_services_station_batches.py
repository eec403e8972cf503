"""The services the gateway calls a batch at a time as chargers connect: their credentials,
their connecting and leaving, their boots, and the outcomes of the calls sent to them. Each
batch is recorded item by item as the one-item service records it, in a constant number of
queries, and an item refused leaves the others recorded."""

import datetime as dt
from datetime import UTC

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charging.charger_calls import (
    NO_LOCAL_LIST,
    ChargerCallOutcome,
    charger_call_record_answer,
    charger_calls_record_outcomes,
)
from apps.charging.chargers import (
    StationBoot,
    StationConnectionChange,
    StationCredentials,
    charging_station_password_set,
    charging_stations_authenticated,
    charging_stations_boot_record,
    charging_stations_connection_record,
)
from apps.charging.choices import ChargerCallStatus, StationStatus
from apps.charging.models import ChargerCall, ChargingStation
from tests.factories import ChargingStationFactory
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NAIVE_MOMENT = MOMENT.replace(tzinfo=None)
PASSWORD = "sixteen-chars-ok"
STATION_FIELDS = (
    "is_connected",
    "connection_changed_at",
    "status",
    "last_heartbeat_at",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "local_list_version",
    "tags_synced_at",
)


def _stations(count: int, **fields) -> list[ChargingStation]:
    return [
        ChargingStationFactory(ocpp_identity=f"CP-BATCH-{number}", **fields)
        for number in range(count)
    ]


def _kept(stations: list[ChargingStation]) -> list[tuple]:
    return list(
        ChargingStation.objects.filter(pk__in=[station.pk for station in stations])
        .order_by("pk")
        .values_list(*STATION_FIELDS)
    )


def _queries_for(record, batch) -> int:
    with CaptureQueriesContext(connection) as queries:
        record(batch=batch)
    return len(queries)


class TestCredentialsInBatches:
    def test_each_charger_is_answered_with_its_own_station_or_none(self):
        first, second = _stations(2)
        charging_station_password_set(station=first, password=PASSWORD)
        charging_station_password_set(station=second, password=PASSWORD + "-2")

        stations = charging_stations_authenticated(
            batch=[
                StationCredentials("CP-BATCH-1", PASSWORD + "-2"),
                StationCredentials("CP-BATCH-0", PASSWORD + "-2"),
                StationCredentials("CP-UNKNOWN", PASSWORD),
                StationCredentials("CP-BATCH-0", PASSWORD),
            ]
        )

        assert stations == [second, None, None, first]

    def test_a_batch_reads_its_stations_in_one_query(self):
        stations = _stations(6)
        for station in stations:
            charging_station_password_set(station=station, password=PASSWORD)

        def batch(size):
            return [StationCredentials(f"CP-BATCH-{n}", PASSWORD) for n in range(size)]

        assert _queries_for(charging_stations_authenticated, batch(1)) == 1
        assert _queries_for(charging_stations_authenticated, batch(6)) == 1


class TestConnectionsInBatches:
    def test_a_station_connecting_is_available_and_heard_from_and_one_leaving_is_offline(self):
        returning, leaving, busy = _stations(3, status=StationStatus.OFFLINE)
        ChargingStation.objects.filter(pk=leaving.pk).update(
            status=StationStatus.AVAILABLE, is_connected=True
        )
        ChargingStation.objects.filter(pk=busy.pk).update(status=StationStatus.FAULTED)
        later = MOMENT + dt.timedelta(seconds=5)

        outcomes = charging_stations_connection_record(
            batch=[
                StationConnectionChange(returning.pk, True, MOMENT),
                StationConnectionChange(leaving.pk, False, MOMENT),
                StationConnectionChange(busy.pk, True, later),
            ]
        )

        assert outcomes == [None, None, None]
        returning_kept, leaving_kept, busy_kept = _kept([returning, leaving, busy])
        assert returning_kept[:4] == (True, MOMENT, StationStatus.AVAILABLE, MOMENT)
        assert leaving_kept[:4] == (False, MOMENT, StationStatus.OFFLINE, None)
        assert busy_kept[:4] == (True, later, StationStatus.FAULTED, None)

    def test_changes_of_one_station_are_applied_in_the_batchs_order(self):
        reconnected, gone = _stations(2)
        ChargingStation.objects.filter(pk__in=[reconnected.pk, gone.pk]).update(
            status=StationStatus.FAULTED, is_connected=True
        )
        left_at, back_at = MOMENT, MOMENT + dt.timedelta(seconds=1)

        charging_stations_connection_record(
            batch=[
                StationConnectionChange(reconnected.pk, False, left_at),
                StationConnectionChange(gone.pk, True, left_at),
                StationConnectionChange(reconnected.pk, True, back_at),
                StationConnectionChange(gone.pk, False, back_at),
            ]
        )

        reconnected_kept, gone_kept = _kept([reconnected, gone])
        assert reconnected_kept[:4] == (True, back_at, StationStatus.AVAILABLE, back_at)
        assert gone_kept[:4] == (False, back_at, StationStatus.OFFLINE, None)

    def test_a_change_without_a_time_zone_is_refused_alone(self):
        refused, recorded = _stations(2, status=StationStatus.OFFLINE)
        before = _kept([refused])

        outcomes = charging_stations_connection_record(
            batch=[
                StationConnectionChange(refused.pk, True, NAIVE_MOMENT),
                StationConnectionChange(recorded.pk, True, MOMENT),
            ]
        )

        assert isinstance(outcomes[0], NaiveDatetime)
        assert outcomes[0].field == "at"
        assert outcomes[1] is None
        assert _kept([refused]) == before
        assert _kept([recorded])[0][:2] == (True, MOMENT)

    def test_a_batch_costs_the_same_queries_for_one_station_as_for_many(self):
        stations = _stations(6, status=StationStatus.OFFLINE)

        def batch(size):
            return [StationConnectionChange(s.pk, True, MOMENT) for s in stations[:size]]

        one = _queries_for(charging_stations_connection_record, batch(1))
        many = _queries_for(charging_stations_connection_record, batch(6))

        assert one == many


class TestBootsInBatches:
    def test_each_station_keeps_its_last_boot_cut_to_its_fields(self):
        rebooted, booted = _stations(2)
        later = MOMENT + dt.timedelta(seconds=30)

        outcomes = charging_stations_boot_record(
            batch=[
                StationBoot(rebooted.pk, "Alfen", "Eve", "SN-1", "1.0", MOMENT),
                StationBoot(booted.pk, "V" * 60, "Model", "SN-2", "2.0", MOMENT),
                StationBoot(rebooted.pk, "Alfen", "Eve", "SN-1", "1.1", later),
            ]
        )

        assert outcomes == [None, None, None]
        rebooted_kept, booted_kept = _kept([rebooted, booted])
        assert rebooted_kept[3:8] == (later, "Alfen", "Eve", "SN-1", "1.1")
        assert booted_kept[3:8] == (MOMENT, "V" * 50, "Model", "SN-2", "2.0")

    def test_a_boot_without_a_time_zone_is_refused_alone(self):
        refused, recorded = _stations(2)
        before = _kept([refused])

        outcomes = charging_stations_boot_record(
            batch=[
                StationBoot(refused.pk, "Alfen", "Eve", "SN-1", "1.0", NAIVE_MOMENT),
                StationBoot(recorded.pk, "Alfen", "Eve", "SN-2", "1.0", MOMENT),
            ]
        )

        assert isinstance(outcomes[0], NaiveDatetime)
        assert outcomes[1] is None
        assert _kept([refused]) == before
        assert _kept([recorded])[0][7] == "1.0"

    def test_a_batch_costs_the_same_queries_for_one_station_as_for_many(self):
        stations = _stations(6)

        def batch(size):
            return [StationBoot(s.pk, "Alfen", "Eve", "SN", "1.0", MOMENT) for s in stations[:size]]

        assert _queries_for(charging_stations_boot_record, batch(1)) == _queries_for(
            charging_stations_boot_record, batch(6)
        )


class TestCallOutcomesInBatches:
    @staticmethod
    def _sent(station: ChargingStation, action: str, **fields) -> ChargerCall:
        return ChargerCall.objects.create(
            station=station,
            action=action,
            payload={},
            status=ChargerCallStatus.SENT,
            created_at=MOMENT,
            sent_at=MOMENT,
            **fields,
        )

    @staticmethod
    def _outcome_of(call: ChargerCall) -> tuple:
        call.refresh_from_db()
        return (call.status, call.answer, call.error, call.answered_at)

    def test_answers_and_failures_are_kept_and_tag_answers_reach_their_stations(self):
        asked_version, cleared, not_clearing, reset = _stations(4)
        ChargingStation.objects.filter(pk__in=[cleared.pk, not_clearing.pk]).update(
            local_list_version=NO_LOCAL_LIST
        )
        synced_up_to = MOMENT - dt.timedelta(seconds=1)
        version_call = self._sent(asked_version, "GetLocalListVersion")
        clear_call = self._sent(cleared, "ClearCache", tags_up_to=synced_up_to)
        unsupported_call = self._sent(not_clearing, "ClearCache", tags_up_to=synced_up_to)
        reset_call = self._sent(reset, "Reset")
        answered_at = MOMENT + dt.timedelta(seconds=2)

        outcomes = charger_calls_record_outcomes(
            batch=[
                ChargerCallOutcome(version_call.pk, answered_at, answer={"listVersion": 7}),
                ChargerCallOutcome(clear_call.pk, answered_at, answer={"status": "Accepted"}),
                ChargerCallOutcome(
                    unsupported_call.pk,
                    answered_at,
                    error="NotImplemented: no cache",
                    not_implemented=True,
                ),
                ChargerCallOutcome(reset_call.pk, answered_at, error="No answer within 30 s."),
            ]
        )

        assert outcomes == [None] * 4
        assert self._outcome_of(version_call) == (
            ChargerCallStatus.ANSWERED,
            {"listVersion": 7},
            "",
            answered_at,
        )
        assert self._outcome_of(clear_call)[:2] == (
            ChargerCallStatus.ANSWERED,
            {"status": "Accepted"},
        )
        assert self._outcome_of(unsupported_call) == (
            ChargerCallStatus.FAILED,
            None,
            "NotImplemented: no cache",
            answered_at,
        )
        assert self._outcome_of(reset_call)[:3] == (
            ChargerCallStatus.FAILED,
            None,
            "No answer within 30 s.",
        )
        tags = [kept[8:] for kept in _kept([asked_version, cleared, not_clearing, reset])]
        assert tags == [
            (7, None),
            (NO_LOCAL_LIST, synced_up_to),
            (NO_LOCAL_LIST, synced_up_to),
            (None, None),
        ]

    def test_a_call_keeps_its_first_outcome(self):
        station = ChargingStationFactory()
        answered_before = self._sent(station, "Reset")
        charger_call_record_answer(
            call_id=answered_before.pk, answer={"status": "Accepted"}, at=MOMENT
        )
        twice = self._sent(station, "ChangeAvailability")
        later = MOMENT + dt.timedelta(seconds=1)

        charger_calls_record_outcomes(
            batch=[
                ChargerCallOutcome(answered_before.pk, later, answer={"status": "Rejected"}),
                ChargerCallOutcome(twice.pk, MOMENT, answer={"status": "Accepted"}),
                ChargerCallOutcome(twice.pk, later, error="The charger did not answer."),
            ]
        )

        assert self._outcome_of(answered_before) == (
            ChargerCallStatus.ANSWERED,
            {"status": "Accepted"},
            "",
            MOMENT,
        )
        assert self._outcome_of(twice) == (
            ChargerCallStatus.ANSWERED,
            {"status": "Accepted"},
            "",
            MOMENT,
        )

    def test_a_batch_costs_the_same_queries_for_one_call_as_for_many(self):
        stations = _stations(6)
        calls = [self._sent(station, "GetLocalListVersion") for station in stations]

        def batch(size):
            return [
                ChargerCallOutcome(call.pk, MOMENT, answer={"listVersion": 1})
                for call in calls[:size]
            ]

        one = _queries_for(charger_calls_record_outcomes, batch(1))
        many = _queries_for(charger_calls_record_outcomes, batch(6)[1:])

        assert one == many
