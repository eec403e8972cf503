"""Enumerations of the charging app; connector values follow OCPI 2.2.1."""

from django.db import models


class ConnectorStandard(models.TextChoices):
    CHADEMO = "CHADEMO", "CHAdeMO"
    DOMESTIC_F = "DOMESTIC_F", "Schuko (CEE 7/4, type F)"
    IEC_62196_T1 = "IEC_62196_T1", "Type 1 (SAE J1772)"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO", "CCS1 (Combo 1)"
    IEC_62196_T2 = "IEC_62196_T2", "Type 2 (Mennekes)"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO", "CCS2 (Combo 2)"
    IEC_62196_T3C = "IEC_62196_T3C", "Type 3C (Scame)"
    NACS = "NACS", "NACS (SAE J3400)"
    TESLA_S = "TESLA_S", "Tesla (model S/X)"
    GBT_AC = "GBT_AC", "GB/T AC"
    GBT_DC = "GBT_DC", "GB/T DC"


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


class HomeApproval(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PriceBasis(models.TextChoices):
    TARIFF = "tariff", "Tariff"
    HOME_RATE = "home_rate", "Driver's home rate"
    PROVIDER = "provider", "Provider's cost (CDR)"


class DayOfWeek(models.TextChoices):
    MONDAY = "MONDAY", "Monday"
    TUESDAY = "TUESDAY", "Tuesday"
    WEDNESDAY = "WEDNESDAY", "Wednesday"
    THURSDAY = "THURSDAY", "Thursday"
    FRIDAY = "FRIDAY", "Friday"
    SATURDAY = "SATURDAY", "Saturday"
    SUNDAY = "SUNDAY", "Sunday"
