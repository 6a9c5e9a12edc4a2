import logging
import uuid

from psycopg2 import errors

from odoo.sql_db import db_connect
from odoo.tests import new_test_user, tagged

from ..services.locks import lock_rows
from ..services.milestones import schedule_activity
from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestConcurrentWriteback(LogisticsBridgeCase):
    """Asking twice is a no-op, and two write-back calls for one picking never both act (the 422 race)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.env['logistics.bridge.api'].with_user(cls.integration_user)
        cls.responsible = new_test_user(cls.env, login='lb_race_responsible', groups='stock.group_stock_user')
        cls.picking = cls.out_picking(cls, cls.make_order(cls))
        cls.picking.user_id = cls.responsible
        cls.released = cls.events_of(cls, cls.picking)
        cls.second = cls.Event.emit('order.released', cls.picking, payload={'again': True})

    def todo(self):
        return self.picking.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref('mail.mail_activity_data_todo'))

    def state(self, event, state, at, **kw):
        return dict({'id': event.uuid, 'state': state, 'attempts': 1, 'at': at}, **kw)

    def test_scheduling_the_same_activity_twice_reuses_the_open_one_and_follows_once(self):
        picking = self.picking.with_user(self.integration_user)
        first = schedule_activity(picking, 'mail.mail_activity_data_todo', 'Logistics: check', 'first note')
        again = schedule_activity(picking, 'mail.mail_activity_data_todo', 'Logistics: check', 'second note')
        self.assertEqual(first, again)
        self.assertEqual(len(self.todo()), 1)
        followers = self.picking.message_follower_ids.filtered(lambda f: f.partner_id == self.responsible.partner_id)
        self.assertEqual(len(followers), 1)
        other = schedule_activity(picking, 'mail.mail_activity_data_todo', 'Logistics: something else', 'note')
        self.assertNotEqual(other, first, "another summary is another to-do")

    def test_two_dead_events_of_one_picking_share_a_todo_closed_when_neither_needs_it(self):
        self.api.apply_event_states([self.state(self.released, 'dead', '2026-11-26T12:00:00Z', error_class='business', last_error='x'),
                                     self.state(self.second, 'dead', '2026-11-26T12:00:01Z', error_class='business', last_error='y')])
        todo = self.todo()
        self.assertEqual(len(todo), 1)
        self.assertEqual((self.released.sudo().bridge_activity_id, self.second.sudo().bridge_activity_id), (todo, todo))
        self.api.apply_event_states([self.state(self.released, 'delivered', '2026-11-26T12:01:00Z')])
        self.assertEqual(self.todo(), todo, "still asked for the other dead event")
        self.api.apply_event_states([self.state(self.second, 'delivered', '2026-11-26T12:02:00Z')])
        self.assertFalse(self.todo())

    def _committed_picking(self):
        # Rows this test created are invisible to another connection: lock a committed (demo) picking.
        other = db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(other.close)
        other.execute("SELECT id FROM stock_picking ORDER BY id LIMIT 1")
        return other, other.fetchone()[0]

    def test_a_call_meeting_a_concurrent_holder_fails_to_be_replayed_without_an_error_log(self):
        other, picking_id = self._committed_picking()
        other.execute("SELECT id FROM stock_picking WHERE id = %s FOR UPDATE", [picking_id])
        with self.assertLogs('odoo.sql_db', level='DEBUG') as logs:
            logging.getLogger('odoo.sql_db').debug('marker')
            with self.assertRaises(errors.LockNotAvailable) as caught, self.env.cr.savepoint():
                lock_rows(self.env.cr, 'stock_picking', [picking_id])
        self.assertEqual(caught.exception.loglevel, logging.WARNING, "logged as a warning if Odoo's 5 tries all lose")
        self.assertFalse([r for r in logs.records if r.levelno >= logging.ERROR], "no 'bad query' ERROR line")
        other.rollback()

    def test_a_call_whose_snapshot_predates_a_committed_holder_is_replayed(self):
        self.env.cr.execute("SELECT 1")  # this transaction's snapshot is taken
        other, picking_id = self._committed_picking()
        lock_rows(other, 'stock_picking', [picking_id])
        other.commit()
        with self.assertRaises(errors.SerializationFailure), self.env.cr.savepoint():
            lock_rows(self.env.cr, 'stock_picking', [picking_id])

    def test_only_write_back_tables_are_locked(self):
        with self.assertRaises(ValueError):
            lock_rows(self.env.cr, 'res_users', [1])
        lock_rows(self.env.cr, 'stock_picking', [])  # nothing to lock: no query

    def test_the_same_states_pushed_again_after_a_replay_leave_one_todo(self):
        batch = [self.state(self.released, 'manual', '2026-11-26T12:00:00Z', last_error='no partner'),
                 self.state(self.second, 'dead', '2026-11-26T12:00:01Z', error_class='technical', last_error='timeout')]
        self.api.apply_event_states(batch)
        self.assertEqual([r['status'] for r in self.api.apply_event_states(batch)], ['duplicate', 'duplicate'])
        summaries = sorted(self.todo().mapped('summary'))
        self.assertEqual(len(summaries), 2, summaries)
        self.assertEqual(len(self.picking.message_follower_ids.filtered(lambda f: f.partner_id == self.responsible.partner_id)), 1)
        self.assertTrue(uuid.UUID(self.released.uuid))
