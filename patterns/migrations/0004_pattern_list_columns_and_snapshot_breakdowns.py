import django.contrib.postgres.fields
from django.db import migrations, models

# Fills the new columns of what is already stored, so pages read the new way before the next
# refresh: the same top vendors and the same two parts a refresh writes.
TOP_VENDORS_SQL = """
    WITH incidents AS MATERIALIZED (
        SELECT l.vendor_id, count(*) AS n
        FROM postmortems_incidentvendor l
        JOIN postmortems_incident i ON i.id = l.incident_id
        WHERE i.status = 'published'
        GROUP BY l.vendor_id
    )
    UPDATE patterns_pattern p SET top_vendors = ARRAY(
        SELECT v.slug FROM unnest(p.vendors) AS s(slug)
        JOIN postmortems_vendor v ON v.slug = s.slug
        LEFT JOIN incidents c ON c.vendor_id = v.id
        ORDER BY coalesce(c.n, 0) DESC, v.id
        LIMIT 5
    )
    WHERE cardinality(p.vendors) > 0
"""

SPLIT_SNAPSHOT_SQL = """
    UPDATE patterns_statssnapshot SET
        breakdowns = jsonb_build_object(
            'downtime', data -> 'downtime',
            'durations', jsonb_build_object(
                'category', data #> '{durations,category}',
                'vendor', data #> '{durations,vendor}',
                'year', data #> '{durations,year}'
            )
        ),
        data = data - 'downtime' #- '{durations,category}' #- '{durations,vendor}'
               #- '{durations,year}'
    WHERE data ? 'downtime' AND data -> 'durations' ?& ARRAY['category', 'vendor', 'year']
"""

# Defaults in the database too: code from before this migration (another checkout, or the
# benchmark of an earlier commit) inserts rows without the new columns.
DEFAULTS_SQL = """
    ALTER TABLE patterns_pattern ALTER COLUMN top_vendors SET DEFAULT '{}';
    ALTER TABLE patterns_statssnapshot ALTER COLUMN breakdowns SET DEFAULT '{}'::jsonb;
"""

JOIN_SNAPSHOT_SQL = """
    UPDATE patterns_statssnapshot SET
        data = jsonb_set(
            data || (breakdowns - 'durations'),
            '{durations}',
            coalesce(data -> 'durations', '{}') || (breakdowns -> 'durations')
        ),
        breakdowns = '{}'
    WHERE breakdowns ? 'durations'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patterns", "0003_store_profiles_instead_of_members"),
    ]

    operations = [
        migrations.AddField(
            model_name="pattern",
            name="top_vendors",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=100),
                blank=True,
                default=list,
                help_text="Slugs of up to 5 of the vendors, those with the most published "
                "incidents first.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="statssnapshot",
            name="breakdowns",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddIndex(
            model_name="pattern",
            index=models.Index(
                models.OrderBy(models.F("score"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True, nulls_last=True),
                name="pattern_score_page",
            ),
        ),
        migrations.AddIndex(
            model_name="pattern",
            index=models.Index(
                models.OrderBy(models.F("support"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True, nulls_last=True),
                name="pattern_support_page",
            ),
        ),
        migrations.AddIndex(
            model_name="pattern",
            index=models.Index(
                models.OrderBy(models.F("last_seen"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True, nulls_last=True),
                name="pattern_last_seen_page",
            ),
        ),
        migrations.RunSQL(DEFAULTS_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(TOP_VENDORS_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(SPLIT_SNAPSHOT_SQL, JOIN_SNAPSHOT_SQL),
    ]
