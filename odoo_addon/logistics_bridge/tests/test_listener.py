import select

from odoo import SUPERUSER_ID, sql_db
from odoo.tests import tagged

from ..services import listener
from .common import LogisticsBridgeCase
from .fake_bridge import FakeBridge


class FakeCursor:
    def __init__(self, cnx):
        self.cnx = cnx

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, query, params=None):
        self.cnx.queries.append(query)

    def fetchone(self):
        return (self.cnx.lock_free,)


class FakeConnection:
    """What DispatchListener.serve uses of a psycopg2 connection."""

    def __init__(self, lock_free=True):
        self.lock_free = lock_free
        self.queries = []
        self.notifies = []

    def cursor(self):
        return FakeCursor(self)

    def poll(self):
        pass


@tagged('post_install', '-at_install')
class TestListener(LogisticsBridgeCase):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.wakeup', 'listener')
        self.Event.sudo().search([('state', 'in', ('pending', 'sent'))]).write({'state': 'cancelled'})

    def notify_hooks(self, cr):
        return [f for f in cr.precommit._funcs if getattr(f, 'func', None) is listener._notify]

    def test_real_time_confirmation_queues_one_notify_and_no_cron_trigger(self):
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events')
        self.env.cr.flush()
        triggers_before = self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)])
        self.make_order()
        self.make_order()
        self.assertEqual(len(self.notify_hooks(self.env.cr)), 1, "one NOTIFY per transaction, whatever the number of events")
        self.env.cr.flush()  # runs the pre-commit hooks: the NOTIFY is queued in the transaction
        self.assertEqual(self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)]), triggers_before)

    def test_batch_mode_queues_no_notify(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'batch')
        self.make_order()
        self.assertFalse(self.notify_hooks(self.env.cr))

    def test_postgres_delivers_the_notify_on_commit_only(self):
        # A real LISTEN connection of the listener's kind, and a second real transaction (not the test's).
        cnx = listener._default_connect(self.env.cr.dbname)
        try:
            with cnx.cursor() as cur:
                cur.execute(f"LISTEN {listener.CHANNEL}")

            def received(timeout):
                if select.select([cnx], [], [], timeout)[0]:
                    cnx.poll()
                got = [n.channel for n in cnx.notifies]
                cnx.notifies.clear()
                return got

            with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
                listener.notify_on_commit(cr)
                listener.notify_on_commit(cr)
                cr.flush()
                self.assertEqual(received(0.2), [], "nothing before COMMIT")
                cr.rollback()
            self.assertEqual(received(0.2), [], "a rolled-back transaction wakes nobody")
            with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
                listener.notify_on_commit(cr)
                listener.notify_on_commit(cr)
                cr.commit()
            self.assertEqual(received(5), [listener.CHANNEL], "one notification after COMMIT")
        finally:
            cnx.close()

    def serve(self, cnx, rounds, dispatch, wakes=()):
        waits = []
        wakes = list(wakes)

        def fake_select(r, w, x, timeout):
            waits.append(timeout)
            woke = wakes.pop(0) if wakes else False
            if woke:
                cnx.notifies.append(object())
            return ([cnx] if woke else [], [], [])

        subject = listener.DispatchListener('db1', dispatch=dispatch, connect=None, poll=60, select_=fake_select)
        subject.serve(cnx, rounds=rounds)
        return subject, waits

    def test_holder_dispatches_at_start_on_each_wake_up_and_at_each_poll(self):
        calls = []
        cnx = FakeConnection(lock_free=True)
        subject, waits = self.serve(cnx, 4, lambda db: calls.append(db), wakes=[True, False, True])
        self.assertTrue(subject.holder)
        self.assertEqual(calls, ['db1'] * 4, "catch-up pass, wake-up, poll timeout, wake-up")
        self.assertEqual(waits, [60, 60, 60], "the 60 s poll finds a lost wake-up")
        self.assertEqual(sum('pg_try_advisory_lock' in q for q in cnx.queries), 1, "the lock is taken once and kept")

    def test_standby_does_not_dispatch_while_another_process_holds_the_lock(self):
        calls = []
        cnx = FakeConnection(lock_free=False)
        subject, _waits = self.serve(cnx, 3, lambda db: calls.append(db), wakes=[True, True])
        self.assertFalse(subject.holder)
        self.assertEqual(calls, [])
        self.assertEqual(sum('pg_try_advisory_lock' in q for q in cnx.queries), 3, "a standby tries again at each wake-up")
        cnx.lock_free = True  # the holder died: its connection closed, the lock is free
        subject.serve(cnx, rounds=1)
        self.assertEqual(calls, ['db1'])

    def test_an_expiring_backoff_shortens_the_wait(self):
        cnx = FakeConnection()
        _subject, waits = self.serve(cnx, 2, lambda db: 7.5)
        self.assertEqual(waits, [7.5])

    def test_listener_pass_sends_marks_after_the_answer_and_keeps_the_socket(self):
        orders = self.make_order() | self.make_order()
        events = self.Event.sudo().search([('sale_id', 'in', orders.ids)])
        sockets = listener.SocketKeeper()
        commits = []
        with FakeBridge(token='s3cret') as bridge:
            icp = self.env['ir.config_parameter'].sudo()
            icp.set_param('logistics_bridge.url', bridge.url)
            icp.set_param('logistics_bridge.token', 's3cret')
            Event = self.env['logistics.bridge.event'].with_user(SUPERUSER_ID)
            self.assertIsNone(Event._listener_dispatch(sockets, commit=lambda: commits.append(1)))
            self.assertEqual(set(events.mapped('state')), {'acknowledged'})
            self.assertEqual(events.mapped('attempts'), [1, 1])
            self.make_order()
            Event._listener_dispatch(sockets, commit=lambda: commits.append(1))
            self.assertEqual(bridge.connections, 1, "one websocket for both wake-ups")
            self.assertIsNone(sockets.take(self.env.cr.dbname, 'ws://elsewhere/v1/odoo'), "a changed URL drops the kept socket")
            self.make_order()
            Event._listener_dispatch(sockets, commit=lambda: commits.append(1))
            self.assertEqual(bridge.connections, 2)
            ws = sockets.take(self.env.cr.dbname, bridge.url)
            self.assertIsNotNone(ws)
            ws.close()
        self.assertEqual(len(bridge.events), 4)
        self.assertGreaterEqual(len(commits), 2)

    def test_a_kept_socket_the_bridge_closed_is_replaced_at_once_not_backed_off(self):
        sockets = listener.SocketKeeper()
        Event = self.env['logistics.bridge.event'].with_user(SUPERUSER_ID)
        with FakeBridge(token='s3cret') as bridge:
            icp = self.env['ir.config_parameter'].sudo()
            icp.set_param('logistics_bridge.url', bridge.url)
            icp.set_param('logistics_bridge.token', 's3cret')
            self.make_order()
            Event._listener_dispatch(sockets, commit=lambda: None)
            url, ws = sockets._sockets[self.env.cr.dbname]
            ws.sock.shutdown(2)  # the bridge restarted: the kept connection is dead
            self.make_order()
            event = self.Event.sudo().search([('state', '=', 'pending')])
            Event._listener_dispatch(sockets, commit=lambda: None)
            self.assertEqual(event.state, 'acknowledged', "sent on a new connection in the same pass")
            self.assertEqual(event.attempts, 1)
            self.assertEqual(bridge.connections, 2)
            sockets.take(self.env.cr.dbname, url).shutdown()

    def test_unreachable_bridge_leaves_rows_pending_and_reports_the_backoff(self):
        self.make_order()
        event = self.Event.sudo().search([('state', '=', 'pending')])
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.url', 'ws://127.0.0.1:9/v1/odoo')
        due = self.env['logistics.bridge.event'].with_user(SUPERUSER_ID)._listener_dispatch(listener.SocketKeeper(), commit=lambda: None)
        self.assertEqual(event.state, 'pending')
        self.assertEqual(event.attempts, 1)
        self.assertTrue(due and 10 < due <= 60, due)  # the first backoff (30 s, with jitter)

    def test_no_listener_in_tests_or_shells(self):
        self.assertFalse(listener.runs_here())
