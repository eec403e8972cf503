"""What Voltop checks at start for billing, and the beat's schedule."""

import builtins

from django.conf import settings
from weasyprint.text import ffi as weasyprint_ffi

from apps.payments.apps import pdf_renderer_check
from apps.payments.documents import pdf_renderer_problem
from voltop.celery import app


def test_the_pdf_renderer_is_usable_here():
    assert pdf_renderer_problem() == ""
    assert pdf_renderer_check(None) == []


def test_a_missing_pango_is_reported_at_start_with_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def import_without_pango(name, *args, **kwargs):
        if name.startswith("weasyprint"):
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_pango)

    [error] = pdf_renderer_check(None)

    assert error.id == "payments.E001"
    assert (
        error.msg
        == "Invoice and statement PDFs cannot be rendered: cannot load library 'libpango-1.0-0'"
    )
    assert "apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0" in error.hint


def test_a_missing_harfbuzz_subset_library_is_reported_at_start_with_how_to_install_it(
    monkeypatch,
):
    monkeypatch.setattr(weasyprint_ffi, "harfbuzz_subset", None)

    [error] = pdf_renderer_check(None)

    assert error.id == "payments.E001"
    assert error.msg == (
        "Invoice and statement PDFs cannot be rendered: "
        "the HarfBuzz subset library (libharfbuzz-subset.so.0) is not installed"
    )
    assert "libharfbuzz-subset0" in error.hint


def test_a_harfbuzz_older_than_4_1_is_reported_at_start(monkeypatch):
    class HarfBuzz4_0:
        @staticmethod
        def hb_version_atleast(major, minor, micro):
            return (major, minor, micro) <= (4, 0, 0)

    monkeypatch.setattr(weasyprint_ffi, "harfbuzz", HarfBuzz4_0)

    [error] = pdf_renderer_check(None)

    assert error.msg == (
        "Invoice and statement PDFs cannot be rendered: "
        "HarfBuzz is older than 4.1, the oldest whose subset library WeasyPrint uses"
    )


def test_the_beat_starts_due_billing_runs_every_hour_with_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["start-due-billing-runs"]
    app.loader.import_default_modules()  # what a worker and the beat do at start

    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {5}
    assert entry["schedule"].hour == set(range(24))
