"""Abstract base models shared by the apps, and the checks their write services share."""

from collections.abc import Callable, Mapping

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction

from voltop.core.errors import FieldFixed


class TimeStampedModel(models.Model):
    """Adds creation and last-change times, both aware UTC."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True


def fields_save_checked(
    instance: TimeStampedModel, changes: dict, *, clash_check: Callable[[], None] | None = None
) -> None:
    """Apply `changes` to `instance`, run the model's full_clean() (fields, clean(), unique and
    check constraints) and save only the changed fields. A refusal raises Django's
    ValidationError naming the field, and nothing is saved.

    `clash_check` refuses a unique key another row holds with a DomainError naming the field.
    It runs before full_clean(), and again when the database's unique index refuses the save
    because another request took the key after the checks, so that clash is the same refusal
    and not an error of the server."""
    for name, value in changes.items():
        setattr(instance, name, value)
    if clash_check is not None:
        clash_check()
    instance.full_clean()
    if clash_check is None:
        _save_changed(instance, changes)
        return
    try:
        with transaction.atomic():
            _save_changed(instance, changes)
    except IntegrityError:
        clash_check()
        raise


def _save_changed(instance: TimeStampedModel, changes: dict) -> None:
    if instance.pk is None:
        instance.save()
    elif changes:
        instance.save(update_fields=[*changes, "updated_at"])


def fixed_fields_check(
    model: type[models.Model], changes: Mapping[str, object], fixed: Mapping[str, str]
) -> None:
    """Refuse `changes` that name a field keeping the value its row was made with: `fixed` maps
    each such field to the message that says so. A field named by its column ("fleet_id") is
    refused as by its name; FieldFixed names the field."""
    for name, message in fixed.items():
        if {name, model._meta.get_field(name).attname} & set(changes):
            raise FieldFixed(message, field=name)


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
