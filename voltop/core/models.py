"""Abstract base models shared by the apps."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class TimeStampedModel(models.Model):
    """Adds creation and last-change times, both aware UTC."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True


def fields_save_checked(instance: TimeStampedModel, changes: dict) -> None:
    """Apply `changes` to `instance`, run the model's full_clean() (fields, clean(), unique and
    check constraints) and save only the changed fields. A refusal raises Django's
    ValidationError naming the field, and nothing is saved."""
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.full_clean()
    if instance.pk is None:
        instance.save()
    elif changes:
        instance.save(update_fields=[*changes, "updated_at"])


class IdempotencyRecord(models.Model):
    """The answer a POST with an Idempotency-Key got, kept so that sending it again returns the
    same answer instead of doing the work twice. Kept at least IDEMPOTENCY_KEEP_HOURS."""

    actor = models.CharField(max_length=64, help_text='Who sent it: "user:12" or "api_key:3".')
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(encoder=DjangoJSONEncoder, null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor", "key"], name="idempotency_key_per_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor} {self.key}"
