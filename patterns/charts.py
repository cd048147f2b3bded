"""Server-drawn SVG charts for the patterns dashboard.

Each public function turns plain numbers into a frozen view model: geometry in
viewBox units, the sentence a screen reader hears, and the data table that
stands in for the picture. Templates under ``patterns/charts/`` only place
what is computed here, so the pages need no script and no inline style and
keep their strict Content-Security-Policy; colours are classes in
``static/css/charts.css``.

Coordinates are rounded to 0.1 of a viewBox unit: finer than a pixel at any
size the page shows, and short enough to keep the markup small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.text import slugify

SERIES_CLASSES = 8  # .series-0 … .series-7 in charts.css; past eight the colours repeat
HEAT_LEVELS = 4  # .heat-1 … .heat-4 shade non-empty cells; .heat-0 is an empty cell
MAX_MONTH_LABELS = 12
NO_VALUE = "—"

# The frame of a chart with nothing to plot: just wide enough for its message.
EMPTY_WIDTH, EMPTY_HEIGHT = 720.0, 80.0

# Average advance of a 12px system-ui glyph; only used to reserve room for labels.
CHAR_WIDTH = 7.0


# --- Shared view-model pieces -------------------------------------------------------------


@dataclass(frozen=True)
class DataTable:
    """The chart's numbers as text; the first cell of each row is that row's header."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class LegendItem:
    label: str
    css_class: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    full_text: str = ""  # set when ``text`` was shortened; shown as the label's tooltip


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    tooltip: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css_class: str
    tooltip: str = ""


@dataclass(frozen=True)
class Plot:
    """The drawing area inside the margins, in viewBox units."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Chart:
    """What every chart template needs: the frame, the accessible text and the table.

    ``empty`` is the message drawn instead of the chart when there is nothing to plot.
    """

    title: str
    slug: str  # unique prefix for the element ids of this chart on a page
    desc: str
    width: float
    height: float
    table: DataTable
    empty: Text | None = None

    @property
    def title_id(self) -> str:
        return f"{self.slug}-title"

    @property
    def desc_id(self) -> str:
        return f"{self.slug}-desc"


def _r(value: float) -> float:
    # Adding 0.0 turns a rounded -0.0 into 0.0, which reads better in the markup.
    return round(value, 1) + 0.0


def _chart_slug(title: str, slug: str | None) -> str:
    return "chart-" + (slugify(slug or title) or "untitled")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _counted(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _series_class(index: int) -> str:
    return f"series-{index % SERIES_CLASSES}"


def format_duration(seconds: float | None) -> str:
    """``3 h 20 min``: two units at most, since a percentile is no more precise than that."""
    if seconds is None:
        return NO_VALUE
    seconds = max(seconds, 0.0)
    if round(seconds) < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# --- Stacked bars: incidents per month by change type -----------------------------------

BARS_WIDTH, BARS_HEIGHT = 720.0, 300.0
BARS_PLOT = Plot(left=44.0, top=12.0, right=708.0, bottom=272.0)
BAR_GAP = 0.3  # share of each month's band left empty between bars
# Label steps in months; the ones dividing a year keep labels on the same months every year.
MONTH_LABEL_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)


@dataclass(frozen=True)
class StackedBarChart(Chart):
    """Bars per month, stacked from the bottom in legend order."""

    legend_title: str = ""
    legend: tuple[LegendItem, ...] = ()
    y_ticks: tuple[int, ...] = ()
    grid: tuple[Line, ...] = ()
    axes: tuple[Line, ...] = ()
    y_labels: tuple[Text, ...] = ()
    x_labels: tuple[Text, ...] = ()
    segments: tuple[Rect, ...] = ()


def nice_ticks(maximum: int, *, target: int = 5) -> list[int]:
    """0 up to the first multiple of a 1-2-5 step at or above ``maximum``, ~``target`` steps."""
    if maximum <= 0:
        return [0]
    step = _nice_step(maximum / target)
    top = -(-maximum // step) * step
    return list(range(0, top + 1, step))


def _nice_step(raw: float) -> int:
    # Counts are whole incidents, so a step below one would label fractions.
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(int(m * magnitude) for m in (1, 2, 5, 10) if m * magnitude >= raw)


def month_label_indexes(months: Sequence[str], *, limit: int = MAX_MONTH_LABELS) -> list[int]:
    """Indexes of the months to label: every k-th, k chosen so at most ``limit`` show."""
    count = len(months)
    step = next((s for s in MONTH_LABEL_STEPS if math.ceil(count / s) <= limit), None)
    step = step or math.ceil(count / limit)
    return list(range(_first_label(months, step), count, step))


def _first_label(months: Sequence[str], step: int) -> int:
    """The first month on a step boundary (January, April… for a step of three)."""
    for index, month in enumerate(months[:step]):
        try:
            number = datetime.strptime(month, "%Y-%m").month
        except ValueError:
            return 0
        if (number - 1) % min(step, 12) == 0:
            return index
    return 0


def stacked_bar_chart(
    *,
    title: str,
    months: list[str],
    series: list[tuple[str, list[int]]],
    slug: str | None = None,
    legend_title: str = "Change type, from the bottom of each bar up",
) -> StackedBarChart:
    """Incidents per month stacked by change type; ``series`` counts align with ``months``."""
    for label, counts in series:
        if len(counts) != len(months) or min(counts, default=0) < 0:
            raise ValueError(f"{label!r}: expected {len(months)} counts of zero or more")
    totals = [sum(counts[i] for _, counts in series) for i in range(len(months))]
    frame = {
        "title": title,
        "slug": _chart_slug(title, slug),
        "desc": _bars_desc(months, totals),
        "width": BARS_WIDTH,
        "height": BARS_HEIGHT,
        "table": _bars_table(title, months, series, totals),
        "legend_title": legend_title,
        "legend": tuple(LegendItem(label, _series_class(i)) for i, (label, _) in enumerate(series)),
    }
    if not any(totals):
        message = Text(BARS_WIDTH / 2, BARS_HEIGHT / 2, "No incidents in this period")
        return StackedBarChart(**frame, empty=message)
    ticks = nice_ticks(max(totals))
    return StackedBarChart(
        **frame,
        y_ticks=tuple(ticks),
        grid=tuple(_gridline(BARS_PLOT, _tick_y(t, ticks[-1])) for t in ticks),
        axes=(
            Line(BARS_PLOT.left, BARS_PLOT.bottom, BARS_PLOT.right, BARS_PLOT.bottom, "chart-axis"),
        ),
        y_labels=tuple(Text(BARS_PLOT.left - 6, _tick_y(t, ticks[-1]), str(t)) for t in ticks),
        x_labels=_month_labels(months),
        segments=tuple(_segments(months, series, totals, ticks[-1])),
    )


def _tick_y(value: float, top_value: int) -> float:
    return _r(BARS_PLOT.bottom - value * BARS_PLOT.height / top_value)


def _gridline(plot: Plot, y: float) -> Line:
    return Line(plot.left, y, plot.right, y, "chart-grid")


def _band(index: int, count: int) -> tuple[float, float]:
    """Left edge and width of the bar for month ``index`` of ``count``."""
    band = BARS_PLOT.width / count
    return BARS_PLOT.left + band * (index + BAR_GAP / 2), band * (1 - BAR_GAP)


def _month_labels(months: Sequence[str]) -> tuple[Text, ...]:
    labels = []
    for index in month_label_indexes(months):
        left, width = _band(index, len(months))
        labels.append(Text(_r(left + width / 2), BARS_PLOT.bottom + 18, months[index]))
    return tuple(labels)


def _segments(months, series, totals, top_value: int):
    for index, month in enumerate(months):
        left, width = _band(index, len(months))
        below = 0
        for number, (label, counts) in enumerate(series):
            count = counts[index]
            if not count:
                continue
            # Both edges come from running totals, so rounding leaves no gap in the stack.
            bottom, below = _tick_y(below, top_value), below + count
            top = _tick_y(below, top_value)
            yield Rect(
                x=_r(left),
                y=top,
                width=_r(width),
                height=_r(bottom - top),
                css_class=_series_class(number),
                tooltip=f"{month}, {label}: {count} of {totals[index]}",
            )


def _bars_desc(months: Sequence[str], totals: Sequence[int]) -> str:
    if not months:
        return "Incidents per month: there are no months to show."
    span = f"from {months[0]} to {months[-1]}" if len(months) > 1 else f"in {months[0]}"
    if not any(totals):
        return f"Incidents per month {span}: there were none."
    peak = max(totals)
    return (
        f"Incidents per month {span}, stacked by change type; "
        f"highest month {months[totals.index(peak)]} with {peak}."
    )


def _bars_table(title, months, series, totals) -> DataTable:
    rows = (
        (month, *(str(counts[i]) for _, counts in series), str(totals[i]))
        for i, month in enumerate(months)
    )
    header = ("Month", *(label for label, _ in series), "Total")
    return DataTable(caption=title, header=header, rows=tuple(rows))


# --- Box plot: time to resolve by change type -------------------------------------------

DIST_WIDTH = 720.0
DIST_LEFT, DIST_RIGHT, DIST_TOP, DIST_AXIS = 28.0, 692.0, 8.0, 24.0
ROW_HEIGHT = 46.0
LABEL_BASELINE, BOX_CENTRE = 15.0, 32.0  # offsets inside a row
BOX_HALF, MEDIAN_HALF, CAP_HALF = 8.0, 11.0, 5.0

# Axis ticks in seconds: steps a reader knows, roughly evenly spaced on a log scale.
TIME_TICKS = (
    (1, "1 s"),
    (10, "10 s"),
    (60, "1 min"),
    (600, "10 min"),
    (3600, "1 h"),
    (6 * 3600, "6 h"),
    (86400, "1 d"),
    (7 * 86400, "1 wk"),
    (30 * 86400, "30 d"),
    (365 * 86400, "1 yr"),
)


@dataclass(frozen=True)
class DistributionRow:
    """Percentiles of one group's durations in seconds; ``None`` when ``n`` is zero."""

    label: str
    n: int
    unknown: int
    p10: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None

    @property
    def percentiles(self) -> tuple[float | None, ...]:
        return (self.p10, self.p25, self.p50, self.p75, self.p90)

    @property
    def known(self) -> bool:
        return self.n > 0 and None not in self.percentiles


@dataclass(frozen=True)
class BoxRow:
    """One drawn row: its label line, then either the box and whiskers or a note."""

    label: Text
    note: str  # "n=12 (3 unknown)"
    whisker: Line | None = None
    caps: tuple[Line, ...] = ()
    box: Rect | None = None
    median: Line | None = None
    no_data: Text | None = None


@dataclass(frozen=True)
class DistributionChart(Chart):
    """Horizontal box plots on one logarithmic time axis."""

    ticks: tuple[Text, ...] = ()
    grid: tuple[Line, ...] = ()
    rows: tuple[BoxRow, ...] = ()


def distribution_chart(
    *, title: str, rows: list[DistributionRow], slug: str | None = None
) -> DistributionChart:
    """Time to resolve per change type: whiskers p10 to p90, box p25 to p75, median."""
    frame = {
        "title": title,
        "slug": _chart_slug(title, slug),
        "table": _distribution_table(title, rows),
    }
    known = [row for row in rows if row.known]
    if not known:
        return DistributionChart(
            **frame,
            desc="Time to resolve: no known durations to show.",
            width=EMPTY_WIDTH,
            height=EMPTY_HEIGHT,
            empty=Text(EMPTY_WIDTH / 2, EMPTY_HEIGHT / 2, "No known durations"),
        )
    plot = Plot(DIST_LEFT, DIST_TOP, DIST_RIGHT, DIST_TOP + ROW_HEIGHT * len(rows))
    ticks = _time_axis(min(r.p10 for r in known), max(r.p90 for r in known))
    scale = _LogScale(ticks[0][0], ticks[-1][0], plot)
    return DistributionChart(
        **frame,
        desc=_distribution_desc(rows, ticks),
        width=DIST_WIDTH,
        height=plot.bottom + DIST_AXIS,
        ticks=tuple(Text(scale.x(s), plot.bottom + 16, label) for s, label in ticks),
        grid=tuple(
            Line(scale.x(s), plot.top, scale.x(s), plot.bottom, "chart-grid") for s, _ in ticks
        ),
        rows=tuple(_box_row(row, plot.top + i * ROW_HEIGHT, scale) for i, row in enumerate(rows)),
    )


def _time_axis(low: float, high: float) -> list[tuple[int, str]]:
    """The ticks from the last one at or below ``low`` to the first at or above ``high``."""
    values = [seconds for seconds, _ in TIME_TICKS]
    first = max((i for i, s in enumerate(values) if s <= low), default=0)
    last = min((i for i, s in enumerate(values) if s >= high), default=len(values) - 1)
    # A single tick would make a zero-width axis; widen it by one step.
    if last == first:
        first, last = (first, last + 1) if last + 1 < len(values) else (first - 1, last)
    return list(TIME_TICKS[first : last + 1])


@dataclass(frozen=True)
class _LogScale:
    low: float
    high: float
    plot: Plot

    def x(self, seconds: float) -> float:
        # Durations outside the axis (a zero-second outage, a year-long one) sit on its ends;
        # the tooltips and the table still give the real value.
        clamped = min(max(seconds, self.low), self.high)
        share = math.log(clamped / self.low) / math.log(self.high / self.low)
        return _r(self.plot.left + share * self.plot.width)


def _box_row(row: DistributionRow, top: float, scale: _LogScale) -> BoxRow:
    label = Text(scale.plot.left, top + LABEL_BASELINE, row.label)
    note = f"n={row.n} ({row.unknown} unknown)"
    centre = top + BOX_CENTRE
    if not row.known:
        return BoxRow(label, note, no_data=Text(scale.plot.left, centre, "no known durations"))
    p10, p25, p50, p75, p90 = (scale.x(p) for p in row.percentiles)
    low, q1, median, q3, high = (format_duration(p) for p in row.percentiles)
    name = row.label
    box_top = centre - BOX_HALF
    return BoxRow(
        label,
        note,
        whisker=Line(
            p10, centre, p90, centre, "chart-whisker", f"{name}: p10 to p90, {low} to {high}"
        ),
        caps=(
            _mark(p10, centre, CAP_HALF, "chart-cap", f"{name}: p10 {low}"),
            _mark(p90, centre, CAP_HALF, "chart-cap", f"{name}: p90 {high}"),
        ),
        box=Rect(
            p25,
            box_top,
            _r(p75 - p25),
            2 * BOX_HALF,
            "chart-box",
            f"{name}: p25 to p75, {q1} to {q3}",
        ),
        median=_mark(p50, centre, MEDIAN_HALF, "chart-median", f"{name}: median {median}"),
    )


def _mark(x: float, centre: float, half: float, css_class: str, tooltip: str) -> Line:
    """A short vertical line across the row's centre line."""
    return Line(x, _r(centre - half), x, _r(centre + half), css_class, tooltip)


def _distribution_desc(rows: Sequence[DistributionRow], ticks: Sequence[tuple[int, str]]) -> str:
    slowest = max((r for r in rows if r.known), key=lambda r: r.p50)
    missing = sum(not r.known for r in rows)
    gaps = f"; {missing} of {len(rows)} have no known durations" if missing else ""
    return (
        f"Box plots on a logarithmic time axis from {ticks[0][1]} to {ticks[-1][1]}, "
        f"whiskers from the 10th to the 90th percentile and boxes from the 25th to the 75th; "
        f"longest median {slowest.label} at {format_duration(slowest.p50)}{gaps}."
    )


def _distribution_table(title: str, rows: Sequence[DistributionRow]) -> DataTable:
    header = ("Change type", "Known", "Unknown", "p10", "p25", "Median", "p75", "p90")
    body = (
        (
            row.label,
            str(row.n),
            str(row.unknown),
            *(format_duration(p) if row.known else NO_VALUE for p in row.percentiles),
        )
        for row in rows
    )
    return DataTable(caption=title, header=header, rows=tuple(body))


# --- Heat map: vendor by failure category -----------------------------------------------

CELL_WIDTH, CELL_HEIGHT = 44.0, 28.0
HEAT_MARGIN = 8.0
ROW_LABEL_CHARS, COLUMN_LABEL_CHARS = 24, 28
SIN_45 = math.sqrt(0.5)  # column labels are turned 45° so long names fit over narrow columns


@dataclass(frozen=True)
class HeatCell:
    x: float
    y: float
    width: float
    height: float
    count: int
    css_class: str  # heat-0 … heat-4
    text_class: str  # light text on the two darkest shades
    text_x: float
    text_y: float
    tooltip: str

    @property
    def label(self) -> str:
        return str(self.count) if self.count > 0 else ""


@dataclass(frozen=True)
class HeatMap(Chart):
    """Counts per row and column, shaded in a few steps of the largest count."""

    legend_title: str = ""
    legend: tuple[LegendItem, ...] = ()
    row_labels: tuple[Text, ...] = ()
    column_labels: tuple[Text, ...] = ()  # the template turns each by -45° about (x, y)
    cells: tuple[HeatCell, ...] = ()


def heat_level(count: int, maximum: int) -> int:
    """0 for an empty cell, else 1…HEAT_LEVELS by equal shares of ``maximum``."""
    if count <= 0 or maximum <= 0:
        return 0
    # ceil(levels * count / maximum) in integers, so the maximum is exactly the top level.
    return min(HEAT_LEVELS, -(-HEAT_LEVELS * count // maximum))


def heat_legend(maximum: int) -> tuple[LegendItem, ...]:
    """The count range each shade stands for; shades no count can reach are left out."""
    items = [LegendItem("0", "heat-0")]
    for level in range(1, HEAT_LEVELS + 1):
        low = maximum * (level - 1) // HEAT_LEVELS + 1
        high = maximum * level // HEAT_LEVELS
        if low <= high:
            label = str(low) if low == high else f"{low} to {high}"
            items.append(LegendItem(label, f"heat-{level}"))
    return tuple(items)


def heat_map(
    *,
    title: str,
    rows: list[str],
    columns: list[str],
    counts: list[list[int]],
    slug: str | None = None,
) -> HeatMap:
    """Incidents per vendor (rows) and failure category (columns)."""
    if len(counts) != len(rows) or any(len(line) != len(columns) for line in counts):
        raise ValueError(f"expected {len(rows)} rows of {len(columns)} counts")
    maximum = max((c for line in counts for c in line), default=0)
    table = DataTable(
        caption=title,
        header=("Vendor", *columns),
        rows=tuple((row, *map(str, line)) for row, line in zip(rows, counts, strict=True)),
    )
    frame = {"title": title, "slug": _chart_slug(title, slug), "table": table}
    if maximum <= 0:
        return HeatMap(
            **frame,
            desc="Incidents by vendor and failure category: there are none to show.",
            width=EMPTY_WIDTH,
            height=EMPTY_HEIGHT,
            empty=Text(EMPTY_WIDTH / 2, EMPTY_HEIGHT / 2, "No incidents to show"),
        )
    left = HEAT_MARGIN * 2 + CHAR_WIDTH * max(len(_shorten(r, ROW_LABEL_CHARS)) for r in rows)
    rise = CHAR_WIDTH * SIN_45 * max(len(_shorten(c, COLUMN_LABEL_CHARS)) for c in columns)
    top = HEAT_MARGIN * 2 + rise
    column_labels = _column_labels(columns, left, top)
    grid_right = left + CELL_WIDTH * len(columns)
    # A turned label reaches right as far as it rises, so the frame must make room for it.
    right = max(grid_right, max(label.x + rise for label in column_labels)) + HEAT_MARGIN
    return HeatMap(
        **frame,
        desc=_heat_desc(rows, columns, counts, maximum),
        width=_r(right),
        height=_r(top + CELL_HEIGHT * len(rows) + HEAT_MARGIN),
        legend_title="Incidents per cell",
        legend=heat_legend(maximum),
        row_labels=_row_labels(rows, left, top),
        column_labels=column_labels,
        cells=tuple(_heat_cells(rows, columns, counts, maximum, left, top)),
    )


def _row_labels(rows: Sequence[str], left: float, top: float) -> tuple[Text, ...]:
    return tuple(
        Text(
            _r(left - HEAT_MARGIN),
            _r(top + CELL_HEIGHT * (i + 0.5)),
            _shorten(row, ROW_LABEL_CHARS),
            row if len(row) > ROW_LABEL_CHARS else "",
        )
        for i, row in enumerate(rows)
    )


def _column_labels(columns: Sequence[str], left: float, top: float) -> tuple[Text, ...]:
    return tuple(
        Text(
            _r(left + CELL_WIDTH * (j + 0.5)),
            _r(top - HEAT_MARGIN / 2),
            _shorten(column, COLUMN_LABEL_CHARS),
            column if len(column) > COLUMN_LABEL_CHARS else "",
        )
        for j, column in enumerate(columns)
    )


def _heat_cells(rows, columns, counts, maximum: int, left: float, top: float):
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            count, level = counts[i][j], heat_level(counts[i][j], maximum)
            x, y = left + CELL_WIDTH * j, top + CELL_HEIGHT * i
            yield HeatCell(
                x=_r(x),
                y=_r(y),
                width=CELL_WIDTH,
                height=CELL_HEIGHT,
                count=count,
                css_class=f"heat-{level}",
                text_class="heat-count heat-count-on-dark" if level >= 3 else "heat-count",
                text_x=_r(x + CELL_WIDTH / 2),
                text_y=_r(y + CELL_HEIGHT / 2),
                tooltip=f"{row}, {column}: {count}",
            )


def _heat_desc(rows, columns, counts, maximum: int) -> str:
    i, j = next((i, j) for i, line in enumerate(counts) for j, c in enumerate(line) if c == maximum)
    return (
        f"Incidents for {_counted(len(rows), 'vendor')} across "
        f"{_counted(len(columns), 'failure category', 'failure categories')}, "
        f"darker cells for more; highest {rows[i]}, {columns[j]} with {maximum}."
    )
