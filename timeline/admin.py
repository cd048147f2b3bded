from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from postmortems.admin import IncidentAdmin
from postmortems.models import Incident
from timeline.models import TimelineEvent
from timeline.services import delete_event, save_event, sync_incident_moments


class TimelineEventInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    fields = ["occurred_at", "kind", "description", "body_format", "source", "position"]
    readonly_fields = ["source"]


class IncidentWithTimelineAdmin(IncidentAdmin):
    """The incident admin with its timeline inline; marker events move the moments."""

    inlines = [*IncidentAdmin.inlines, TimelineEventInline]

    def save_related(self, request, form, formsets, change):
        removed = [
            (f.initial.get("kind"), f.initial.get("occurred_at"))
            for formset in formsets
            if formset.model is TimelineEvent
            for f in formset.initial_forms
            if f.has_changed()
        ]
        super().save_related(request, form, formsets, change)
        sync_incident_moments(incident=form.instance, removed=removed)


admin.site.unregister(Incident)
admin.site.register(Incident, IncidentWithTimelineAdmin)


@admin.register(TimelineEvent)
class TimelineEventAdmin(SimpleHistoryAdmin):
    list_display = ["occurred_at", "kind", "incident", "source"]
    list_filter = ["kind", "source", "body_format"]
    search_fields = ["description", "incident__title", "external_id"]
    list_select_related = ["incident"]
    date_hierarchy = "occurred_at"

    def save_model(self, request, obj, form, change):
        before = (form.initial.get("kind"), form.initial.get("occurred_at")) if change else None
        save_event(event=obj, before=before)

    def delete_model(self, request, obj):
        delete_event(event=obj)
