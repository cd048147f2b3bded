from django.contrib import admin

from patterns.models import Pattern


@admin.register(Pattern)
class PatternAdmin(admin.ModelAdmin):
    list_display = ["title", "support", "vendor_count", "lift", "score", "last_seen", "computed_at"]
    search_fields = ["title", "key"]
    readonly_fields = ["computed_at"]
