"""Errors of the drivers app, each with a stable code."""

from voltop.core.errors import Conflict, DomainError


class DriverNotActive(DomainError):
    code = "drivers.driver_not_active"


class TokenUidInUse(Conflict):
    code = "drivers.token_uid_in_use"


class InvalidTokenPeriod(DomainError):
    code = "drivers.invalid_token_period"


class InvalidTokenUid(DomainError):
    code = "drivers.invalid_token_uid"


class TokenOtherFleet(DomainError):
    code = "drivers.token_other_fleet"


class DriverHasHistory(Conflict):
    code = "drivers.driver_has_history"
