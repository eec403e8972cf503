"""Abstract base models shared by the apps."""

from django.db import models


class TimeStampedModel(models.Model):
    """Adds creation and last-change times, both aware UTC."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True
