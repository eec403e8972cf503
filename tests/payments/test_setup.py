"""What Voltop checks at start for billing, and the beat's schedule."""

import builtins

from django.conf import settings

from apps.payments.apps import pdf_renderer_check
from apps.payments.documents import pdf_renderer_problem
from voltop.celery import app


def test_the_pdf_renderer_is_usable_here():
    assert pdf_renderer_problem() == ""
    assert pdf_renderer_check(None) == []


def test_a_missing_pango_is_reported_at_start_with_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def import_without_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_pango)

    [error] = pdf_renderer_check(None)

    assert error.id == "payments.E001"
    assert (
        error.msg
        == "Invoice and statement PDFs cannot be rendered: cannot load library 'libpango-1.0-0'"
    )
    assert "apt install libpango-1.0-0" in error.hint


def test_the_beat_starts_due_billing_runs_every_hour_with_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["start-due-billing-runs"]
    app.loader.import_default_modules()  # what a worker and the beat do at start

    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {5}
    assert entry["schedule"].hour == set(range(24))
