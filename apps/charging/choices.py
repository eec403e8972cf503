"""Enumerations of the charging app; power types follow OCPI 2.2.1. A connector's standard is
apps.vehicles.choices.ConnectorStandard, the values a vehicle's inlets are described with."""

from django.db import models


class PowerType(models.TextChoices):
    AC_1_PHASE = "AC_1_PHASE", "AC single phase"
    AC_3_PHASE = "AC_3_PHASE", "AC three phase"
    DC = "DC", "DC"


class StationStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    OCCUPIED = "occupied", "Occupied"
    FAULTED = "faulted", "Faulted"
    UNAVAILABLE = "unavailable", "Unavailable"
    OFFLINE = "offline", "Offline"


class ConnectorStatus(models.TextChoices):
    """A connector's state as its charger reports it in an OCPP 1.6 StatusNotification."""

    AVAILABLE = "Available", "Available"
    PREPARING = "Preparing", "Preparing"
    CHARGING = "Charging", "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE", "Suspended by the charger"
    SUSPENDED_EV = "SuspendedEV", "Suspended by the vehicle"
    FINISHING = "Finishing", "Finishing"
    RESERVED = "Reserved", "Reserved"
    UNAVAILABLE = "Unavailable", "Unavailable"
    FAULTED = "Faulted", "Faulted"


class TokenAuthorizationStatus(models.TextChoices):
    """How a charger is told to treat a tag: OCPP 1.6 AuthorizationStatus."""

    ACCEPTED = "Accepted", "Accepted"
    BLOCKED = "Blocked", "Blocked"
    EXPIRED = "Expired", "Expired"
    INVALID = "Invalid", "Invalid"


class ChargerCallStatus(models.TextChoices):
    """Where a call from Voltop to a charger is: waiting for the gateway, sent, answered by
    the charger (with a CALLRESULT), or failed (a CALLERROR, no answer in time, or the
    station not connected)."""

    QUEUED = "queued", "Waiting for the gateway"
    SENT = "sent", "Sent to the charger"
    ANSWERED = "answered", "Answered"
    FAILED = "failed", "Failed"


class LocationKind(models.TextChoices):
    DEPOT = "depot", "Depot"
    HOME = "home", "Home"
    PUBLIC = "public", "Public"


class SessionPurpose(models.TextChoices):
    BUSINESS = "business", "Business"
    PRIVATE = "private", "Private"


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    INVALID = "invalid", "Invalid"


class SessionSource(models.TextChoices):
    OCPP = "ocpp", "Charger (OCPP)"
    APP = "app", "Driver app"
    MANUAL = "manual", "Entered by a manager"
    IMPORT = "import", "Imported file"


class EnergySource(models.TextChoices):
    """Where a session's energy figure comes from: a meter a charger (or a provider's CDR)
    reported, or a number a person typed (the driver app, a home claim, a manager)."""

    MEASURED = "measured", "Measured by a charger"
    ENTERED = "entered", "Entered by a person"


class HomeApproval(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PriceBasis(models.TextChoices):
    TARIFF = "tariff", "Tariff"
    HOME_RATE = "home_rate", "Driver's home rate"
    PROVIDER = "provider", "Provider's cost (CDR)"


class UnpricedReason(models.TextChoices):
    """Why pricing left a completed session without a price; billing leaves it out until a
    price is found."""

    NO_TARIFF = "no_tariff", "No tariff applies"
    TARIFF_CURRENCY = "tariff_currency", "Tariff in another currency than the fleet's"
    COST_PENDING = "cost_pending", "Provider's cost pending"


class SessionImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused: nothing imported"
    FAILED = "failed", "Failed"


class ImportFileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "OCPI CDR JSON"


class DayOfWeek(models.TextChoices):
    MONDAY = "MONDAY", "Monday"
    TUESDAY = "TUESDAY", "Tuesday"
    WEDNESDAY = "WEDNESDAY", "Wednesday"
    THURSDAY = "THURSDAY", "Thursday"
    FRIDAY = "FRIDAY", "Friday"
    SATURDAY = "SATURDAY", "Saturday"
    SUNDAY = "SUNDAY", "Sunday"
