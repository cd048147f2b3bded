from rest_framework import serializers

from postmortems.choices import FactorRole


class SuggestedChangeTypeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    confidence = serializers.FloatField(min_value=0, max_value=1)
    evidence = serializers.CharField(help_text="The sentence or update it came from.")
    evidence_source = serializers.CharField(help_text='"summary", "update at …", …')
    highlight = serializers.CharField(help_text="The words of the evidence that matched.")


class SuggestedFactorSerializer(SuggestedChangeTypeSerializer):
    slug = None
    category = serializers.CharField()
    role = serializers.CharField(help_text="`root_cause` or `contributing`.")


class SuggestionsSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(help_text="0: the built-in lexicon alone.")
    change_types = SuggestedChangeTypeSerializer(many=True)
    factors = SuggestedFactorSerializer(many=True)
    classification = serializers.DictField(
        allow_null=True, help_text="What was decided on this incident's suggestions, if anything."
    )


class AcceptedFactorSerializer(serializers.Serializer):
    category = serializers.SlugField()
    role = serializers.CharField(help_text="`root_cause` or `contributing`.")

    def validate_role(self, value: str) -> str:
        if value not in (FactorRole.ROOT_CAUSE, FactorRole.CONTRIBUTING):
            raise serializers.ValidationError("Suggested roles are `root_cause` or `contributing`.")
        return value


class AcceptSerializer(serializers.Serializer):
    change_types = serializers.ListField(child=serializers.SlugField(), default=list)
    factors = AcceptedFactorSerializer(many=True, default=list)
    publish = serializers.BooleanField(
        default=False, help_text="Also publish an imported draft (reviewers and admins)."
    )
    version = serializers.IntegerField(
        required=False, help_text="The version the choice was made on, if not sent as If-Match."
    )


class ClassifierStatusSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    trained_on = serializers.IntegerField()
    reference_examples = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField(allow_null=True)


class ClassificationBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incidents = serializers.IntegerField()
    classified = serializers.IntegerField()
    auto_classified = serializers.IntegerField()
    finished = serializers.BooleanField()
    finished_at = serializers.DateTimeField(allow_null=True)
