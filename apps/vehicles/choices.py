"""Enumerations of the vehicles app; connector standards follow OCPI 2.2.1."""

from django.db import models


class VehicleStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "In maintenance"
    RETIRED = "retired", "Retired"


class ConnectorStandard(models.TextChoices):
    """The plug standards of OCPI 2.2.1 a vehicle's inlets accept; a charging station's
    connectors are described with the same values."""

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
