"""The OpenAPI schema, and the docs pages that render it under the site's strict CSP."""

import json
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db
ENDPOINTS = [
    "/api/incidents/",
    "/api/incidents/{slug}/",
    "/api/incidents/{slug}/submit/",
    "/api/incidents/{slug}/publish/",
    "/api/incidents/{slug}/return/",
    "/api/vendors/",
    "/api/vendors/{slug}/",
    "/api/change-types/",
    "/api/change-types/{slug}/",
    "/api/categories/",
    "/api/categories/{slug}/",
]


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 meta-schema

    assert schema["openapi"].startswith("3.")
    assert set(ENDPOINTS) <= set(schema["paths"])


def test_every_operation_documents_the_shared_error_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    incident_update = schema["paths"]["/api/incidents/{slug}/"]["patch"]["responses"]

    for code in ("400", "401", "403", "404", "409", "412", "413", "415", "428", "429"):
        assert incident_update[code]["content"]["application/json"]["schema"] == error
    assert set(schema["components"]["schemas"]["Error"]["properties"]["error"]["required"]) == {
        "status", "code", "message", "fields",
    }  # fmt: skip


def test_the_schema_names_the_bearer_token_scheme(schema):
    token = schema["components"]["securitySchemes"]["apiToken"]

    assert (token["type"], token["scheme"]) == ("http", "bearer")


def test_vendors_are_slugs_in_requests_and_objects_in_responses(schema):
    schemas = schema["components"]["schemas"]

    assert schemas["IncidentRequest"]["properties"]["vendors"]["items"]["type"] == "string"
    response_items = schemas["Incident"]["properties"]["vendors"]["items"]
    assert response_items == {"$ref": "#/components/schemas/IncidentVendor"}
    assert schemas["Incident"]["properties"]["timeline"]["readOnly"] is True


def test_pattern_lists_name_the_top_vendors_and_a_pattern_every_vendor(schema):
    schemas = schema["components"]["schemas"]
    listed = schemas["Pattern"]["properties"]["vendors"]
    detail = schemas["PatternDetail"]["properties"]["vendors"]

    # The same shape in both: slugs. A list names only the top ones, a pattern all of them.
    assert listed["items"]["type"] == detail["items"]["type"] == "string"
    assert listed["description"].startswith("Slugs of up to 5 of the vendors")
    assert detail["description"].startswith("Slugs of every vendor")


class Assets(HTMLParser):
    """Collects a page's script and stylesheet (or preconnect) URLs, and inline script text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            self.scripts.append(attrs.get("src") or "")
        elif tag == "link" and attrs.get("rel") in ("stylesheet", "preconnect", "dns-prefetch"):
            self.styles.append(attrs["href"])  # preconnects count: they reach out too

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def assets_of(response) -> Assets:
    parser = Assets()
    parser.feed(response.content.decode())
    return parser


def test_swagger_ui_loads_everything_from_this_site_with_no_inline_script(api_client):
    response = api_client.get(reverse("api-docs"))

    assets = assets_of(response)
    assert response.status_code == 200
    assert assets.inline_scripts == []
    init_script = "/api/docs/?script="
    assert set(assets.scripts) - {init_script} and all(
        src.startswith("/static/") for src in set(assets.scripts) - {init_script}
    )
    assert init_script in assets.scripts
    assert assets.styles and all(href.startswith("/static/") for href in assets.styles)
    for url in [*assets.scripts, *assets.styles]:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url


def test_swagger_ui_init_script_is_served_as_javascript(api_client):
    response = api_client.get(reverse("api-docs"), {"script": ""})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in response.content.decode()


def test_the_docs_relax_only_style_src_and_only_on_their_own_pages(api_client, client, viewer):
    docs_policy = api_client.get(reverse("api-docs"))["Content-Security-Policy"]
    client.force_login(viewer)
    site_policy = client.get(reverse("postmortems:incident-list"))["Content-Security-Policy"]

    directives = dict(d.strip().split(" ", 1) for d in docs_policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" in directives["style-src"]
    assert "unsafe-inline" not in site_policy


def test_redoc_loads_everything_from_this_site(api_client):
    response = api_client.get(reverse("api-redoc"))

    assets = assets_of(response)
    assert response.status_code == 200
    assert assets.inline_scripts == []
    assert assets.scripts and all(src.startswith("/static/") for src in assets.scripts)
    assert assets.styles == []  # drf-spectacular's Google Fonts links are gone
    assert "googleapis" not in response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";"
    assert "worker-src blob:" in policy
