from django.contrib import admin

from classifier.models import AutoAcceptPolicy, Classification, ClassificationBatch, ClassifierModel


@admin.register(AutoAcceptPolicy)
class AutoAcceptPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "enabled", "threshold", "publish", "updated_at"]
    list_select_related = ["vendor"]
    autocomplete_fields = ["vendor"]


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    list_display = ["version", "created_at", "trained_on", "reference_examples", "seconds"]
    exclude = ["artifact"]
    readonly_fields = ["version", "trained_on", "reference_examples", "labels", "seconds"]


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ["incident", "state", "model_version", "decided_by", "decided_at"]
    list_filter = ["state"]
    list_select_related = ["incident", "decided_by"]
    raw_id_fields = ["incident"]


@admin.register(ClassificationBatch)
class ClassificationBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "finished_at", "classified", "auto_classified"]
