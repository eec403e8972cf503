"""Celery tasks of the exports app: thin, they take ids and call one service."""

from celery import shared_task

from apps.exports import services


@shared_task(acks_late=True)
def run_export_job(job_id: int) -> None:
    """Build a queued export's file and keep it with its manifest."""
    services.export_job_run(job_id=job_id)


@shared_task(acks_late=True)
def expire_export_files() -> int:
    """Delete kept export files past their expiry; their manifests stay."""
    return services.export_files_expire()
