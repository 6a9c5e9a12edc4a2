import socket
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged

from ..services.dispatcher import Dispatcher
from ..services.settings import BridgeSettings
from .common import LogisticsBridgeCase
from .fake_bridge import FakeBridge, ack_all


def answer(request, accepted=(), duplicates=(), rejected=()):
    return {'jsonrpc': '2.0', 'id': request['id'],
            'result': {'accepted': list(accepted), 'duplicates': list(duplicates), 'rejected': list(rejected)}}


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@tagged('post_install', '-at_install')
class TestDispatch(LogisticsBridgeCase):

    def setUp(self):
        super().setUp()
        self.Event.sudo().search([('state', 'in', ('pending', 'sent'))]).write({'state': 'cancelled'})

    def dispatcher(self, url, **kw):
        settings = BridgeSettings(url=url, token='s3cret', timeout=3, backoff_base=30, backoff_cap=900, **kw)
        return Dispatcher(self.env(user=SUPERUSER_ID), settings)

    def send(self, url, **kw):
        """One dispatch run, then hang up like the cron does."""
        dispatcher = self.dispatcher(url, **kw)
        try:
            return dispatcher.dispatch_once()
        finally:
            dispatcher.close()

    def pending_events(self, orders=2):
        for _i in range(orders):
            self.make_order()
        return self.Event.sudo().search([('state', '=', 'pending')], order='id')

    def test_acknowledged_events_are_done(self):
        events = self.pending_events(3)
        with FakeBridge(token='s3cret') as bridge:
            dispatcher = self.dispatcher(bridge.url)
            report = dispatcher.dispatch_once()
            dispatcher.close()
        self.assertEqual(report.acknowledged, 3)
        self.assertEqual(set(events.mapped('state')), {'acknowledged'})
        self.assertEqual(events.mapped('attempts'), [1, 1, 1])
        self.assertEqual(bridge.headers[0]['authorization'], 'Bearer s3cret')
        self.assertEqual([e['id'] for e in bridge.events], events.mapped('uuid'))
        self.assertEqual(bridge.requests[0]['method'], 'events.publish')
        # nothing left: a second run sends nothing
        self.assertEqual(self.send(bridge.url).picked, 0)

    def test_duplicates_are_done_too(self):
        events = self.pending_events(2)
        with FakeBridge(lambda r, b: answer(r, duplicates=[e['id'] for e in r['params']['events']])) as bridge:
            self.send(bridge.url)
        self.assertEqual(set(events.mapped('state')), {'duplicate'})

    def test_rejected_event_keeps_the_bridge_message_for_a_person(self):
        events = self.pending_events(2)
        bad = events[0]

        def handler(request, bridge):
            ids = [e['id'] for e in request['params']['events']]
            return answer(request, accepted=[i for i in ids if i != bad.uuid], rejected=[
                {'id': bad.uuid, 'code': 'invalid_event', 'message': 'street1 must not be empty', 'path': 'payload.ship_to.street1'}])

        with FakeBridge(handler) as bridge:
            self.send(bridge.url)
        self.assertEqual(bad.state, 'rejected')
        self.assertEqual(bad.last_error, 'street1 must not be empty')
        self.assertEqual(bad.rejection_path, 'payload.ship_to.street1')
        self.assertEqual(events[1].state, 'acknowledged')
        self.assertIn('street1 must not be empty', bad.picking_id.message_ids[0].body)
        self.assertIn(bad, self.env['logistics.bridge.event'].search([('state', '=', 'rejected')]))  # the to-do list's domain
        # a person fixes and requeues: the next run sends it again
        bad.action_requeue()
        with FakeBridge() as bridge:
            self.send(bridge.url)
        self.assertEqual(bad.state, 'acknowledged')
        self.assertEqual(bad.attempts, 2)

    def test_disconnect_mid_batch(self):
        events = self.pending_events(5)

        def handler(request, bridge):
            if len(bridge.requests) == 1:
                return ack_all(request, bridge)
            return None  # the bridge dies before answering the second request

        with FakeBridge(handler) as bridge:
            report = self.send(bridge.url, batch_size=2)
        self.assertTrue(report.transport_failed)
        self.assertEqual(events[:2].mapped('state'), ['acknowledged', 'acknowledged'])
        # the unanswered chunk may have reached the bridge: 'sent', retried later
        self.assertEqual(events[2:4].mapped('state'), ['sent', 'sent'])
        self.assertEqual(events[2:4].mapped('attempts'), [1, 1])
        # the chunk never sent stays pending, without counting an attempt
        self.assertEqual(events[4].state, 'pending')
        self.assertEqual(events[4].attempts, 0)
        for event in events[2:]:
            self.assertTrue(event.next_attempt_at > fields.Datetime.now())
        # later, the bridge is back and remembers the sent ones: duplicates, done exactly once
        for event in events[2:]:
            event.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        remembered = set(events[2:4].mapped('uuid'))
        with FakeBridge(lambda r, b: answer(r, accepted=[e['id'] for e in r['params']['events'] if e['id'] not in remembered],
                                             duplicates=[e['id'] for e in r['params']['events'] if e['id'] in remembered])) as bridge:
            self.send(bridge.url)
        self.assertEqual(events.mapped('state'), ['acknowledged'] * 2 + ['duplicate'] * 2 + ['acknowledged'])

    def test_bridge_down_keeps_events_pending_with_capped_backoff(self):
        events = self.pending_events(2)
        url = f'ws://127.0.0.1:{free_port()}/v1/odoo'
        before = fields.Datetime.now()
        report = self.send(url)
        self.assertTrue(report.transport_failed)
        self.assertEqual(set(events.mapped('state')), {'pending'})
        self.assertEqual(events.mapped('attempts'), [1, 1])
        for event in events:
            self.assertIn('cannot connect', event.last_error)
            delay = (event.next_attempt_at - before).total_seconds()
            self.assertTrue(14 <= delay <= 31, delay)  # base 30 s, equal jitter: [15, 30]
        # not due yet: the next run sends nothing
        with FakeBridge() as bridge:
            self.assertEqual(self.send(bridge.url).picked, 0)
        # many failures later the wait stays under the cap
        events.write({'attempts': 40, 'next_attempt_at': False})
        self.send(url)
        for event in events:
            self.assertLessEqual((event.next_attempt_at - fields.Datetime.now()).total_seconds(), 901)

    def test_json_rpc_error_is_transient(self):
        events = self.pending_events(1)
        with FakeBridge(lambda r, b: {'jsonrpc': '2.0', 'id': r['id'], 'error': {'code': -32000, 'message': 'store unavailable'}}) as bridge:
            self.send(bridge.url)
        self.assertEqual(events.state, 'pending')
        self.assertIn('store unavailable', events.last_error)

    def test_an_event_waits_for_the_earlier_event_of_its_aggregate(self):
        order = self.make_order()
        picking = self.out_picking(order)
        released = self.events_of(picking)
        order._action_cancel()
        cancelled = self.events_of(picking, 'order.cancelled')
        released.next_attempt_at = fields.Datetime.now() + timedelta(minutes=5)  # backing off
        with FakeBridge() as bridge:
            report = self.send(bridge.url)
        self.assertEqual(report.blocked, 1)
        self.assertNotIn(cancelled.uuid, [e['id'] for e in bridge.events])
        self.assertEqual(cancelled.state, 'pending')

    def test_cron_entry_point_sends(self):
        events = self.pending_events(1)
        with FakeBridge() as bridge:
            self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.url', bridge.url)
            # _cron_dispatch commits between batches; run one batch the way it does, without committing
            dispatcher = self.Event._dispatcher()
            dispatcher.dispatch_once()
            dispatcher.close()
        self.assertEqual(events.state, 'acknowledged')


@tagged('post_install', '-at_install')
class TestDispatchLocking(LogisticsBridgeCase):
    """Two dispatch transactions never send the same event (committed rows, real second cursor)."""

    def test_two_workers_never_lock_the_same_event(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            picking = env['stock.picking'].search([('picking_type_code', '=', 'outgoing')], limit=1)
            created = env['logistics.bridge.event'].create([{
                'event_type': 'order.released', 'aggregate': f'test.lock:{i}', 'sequence': 1,
                'payload': {}, 'picking_id': picking.id} for i in range(4)])
            ids = created.ids
        self.addCleanup(self._delete, ids)
        settings = BridgeSettings(url='ws://127.0.0.1:9/none', max_events_per_run=2)
        with registry.cursor() as cr1, registry.cursor() as cr2:
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            first, _blocked = Dispatcher(env1, settings)._lock_sendable()
            second, _blocked = Dispatcher(env2, settings)._lock_sendable()
            self.assertEqual(len(first), 2)
            self.assertEqual(len(second), 2)
            self.assertFalse(set(first) & set(second))
            self.assertEqual(set(first) | set(second), set(ids))
            cr1.rollback()
            cr2.rollback()

    def test_concurrent_emits_on_one_aggregate_never_share_a_number(self):
        """The later transaction gets a serialization failure (Odoo retries the request), never a duplicate number."""
        import psycopg2
        from odoo.tools import mute_logger
        aggregate = 'test.concurrency:1'
        registry = self.env.registry
        self.addCleanup(self._delete_aggregate, aggregate)
        with registry.cursor() as cr1, registry.cursor() as cr2:
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            cr2.execute("SELECT COUNT(*) FROM logistics_bridge_event")  # cr2's snapshot starts now
            env1['logistics.bridge.event'].emit('order.released', payload={'n': 1}, aggregate=aggregate)
            cr1.commit()
            with self.assertRaises(psycopg2.errors.SerializationFailure), mute_logger('odoo.sql_db'):
                env2['logistics.bridge.event'].emit('order.released', payload={'n': 2}, aggregate=aggregate)
            cr2.rollback()
            # retried, as Odoo does: the next number
            event = env2['logistics.bridge.event'].emit('order.released', payload={'n': 2}, aggregate=aggregate)
            self.assertEqual(event.sequence, 2)
            cr2.commit()

    def _delete_aggregate(self, aggregate):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM logistics_bridge_event WHERE aggregate = %s", [aggregate])
            cr.execute("DELETE FROM logistics_bridge_aggregate_sequence WHERE aggregate = %s", [aggregate])

    def _delete(self, ids):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM logistics_bridge_event WHERE id = ANY(%s)", [ids])
