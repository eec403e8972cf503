"""Enumerations of the drivers app."""

from django.db import models


class DriverStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    LEFT = "left", "Left the company"


class TokenKind(models.TextChoices):
    RFID = "RFID", "RFID card"
    APP_USER = "APP_USER", "Driver app"
    OTHER = "OTHER", "Other"
