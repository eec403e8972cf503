"""Responses that hand a document to the client: as a file to save, or a stored upload shown
to the one person allowed to see it."""

from pathlib import PurePosixPath

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header


def attachment_response(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    """`content` as a download named `filename` (quoted, or encoded when it is not ASCII)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def stored_file_response(file: FieldFile) -> FileResponse:
    """A stored upload, streamed from storage (uploads have no public URL): shown inline, kept
    out of shared caches, and sandboxed so that a browser runs nothing it may contain. A file
    no longer in storage is not found."""
    try:
        content = file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The file is no longer stored.") from error
    response = FileResponse(content, filename=PurePosixPath(file.name).name)
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "sandbox"
    return response
