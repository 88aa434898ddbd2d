"""An outbox row made into an email: a plain-text part and a simple HTML part, both from
Jinja templates in templates/email/ (``NAME.txt`` and ``NAME.html``).

The Message-ID comes from the row (its id and the time it was queued), so an email sent
again after a crash between sending and marking it sent is the same message, which mail
systems and mail programs treat as one.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from server.domain.outbox import Mail

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"


def build_environment(directory: Path = TEMPLATES_DIR) -> Environment:
    """HTML parts are escaped, plain parts are not; a missing context value is an error,
    never an empty gap in an email someone acts on."""
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def message_id(mail: Mail, sender: str) -> str:
    """The same for every attempt at one outbox row."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<cfn-outbox-{mail.id}-{mail.created_at}@{domain}>"


def build(env: Environment, mail: Mail, sender: str) -> EmailMessage:
    """The email for one outbox row, from ``sender`` ("Name <address>")."""
    context = {**mail.context, "subject": mail.subject}
    text = env.get_template(f"{mail.template}.txt").render(context)
    html = env.get_template(f"{mail.template}.html").render(context)
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = sender
    msg["To"] = mail.to_address
    msg["Date"] = formatdate(mail.created_at / 1000, localtime=False)
    msg["Message-ID"] = message_id(mail, sender)
    msg["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to a reset link
    if mail.context.get("unsubscribe"):  # RFC 8058 one-click, on digests and notices
        msg["List-Unsubscribe"] = f"<{mail.context['unsubscribe']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
