"""Idempotency-Key on API POSTs that create something: the first request does the work and its
answer is stored with the key; the same key with the same body gets that answer again
(header `Idempotent-Replayed: true`); the same key with another body is refused with 422.

The key is claimed first, then the work is done and its answer stored, all in one transaction:
a crash leaves none of it, and a second request with the same key waits on the key's unique
index until the first has committed, then gets the replay. Refusals are not stored: a
corrected request may use the same key."""

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework.response import Response

from voltop.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was sent with a different request; use a new key."


def request_actor(request) -> str:
    api_key = getattr(request, "auth", None)
    if getattr(api_key, "is_fleet_api_key", False):
        return f"api_key:{api_key.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(handler):
    """Decorate a view's `post(self, request, ...)` to honour the Idempotency-Key header."""

    @functools.wraps(handler)
    def honouring_the_key(view, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise exceptions.ValidationError(
                {HEADER: [f"At most {MAX_KEY_LENGTH} characters."]}, code="invalid"
            )
        actor, fingerprint = request_actor(request), _fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        actor=actor, key=key, request_fingerprint=fingerprint, response_status=0
                    )
            except IntegrityError:
                record = None
            if record is not None:
                response = handler(view, request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
                    return response
                record.response_status = response.status_code
                record.response_body = response.data
                record.save(update_fields=["response_status", "response_body"])
                return response
        stored = IdempotencyRecord.objects.get(actor=actor, key=key)
        if stored.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        return Response(
            stored.response_body,
            status=stored.response_status,
            headers={"Idempotent-Replayed": "true"},
        )

    return honouring_the_key
