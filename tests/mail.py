"""A real SMTP server on 127.0.0.1 (aiosmtpd in a thread of its own) that keeps what it
receives, and answers with queued SMTP replies first (then 250)."""

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailServer:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.replies: list[str] = []
        self.arrived = threading.Condition()
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 - aiosmtpd's
                if server.replies:
                    return server.replies.pop(0)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server.arrived:
                    server.messages.append(message)
                    server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                    server.arrived.notify_all()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The first `count` messages, waiting for them (a browser test's live server sends
        from its own thread)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        return self.messages[:count]

    def close(self) -> None:
        self.controller.stop()


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
