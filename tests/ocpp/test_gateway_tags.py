"""Blocked tokens reach the chargers: a differential SendLocalList where the charger keeps a
local list, ClearCache where it does not, and a charger that was offline is brought up to date
when it reconnects."""

import asyncio
import time

import pytest

from apps.charging.chargers import charging_station_password_set
from apps.charging.models import ChargingStation
from apps.drivers.services import charge_token_block, driver_suspend
from tests.factories import ChargeTokenFactory, ChargingStationFactory, DriverFactory, FleetFactory
from tests.ocpp.charge_points import (
    STATION_PASSWORD,
    CacheChargePoint,
    LocalListChargePoint,
    charger_connected,
)
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres


@pytest.fixture
def fleet_tags(settings):
    settings.OCPP_TAG_SYNC_SECONDS = 0.2
    fleet = FleetFactory()
    stations = []
    for identity in ("CP-LIST", "CP-CACHE"):
        station = ChargingStationFactory(fleet=fleet, ocpp_identity=identity)
        charging_station_password_set(station=station, password=STATION_PASSWORD)
        stations.append(station)
    anna = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="TAG-ANNA")
    bert = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="TAG-BERT")
    ChargeTokenFactory(uid="TAG-OTHER-FLEET")
    return stations, anna, bert


async def _until(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the chargers were not brought up to date in time"
        await asyncio.sleep(0.05)


def _synced(identity: str):
    return ChargingStation.objects.values_list("local_list_version", "tags_synced_at").get(
        ocpp_identity=identity
    )


def test_a_blocked_token_reaches_chargers_with_and_without_a_local_list(gateway, fleet_tags):
    _, anna, _ = fleet_tags

    async def block_while_connected():
        async with (
            charger_connected(
                gateway.port, "CP-LIST", charge_point_class=LocalListChargePoint
            ) as with_list,
            charger_connected(
                gateway.port, "CP-CACHE", charge_point_class=CacheChargePoint
            ) as with_cache,
        ):
            await _until(
                lambda: len(with_list.lists_received) == 1 and with_cache.caches_cleared == 1
            )
            await off_the_loop(charge_token_block, token=anna, reason="Card lost")
            await _until(
                lambda: len(with_list.lists_received) == 2 and with_cache.caches_cleared == 2
            )
            await asyncio.sleep(0.6)
            return with_list.lists_received, with_cache.caches_cleared

    lists, caches_cleared = asyncio.run(block_while_connected())

    assert lists == [
        {
            "listVersion": 4,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "TAG-ANNA", "status": "Accepted"},
                {"idTag": "TAG-BERT", "status": "Accepted"},
            ],
        },
        {
            "listVersion": 5,
            "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "TAG-ANNA", "status": "Blocked"}],
        },
    ]
    assert caches_cleared == 2
    assert _synced("CP-LIST")[0] == 5
    assert _synced("CP-CACHE")[0] == -1


def test_a_charger_offline_when_a_driver_was_suspended_gets_the_change_when_it_reconnects(
    gateway, fleet_tags
):
    _, _, bert = fleet_tags

    async def connect_until_synced():
        async with charger_connected(
            gateway.port, "CP-LIST", charge_point_class=LocalListChargePoint
        ) as charger:
            await _until(lambda: len(charger.lists_received) == 1)
            return charger.lists_received

    first_connection = asyncio.run(connect_until_synced())
    driver_suspend(driver=bert.driver, reason="Left the project")

    async def reconnect():
        async with charger_connected(
            gateway.port, "CP-LIST", charge_point_class=LocalListChargePoint
        ) as charger:
            charger.list_version = 4
            await _until(lambda: len(charger.lists_received) == 1)
            return charger.lists_received

    after_reconnect = asyncio.run(reconnect())

    assert [received["updateType"] for received in first_connection] == ["Full"]
    assert after_reconnect == [
        {
            "listVersion": 5,
            "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "TAG-BERT", "status": "Blocked"}],
        }
    ]
