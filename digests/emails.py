"""The digest's emails, rendered from ``emails/<name>/…`` into one multipart message each.

Pure: nothing here sends. Every link is absolute, because a mail client has no page to
resolve a relative one against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from digests.content import Digest
from digests.models import DigestSubscription
from digests.tokens import CONFIRM_MAX_AGE

BLANK_LINES = re.compile(r"\n{3,}")
# Automatic mail: out-of-office replies and other auto-responders should stay quiet
# (RFC 3834; the second header is what Exchange and Outlook read).
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(name: str, context: dict) -> RenderedEmail:
    """Render ``emails/<name>/{subject.txt,body.txt,body.html}``."""
    subject = " ".join(render_to_string(f"emails/{name}/subject.txt", context).split())
    text = render_to_string(f"emails/{name}/body.txt", context)
    # Template tags leave blank lines and indentation behind; plain text shows them all.
    text = BLANK_LINES.sub("\n\n", without_trailing_space(text)).strip() + "\n"
    return RenderedEmail(subject, text, render_to_string(f"emails/{name}/body.html", context))


def without_trailing_space(text: str) -> str:
    # Line by line rather than one regular expression anchored at each line's end, which
    # backtracks at every space of a long line.
    return "\n".join(line.rstrip(" \t") for line in text.split("\n"))


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def render_digest(digest: Digest, *, unsubscribe_url: str, preferences_url: str) -> RenderedEmail:
    """The digest as a subject, a plain-text body and an HTML body."""
    subscription = digest.subscription
    # Only a person with an account has a settings page; an address an admin added can
    # only unsubscribe.
    has_account = subscription is not None and subscription.user_id is not None
    context = {
        "digest": digest,
        "preheader": preheader(digest),
        "email": subscription.email if subscription else "",
        "time_zone": digest.period.time_zone,
        "home_url": absolute(reverse("postmortems:incident-list")),
        "patterns_url": absolute(reverse("patterns:dashboard")),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url if has_account else "",
    }
    return render_email("digest", context)


def preheader(digest: Digest) -> str:
    """The line inboxes show after the subject: the most severe postmortem, if any."""
    if digest.quiet or not digest.postmortems:
        return digest.subject
    first = digest.postmortems[0]
    return f"{first.severity}: {first.title}"


def digest_message(
    digest: Digest, *, to: str, unsubscribe_url: str, message_id: str
) -> EmailMultiAlternatives:
    """The digest as one multipart message with one-click unsubscribe headers."""
    rendered = render_digest(
        digest,
        unsubscribe_url=unsubscribe_url,
        preferences_url=absolute(reverse("accounts:settings")),
    )
    headers = {
        **AUTOMATIC_HEADERS,
        "Message-ID": message_id,
        # RFC 8058: mail clients offer their own unsubscribe button and POST to the link.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return multipart(rendered, to=to, headers=headers)


def confirmation_message(
    subscription: DigestSubscription, *, confirm_url: str
) -> EmailMultiAlternatives:
    """The request to confirm an address before any digest is sent to it."""
    context = {
        "subscription": subscription,
        "confirm_url": confirm_url,
        "schedule": schedule_text(subscription),
        "valid_days": CONFIRM_MAX_AGE.days,
    }
    rendered = render_email("digest_confirm", context)
    return multipart(rendered, to=subscription.email, headers=dict(AUTOMATIC_HEADERS))


def schedule_text(subscription: DigestSubscription) -> str:
    """``every Monday at 09:00 (Europe/Paris time)``."""
    weekday = subscription.get_weekday_display()
    return f"every {weekday} at {subscription.hour:02d}:00 ({subscription.time_zone} time)"


def multipart(rendered: RenderedEmail, *, to: str, headers: dict) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
