"""Enumerations of the fleets app."""

from django.db import models


class MembershipRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    FINANCE = "finance", "Finance"
    VIEWER = "viewer", "Viewer"
