from django.urls import path

from postmortems.views import editor, incidents, parts, review, same_outage, taxonomy, vendors

app_name = "postmortems"

urlpatterns = [
    path("", incidents.incident_list, name="incident-list"),
    path("incidents/new/", editor.incident_create, name="incident-create"),
    path("incidents/<slug:slug>/", incidents.incident_detail, name="incident-detail"),
    path("incidents/<slug:slug>/edit/", editor.incident_edit, name="incident-edit"),
    path("incidents/<slug:slug>/export.md", incidents.incident_export, name="incident-export"),
    path("incidents/<slug:slug>/review/", review.review_action, name="incident-review"),
    path(
        "incidents/<slug:slug>/same-outage/",
        same_outage.same_outage_link,
        name="same-outage-link",
    ),
    path(
        "incidents/<slug:slug>/same-outage/unlink/",
        same_outage.same_outage_unlink,
        name="same-outage-unlink",
    ),
    # Factors, action items and sources are edited in place on the edit page.
    path("incidents/<slug:slug>/factors/", parts.factor_create, name="factor-create"),
    path("incidents/<slug:slug>/factors/<int:pk>/", parts.factor_edit, name="factor-edit"),
    path(
        "incidents/<slug:slug>/factors/<int:pk>/delete/",
        parts.factor_delete,
        name="factor-delete",
    ),
    path(
        "incidents/<slug:slug>/action-items/", parts.action_item_create, name="action-item-create"
    ),
    path(
        "incidents/<slug:slug>/action-items/<int:pk>/",
        parts.action_item_edit,
        name="action-item-edit",
    ),
    path(
        "incidents/<slug:slug>/action-items/<int:pk>/delete/",
        parts.action_item_delete,
        name="action-item-delete",
    ),
    path("incidents/<slug:slug>/sources/", parts.source_create, name="source-create"),
    path(
        "incidents/<slug:slug>/sources/<int:pk>/delete/",
        parts.source_delete,
        name="source-delete",
    ),
    path("preview/markdown/", editor.markdown_preview, name="markdown-preview"),
    path("vendors/", vendors.vendor_list, name="vendor-list"),
    path("vendors/new/", vendors.vendor_create, name="vendor-create"),
    path("vendors/<slug:slug>/", vendors.vendor_detail, name="vendor-detail"),
    path("taxonomy/", taxonomy.taxonomy, name="taxonomy"),
    path("change-types/<slug:slug>/", taxonomy.change_type_detail, name="change-type-detail"),
    path("categories/<slug:slug>/", taxonomy.category_detail, name="category-detail"),
]
