import uuid
from ast import literal_eval
from datetime import datetime

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestEventStates(LogisticsBridgeCase):
    """logistics.bridge.api.apply_event_states, called as the integration user the way the bridge pushes states."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.env['logistics.bridge.api'].with_user(cls.integration_user)
        cls.responsible = new_test_user(cls.env, login='lb_states_responsible', groups='stock.group_stock_user')
        cls.order = cls.make_order(cls)
        cls.picking = cls.out_picking(cls, cls.order)
        cls.picking.user_id = cls.responsible
        cls.released = cls.events_of(cls, cls.picking)
        cls.cancelled = cls.Event.emit('order.cancelled', cls.picking, payload={'reason': 'test'})

    def state(self, event, state, at, **kw):
        return dict({'id': event.uuid if hasattr(event, 'uuid') else event, 'state': state, 'attempts': 1, 'at': at}, **kw)

    def todo(self, picking):
        return picking.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref('mail.mail_activity_data_todo'))

    def test_states_are_shown_one_result_per_item(self):
        results = self.api.apply_event_states([
            self.state(self.released, 'dead', '2026-11-26T12:00:00.900Z', attempts=3, last_error='400 address_invalid: no street',
                       error_class='business'),
            self.state(self.cancelled, 'blocked', '2026-11-26T12:00:01Z', attempts=0, blocked_by=self.released.uuid,
                       last_error=f'waiting: earlier event {self.released.uuid} is dead'),
            self.state(str(uuid.uuid4()), 'delivered', '2026-11-26T12:00:00Z'),
            self.state(self.released, 'flying', '2026-11-26T12:00:00Z'),
            {'id': self.released.uuid, 'state': 'dead'},
            'not an object',
        ])
        self.assertEqual([r['status'] for r in results], ['applied', 'applied', 'unknown', 'rejected', 'rejected', 'rejected'])
        self.assertEqual([r['id'] for r in results][:5], [self.released.uuid, self.cancelled.uuid, results[2]['id'],
                                                         self.released.uuid, self.released.uuid])
        self.assertIn('/state', results[3]['message'])
        self.assertIn('/at', results[4]['message'])
        released = self.released.sudo()
        self.assertEqual((released.bridge_state, released.bridge_attempts, released.bridge_error_class, released.bridge_last_error),
                         ('dead', 3, 'business', '400 address_invalid: no street'))
        self.assertEqual(released.bridge_state_at, datetime(2026, 11, 26, 12, 0, 0, 900000), "the bridge's time, microseconds kept")
        cancelled = self.cancelled.sudo()
        self.assertEqual((cancelled.bridge_state, cancelled.bridge_blocked_by_id), ('blocked', released))
        # both are on the To Do screen
        todo = self.env['logistics.bridge.event'].search(
            literal_eval(self.env.ref('logistics_bridge.action_logistics_bridge_event_todo').domain))
        self.assertIn(released, todo)
        self.assertIn(cancelled, todo)
        self.assertTrue(self.api.apply_event_states([]) == [])

    def test_same_state_again_is_a_duplicate_with_no_second_effect(self):
        item = self.state(self.released, 'dead', '2026-11-26T12:00:00Z', attempts=5, last_error='refused', error_class='business')
        self.assertEqual(self.api.apply_event_states([item])[0]['status'], 'applied')
        activities = self.todo(self.picking)
        self.assertEqual(len(activities), 1)
        self.assertEqual([r['status'] for r in self.api.apply_event_states([item, item])], ['duplicate', 'duplicate'])
        self.assertEqual(self.todo(self.picking), activities)

    def test_an_older_state_never_replaces_a_newer_one(self):
        newer = self.state(self.released, 'delivered', '2026-11-26T12:00:00.900Z', attempts=2)
        older = self.state(self.released, 'retrying', '2026-11-26T12:00:00.100Z', attempts=1, last_error='503')
        self.assertEqual([r['status'] for r in self.api.apply_event_states([newer, older])], ['applied', 'stale'])
        self.assertEqual(self.released.sudo().bridge_state, 'delivered')
        # in separate calls too, and whatever arrives later
        results = self.api.apply_event_states([self.state(self.released, 'dead', '2026-11-26T11:59:59Z')])
        self.assertEqual(results[0]['status'], 'stale')
        self.assertIn('delivered', results[0]['message'])
        self.assertEqual(self.released.sudo().bridge_state, 'delivered')
        later = self.state(self.released, 'dead', '2026-11-26T12:05:00Z', attempts=4, error_class='technical', last_error='timeout')
        self.assertEqual(self.api.apply_event_states([later])[0]['status'], 'applied')
        self.assertEqual(self.released.sudo().bridge_state, 'dead')

    def test_dead_and_manual_ask_the_responsible_person_and_the_todo_closes_when_delivered(self):
        self.api.apply_event_states([self.state(self.released, 'dead', '2026-11-26T12:00:00Z', attempts=3,
                                                last_error='400 unknown SKU FURN_0000', error_class='business')])
        activity = self.todo(self.picking)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.responsible)
        self.assertIn('unknown SKU FURN_0000', activity.note)
        self.assertIn(self.released.uuid, activity.note)
        self.assertEqual(self.released.sudo().bridge_activity_id, activity)
        self.assertTrue(self.released.sudo().needs_attention)
        # still dead with more attempts: the same to-do
        self.api.apply_event_states([self.state(self.released, 'dead', '2026-11-26T12:01:00Z', attempts=4, error_class='business')])
        self.assertEqual(self.todo(self.picking), activity)
        # replayed after a fix and delivered: the to-do is done, the event leaves the To Do screen
        self.api.apply_event_states([self.state(self.released, 'delivered', '2026-11-26T12:30:00Z', attempts=5)])
        self.assertFalse(self.todo(self.picking))
        self.assertFalse(self.released.sudo().bridge_activity_id)
        self.assertFalse(self.released.sudo().needs_attention)
        # manual handling asks again; blocked does not (its blocker does)
        self.api.apply_event_states([self.state(self.cancelled, 'blocked', '2026-11-26T12:31:00Z', blocked_by=self.released.uuid)])
        self.assertFalse(self.todo(self.picking))
        self.api.apply_event_states([self.state(self.cancelled, 'manual', '2026-11-26T12:32:00Z', last_error='every carrier is down')])
        self.assertEqual(len(self.todo(self.picking)), 1)
        self.assertIn('every carrier is down', self.todo(self.picking).note)

    def test_only_the_integration_user_pushes_and_it_still_cannot_edit_events(self):
        salesman = new_test_user(self.env, login='lb_states_salesman', groups='sales_team.group_sale_salesman')
        with self.assertRaises(AccessError):
            self.env['logistics.bridge.api'].with_user(salesman).apply_event_states([])
        with self.assertRaises(AccessError):
            self.env['logistics.bridge.event'].with_user(self.integration_user).browse(self.released.id).write({'bridge_state': 'delivered'})

    def test_the_push_is_recorded_as_contact_with_the_bridge(self):
        Contact = self.env['logistics.bridge.contact']
        self.env.cr.execute("DELETE FROM logistics_bridge_contact")
        self.api.apply_event_states([self.state(self.released, 'delivered', '2026-11-26T12:00:00Z')])
        self.assertTrue(Contact._last()['writeback'])
        # once per 10-second slot, whatever the number of calls (rows are inserted, never updated)
        self.api.apply_event_states([])
        self.api.get_event_states([self.released.uuid])
        self.assertEqual(Contact.search_count([('kind', '=', 'writeback')]), 1)

    def test_too_large_a_batch_is_refused_item_by_item(self):
        from ..services.event_states import MAX_BATCH
        results = self.api.apply_event_states([self.state(self.released, 'delivered', '2026-11-26T12:00:00Z')] * (MAX_BATCH + 1))
        self.assertEqual({r['status'] for r in results}, {'rejected'})
        self.assertFalse(self.released.sudo().bridge_state)
