from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0011_incident_same_outage"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalincident",
            name="auto_classified",
            field=models.BooleanField(
                default=False,
                help_text="Its labels were suggested and accepted without a person.",
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="auto_classified",
            field=models.BooleanField(
                default=False,
                help_text="Its labels were suggested and accepted without a person.",
            ),
        ),
    ]
