import pytest

from postmortems.rendering import render_body, render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"></svg>',
    "<style>body{display:none}</style>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    '<form action="https://evil.example"><input name="p"></form>',
]

ACTIVE_PARTS = ("<script", "onerror", "onload", 'href="javascript', "style=", "<iframe", "<style",
                "data:text", "<form", "<input", "<svg")  # fmt: skip


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_hostile_input_loses_every_active_part(payload, fmt):
    html = str(render_body(payload, fmt)).lower()

    for needle in ACTIVE_PARTS:
        assert needle not in html


def test_markdown_keeps_structure_tables_code_and_safe_links():
    html = str(
        render_markdown(
            "## Cause\n\n- one\n- two\n\n`code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "[postmortem](https://example.com/pm)"
        )
    )

    assert "<h2>Cause</h2>" in html
    assert "<li>one</li>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html
    assert 'href="https://example.com/pm"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_imported_html_timeline_keeps_its_list():
    html = str(render_body("<ul><li><b>Resolved</b> - fixed</li></ul>", "html"))

    assert html == "<ul><li><b>Resolved</b> - fixed</li></ul>"


def test_plain_text_is_escaped_not_interpreted():
    html = str(render_body("a <b>b</b>\nsecond line", "text"))

    assert "&lt;b&gt;" in html
    assert "<br>" in html


def test_one_text_s_definitions_never_reach_the_next():
    # The converter is reused between texts: abbreviations and footnotes defined in one
    # postmortem field must not change how the next one renders.
    first = render_markdown(
        "The BGP leak.[^1]\n\n[^1]: Upstream.\n\n*[BGP]: Border Gateway Protocol"
    )
    second = render_markdown("BGP again.[^1]")

    assert '<abbr title="Border Gateway Protocol">BGP</abbr>' in first
    assert "Upstream." in first
    assert "<abbr" not in second and "Upstream." not in second
    assert "[^1]" in second  # an undefined footnote stays as typed
