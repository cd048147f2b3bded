"""Server-drawn charts: the geometry a reader sees, the text a screen reader hears, and markup
that stays inside the Content-Security-Policy. Pure functions and templates: no database."""

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from itertools import pairwise

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from patterns.charts import (
    CHAR_WIDTH,
    SIN_45,
    DistributionRow,
    distribution_chart,
    format_duration,
    heat_legend,
    heat_level,
    heat_map,
    month_label_indexes,
    nice_ticks,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
HOSTILE = "<script>alert(1)</script> & Co"
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

BARS = "patterns/charts/_stacked_bars.html"
DISTRIBUTION = "patterns/charts/_distribution.html"
HEAT = "patterns/charts/_heat_map.html"


def bars(**kwargs):
    arguments = {
        "title": "Incidents per month",
        "months": MONTHS[:3],
        "series": [("Config", [4, 0, 2]), ("Deploy", [2, 1, 0]), ("Capacity", [1, 0, 7])],
    }
    return stacked_bar_chart(**(arguments | kwargs))


def box(label="Config", n=10, unknown=2, p=(5 * MINUTE, 20 * MINUTE, 2 * HOUR, 6 * HOUR, 2 * DAY)):
    return DistributionRow(label, n, unknown, *p)


def distribution(rows=None, **kwargs):
    rows = rows or [box(), box("Deploy", n=0, unknown=4, p=(None,) * 5)]
    return distribution_chart(title="Time to resolve", rows=rows, **kwargs)


def heat(**kwargs):
    arguments = {
        "title": "Vendors by category",
        "rows": ["AWS", "GitHub"],
        "columns": ["Config error", "Expired certificate"],
        "counts": [[8, 0], [3, 1]],
    }
    return heat_map(**(arguments | kwargs))


CHARTS = [(BARS, bars), (DISTRIBUTION, distribution), (HEAT, heat)]


def render(template, chart) -> str:
    return render_to_string(template, {"chart": chart})


def svg_of(html: str) -> ET.Element:
    """The chart's own SVG (the legend swatches come after it), parsed as XML."""
    return ET.fromstring(re.search(r'<svg [^>]*role="img".*?</svg>', html, re.DOTALL).group())


def table_of(html: str) -> list[list[str]]:
    table = ET.fromstring(re.search(r"<table.*?</table>", html, re.DOTALL).group())
    return [[cell.text for cell in row] for row in table.iter("tr")]


def shapes(svg: ET.Element, tag: str, css_class: str = "") -> list[ET.Element]:
    found = svg.iter(SVG + tag)
    return [e for e in found if not css_class or css_class in e.get("class", "").split()]


def tooltip(element: ET.Element) -> str:
    return element.find(SVG + "title").text


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser would see them."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def css_colours() -> dict[str, str]:
    css = (settings.BASE_DIR / "static" / "css" / "charts.css").read_text()
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))


# --- Stacked bars -------------------------------------------------------------------------


def test_stack_heights_are_proportional_and_stacked_in_legend_order():
    chart = bars()
    january = [s for s in chart.segments if s.tooltip.startswith("2024-01")]
    # Drawn from the bottom up: the lowest segment has the largest y.
    bottom_up = sorted(january, key=lambda s: -s.y)
    assert [s.css_class for s in bottom_up] == [item.css_class for item in chart.legend]
    assert [item.label for item in chart.legend] == ["Config", "Deploy", "Capacity"]
    unit = bottom_up[2].height  # Capacity: 1 incident
    assert [s.height for s in bottom_up] == pytest.approx([4 * unit, 2 * unit, unit], abs=0.2)
    for lower, upper in pairwise(bottom_up):
        assert upper.y + upper.height == pytest.approx(lower.y, abs=0.05)  # no gap, no overlap


def test_zero_counts_draw_no_segment():
    chart = bars()
    assert not [s for s in chart.segments if s.tooltip.startswith("2024-02, Config")]
    assert len(chart.segments) == 6


def test_tallest_bar_reaches_the_top_tick():
    chart = bars(series=[("Config", [4, 10, 2])])
    top_tick_y = min(line.y1 for line in chart.grid)
    assert chart.y_ticks[-1] == 10
    assert min(s.y for s in chart.segments) == top_tick_y


def test_an_uneven_maximum_ends_between_the_last_two_ticks():
    chart = bars(series=[("Config", [4, 9, 2])])
    assert chart.y_ticks == (0, 2, 4, 6, 8, 10)
    tick_ys = sorted(line.y1 for line in chart.grid)  # top tick first
    assert tick_ys[0] < min(s.y for s in chart.segments) < tick_ys[1]


@pytest.mark.parametrize("maximum", [1, 3, 7, 9, 10, 11, 23, 48, 100, 367, 1999])
def test_ticks_are_nice_integers_covering_the_maximum(maximum):
    ticks = nice_ticks(maximum)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0
    assert all(isinstance(t, int) for t in ticks)
    assert ticks == list(range(0, ticks[-1] + 1, step))
    assert step // 10 ** int(math.log10(step)) in (1, 2, 5)
    assert ticks[-2] < maximum <= ticks[-1]
    assert len(ticks) <= 7


def test_month_labels_are_thinned_to_at_most_twelve_on_the_same_months_each_year():
    months = [f"{year}-{m:02d}" for year in (2022, 2023, 2024) for m in range(1, 13)][4:]
    labelled = [months[i] for i in month_label_indexes(months)]
    assert 1 < len(labelled) <= 12
    assert {month[5:] for month in labelled} <= {"01", "04", "07", "10"}


def test_a_short_range_labels_every_month():
    chart = bars(months=MONTHS[:6], series=[("Config", [1, 2, 3, 4, 5, 6])])
    assert [label.text for label in chart.x_labels] == MONTHS[:6]


def test_month_labels_do_not_overlap():
    months = [f"{year}-{m:02d}" for year in range(2015, 2025) for m in range(1, 13)]
    chart = bars(months=months, series=[("Config", [1] * len(months))])
    xs = [label.x for label in chart.x_labels]
    assert len(xs) <= 12
    widest = CHAR_WIDTH * max(len(label.text) for label in chart.x_labels)
    assert min(b - a for a, b in pairwise(xs)) > widest


@pytest.mark.parametrize(
    ("months", "series"),
    [([], []), ([], [("Config", [])]), (MONTHS[:3], [("Config", [0, 0, 0])])],
)
def test_no_incidents_draw_a_message_instead_of_bars(months, series):
    chart = stacked_bar_chart(title="Incidents per month", months=months, series=series)
    html = render(BARS, chart)
    assert chart.empty is not None
    assert not chart.segments
    assert "No incidents in this period" in html
    assert not shapes(svg_of(html), "rect")


def test_series_must_align_with_months():
    with pytest.raises(ValueError, match="Config"):
        bars(series=[("Config", [1, 2])])


def test_description_names_the_span_and_the_busiest_month():
    assert bars().desc == (
        "Incidents per month from 2024-01 to 2024-03, stacked by change type; "
        "highest month 2024-03 with 9."
    )


# --- Box plot -----------------------------------------------------------------------------


def test_box_plot_positions_follow_the_percentiles():
    row = distribution().rows[0]
    assert row.whisker.x1 <= row.box.x <= row.median.x1 <= row.box.x + row.box.width
    assert row.box.x + row.box.width <= row.whisker.x2
    assert [cap.x1 for cap in row.caps] == [row.whisker.x1, row.whisker.x2]
    assert row.box.width > 0


def test_time_axis_is_logarithmic_with_human_ticks():
    # Each percentile ten times the one before: equal steps on a log axis.
    chart = distribution([box(p=tuple(MINUTE * 10**k for k in range(5)))])
    row = chart.rows[0]
    xs = [row.whisker.x1, row.box.x, row.median.x1, row.box.x + row.box.width, row.whisker.x2]
    gaps = [b - a for a, b in pairwise(xs)]
    assert gaps == pytest.approx([gaps[0]] * 4, abs=0.2)
    assert [t.text for t in chart.ticks] == ["1 min", "10 min", "1 h", "6 h", "1 d", "1 wk"]
    assert [t.x for t in chart.ticks] == sorted(t.x for t in chart.ticks)


def test_rows_without_known_durations_say_so_and_draw_no_box():
    chart = distribution()
    svg = svg_of(render(DISTRIBUTION, chart))
    known, unknown = svg.findall(SVG + "g[@class='chart-row']")
    assert [e.text for e in unknown.iter(SVG + "text")][-1] == "no known durations"
    assert not list(unknown.iter(SVG + "rect")) and not list(unknown.iter(SVG + "line"))
    assert len(list(known.iter(SVG + "rect"))) == 1
    assert chart.rows[1].box is None


def test_each_row_shows_its_count_and_unknowns():
    labels = [
        "".join(text.itertext())
        for text in svg_of(render(DISTRIBUTION, distribution())).iter(SVG + "text")
        if text.get("class") == "chart-row-label"
    ]
    assert labels == ["Config n=10 (2 unknown)", "Deploy n=0 (4 unknown)"]


def test_zero_second_durations_sit_at_the_start_of_the_axis():
    chart = distribution([box(p=(0.0, 0.0, 30.0, 90.0, 600.0))])
    row = chart.rows[0]
    assert row.whisker.x1 == chart.ticks[0].x
    assert "p10 0 s" in row.caps[0].tooltip


def test_no_known_durations_at_all_draw_a_message():
    chart = distribution([box("Deploy", n=0, unknown=3, p=(None,) * 5)])
    assert chart.empty.text == "No known durations"
    assert not chart.rows
    assert table_of(render(DISTRIBUTION, chart))[1][:3] == ["Deploy", "0", "3"]


# --- Heat map -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "level"), [(0, 0), (1, 1), (2, 1), (3, 2), (5, 2), (6, 3), (7, 3), (8, 4), (10, 4)]
)
def test_heat_levels_are_quantised_against_the_maximum(count, level):
    assert heat_level(count, 10) == level


@pytest.mark.parametrize("maximum", range(1, 41))
def test_heat_legend_gives_each_count_the_shade_it_is_drawn_in(maximum):
    shade_of = {}
    for item in heat_legend(maximum)[1:]:
        low, _, high = item.label.partition(" to ")
        for count in range(int(low), int(high or low) + 1):
            shade_of[count] = item.css_class
    assert shade_of == {c: f"heat-{heat_level(c, maximum)}" for c in range(1, maximum + 1)}


def test_cells_are_shaded_and_labelled_for_contrast():
    cells = {cell.tooltip: cell for cell in heat().cells}
    busiest, empty = cells["AWS, Config error: 8"], cells["AWS, Expired certificate: 0"]
    assert (busiest.css_class, busiest.label) == ("heat-4", "8")
    assert "heat-count-on-dark" in busiest.text_class
    assert (empty.css_class, empty.label) == ("heat-0", "")
    assert "heat-count-on-dark" not in cells["GitHub, Config error: 3"].text_class


def test_empty_cells_print_no_count():
    svg = svg_of(render(HEAT, heat()))
    counts = [text.text for text in shapes(svg, "text", "heat-count")]
    assert counts == ["8", "3", "1"]


def test_long_column_labels_are_shortened_and_fit_inside_the_chart():
    name = "Expired certificate or credential not renewed by automation"
    chart = heat(columns=["Config error", name])
    label = chart.column_labels[1]
    assert label.text.endswith("…") and label.full_text == name
    for label in chart.column_labels:
        reach = CHAR_WIDTH * SIN_45 * len(label.text)  # turned 45°: as far right as up
        assert label.x + reach <= chart.width and label.y - reach >= 0
    svg = svg_of(render(HEAT, chart))
    assert name in [e.text for e in svg.iter(SVG + "title")]


def test_heat_description_names_the_busiest_cell():
    assert heat(rows=["AWS"], counts=[[8, 0]]).desc == (
        "Incidents for 1 vendor across 2 failure categories, darker cells for more; "
        "highest AWS, Config error with 8."
    )


def test_a_heat_map_of_zeros_draws_a_message():
    chart = heat(counts=[[0, 0], [0, 0]])
    assert chart.empty.text == "No incidents to show"
    assert not chart.cells


# --- Data tables --------------------------------------------------------------------------


def test_bar_table_has_the_numbers_the_bars_show():
    chart = bars()
    header, *rows = table_of(render(BARS, chart))
    assert header == ["Month", "Config", "Deploy", "Capacity", "Total"]
    cells = {(row[0], series): row[1 + i] for row in rows for i, series in enumerate(header[1:])}
    for segment in chart.segments:
        month, rest = segment.tooltip.split(", ", 1)
        series, counts = rest.split(": ")
        count, total = counts.split(" of ")
        assert cells[month, series] == count and cells[month, "Total"] == total
    assert rows[2] == ["2024-03", "2", "0", "7", "9"]


def test_distribution_table_has_the_durations_the_boxes_show():
    chart = distribution()
    header, config, deploy = table_of(render(DISTRIBUTION, chart))
    assert header == ["Change type", "Known", "Unknown", "p10", "p25", "Median", "p75", "p90"]
    assert config == ["Config", "10", "2", "5 min", "20 min", "2 h", "6 h", "2 d"]
    assert deploy == ["Deploy", "0", "4", "—", "—", "—", "—", "—"]
    row = chart.rows[0]
    assert row.median.tooltip == "Config: median 2 h"
    assert row.box.tooltip == "Config: p25 to p75, 20 min to 6 h"


def test_heat_table_has_the_counts_the_cells_show():
    chart = heat()
    header, *rows = table_of(render(HEAT, chart))
    assert header == ["Vendor", "Config error", "Expired certificate"]
    assert rows == [["AWS", "8", "0"], ["GitHub", "3", "1"]]
    assert [cell.count for cell in chart.cells] == [8, 0, 3, 1]


def test_tables_have_a_caption_and_scoped_headers():
    html = render(HEAT, heat())
    tags = Tags(html).tags
    assert "<caption>Vendors by category</caption>" in html
    assert {attrs.get("scope") for tag, attrs in tags if tag == "th"} == {"col", "row"}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (3599.9, "1 h"),
        (3 * HOUR + 20 * MINUTE, "3 h 20 min"),
        (26 * HOUR + 15 * MINUTE, "1 d 2 h"),
        (2 * DAY, "2 d"),
    ],
)
def test_durations_read_as_two_units_at_most(seconds, text):
    assert format_duration(seconds) == text


# --- Markup -------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "make"), CHARTS)
def test_svg_is_xml_named_by_its_title_and_description(template, make):
    svg = svg_of(render(template, make()))
    ids = {e.get("id"): e for e in svg.iter()}
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.get("role") == "img"
    assert ids[title_id].tag == SVG + "title" and ids[title_id].text
    assert ids[desc_id].tag == SVG + "desc" and ids[desc_id].text.endswith(".")
    # Scales with its container: a viewBox, no fixed size.
    assert svg.get("viewBox") and "width" not in svg.attrib and "height" not in svg.attrib


@pytest.mark.parametrize(("template", "make"), CHARTS)
def test_every_data_shape_has_a_tooltip(template, make):
    svg = svg_of(render(template, make()))
    # Grid lines (classed by their group) and the axis carry no data.
    data_shapes = shapes(svg, "rect") + [
        line for line in shapes(svg, "line") if line.get("class") not in (None, "chart-axis")
    ]
    assert data_shapes
    assert all(tooltip(shape) for shape in data_shapes)


@pytest.mark.parametrize(("template", "make"), CHARTS)
def test_output_has_no_inline_style_or_script(template, make):
    html = render(template, make())
    tags = Tags(html).tags
    assert not [tag for tag, _ in tags if tag in ("style", "script")]
    assert not [tag for tag, attrs in tags if "style" in attrs]
    assert not [tag for tag, attrs in tags if any(name.startswith("on") for name in attrs)]


@pytest.mark.parametrize(
    ("template", "chart"),
    [
        (BARS, bars(title=HOSTILE, series=[(HOSTILE, [1, 2, 3])])),
        (DISTRIBUTION, distribution([box(HOSTILE)], slug="hostile")),
        (HEAT, heat(title=HOSTILE, rows=[HOSTILE], columns=[HOSTILE], counts=[[2]])),
    ],
)
def test_user_supplied_labels_are_escaped(template, chart):
    html = render(template, chart)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    svg = svg_of(html)
    assert any(HOSTILE in (element.text or "") for element in svg.iter())


def test_ids_are_unique_across_charts_on_one_page():
    page = "".join(
        [
            render(BARS, bars()),
            render(BARS, bars(title="Incidents per month", slug="last year")),
            render(DISTRIBUTION, distribution()),
            render(HEAT, heat()),
        ]
    )
    ids = [attrs["id"] for _, attrs in Tags(page).tags if "id" in attrs]
    assert len(ids) == len(set(ids))
    references = [
        ref for _, attrs in Tags(page).tags for ref in attrs.get("aria-labelledby", "").split()
    ]
    assert references and set(references) <= set(ids)


def test_coordinates_ignore_the_decimal_comma_of_the_language():
    with translation.override("de"):
        html = render(BARS, bars())
    assert re.search(r'viewBox="0 0 [\d.]+ [\d.]+"', html)
    assert not re.search(r'\b(?:x|y|width|height)="[^"]*,', html)


# --- Colours ------------------------------------------------------------------------------


def test_series_colours_meet_aa_contrast_on_white():
    colours = css_colours()
    series = [colours[f"series-{i}"] for i in range(8)]
    assert len(set(series)) == 8
    assert all(contrast(colour, "#ffffff") >= 4.5 for colour in series)


def test_cell_counts_keep_contrast_on_every_shade():
    colours = css_colours()
    for level in range(1, 5):
        ink = colours["heat-ink-on-dark"] if level >= 3 else colours["heat-ink"]
        assert contrast(ink, colours[f"heat-{level}"]) >= 4.5
