"""Errors of the fleets app, each with a stable code."""

from voltop.core.errors import Conflict, DomainError


class ApiKeyInvalid(DomainError):
    code = "fleets.api_key_invalid"


class FleetNotYours(DomainError):
    code = "fleets.fleet_not_yours"
    status = 404


class LastFleetAdmin(DomainError):
    code = "fleets.last_admin"
    status = 409


class DepotInUse(Conflict):
    code = "fleets.depot_in_use"


class CostCenterInUse(Conflict):
    code = "fleets.cost_center_in_use"


class FleetInUse(Conflict):
    code = "fleets.fleet_in_use"


class LoginInUse(Conflict):
    code = "fleets.login_in_use"


class LoginNameInUse(Conflict):
    code = "fleets.login_name_in_use"
