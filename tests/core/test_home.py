"""The landing page at / leads to the admin, the API docs, the schema and the health check."""

import pytest
from django.urls import reverse

from tests.html_tables import page_links


def test_the_landing_page_links_the_admin_the_api_docs_the_schema_and_health(client):
    response = client.get("/")

    assert response.status_code == 200
    assert page_links(response) == {
        reverse("admin:index"),
        reverse("api-docs"),
        reverse("api-schema"),
        reverse("healthz"),
    }


@pytest.mark.django_db
def test_the_admins_view_site_link_leads_to_the_landing_page(admin_client):
    admin_index = admin_client.get(reverse("admin:index"))

    assert "/" in page_links(admin_index)
    assert admin_client.get("/").status_code == 200
