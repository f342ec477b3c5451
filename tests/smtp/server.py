#!/usr/bin/python3
"""A scripted SMTP server for embargo's integration tests.

It listens on 127.0.0.1, answers each connection and each recipient as the
rules file says, and records every message whose DATA completes, so a test
can read exactly what the daemon sent and how the server answered.

Usage:
    /usr/bin/python3 server.py --port PORT --dir DIR --rules FILE

Rules (JSON):
    {"connect": ["421", "accept"],
     "recipients": {"x@example.org": ["451", "accept"]}}

Each list is consumed in order, one action per connection ("connect") or per
RCPT of that address ("recipients", matched case-insensitively); the last
action repeats, and a missing key means "accept".

    connect:    accept | 421
    recipient:  accept | 451 | 550 | drop-after-data | hang-after-data
                | 451-data | 554-data

What it writes into DIR:
    msg-<seq>.eml   the message bytes as received (dot-unstuffed, CRLF)
    log.jsonl       one JSON object a line, each flushed and fsynced:
        {"seq", "mail_from", "rcpt", "message_id", "outcome", "file", "at",
         "size", "session", "open"} for every completed DATA, outcome being
         accepted, dropped, hung, 451 or 554, session the connection's
         number (from 1, in the order they were made) and open how many
         connections were open then;
        {"event": "rcpt", "rcpt", "code", "at"} for every refused RCPT;
        {"event": "connect", "code": 421, "at"} for every refused connection.

It prints "READY <port>" once it listens and exits with status 0 on SIGTERM
or SIGINT. It exits with status 2 if the rules are bad and 3 if it cannot
bind the port, with the reason on stderr.
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP

CONNECT_ACTIONS = {"accept", "421"}
RECIPIENT_ACTIONS = {
    "accept",
    "451",
    "550",
    "drop-after-data",
    "hang-after-data",
    "451-data",
    "554-data",
}

# Of the actions of a message's recipients, the one that decides how DATA
# ends: the most disruptive wins, so one scripted recipient is enough.
DATA_PRECEDENCE = ["drop-after-data", "hang-after-data", "554-data", "451-data"]


class Script:
    """Per-key queues of actions; the last action of each queue repeats."""

    def __init__(self, connect, recipients):
        self.connect = list(connect)
        self.recipients = {k.lower(): list(v) for k, v in recipients.items()}

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        if not isinstance(raw, dict):
            raise ValueError("rules must be a JSON object")
        unknown = set(raw) - {"connect", "recipients"}
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        connect = raw.get("connect", [])
        recipients = raw.get("recipients", {})
        Script._check("connect", connect, CONNECT_ACTIONS)
        if not isinstance(recipients, dict):
            raise ValueError("recipients must be an object")
        for address, actions in recipients.items():
            Script._check(address, actions, RECIPIENT_ACTIONS)
        return Script(connect, recipients)

    @staticmethod
    def _check(key, actions, allowed):
        # An empty list, like a missing key, means "accept".
        if not isinstance(actions, list):
            raise ValueError(f"{key}: actions must be a list")
        for action in actions:
            if action not in allowed:
                raise ValueError(
                    f"{key}: unknown action {action!r}, expected one of "
                    f"{sorted(allowed)}"
                )

    @staticmethod
    def _next(queue):
        if not queue:
            return "accept"
        if len(queue) == 1:
            return queue[0]
        return queue.pop(0)

    def next_connect(self):
        return self._next(self.connect)

    def next_recipient(self, address):
        return self._next(self.recipients.get(address.lower()))


class Recorder:
    """Writes the messages and the log; every log line is made durable."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "log.jsonl")
        self.seq = last_seq(path)
        self.log = open(path, "a", encoding="utf-8")

    def event(self, record):
        record.setdefault("at", time.time())
        self.log.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def message(self, envelope, outcome, server):
        self.seq += 1
        name = f"msg-{self.seq}.eml"
        content = envelope.original_content
        # The file is complete before the log line names it, so a reader that
        # sees the line can always read the file. Readers go through the page
        # cache, so only the log is fsynced: that halves the cost per message.
        with open(os.path.join(self.directory, name), "wb") as f:
            f.write(content)
        self.event(
            {
                "seq": self.seq,
                "mail_from": envelope.mail_from,
                "rcpt": list(envelope.rcpt_tos),
                "message_id": message_id(content),
                "outcome": outcome,
                "file": name,
                "size": len(content),
                "session": server.session_number,
                "open": len(server.connections),
            }
        )

    def close(self):
        self.log.close()


def last_seq(path):
    """The highest seq already logged, so that a server restarted on the same
    folder numbers on instead of overwriting earlier messages."""
    seq = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    seq = max(seq, json.loads(line).get("seq", 0))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return seq


def message_id(content):
    """The unfolded value of the first Message-ID header, or None."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[: end + 2]
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"message-id":
            for more in lines[i + 1 :]:
                if not more.startswith((b" ", b"\t")):
                    break
                value += b" " + more.strip()
            return value.strip().decode("utf-8", errors="replace")
    return None


class Handler:
    """aiosmtpd hooks that follow the script and feed the recorder."""

    def __init__(self, script, recorder):
        self.script = script
        self.recorder = recorder

    async def handle_RCPT(self, server, session, envelope, address, options):
        action = self.script.next_recipient(address)
        if action in ("451", "550"):
            self.recorder.event({"event": "rcpt", "rcpt": address, "code": int(action)})
            if action == "451":
                return "451 4.3.0 Temporary failure, try again later"
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        envelope.actions = getattr(envelope, "actions", []) + [action]
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        actions = getattr(envelope, "actions", [])
        action = next((a for a in DATA_PRECEDENCE if a in actions), "accept")
        if action == "accept":
            self.recorder.message(envelope, "accepted", server)
            return "250 2.0.0 OK queued"
        if action == "451-data":
            self.recorder.message(envelope, "451", server)
            return "451 4.3.0 Temporary failure after data"
        if action == "554-data":
            self.recorder.message(envelope, "554", server)
            return "554 5.6.0 Message rejected"
        if action == "drop-after-data":
            self.recorder.message(envelope, "dropped", server)
            # Closing makes aiosmtpd cancel this coroutine (connection_lost
            # cancels the client task), so no reply is ever written.
            server.transport.close()
        else:
            self.recorder.message(envelope, "hung", server)
            # Stay silent until the client goes away: its EOF cancels us. The
            # idle timer would otherwise close the connection after a while.
            server._timeout_handle.cancel()
        await asyncio.get_running_loop().create_future()


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with a scripted greeting and a per-connection table."""

    def __init__(self, handler, connections, **kwargs):
        # aiosmtpd keeps command_size_limits on the class and clears it for
        # every new connection, so concurrent sessions would reset each
        # other's limits; give each session its own.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.connections = connections
        super().__init__(handler, **kwargs)

    # Connections made so far, for each session's number.
    made = 0

    def connection_made(self, transport):
        ScriptedSMTP.made += 1
        self.session_number = ScriptedSMTP.made
        self.connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, error):
        self.connections.discard(self)
        super().connection_lost(error)

    async def _handle_client(self):
        if self.event_handler.script.next_connect() == "421":
            self.event_handler.recorder.event({"event": "connect", "code": 421})
            await self.push("421 4.3.2 Service not available, closing channel")
            self.transport.close()
            return
        await super()._handle_client()


async def serve(port, handler):
    loop = asyncio.get_running_loop()
    connections = set()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def factory():
        return ScriptedSMTP(
            handler,
            connections,
            hostname="smtp.test",
            # Messages of a few MiB must pass; no size limit at all.
            data_size_limit=None,
            loop=loop,
        )

    try:
        server = await loop.create_server(factory, "127.0.0.1", port, reuse_address=True)
    except OSError as error:
        print(f"cannot listen on 127.0.0.1:{port}: {error}", file=sys.stderr, flush=True)
        return 3
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()
    for session in list(connections):
        if session.transport is not None:
            session.transport.abort()
    # Give the aborted sessions one turn of the loop to unwind.
    await asyncio.sleep(0.05)
    return 0


def main():
    parser = argparse.ArgumentParser(description="Scripted SMTP test server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rules", required=True)
    args = parser.parse_args()
    try:
        script = Script.load(args.rules)
    except (OSError, ValueError) as error:
        print(f"bad rules file {args.rules}: {error}", file=sys.stderr, flush=True)
        return 2
    recorder = Recorder(args.dir)
    try:
        return asyncio.run(serve(args.port, Handler(script, recorder)))
    finally:
        recorder.close()


if __name__ == "__main__":
    sys.exit(main())
