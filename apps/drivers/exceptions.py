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


class TokenChangedMeanwhile(Conflict):
    """A token given to another driver twice while one change of it was being made."""

    code = "drivers.token_changed_meanwhile"


class TokenInUse(Conflict):
    code = "drivers.token_in_use"


class ReasonMissing(DomainError):
    """A suspension or a block given without saying why."""

    code = "drivers.reason_missing"


class DriverStatusRefused(Conflict):
    """A suspension or reactivation the driver's status does not allow."""

    code = "drivers.driver_status_refused"
