"""A long-lived dispatcher thread per database, woken by PostgreSQL's commit notification.

Why not a cron run per wake-up (services/wakeup.py, the previous path): each wake-up cost the
committing transaction a trigger row, and the server a cron job run (job lock, trigger cleanup,
progress commits, an environment and a new websocket to the bridge), competing with users' requests.
Here:

- the business transaction only queues ``NOTIFY logistics_bridge_outbox`` (``notify_on_commit``,
  pre-commit hook, once per transaction). PostgreSQL delivers a notification only when the
  transaction commits, so a rollback wakes nobody, and the user's commit waits for nothing more;
- one thread per database (``DispatchListener``) holds its own connection that ``LISTEN``\\ s,
  sleeps in ``select()`` and, woken, dispatches on a cursor of its own: rows locked with
  ``FOR UPDATE SKIP LOCKED``, sent, marked from the bridge's answer and committed only then (a crash
  before the answer rolls back: the rows stay pending and are sent again; the bridge deduplicates).
  The websocket to the bridge stays open between wake-ups;
- several processes (prefork workers) may each start a thread: only the one holding a session
  advisory lock on its listening connection dispatches, the others stand by (a dead holder's
  connection closes, which frees the lock; a standby takes it at its next wake-up or poll);
- a lost notification (the listener restarting, the database connection lost) costs at most
  ``POLL_SECONDS``: the thread also looks for due rows every 60 s, and when a backoff expires; the
  5-minute cron (data/ir_cron_data.xml) stays as the last safety net and as the batch flush.
"""
import functools
import logging
import select
import threading
import time

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED

from odoo.tools import config

_logger = logging.getLogger(__name__)

CHANNEL = 'logistics_bridge_outbox'
DATA_KEY = 'logistics_bridge.notify'
POLL_SECONDS = 60.0
# Session advisory lock key: one dispatching listener per database ("LBDS").
LOCK_KEY = 0x4C424453


def notify_on_commit(cr):
    """Wake the database's listener when ``cr`` commits; once per transaction, nothing on rollback."""
    if cr.precommit.data.get(DATA_KEY):
        return
    cr.precommit.data[DATA_KEY] = True
    cr.precommit.add(functools.partial(_notify, cr))


def _notify(cr):
    # NOTIFY inside the transaction: PostgreSQL holds it until COMMIT and drops it on ROLLBACK.
    cr.execute(f"NOTIFY {CHANNEL}")


def _default_connect(dbname):
    from odoo import sql_db  # noqa: PLC0415 - Odoo's own parsing of db_host/db_port/... for this database
    _name, info = sql_db.connection_info_for(dbname)
    cnx = psycopg2.connect(**info)
    cnx.autocommit = True
    return cnx


def dispatch_pass(dbname):
    """One dispatch pass on a cursor of its own; returns seconds until the next backoff expires (or None).

    READ COMMITTED, not Odoo's REPEATABLE READ: the bridge's write-back updates these rows
    (bridge_state) while they are being sent, and ``FOR UPDATE`` of a row changed after a repeatable
    read snapshot fails with a serialization error (an ERROR line and a lost pass); read committed
    re-reads the row's newest version, and ``SKIP LOCKED`` still keeps two passes apart."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415
    # Settings changed by another process (set_param) reach this thread like a request: by signaling.
    registry = Registry(dbname).check_signaling()
    with registry.cursor() as cr:
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)  # the next Cursor on this connection sets its own
        env = api.Environment(cr, SUPERUSER_ID, {})
        return env['logistics.bridge.event']._listener_dispatch(SOCKETS)


class SocketKeeper:
    """The open websocket to the bridge per database, kept between wake-ups of one listener."""

    def __init__(self):
        self._sockets = {}

    def take(self, dbname, url):
        """The socket kept for ``dbname`` if it goes to ``url`` (a changed URL closes the old one)."""
        url_ws = self._sockets.pop(dbname, None)
        if url_ws and url_ws[0] == url:
            return url_ws[1]
        if url_ws:
            try:
                url_ws[1].shutdown()
            except Exception:  # noqa: BLE001 - a socket to a bridge we no longer use; nothing to save
                _logger.debug("closing the previous bridge socket failed", exc_info=True)
        return None

    def keep(self, dbname, url, ws):
        if ws is not None:
            self._sockets[dbname] = (url, ws)


SOCKETS = SocketKeeper()


class DispatchListener:
    """LISTENs on one database and dispatches on each commit notification, poll and expired backoff."""

    def __init__(self, dbname, dispatch=dispatch_pass, connect=_default_connect, poll=POLL_SECONDS,
                 select_=select.select, sleep=time.sleep, clock=time.monotonic):
        self.dbname = dbname
        self._dispatch = dispatch
        self._connect = connect
        self._poll = poll
        self._select = select_
        self._sleep = sleep
        self._clock = clock
        self._stop = threading.Event()
        self.holder = False
        self.runs = 0

    def stop(self):
        self._stop.set()

    def run(self):
        """Thread body: (re)connect, LISTEN, serve; a lost connection is retried after a pause."""
        failures = 0
        while not self._stop.is_set():
            cnx = None
            try:
                cnx = self._connect(self.dbname)
                with cnx.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                failures = 0
                self.serve(cnx)
            except (psycopg2.Error, OSError) as exc:
                if cnx is None and 'does not exist' in str(exc):
                    _logger.info("logistics bridge listener of %s: the database is gone; stopping", self.dbname)
                    return
                failures += 1
                self.holder = False
                _logger.info("logistics bridge listener of %s: connection lost (%s); retrying", self.dbname, exc)
                self._sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
            finally:
                if cnx is not None:
                    try:
                        cnx.close()
                    except psycopg2.Error:
                        _logger.debug("closing the listener connection failed", exc_info=True)

    def serve(self, cnx, rounds=None):
        """Wait for notifications; dispatch when woken, at each poll and when a backoff expires.

        ``rounds`` bounds the loop (tests); None serves until stopped."""
        wait = 0.0  # a first pass at start: catch up with what was committed while nobody listened
        while not self._stop.is_set() and (rounds is None or rounds > 0):
            if rounds is not None:
                rounds -= 1
            if wait > 0:
                ready, _w, _x = self._select([cnx], [], [], wait)
                if ready:
                    cnx.poll()
            # Notifications that piled up are one wake-up: one pass sees all their rows.
            cnx.notifies.clear()
            if not self.holder:
                with cnx.cursor() as cur:
                    cur.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                    self.holder = bool(cur.fetchone()[0])
            wait = self._poll
            if self.holder:
                self.runs += 1
                try:
                    next_due = self._dispatch(self.dbname)
                except psycopg2.OperationalError:
                    raise
                except Exception:  # noqa: BLE001 - the thread must outlive one bad pass; the rows stay pending
                    _logger.exception("logistics bridge listener of %s: dispatch pass failed; retried at the next wake-up",
                                      self.dbname)
                    next_due = None
                if next_due is not None:
                    wait = min(self._poll, max(0.05, next_due))


class Listeners:
    """The process's listener threads, one per database, started once."""

    def __init__(self, factory=DispatchListener):
        self._factory = factory
        self._lock = threading.Lock()
        self._threads = {}

    def ensure(self, dbname):
        with self._lock:
            current = self._threads.get(dbname)
            if current and current[1].is_alive():
                return current[0]
            listener = self._factory(dbname)
            thread = threading.Thread(target=listener.run, name=f'logistics_bridge.listener.{dbname}', daemon=True)
            self._threads[dbname] = (listener, thread)
            thread.start()
            return listener


LISTENERS = Listeners()


def runs_here():
    """A listener belongs in a server process that runs background jobs, never in tests, shells or one-off runs."""
    return bool(config['http_enable'] and config['max_cron_threads'] and not config['test_enable']
                and not config['stop_after_init'])


def ensure_listener(dbname):
    if runs_here():
        LISTENERS.ensure(dbname)
