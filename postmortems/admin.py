from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from postmortems import rules
from postmortems.models import (
    ActionItem,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Service,
    Source,
    Vendor,
)


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "status_page_url"]
    list_filter = ["kind"]
    search_fields = ["name", "slug", "notes"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "vendor", "external_id"]
    list_filter = ["vendor"]
    search_fields = ["name", "external_id", "vendor__name"]
    list_select_related = ["vendor"]


@admin.register(ChangeType)
class ChangeTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "definition"]
    search_fields = ["name", "slug", "definition"]


@admin.register(FailureCategory)
class FailureCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "typical_role", "definition"]
    list_filter = ["typical_role", "parent"]
    search_fields = ["name", "slug", "definition"]
    list_select_related = ["parent"]


class IncidentVendorInline(admin.TabularInline):
    model = IncidentVendor
    extra = 0
    autocomplete_fields = ["vendor"]


class FactorInline(admin.StackedInline):
    model = Factor
    extra = 0
    fields = ["role", "category", "description", "position"]


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["title", "type", "owner", "due_date", "status", "ticket_url", "completed_at"]


class SourceInline(admin.TabularInline):
    model = Source
    extra = 0


class IncidentAdminForm(forms.ModelForm):
    """The admin's incident form carries the version it was loaded at, as every editor does.

    The admin's change view runs in one transaction, so the row lock taken here holds until
    the save: two admins who opened the same version cannot both save.
    """

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        loaded = cleaned.get("loaded_version")
        if self.instance.pk and loaded is not None:
            current = (
                Incident.objects.select_for_update()
                .values_list("version", flat=True)
                .get(pk=self.instance.pk)
            )
            if rules.is_stale(current, loaded):
                raise forms.ValidationError(
                    f"Someone saved this postmortem after you opened it (it is now at version "
                    f"{current}, you loaded {loaded}). Open it again to see their changes; "
                    "nothing was saved."
                )
        return cleaned


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
    form = IncidentAdminForm
    list_display = ["title", "severity", "status", "started_at", "resolved_at", "origin"]
    list_filter = [
        "status",
        "severity",
        "origin",
        "detection_method",
        "data_loss",
        "near_miss",
        "change_types",
        "vendors",
        "factors__category",
        ("started_at", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "slug", "summary", "external_id"]
    date_hierarchy = "started_at"
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["change_types", "services", "authors", "reviewers"]
    readonly_fields = [
        "version",
        "created_at",
        "updated_at",
        "origin",
        "import_source",
        "external_id",
    ]
    inlines = [IncidentVendorInline, FactorInline, ActionItemInline, SourceInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", "severity", "version", "loaded_version"]}),
        ("Moments (UTC)", {"fields": ["started_at", "detected_at", "mitigated_at", "resolved_at"]}),
        (
            "Scope",
            {
                "fields": [
                    "services",
                    "regions",
                    "regions_affected",
                    "regions_total",
                    "change_types",
                ]
            },
        ),
        ("Write-up", {"fields": ["summary", "impact", "analysis", "lessons"]}),
        ("Detection", {"fields": ["detection_method", "data_loss", "near_miss"]}),
        ("People", {"fields": ["authors", "reviewers"]}),
        (
            "Origin",
            {"fields": ["origin", "import_source", "external_id", "created_at", "updated_at"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("vendors")

    def save_model(self, request, obj, form, change):
        # Admin edits count as edits: an editor holding the old version in the
        # browser must not silently overwrite them.
        if change:
            obj.version = rules.next_version(obj.version)
        super().save_model(request, obj, form, change)


@admin.register(Factor)
class FactorAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "role", "category"]
    list_filter = ["role", "category"]
    search_fields = ["description", "incident__title"]
    list_select_related = ["incident", "category"]


@admin.register(ActionItem)
class ActionItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "incident", "type", "owner", "due_date", "status"]
    list_filter = ["status", "type", "due_date"]
    search_fields = ["title", "incident__title"]
    list_select_related = ["incident", "owner"]
    autocomplete_fields = ["owner"]
