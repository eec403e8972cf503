"""Responses that hand a document to the client as a file to save."""

from django.http import HttpResponse


def attachment_response(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    """`content` as a download named `filename`."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
