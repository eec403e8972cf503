"""Enumerations of the fleets app."""

from django.db import models


class MembershipRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    FINANCE = "finance", "Finance"
    VIEWER = "viewer", "Viewer"


class BillingPeriodKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    WEEKLY = "weekly", "Weekly (ISO weeks, Monday to Sunday)"


class CsvDelimiter(models.TextChoices):
    COMMA = ",", "Comma (,)"
    SEMICOLON = ";", "Semicolon (;)"
    TAB = "\t", "Tab"


class CsvDecimalSeparator(models.TextChoices):
    POINT = ".", "Point (12.50)"
    COMMA = ",", "Comma (12,50)"


class RefundMethod(models.TextChoices):
    """How money owed back to a driver (an overpaid or credited invoice) reaches them."""

    SET_OFF = "set_off", "Set off against the driver's next invoice"
    PAYOUT = "payout", "Paid out by SEPA transfer"
