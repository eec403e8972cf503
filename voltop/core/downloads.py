"""Responses that hand a document to the client as a file to save."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header


def attachment_response(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    """`content` as a download named `filename` (quoted, or encoded when it is not ASCII)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
