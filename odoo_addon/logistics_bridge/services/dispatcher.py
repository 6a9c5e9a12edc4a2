"""Sends pending outbox rows to the bridge: websocket, JSON-RPC 2.0 ``events.publish``, batches.

One dispatch transaction locks up to ``max_events_per_run`` sendable rows with
``FOR UPDATE SKIP LOCKED`` (a second cron worker skips them, so no event is sent by two workers at
once), sends them in ``batch_size`` requests over one connection, and records each event's answer.
If the process dies mid-send, the transaction rolls back, the rows stay pending and are sent again;
the bridge deduplicates by event id, which is why "duplicate" counts as done.
"""
import itertools
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from odoo import fields

from .backoff import backoff_delay

_logger = logging.getLogger(__name__)


class BridgeUnavailable(Exception):
    """The bridge could not be reached or did not answer: retry later (transient)."""


@dataclass
class DispatchReport:
    picked: int = 0
    acknowledged: int = 0
    duplicate: int = 0
    rejected: int = 0
    retrying: int = 0
    blocked: int = 0
    transport_failed: bool = False
    error: str = ''
    requests: list = field(default_factory=list)


def _default_connect(url, headers, timeout):
    import websocket  # noqa: PLC0415 - python3-websocket (websocket-client), an external dependency
    return websocket.create_connection(url, header=headers, timeout=timeout, enable_multithread=False)


def _transport_errors():
    errors = [OSError, ValueError]
    try:
        import websocket  # noqa: PLC0415
        errors.append(websocket.WebSocketException)
    except ImportError:
        pass
    return tuple(errors)


class Dispatcher:
    """Sends sendable events of one database; ``env`` must be allowed to write the outbox."""

    def __init__(self, env, settings, connect=_default_connect, now=fields.Datetime.now, ws=None):
        self.env = env
        self.settings = settings
        self._connect = connect
        self._now = now
        # An open socket handed over by a long-lived caller (services/listener.py keeps one per
        # database between wake-ups: no connect and handshake per commit).
        self._ws = ws
        # A kept socket may have been closed by the bridge since (a restart): its first failure is
        # retried once on a new connection instead of sending the events into a backoff.
        self._reused = ws is not None
        self._ids = itertools.count(1)

    # -- transport ----------------------------------------------------------------------------

    def _connection(self):
        if self._ws is None:
            headers = [f"Authorization: Bearer {self.settings.token}"]
            try:
                self._ws = self._connect(self.settings.url, headers, self.settings.timeout)
            except _transport_errors() as exc:
                raise BridgeUnavailable(f"cannot connect to {self.settings.url}: {exc}") from exc
        return self._ws

    def detach(self):
        """Hand the open socket (or None) to the caller, who keeps it for the next Dispatcher."""
        ws, self._ws = self._ws, None
        return ws

    def close(self, graceful=True):
        """Hang up: a close handshake, or (``graceful`` False, the connection failed) just the socket.

        websocket-client logs an ERROR "close status: 1001" when a handshake meets a bridge that is
        going away; a failed connection has nothing to say goodbye to."""
        if self._ws is not None:
            try:
                if graceful:
                    self._ws.close()
                else:
                    self._ws.shutdown()
            except _transport_errors():
                _logger.debug("closing the bridge socket failed", exc_info=True)
            self._ws = None

    def _call(self, method, params):
        """One JSON-RPC request/answer on the socket; BridgeUnavailable on any transport problem."""
        ws = self._connection()
        request_id = next(self._ids)
        try:
            ws.send(json.dumps({'jsonrpc': '2.0', 'id': request_id, 'method': method, 'params': params}))
            while True:
                raw = ws.recv()
                if not raw:
                    raise BridgeUnavailable("the bridge closed the connection")
                message = json.loads(raw)
                if isinstance(message, dict) and message.get('id') == request_id:
                    self._reused = False  # this connection works
                    return message
                # notifications or answers to other ids are not ours: keep reading
        except BridgeUnavailable:
            self.close(graceful=False)
            if self._reused:
                self._reused = False
                return self._call(method, params)
            raise
        except _transport_errors() as exc:
            self.close(graceful=False)
            if self._reused:
                self._reused = False
                return self._call(method, params)
            raise BridgeUnavailable(f"{type(exc).__name__}: {exc}") from exc

    # -- selection ----------------------------------------------------------------------------

    def _lock_sendable(self):
        cr = self.env.cr
        self.env['logistics.bridge.event'].flush_model()
        cr.execute("""
            SELECT id FROM logistics_bridge_event
             WHERE state IN ('pending', 'sent')
               AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
             ORDER BY id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
        """, [self._now(), self.settings.max_events_per_run])
        ids = [row[0] for row in cr.fetchall()]
        if not ids:
            return ids, []
        # Per-aggregate order: an event waits while an earlier event of its aggregate is still
        # unsent and not in this batch (backing off, or locked by another worker).
        cr.execute("""
            SELECT DISTINCT e.id
              FROM logistics_bridge_event e
              JOIN logistics_bridge_event p ON p.aggregate = e.aggregate AND p.sequence < e.sequence
             WHERE e.id = ANY(%s) AND p.state IN ('pending', 'sent') AND NOT p.id = ANY(%s)
        """, [ids, ids])
        blocked = {row[0] for row in cr.fetchall()}
        return [i for i in ids if i not in blocked], sorted(blocked)

    # -- one run --------------------------------------------------------------------------------

    def dispatch_once(self):
        """Lock, send and record one run's worth of events; returns a DispatchReport."""
        report = DispatchReport()
        ids, blocked = self._lock_sendable()
        report.blocked = len(blocked)
        if not ids:
            return report
        Event = self.env['logistics.bridge.event']
        events = Event.browse(ids)
        report.picked = len(events)
        try:
            self._connection()
        except BridgeUnavailable as exc:
            # Nothing left Odoo: the events stay as they were, retried after a backoff.
            report.transport_failed = True
            report.error = str(exc)
            report.retrying = len(events)
            self._retry_later(events, str(exc))
            events.flush_recordset()
            _logger.info("logistics bridge unreachable, %s event(s) retried later: %s", len(events), exc)
            return report
        chunks = [events[i:i + self.settings.batch_size] for i in range(0, len(events), self.settings.batch_size)]
        for index, chunk in enumerate(chunks):
            try:
                answer = self._call('events.publish', {'events': [e._to_envelope() for e in chunk]})
            except BridgeUnavailable as exc:
                report.transport_failed = True
                report.error = str(exc)
                # This chunk may or may not have reached the bridge: "sent", resent later (the
                # bridge answers "duplicate" if it kept it). Later chunks were never sent.
                self._retry_later(chunk, str(exc), state='sent')
                rest = Event.browse([e.id for c in chunks[index + 1:] for e in c])
                self._retry_later(rest, f"not sent: {exc}", count_attempt=False)
                report.retrying += len(chunk) + len(rest)
                _logger.info("logistics bridge unreachable, %s event(s) retried later: %s", len(chunk) + len(rest), exc)
                break
            self._record_answer(chunk, answer, report)
        events.flush_recordset()
        return report

    def _record_answer(self, chunk, answer, report):
        now = self._now()
        if 'error' in answer or not isinstance(answer.get('result'), dict):
            error = answer.get('error') or {'message': 'answer without result'}
            message = f"bridge error {error.get('code', '')}: {error.get('message', '')}".strip()
            self._retry_later(chunk, message)
            report.retrying += len(chunk)
            report.error = message
            return
        result = answer['result']
        # The overview's "last contact with the bridge".
        self.env['logistics.bridge.contact'].sudo()._record('dispatch', 'events.publish')
        by_uuid = {e.uuid: e for e in chunk}
        seen = set()
        common = {'sent_at': now, 'done_at': now, 'last_error': False, 'next_attempt_at': False,
                  'rejection_code': False, 'rejection_path': False}
        # Both answers mean the bridge has the event: done, under the state that says which. One
        # plain UPDATE per answer class, not one ORM write per row: this is the common path of every
        # real-time wake-up. Only stored field that depends on state: needs_attention, which stays as
        # it is (a pending or sent row is not rejected; bridge_state does not change here).
        for key, state in (('accepted', 'acknowledged'), ('duplicates', 'duplicate')):
            uuids = [u for u in dict.fromkeys(result.get(key) or []) if u in by_uuid and u not in seen]
            if uuids:
                ids = [by_uuid[u].id for u in uuids]
                self.env.cr.execute("""
                    UPDATE logistics_bridge_event
                       SET state = %s, attempts = attempts + 1, sent_at = %s, done_at = %s, last_error = NULL,
                           next_attempt_at = NULL, rejection_code = NULL, rejection_path = NULL,
                           write_date = (now() AT TIME ZONE 'UTC'), write_uid = %s
                     WHERE id = ANY(%s)
                """, [state, now, now, self.env.uid, ids])
                chunk.browse(ids).invalidate_recordset()
            seen.update(uuids)
            setattr(report, state, getattr(report, state) + len(uuids))
        for item in result.get('rejected') or []:
            record = by_uuid.get(item.get('id')) if isinstance(item, dict) else None
            if not record or record.uuid in seen:
                continue
            record.write(dict(
                common, state='rejected', attempts=record.attempts + 1,
                last_error=item.get('message') or 'rejected by the bridge',
                rejection_code=item.get('code') or False,
                rejection_path=item.get('path') if isinstance(item.get('path'), str) else json.dumps(item.get('path')) if item.get('path') else False,
            ))
            seen.add(record.uuid)
            report.rejected += 1
            record._notify_rejected()
        missing = chunk.filtered(lambda e: e.uuid not in seen)
        if missing:
            self._retry_later(missing, "the bridge's answer did not mention this event", state='sent')
            report.retrying += len(missing)

    def _retry_later(self, events, message, state=None, count_attempt=True):
        now = self._now()
        for event in events:
            attempts = event.attempts + (1 if count_attempt else 0)
            delay = backoff_delay(max(attempts, 1), self.settings.backoff_base, self.settings.backoff_cap)
            vals = {'attempts': attempts, 'last_error': message, 'next_attempt_at': now + timedelta(seconds=delay)}
            if count_attempt:
                vals['sent_at'] = now
            if state:
                vals['state'] = state
            event.write(vals)
