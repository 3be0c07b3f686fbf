"""Email: one plain-text digest per run over SMTP, STARTTLS by default.

``smtp_url`` is ``smtp://user:pass@host:587`` (STARTTLS unless the sink sets ``starttls:
false``) or ``smtps://user:pass@host:465`` (TLS from the first byte). User and password are
URL-decoded; the URL is a secret and never appears in errors (only ``host:port`` does).
Credentials are never sent over a connection that is not encrypted: with ``starttls: true``
a server that does not offer STARTTLS is a final failure, not a downgrade.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from detector.alerts.model import Alert, Digest
from detector.alerts.sinks.base import Sink
from detector.errors import AlertDeliveryError

__all__ = ["EmailSink", "SmtpTarget", "digest_body", "parse_smtp_url"]

_EMAIL_FIRST_FACTOR = 5


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://user:pass@host:587`` -> :class:`SmtpTarget` (ValueError when unusable)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(
            f"smtp_url must start with smtp:// or smtps://, not {parts.scheme or 'nothing'}://"
        )
    if not parts.hostname:
        raise ValueError("smtp_url has no host")
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def digest_body(digest: Digest, first_n: int) -> str:
    counts = digest.counts()
    lines = [f"Fieldwarden {digest.title()}", ""]
    for name in ("field", "system", "severity"):
        lines.append(f"By {name}:")
        lines.extend(f"  {_one_line(key or '-')}: {count:,}" for key, count in counts[name].items())
        lines.append("")
    first = digest.first(first_n)
    lines.append("Events:" if len(first) == len(digest) else f"The first {len(first)} events:")
    lines.extend(f"- {_one_line(alert.headline())}" for alert in first)
    if len(digest) > len(first):
        lines.append(
            f"... and {len(digest) - len(first):,} more: run `fieldwarden alerts` to see them all."
        )
    return "\n".join(lines) + "\n"


class EmailSink(Sink):
    type = "email"
    always_digest = True

    def send_alert(self, alert: Alert) -> None:
        self.send_digest(Digest.of([alert]))

    def send_digest(self, digest: Digest) -> None:
        model: Any = self.model
        message = EmailMessage()
        message["Subject"] = _one_line(f"{model.subject_prefix} {digest.title()}")[:200]
        message["From"] = model.from_
        message["To"] = ", ".join(model.to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="fieldwarden")
        message.set_content(digest_body(digest, self.context.first_n * _EMAIL_FIRST_FACTOR))
        self._send(message)

    def _send(self, message: EmailMessage) -> None:
        try:
            target = parse_smtp_url(self.model.smtp_url.get_secret_value())
        except ValueError as exc:
            raise AlertDeliveryError(str(exc), sink=self.name, retriable=False) from None
        context = self.context.ssl_context or ssl.create_default_context()
        timeout = float(self.model.timeout)
        try:
            client: smtplib.SMTP
            if target.implicit_tls:
                client = smtplib.SMTP_SSL(
                    target.host, target.port, timeout=timeout, context=context
                )
            else:
                client = smtplib.SMTP(target.host, target.port, timeout=timeout)
            with client:
                client.ehlo()
                if not target.implicit_tls and self.model.starttls:
                    client.starttls(context=context)
                    client.ehlo()
                if target.username is not None:
                    client.login(target.username, target.password or "")
                client.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise self._failure(
                target,
                "does not offer STARTTLS (set starttls: false only for a trusted relay)",
                final=True,
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise self._failure(
                target, f"refused the login ({exc.smtp_code})", final=True
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            final = all(code >= 500 for code in codes)
            raise self._failure(
                target, f"refused every recipient ({', '.join(map(str, codes))})", final=final
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise self._failure(
                target, f"answered {exc.smtp_code}", final=exc.smtp_code >= 500
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._failure(
                target,
                f"presented a certificate we do not trust ({exc.verify_message})",
                final=True,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(
                target, f"unreachable ({type(exc).__name__})", final=False
            ) from None

    def _failure(self, target: SmtpTarget, reason: str, *, final: bool) -> AlertDeliveryError:
        return AlertDeliveryError(
            f"SMTP server {target} {reason}", sink=self.name, retriable=not final
        )
