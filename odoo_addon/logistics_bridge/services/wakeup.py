"""Wakes the dispatcher cron right after a commit that wrote real-time events, without making the
committing user wait for the wake-up.

Odoo's own ``ir.cron._trigger()`` does two things (odoo/addons/base/models/ir_cron.py,
``_trigger_list`` and ``_notifydb``): it creates an ``ir.cron.trigger`` row in the transaction, and
registers a post-commit hook that opens a pooled connection to the ``postgres`` database and runs
``pg_notify('cron_trigger', <db>)``, which is what wakes the cron threads (they ``LISTEN`` on that
database, service/server.py). That notification runs inside the user's request after COMMIT and
cost 5-10 ms here, most of the real-time overhead of a sale confirmation. So:

- the trigger row is still written in the business transaction, but once per transaction, by a
  pre-commit hook (raw INSERT, no ORM record): a rolled-back transaction, or a rolled-back
  savepoint around the emit, leaves no row (Odoo clears pre-commit hooks with them);
- after COMMIT, the post-commit hook only hands the database name to a daemon thread of this
  process (``CronWaker``), which sends the same ``pg_notify`` a moment later. Nothing is sent for a
  rolled-back change: post-commit hooks run only after a successful COMMIT.

The row is the durable part: should the process die before its thread notifies, the cron threads
still find the due trigger at their next poll (at most ``SLEEP_INTERVAL`` = 60 s, service/server.py).
Not done: skipping the row when a trigger is already due. A dispatcher run that is selecting events
right now deletes the due triggers at its start and cannot see this transaction's events, so the
events would wait for the next interval (5 minutes).
"""
import functools
import logging
import threading

import psycopg2

from odoo import sql_db
from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

DATA_KEY = 'logistics_bridge.wake'


def _notify_cron_workers(dbname):
    """What ``ir.cron._notifydb`` does, for a database given by name (no environment in the thread)."""
    with sql_db.db_connect('postgres').cursor() as cr:
        cr.execute(SQL("SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname))


class CronWaker:
    """A daemon thread that notifies the cron workers for the databases handed to ``wake``.

    Wake-ups that arrive while one is being sent are coalesced into the next one.
    """

    def __init__(self, notify=_notify_cron_workers):
        self._notify = notify
        self._lock = threading.Lock()
        self._pending = set()
        self._ready = threading.Event()
        self._thread = None

    def wake(self, dbname):
        with self._lock:
            self._pending.add(dbname)
            # Started lazily, so each process (prefork workers fork before any request) has its own.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name='logistics_bridge.cron_waker', daemon=True)
                self._thread.start()
        self._ready.set()

    def _run(self):
        while True:
            self._ready.wait()
            self._ready.clear()
            with self._lock:
                dbnames, self._pending = self._pending, set()
            for dbname in dbnames:
                try:
                    self._notify(dbname)
                except (psycopg2.Error, OSError):
                    # The trigger row is committed: the cron threads' next poll finds it.
                    _logger.warning("logistics bridge: could not notify the cron workers of %s; "
                                    "the dispatcher runs at their next poll", dbname, exc_info=True)


WAKER = CronWaker()


def wake_after_commit(cr, cron_id, waker=None):
    """Have the cron ``cron_id`` run right after ``cr`` commits; once per transaction, nothing on rollback."""
    if cr.precommit.data.get(DATA_KEY):
        return
    cr.precommit.data[DATA_KEY] = True
    cr.precommit.add(functools.partial(_write_trigger, cr, cron_id, waker or WAKER))


def _write_trigger(cr, cron_id, waker):
    # The row ir.cron._trigger() would create (due now, second precision as fields.Datetime.now()),
    # only for an active cron, as _trigger_list skips inactive ones.
    cr.execute("""
        INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, write_uid, create_date, write_date)
        SELECT id, date_trunc('second', now() AT TIME ZONE 'UTC'), 1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
          FROM ir_cron WHERE id = %s AND active
    """, [cron_id])
    if not cr.postcommit.data.get(DATA_KEY):
        cr.postcommit.data[DATA_KEY] = True
        cr.postcommit.add(functools.partial(waker.wake, cr.dbname))
