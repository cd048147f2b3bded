from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from digests import services
from digests.forms import UniqueAddressMixin
from digests.models import DigestDelivery, DigestSubscription

DELIVERY_FIELDS = ["week", "status", "attempts", "sent_at", "last_error"]


class DigestSubscriptionAdminForm(UniqueAddressMixin, forms.ModelForm):
    class Meta:
        model = DigestSubscription
        fields = [
            "email",
            "time_zone",
            "weekday",
            "hour",
            "vendors",
            "categories",
            "min_severity",
            "quiet_week",
        ]


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("confirmed", "Confirmed"),
            ("pending", "Waiting for confirmation"),
            ("unsubscribed", "Unsubscribed"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "confirmed":
            return queryset.active()
        if self.value() == "pending":
            return queryset.filter(confirmed_at__isnull=True, unsubscribed_at__isnull=True)
        if self.value() == "unsubscribed":
            return queryset.filter(unsubscribed_at__isnull=False)
        return queryset


class DigestDeliveryInline(admin.TabularInline):
    model = DigestDelivery
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DigestSubscription)
class DigestSubscriptionAdmin(admin.ModelAdmin):
    form = DigestSubscriptionAdminForm
    list_display = ["email", "user", "schedule", "filters_summary", "state"]
    list_filter = [StateFilter, "weekday", "min_severity", "quiet_week"]
    search_fields = ["email", "user__username", "user__email"]
    list_select_related = ["user"]
    filter_horizontal = ["vendors", "categories"]
    # A person's own subscription is theirs to change on the settings page; the admin
    # adds address-only subscribers, and confirmation is proven only by the link.
    readonly_fields = ["user", "created_by", "created_at", "confirmed_at", "unsubscribed_at"]
    actions = ["send_confirmation_again"]
    inlines = [DigestDeliveryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("vendors", "categories")

    @admin.display(description="schedule")
    def schedule(self, obj: DigestSubscription) -> str:
        return f"{obj.get_weekday_display()} {obj.hour:02d}:00 {obj.time_zone}"

    @admin.display(description="filters")
    def filters_summary(self, obj: DigestSubscription) -> str:
        parts = [
            f"{label}: {', '.join(str(item) for item in items)}"
            for label, items in (
                ("vendors", obj.vendors.all()),
                ("categories", obj.categories.all()),
            )
            if items
        ]
        if obj.min_severity:
            parts.append(f"{obj.get_min_severity_display().lower()} or worse")
        return "; ".join(parts) or "everything"

    @admin.display(description="state")
    def state(self, obj: DigestSubscription) -> str:
        if obj.unsubscribed_at:
            return "unsubscribed"
        return "confirmed" if obj.confirmed_at else "pending"

    def save_model(self, request, obj: DigestSubscription, form, change: bool) -> None:
        new_address = not change or (
            "email" in form.changed_data
            and form.initial.get("email", "").lower() != obj.email.lower()
        )
        if not change:
            obj.created_by = request.user
        if new_address:
            obj.confirmed_at = None  # nothing goes to an address before it is confirmed
        super().save_model(request, obj, form, change)
        if new_address and obj.unsubscribed_at is None:
            # Queued on commit: the admin saves the row and its filters in one transaction.
            services.request_confirmation(subscription=obj)

    @admin.action(description="Send the confirmation email again")
    def send_confirmation_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        pending = queryset.filter(confirmed_at__isnull=True, unsubscribed_at__isnull=True)
        count = 0
        for subscription in pending:
            services.request_confirmation(subscription=subscription)
            count += 1
        skipped = queryset.count() - count
        self.message_user(request, f"Confirmation email queued for {count} address(es).")
        if skipped:
            self.message_user(
                request,
                f"{skipped} already confirmed or unsubscribed; nothing sent to them.",
                messages.WARNING,
            )


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    """Read-only: deliveries are written by the sending workers alone."""

    list_display = ["subscription", "week", "status", "attempts", "sent_at", "to_email"]
    list_filter = ["status", "week"]
    search_fields = ["subscription__email", "to_email", "subject", "message_id"]
    list_select_related = ["subscription"]
    date_hierarchy = "period_end"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
