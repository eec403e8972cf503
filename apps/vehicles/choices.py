"""Enumerations of the vehicles app."""

from django.db import models


class VehicleStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "In maintenance"
    RETIRED = "retired", "Retired"
