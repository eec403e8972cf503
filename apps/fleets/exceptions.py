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


class InvitationNotAllowed(DomainError):
    code = "fleets.invitation_not_allowed"
    status = 403


class InvitationInvalid(DomainError):
    code = "fleets.invitation_invalid"


class InvitationOpen(Conflict):
    code = "fleets.invitation_open"


class InvitationAlreadyMember(Conflict):
    code = "fleets.invitation_already_member"


class InvitationNotFound(DomainError):
    code = "fleets.invitation_not_found"
    status = 404


class InvitationExpired(Conflict):
    code = "fleets.invitation_expired"


class InvitationRevoked(Conflict):
    code = "fleets.invitation_revoked"


class InvitationUsed(Conflict):
    code = "fleets.invitation_used"


class InvitationPasswordRefused(DomainError):
    code = "fleets.invitation_password_refused"


class TwoFactorAlreadyOn(Conflict):
    code = "fleets.two_factor_already_on"


class TwoFactorCodeInvalid(DomainError):
    code = "fleets.two_factor_code_invalid"


class OtpRequired(DomainError):
    code = "otp_required"
    status = 401


class OtpInvalid(DomainError):
    code = "otp_invalid"
    status = 401


class OtpSetupRequired(DomainError):
    code = "otp_setup_required"
    status = 403
