"""Errors of the charging app, each with a stable code."""

from voltop.core.errors import Conflict, DomainError, NotFound


class TokenUnknown(NotFound):
    code = "charging.token_unknown"


class TokenNotValid(DomainError):
    code = "charging.token_not_valid"


class DriverNotActive(DomainError):
    code = "charging.driver_not_active"


class VehicleNotUsable(DomainError):
    code = "charging.vehicle_not_usable"


class OtherFleet(NotFound):
    code = "charging.other_fleet"


class ConnectorBusy(Conflict):
    code = "charging.connector_busy"


class DriverAlreadyCharging(Conflict):
    code = "charging.driver_already_charging"


class SessionNotActive(Conflict):
    code = "charging.session_not_active"


class SessionAlreadyStopped(Conflict):
    code = "charging.session_already_stopped"


class SessionExists(Conflict):
    code = "charging.session_exists"


class MeterWentBackwards(DomainError):
    code = "charging.meter_went_backwards"


class MeterValueOutsideSession(DomainError):
    code = "charging.meter_value_outside_session"


class EndBeforeStart(DomainError):
    code = "charging.end_before_start"


class SessionBilled(Conflict):
    code = "charging.session_billed"


class SessionNotCorrectable(Conflict):
    code = "charging.session_not_correctable"


class NoTariff(DomainError):
    code = "charging.no_tariff"


class InvalidTariff(DomainError):
    code = "charging.invalid_tariff"


class TariffCurrencyNotFleets(DomainError):
    code = "charging.tariff_currency_not_fleets"


class PublicSessionNeedsCost(DomainError):
    code = "charging.public_session_needs_cost"


class ProviderCostInvalid(DomainError):
    code = "charging.provider_cost_invalid"


class HomeSessionNotPending(Conflict):
    code = "charging.home_session_not_pending"


class InvalidHomeSession(DomainError):
    code = "charging.invalid_home_session"


class InvalidCorrection(DomainError):
    code = "charging.invalid_correction"


class TariffChangeInPast(DomainError):
    code = "charging.tariff_change_in_past"


class TariffVersionScheduled(Conflict):
    code = "charging.tariff_version_scheduled"


class TariffStillNeeded(Conflict):
    code = "charging.tariff_still_needed"


class StationInUse(Conflict):
    code = "charging.station_in_use"


class ConnectorInUse(Conflict):
    code = "charging.connector_in_use"


class TariffInUse(Conflict):
    code = "charging.tariff_in_use"


class TariffNeedsElement(DomainError):
    code = "charging.tariff_needs_element"


class SessionInUse(Conflict):
    code = "charging.session_in_use"


class StationIdentityInUse(Conflict):
    code = "charging.station_identity_in_use"


class ConnectorIdInUse(Conflict):
    code = "charging.connector_id_in_use"


class StationPasswordInvalid(DomainError):
    code = "charging.station_password_invalid"


class ChargerCallInvalid(DomainError):
    code = "charging.charger_call_invalid"


class StationOffline(Conflict):
    code = "charging.station_offline"


class EnergyNeeded(DomainError):
    code = "charging.energy_needed"
