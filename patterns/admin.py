from django.contrib import admin

from patterns.models import Pattern, PatternMember


class PatternMemberInline(admin.TabularInline):
    model = PatternMember
    raw_id_fields = ["incident"]
    extra = 0


@admin.register(Pattern)
class PatternAdmin(admin.ModelAdmin):
    list_display = ["title", "support", "vendor_count", "lift", "score", "last_seen", "computed_at"]
    search_fields = ["title", "key"]
    readonly_fields = ["computed_at"]
    inlines = [PatternMemberInline]


@admin.register(PatternMember)
class PatternMemberAdmin(admin.ModelAdmin):
    list_display = ["pattern", "incident"]
    search_fields = ["pattern__key", "pattern__title", "incident__slug", "incident__title"]
    list_select_related = ["pattern", "incident"]
    raw_id_fields = ["pattern", "incident"]
