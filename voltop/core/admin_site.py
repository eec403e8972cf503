"""The admin site: unfold's, with the list of every app and model built only for a page that
shows it. The sidebar groups the pages by task (apps/dashboard/navigation.py), so most pages
never read that list, which costs a permission check for every registered model."""

from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from unfold.sites import UnfoldAdminSite


class VoltopAdminSite(UnfoldAdminSite):
    """Unfold's admin site, its app list built on first use."""

    def get_app_list(self, request: HttpRequest, app_label: str | None = None):
        build = super().get_app_list
        return SimpleLazyObject(lambda: build(request, app_label))


class VoltopAdminConfig(AdminConfig):
    """django.contrib.admin with Voltop's site as the default `admin.site`."""

    default_site = "voltop.core.admin_site.VoltopAdminSite"
