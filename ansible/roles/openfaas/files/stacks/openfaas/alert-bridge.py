#!/usr/bin/env python3
"""alert-bridge: Alertmanager webhook -> Chatwoot "Operations" inbox.

Alertmanager's webhook sends its own JSON (version 4: status, groupKey,
alerts[] with labels and annotations); Chatwoot's API channel takes messages
through its public API:

  POST /public/api/v1/inboxes/{inbox}/contacts                      {"source_id", "name"}
  POST /public/api/v1/inboxes/{inbox}/contacts/{source_id}/conversations
  POST /public/api/v1/inboxes/{inbox}/contacts/{source_id}/conversations/{id}/messages {"content"}

This bridge posts each notification as an incoming message from the contact
"Alertmanager", one conversation per alert group (Alertmanager's groupKey),
so the team sees it in the inbox, with Chatwoot's own notifications, and a
resolved notification lands under its firing one. Standard library only.

Environment: CHATWOOT_URL (e.g. http://chatwoot_web:3000), PORT (8080),
INBOX_FILE (file holding the API inbox's identifier), TOKEN_FILE (file
holding the bearer token Alertmanager must present).
"""
import hmac
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20          # Alertmanager sends at most max_alerts (20) alerts
MAX_MESSAGE = 4000          # keeps one message readable in the inbox
CONTACT = "alertmanager"    # source_id of the contact every message comes from
MAX_GROUPS = 1000           # remembered conversations; the oldest is forgotten


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def render(payload):
    """One message for one notification: status line, then one block per alert."""
    status = payload.get("status", "?").upper()
    alerts = payload.get("alerts") or []
    common = payload.get("commonLabels") or {}
    lines = [f"[{status}] {common.get('alertname', 'alerts')} ({len(alerts)})"]
    for a in alerts:
        labels = a.get("labels") or {}
        ann = a.get("annotations") or {}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname",))
        lines.append("")
        lines.append(f"- {a.get('status', '?')}: {ann.get('summary') or labels.get('alertname', '')}")
        if shown:
            lines.append(f"  {shown}")
        if ann.get("runbook") and a.get("status") != "resolved":
            lines.append(f"  Runbook: {ann['runbook']}")
        lines.append(f"  since {a.get('startsAt', '?')}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class Chatwoot:
    def __init__(self, base, inbox):
        self.base = base.rstrip("/") + f"/public/api/v1/inboxes/{inbox}/contacts"
        self.lock = threading.Lock()
        self.conversations = {}  # groupKey -> conversation display id
        self.contact_ready = False

    def _post(self, url, body):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=15) as res:
            return json.loads(res.read() or b"{}")

    def send(self, group_key, text):
        with self.lock:
            if not self.contact_ready:
                # Idempotent: Chatwoot returns the contact inbox of this source_id if it exists.
                self._post(self.base, {"source_id": CONTACT, "name": "Alertmanager"})
                self.contact_ready = True
            conv = self.conversations.get(group_key)
            if conv is None:
                conv = self._post(f"{self.base}/{CONTACT}/conversations", {})["id"]
                if len(self.conversations) >= MAX_GROUPS:
                    self.conversations.pop(next(iter(self.conversations)))
                self.conversations[group_key] = conv
        self._post(f"{self.base}/{CONTACT}/conversations/{conv}/messages", {"content": text})


def handler(chatwoot, token):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # one JSON line per request, no bodies
            sys.stderr.write(json.dumps({"fn": "alert-bridge", "msg": fmt % args}) + "\n")

        def reply(self, code, msg):
            body = json.dumps({"status": msg}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, "ok") if self.path == "/healthz" else self.reply(404, "not found")

        def do_POST(self):
            if self.path != "/alerts":
                return self.reply(404, "not found")
            got = self.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
                return self.reply(401, "unauthorized")
            n = int(self.headers.get("Content-Length") or 0)
            if n <= 0 or n > MAX_BODY:
                return self.reply(413 if n > MAX_BODY else 400, "bad body")
            try:
                payload = json.loads(self.rfile.read(n))
                text = render(payload)
            except (ValueError, AttributeError, TypeError):
                return self.reply(400, "not an Alertmanager notification")
            try:
                chatwoot.send(str(payload.get("groupKey", "")), text)
            except (urllib.error.URLError, OSError, KeyError, ValueError) as e:
                # 5xx: Alertmanager retries the notification.
                sys.stderr.write(json.dumps({"fn": "alert-bridge", "level": "error", "error": str(e)}) + "\n")
                return self.reply(502, "chatwoot unavailable")
            self.reply(200, "posted")

    return Handler


def main():
    chatwoot = Chatwoot(os.environ["CHATWOOT_URL"], read_secret(os.environ["INBOX_FILE"]))
    token = read_secret(os.environ["TOKEN_FILE"])
    if len(token) < 16:
        sys.exit("alert-bridge: the token in TOKEN_FILE is shorter than 16 characters")
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), handler(chatwoot, token))
    server.serve_forever()


if __name__ == "__main__":
    main()
