import threading
import time
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..services import wakeup
from .common import LogisticsBridgeCase


class Boom(Exception):
    pass


@tagged('post_install', '-at_install')
class TestOutbox(LogisticsBridgeCase):
    """The cron wake-up path (logistics_bridge.wakeup = cron); the listener's is in test_listener.py."""

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.wakeup', 'cron')

    def test_confirmation_writes_the_event_in_the_same_transaction(self):
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events')
        triggers_before = self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)])
        order = self.make_order()
        picking = self.out_picking(order)
        events = self.events_of(picking)
        self.assertEqual(events.mapped('event_type'), ['order.released'])
        self.assertEqual(events.state, 'pending')
        self.assertEqual(events.sequence, 1)
        self.assertEqual(events.aggregate, f'stock.picking:{picking.id}')
        self.assertEqual(events.sale_id, order)
        # the dispatcher is woken through a trigger row of this same transaction, written when it
        # commits (pre-commit hooks run on flush), and a wake-up of the cron workers after commit
        self.env.cr.flush()
        self.assertEqual(self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)]), triggers_before + 1)
        waker = [f for f in self.env.cr.postcommit._funcs if getattr(f, 'func', None) == wakeup.WAKER.wake]
        self.assertEqual([f.args for f in waker], [(self.env.cr.dbname,)])

    def test_one_wake_up_per_transaction_whatever_the_number_of_events(self):
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events')
        self.env.cr.flush()
        triggers_before = self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)])
        orders = self.make_order() | self.make_order() | self.make_order()
        self.assertEqual(len(self.Event.sudo().search([('sale_id', 'in', orders.ids)])), 3)
        self.env.cr.flush()
        self.assertEqual(self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)]), triggers_before + 1)
        self.assertEqual(len([f for f in self.env.cr.postcommit._funcs if getattr(f, 'func', None) == wakeup.WAKER.wake]), 1)

    def test_cron_waker_notifies_after_commit_from_its_thread_and_coalesces(self):
        notified = []
        started, release = threading.Event(), threading.Event()

        def notify(dbname):
            notified.append(dbname)
            started.set()
            release.wait(5)

        waker = wakeup.CronWaker(notify=notify)
        waker.wake('db1')
        self.assertTrue(started.wait(5), "notified from the waker's thread")
        # while that notification is on its way, three more wake-ups: one notification per database
        waker.wake('db1')
        waker.wake('db2')
        waker.wake('db1')
        release.set()
        for _i in range(50):
            if len(notified) >= 3:
                break
            time.sleep(0.05)
        self.assertEqual(notified[0], 'db1')
        self.assertEqual(sorted(notified[1:]), ['db1', 'db2'])

    def test_rolled_back_change_leaves_no_event(self):
        order = self.make_order(confirm=False)
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events')
        triggers_before = self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)])
        events_before = self.Event.sudo().search_count([])
        with self.assertRaises(Boom):
            with self.env.cr.savepoint():
                order.action_confirm()
                self.assertEqual(self.Event.sudo().search_count([]), events_before + 1)
                raise Boom()
        self.env.invalidate_all()
        self.env.cr.flush()
        self.assertEqual(self.Event.sudo().search_count([]), events_before)
        self.assertEqual(self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)]), triggers_before)

    def test_no_network_inside_the_business_transaction(self):
        with patch('websocket.create_connection', side_effect=AssertionError('network call in a business transaction')) as connect:
            order = self.make_order()
            self.validate(self.out_picking(order))
            order.copy().action_confirm()
        connect.assert_not_called()

    def test_sequence_grows_per_aggregate(self):
        order = self.make_order()
        picking = self.out_picking(order)
        order._action_cancel()
        events = self.events_of(picking)
        self.assertEqual(events.mapped('event_type'), ['order.released', 'order.cancelled'])
        self.assertEqual(events.mapped('sequence'), [1, 2])
        other = self.out_picking(self.make_order())
        self.assertEqual(self.events_of(other).sequence, 1)

    def test_cancel_of_an_unreleased_picking_emits_nothing(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'off')
        order = self.make_order()
        picking = self.out_picking(order)
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'realtime')
        order._action_cancel()
        self.assertFalse(self.events_of(picking))

    def test_batch_mode_writes_without_waking_the_cron(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'batch')
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events')
        triggers_before = self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)])
        picking = self.out_picking(self.make_order())
        self.assertEqual(self.events_of(picking).state, 'pending')
        self.env.cr.flush()
        self.assertEqual(self.env['ir.cron.trigger'].sudo().search_count([('cron_id', '=', cron.id)]), triggers_before)

    def test_outbox_row_reads_back_like_an_orm_record(self):
        # The row is written with one SQL statement inside the business action: every field the
        # screens and the dispatcher read must be what an ORM create would have given.
        order = self.make_order()
        picking = self.out_picking(order)
        listed_before = picking.sudo().bridge_event_ids  # read into the cache before the next emit
        event = self.Event.emit('order.cancelled', picking, payload={'order_ref': 'X', 'picking_ref': picking.name, 'warehouse': 'WH'})
        self.assertIn(event, picking.sudo().bridge_event_ids, "the picking's event list read earlier shows the new row")
        self.assertEqual(len(picking.sudo().bridge_event_ids), len(listed_before) + 1)
        event = event.sudo()
        self.assertRegex(event.uuid, r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
        self.assertEqual((event.state, event.attempts, event.needs_attention, event.sequence), ('pending', 0, False, 2))
        self.assertEqual((event.res_model, event.res_id, event.picking_id, event.sale_id), ('stock.picking', picking.id, picking, order))
        self.assertEqual(event.company_id, picking.company_id)
        self.assertEqual(event.create_uid, self.env.user)
        self.assertTrue(event.create_date and event.occurred_at)
        self.assertEqual(event.payload['picking_ref'], picking.name)
        self.assertEqual(event.display_label, f"order.cancelled stock.picking:{picking.id} #2")
        self.assertEqual(self.Event.sudo().search([('needs_attention', '=', False), ('id', '=', event.id)]), event)

    def test_release_costs_one_statement_per_extra_picking(self):
        # The hook runs inside the user's confirmation: master data is read once for all pickings,
        # so releasing three pickings costs exactly two statements (outbox rows) more than one.
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'off')
        pickings = self.env['stock.picking'].concat(*(self.out_picking(self.make_order()) for _i in range(4)))
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.workflow_order', 'batch')
        self.env['res.config.settings'].sudo()._logistics_bridge_settings()  # the settings cache, warm as in production

        def statements(records):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            records._logistics_bridge_release()
            return self.env.cr.sql_log_count - before

        one, three = statements(pickings[:1]), statements(pickings[1:])
        self.assertEqual(three - one, 2, f"one picking: {one} statements, three: {three}")
        self.assertEqual(len(self.Event.sudo().search([('picking_id', 'in', pickings.ids)])), 4)

    def test_settings_are_read_once_and_follow_changes(self):
        Settings = self.env['res.config.settings'].sudo()
        ICP = self.env['ir.config_parameter'].sudo()
        ICP.set_param('logistics_bridge.workflow_return', 'batch')
        self.assertEqual(Settings._logistics_bridge_settings().workflow_mode('return'), 'batch')
        before = self.env.cr.sql_log_count
        Settings._logistics_bridge_settings()
        self.assertEqual(self.env.cr.sql_log_count, before, "cached: no query")
        ICP.set_param('logistics_bridge.workflow_return', 'off')
        self.assertEqual(Settings._logistics_bridge_settings().workflow_mode('return'), 'off', "a change clears the cache")

    def test_emit_refuses_unknown_types(self):
        picking = self.out_picking(self.make_order())
        with self.assertRaises(ValidationError):
            self.Event.emit('order.shipped', picking)

    def test_requeue_and_cancel(self):
        picking = self.out_picking(self.make_order())
        event = self.events_of(picking)
        event.write({'state': 'rejected', 'last_error': '/payload/ship_to/street1: must not be empty'})
        event.payload_text = event.payload_text.replace('"partial": false', '"partial": true')
        self.assertTrue(event.payload['fulfilment']['partial'])
        event.action_requeue()
        self.assertEqual(event.state, 'pending')
        with self.assertRaises(UserError):
            event.payload_text = '{}'  # only rejected payloads are editable
        event.action_cancel()
        self.assertEqual(event.state, 'cancelled')
        event.write({'state': 'acknowledged'})
        with self.assertRaises(UserError):
            event.action_cancel()
