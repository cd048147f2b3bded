from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def highlighted(text: str, phrase: str) -> SafeString:
    """The evidence sentence with the words that matched in <mark> (everything escaped)."""
    if not phrase:
        return format_html("{}", text)
    at = text.lower().find(phrase.lower())
    if at < 0:
        return format_html("{}", text)
    end = at + len(phrase)
    return mark_safe(  # each piece escaped
        f"{escape(text[:at])}<mark>{escape(text[at:end])}</mark>{escape(text[end:])}"
    )
