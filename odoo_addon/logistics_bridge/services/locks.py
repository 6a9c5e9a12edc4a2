"""Keeps concurrent write-back calls that touch one picking (or one event) from fighting.

Odoo runs every RPC in REPEATABLE READ and replays it, with a fresh snapshot, on LockNotAvailable,
SerializationFailure or DeadlockDetected (``odoo.service.model.retrying``, up to 5 tries). Without a
lock, two calls for one picking both read "no follower yet, no open to-do" and both add them: one
commits, the other fails on mail_followers' unique constraint, which is NOT replayed (HTTP 422).

So each call first locks the rows it will touch, in id order (no deadlock between our calls),
without waiting (``NOWAIT``): a concurrent holder makes this call fail with LockNotAvailable, which
Odoo replays once the holder is done. The locked rows are then "touched" (a no-op UPDATE creating a
new row version): a call whose snapshot is older than a holder that has since committed then fails
its own lock with SerializationFailure and is replayed too, instead of acting on what it read before
the holder's commit (a plain lock left by a committed transaction would not be seen).

Neither failure is an error of the module: the query is run with ``log_exceptions=False`` (Odoo's
cursor would otherwise log "bad query" as ERROR before the replay, which logs at INFO), and the
exception carries ``loglevel`` WARNING, which Odoo's HTTP layer uses if all 5 tries lose (the bridge
then retries the call itself: it classifies these as transient).
"""
import logging

from psycopg2 import errors

from odoo.tools import SQL

CONCURRENCY_ERRORS = (errors.LockNotAvailable, errors.SerializationFailure, errors.DeadlockDetected)
# Tables a write-back call may lock, in the order every call locks them: pickings (milestones, states),
# warehouses (inventory levels), events (states).
LOCK_ORDER = ('stock_picking', 'stock_warehouse', 'logistics_bridge_event')


def lock_rows(cr, table, ids):
    """Lock and touch the rows ``ids`` of ``table`` for this transaction (see the module docstring).
    Call in ``LOCK_ORDER`` (pickings, warehouses, events), before the call's first write."""
    if table not in LOCK_ORDER:
        raise ValueError(f"lock_rows: {table!r} is not a write-back table ({', '.join(LOCK_ORDER)})")
    ids = sorted({i for i in ids if i})
    if not ids:
        return
    try:
        cr.execute(SQL("SELECT id FROM %s WHERE id = ANY(%s) ORDER BY id FOR UPDATE NOWAIT", SQL.identifier(table), ids),
                       log_exceptions=False)
        cr.execute(SQL("UPDATE %s SET write_date = write_date WHERE id = ANY(%s)", SQL.identifier(table), ids),
                       log_exceptions=False)
    except CONCURRENCY_ERRORS as exc:
        exc.loglevel = logging.WARNING
        raise
