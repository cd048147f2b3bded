from django.contrib import admin

from imports.models import ImportJob, StatusSource, WebhookEndpoint


@admin.register(StatusSource)
class StatusSourceAdmin(admin.ModelAdmin):
    list_display = ["vendor", "url", "format", "enabled", "last_success_at", "consecutive_failures"]
    list_filter = ["format", "enabled"]
    search_fields = ["url", "vendor__name"]
    list_select_related = ["vendor"]
    readonly_fields = [
        "last_polled_at", "last_success_at", "last_error", "last_error_at",
        "consecutive_failures", "etag", "last_modified", "last_report",
    ]  # fmt: skip


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "vendor", "format", "status", "processed", "total", "created_at"]
    list_filter = ["status", "format"]
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "payload"]
    exclude = ["payload"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["vendor", "created_at", "last_received_at"]
    readonly_fields = ["secret_hash", "created_at", "last_received_at"]
