import base64
import logging
import uuid
from datetime import timedelta

import psycopg2

from odoo.tests import new_test_user, tagged

from .common import LogisticsBridgeCase, WriteBackCase


@tagged('post_install', '-at_install')
class TestWriteBack(WriteBackCase):
    """logistics.bridge.api called as the integration user, the way the bridge calls it."""

    def label(self, **kw):
        payload = {'shipment_ref': self.picking.name, 'carrier': 'bridge_ground', 'service': 'GROUND',
                   'tracking_number': 'TRK123', 'tracking_url': 'https://track.example.com/TRK123',
                   'label': {'format': 'PDF', 'content_base64': base64.b64encode(b'%PDF-1.4 label').decode()},
                   'cost': {'amount': 18.4, 'currency': 'USD'}}
        return self.milestone('label.created', self.picking, payload, **kw)

    def test_label_sets_tracking_attaches_the_label_and_tells_people(self):
        item = self.label()
        [result] = self.apply(item)
        self.assertEqual(result, {'id': item['id'], 'status': 'applied', 'message': ''})
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK123')
        self.assertEqual(self.picking.carrier_tracking_url, 'https://track.example.com/TRK123')
        self.assertEqual(self.picking.bridge_status, 'label.created')
        attachment = self.env['ir.attachment'].search([('res_model', '=', 'stock.picking'), ('res_id', '=', self.picking.id),
                                                       ('name', 'like', 'LabelShipping-bridge')])
        self.assertEqual(attachment.raw, b'%PDF-1.4 label')
        self.assertIn(attachment, self.picking.message_ids[0].attachment_ids)
        self.assertEqual(self.picking.message_ids[0].author_id, self.integration_user.partner_id)
        milestone = self.picking.bridge_milestone_ids
        self.assertEqual((milestone.uuid, milestone.result, milestone.sale_id), (item['id'], 'applied', self.order))
        self.assertEqual(self.order.bridge_milestone_count, 1)

    def test_same_milestone_twice_is_a_duplicate_with_no_second_effect(self):
        item = self.label()
        self.apply(item)
        messages = len(self.picking.message_ids)
        [again] = self.apply(item)
        self.assertEqual(again['status'], 'duplicate')
        self.assertEqual(len(self.picking.message_ids), messages)
        self.assertEqual(len(self.picking.bridge_milestone_ids), 1)
        self.assertEqual(self.env['ir.attachment'].search_count([('res_model', '=', 'stock.picking'), ('res_id', '=', self.picking.id),
                                                                 ('name', 'like', 'LabelShipping-bridge')]), 1)
        # and within one batch
        item2 = self.milestone('shipment.in_transit', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=1))
        results = self.apply(item2, item2)
        self.assertEqual([r['status'] for r in results], ['applied', 'duplicate'])

    def test_older_milestone_never_moves_the_status_backwards(self):
        delivered = self.milestone('shipment.delivered', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=5))
        in_transit = self.milestone('shipment.in_transit', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=2))
        results = self.apply(delivered, in_transit)
        self.assertEqual([r['status'] for r in results], ['applied', 'stale'])
        self.assertEqual(self.picking.bridge_status, 'shipment.delivered')
        self.assertEqual(sorted(self.picking.bridge_milestone_ids.mapped('result')), ['applied', 'stale'])
        # a newer one still applies
        returned = self.milestone('shipment.returned', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=9))
        self.assertEqual(self.apply(returned)[0]['status'], 'applied')
        self.assertEqual(self.picking.bridge_status, 'shipment.returned')

    def test_exception_becomes_an_activity_for_the_responsible_user(self):
        responsible = new_test_user(self.env, login='lb_responsible', groups='stock.group_stock_user')
        self.picking.user_id = responsible
        item = self.milestone('shipment.exception', self.picking, self.status_payload(
            self.picking, reason_class='address_invalid', reason='Street number does not exist'))
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        activity = self.picking.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, responsible)
        self.assertIn('Street number does not exist', activity.note)
        self.assertEqual(self.picking.bridge_problem, 'address_invalid: Street number does not exist')
        self.assertEqual(self.picking.bridge_status, 'shipment.exception')

    def test_proof_of_delivery_creates_the_invoice_when_enabled(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.invoice_on_pod', 'True')
        item = self.milestone('shipment.proof_of_delivery', self.picking, {
            'shipment_ref': self.picking.name, 'signer': 'J. Doe', 'signed_at': '2026-11-27T15:04:00Z',
            'evidence_url': 'https://pod.example.com/1.png'})
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        self.assertEqual(self.picking.bridge_pod_signer, 'J. Doe')
        self.assertTrue(self.order.invoice_ids, "an invoice is created from the delivered quantities")

    def test_proof_of_delivery_without_invoicing(self):
        item = self.milestone('shipment.proof_of_delivery', self.picking, {
            'shipment_ref': self.picking.name, 'signer': 'J. Doe', 'signed_at': '2026-11-27T15:04:00Z'})
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        self.assertFalse(self.order.invoice_ids)

    def test_one_bad_item_never_fails_the_batch(self):
        good = self.milestone('shipment.dispatched', self.picking, self.status_payload(self.picking))
        wrong_picking = self.milestone('shipment.delivered', self.picking, self.status_payload(self.picking, shipment_ref='WH/OUT/99999'))
        unknown = self.milestone('shipment.delivered', self.picking, self.status_payload(self.picking), aggregate='stock.picking:999999999')
        invalid = self.milestone('shipment.exception', self.picking, self.status_payload(self.picking, reason_class='aliens', reason='x'))
        not_an_object = 'hello'
        results = self.apply(good, wrong_picking, unknown, invalid, not_an_object)
        self.assertEqual([r['status'] for r in results], ['applied', 'rejected', 'rejected', 'rejected', 'rejected'])
        self.assertEqual([r['id'] for r in results], [good['id'], wrong_picking['id'], unknown['id'], invalid['id'], None])
        self.assertIn('WH/OUT/99999', results[1]['message'])
        self.assertIn('no picking', results[2]['message'])
        self.assertIn('/payload/reason_class', results[3]['message'])
        self.assertEqual(self.picking.bridge_status, 'shipment.dispatched')

    def test_order_rejected_asks_a_person(self):
        item = self.milestone('order.rejected', self.picking, {
            'order_ref': self.order.name, 'picking_ref': self.picking.name, 'warehouse': self.warehouse.code,
            'reason_class': 'unknown_sku', 'reason': 'SKU FURN_0000 unknown'})
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        self.assertTrue(self.picking.activity_ids)
        self.assertIn('unknown_sku', self.picking.bridge_problem)

    def test_inventory_levels_are_recorded_and_applied_when_enabled(self):
        payload = {'sku': self.product_a.default_code, 'warehouse': self.warehouse.code,
                   'on_hand': {'value': 40, 'uom': 'Units'}, 'available': {'value': 35, 'uom': 'Units'}}
        before = self.product_a.with_context(warehouse_id=self.warehouse.id).qty_available
        item = self.milestone('inventory.level', None, payload, aggregate=f'inventory:{self.warehouse.code}')
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        self.product_a.invalidate_recordset()
        self.assertEqual(self.product_a.with_context(warehouse_id=self.warehouse.id).qty_available, before)  # recorded only
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.apply_inventory', 'True')
        newer = self.milestone('inventory.level', None, payload, aggregate=f'inventory:{self.warehouse.code}', occurred_at=timedelta(hours=1))
        older = self.milestone('inventory.level', None, dict(payload, on_hand={'value': 1, 'uom': 'Units'}),
                               aggregate=f'inventory:{self.warehouse.code}', occurred_at=timedelta(minutes=30))
        results = self.api.apply_inventory_levels([newer, older])
        self.assertEqual([r['status'] for r in results], ['applied', 'stale'])
        self.product_a.invalidate_recordset()
        self.assertEqual(self.product_a.with_context(warehouse_id=self.warehouse.id).qty_available, 40)

    def test_warehouse_dispatch_validates_the_delivery_when_enabled(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.validate_on_dispatch', 'True')
        order = self.make_order(qty_a=3, qty_b=2)
        picking = self.out_picking(order)
        move_a = picking.move_ids.filtered(lambda m: m.product_id == self.product_a)
        item = self.milestone('shipment.dispatched', picking, self.status_payload(picking, lines=[{
            'line_id': f'stock.move:{move_a.id}', 'sku': self.product_a.default_code,
            'quantity': {'value': 2, 'uom': move_a.product_uom.name}}]))
        self.assertEqual(self.apply(item)[0], {'id': item['id'], 'status': 'applied', 'message': ''})
        self.assertEqual(picking.state, 'done')
        self.assertEqual(move_a.quantity, 2)
        backorder = picking.backorder_ids
        self.assertEqual(sorted((m.product_id.id, m.product_uom_qty) for m in backorder.move_ids),
                         sorted([(self.product_a.id, 1.0), (self.product_b.id, 2.0)]))
        # the warehouse shipped it: no carrier request; the rest is released again
        self.assertEqual(self.events_of(picking).mapped('event_type'), ['order.released'])
        self.assertEqual(self.events_of(backorder).mapped('event_type'), ['order.released'])
        self.assertEqual(picking.bridge_status, 'shipment.dispatched')

    def test_warehouse_dispatch_only_records_when_disabled(self):
        picking = self.out_picking(self.make_order())
        item = self.milestone('shipment.dispatched', picking, self.status_payload(picking))
        self.assertEqual(self.apply(item)[0]['status'], 'applied')
        self.assertEqual(picking.state, 'assigned')

    def test_warehouse_dispatch_with_an_unknown_line_is_rejected_and_changes_nothing(self):
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.validate_on_dispatch', 'True')
        picking = self.out_picking(self.make_order())
        item = self.milestone('shipment.dispatched', picking, self.status_payload(picking, lines=[{
            'line_id': 'stock.move:999999', 'sku': 'NOPE', 'quantity': {'value': 1, 'uom': 'Units'}}]))
        [result] = self.apply(item)
        self.assertEqual(result['status'], 'rejected')
        self.assertIn('matches no open move', result['message'])
        self.assertEqual(picking.state, 'assigned')
        self.assertFalse(picking.bridge_milestone_ids)

    # -- bulk path ------------------------------------------------------------------------------

    def queries(self, items):
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        results = self.api.apply_milestones(items)
        self.env.flush_all()
        return self.env.cr.sql_log_count - before, results

    def level(self, minutes):
        payload = {'sku': self.product_a.default_code, 'warehouse': self.warehouse.code,
                   'on_hand': {'value': 40, 'uom': 'Units'}, 'available': {'value': 35, 'uom': 'Units'}}
        return self.milestone('inventory.level', None, payload, aggregate=f'inventory:{self.warehouse.code}',
                              occurred_at=timedelta(minutes=minutes))

    def new_picking(self):
        picking_type = self.warehouse.out_type_id
        return self.env['stock.picking'].create({
            'picking_type_id': picking_type.id, 'partner_id': self.customer.id,
            'location_id': picking_type.default_location_src_id.id,
            'location_dest_id': self.env.ref('stock.stock_location_customers').id})

    def test_a_batch_costs_the_same_queries_whatever_its_size(self):
        self.queries([self.level(0)])  # warm caches
        small, results = self.queries([self.level(i) for i in range(1, 6)])
        self.assertEqual({r['status'] for r in results}, {'applied'})
        large, results = self.queries([self.level(i) for i in range(10, 50)])
        self.assertEqual({r['status'] for r in results}, {'applied'})
        self.assertEqual(large, small, "inventory levels: one query per step, not per milestone")
        pickings = [self.new_picking() for _i in range(10)]
        transit = lambda picking, h: self.milestone('shipment.in_transit', picking, {'shipment_ref': picking.name}, occurred_at=timedelta(hours=h))
        self.queries([transit(pickings[0], 1)])  # warm caches
        small, results = self.queries([transit(p, 2) for p in pickings[1:3]])
        self.assertEqual({r['status'] for r in results}, {'applied'})
        large, results = self.queries([transit(p, 2) for p in pickings[3:10]])
        self.assertEqual({r['status'] for r in results}, {'applied'})
        self.assertEqual(large, small, "status milestones of several pickings: one query per step, not per milestone")
        self.assertEqual(set(self.env['stock.picking'].browse([p.id for p in pickings]).mapped('bridge_status')), {'shipment.in_transit'})

    def test_an_item_failing_in_the_bulk_step_falls_back_item_by_item(self):
        good = self.milestone('shipment.in_transit', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=1))
        bad_label = self.label(occurred_at=timedelta(hours=2))
        bad_label['payload']['label']['content_base64'] = '!!! not base64 !!!'
        later = self.milestone('shipment.dispatched', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=3))
        results = self.apply(good, bad_label, later)
        self.assertEqual([r['status'] for r in results], ['applied', 'rejected', 'applied'])
        self.assertIn('content_base64', results[1]['message'])
        self.assertEqual(sorted(self.picking.bridge_milestone_ids.mapped('uuid')), sorted([good['id'], later['id']]))
        self.assertFalse(self.env['ir.attachment'].search([('res_model', '=', 'stock.picking'), ('res_id', '=', self.picking.id),
                                                          ('name', 'like', 'LabelShipping-bridge')]))
        self.assertEqual(self.picking.bridge_status, 'shipment.dispatched')

    def test_one_chatter_note_per_picking_per_batch_for_what_people_care_about(self):
        messages = self.picking.message_ids
        results = self.apply(self.label(), self.milestone('shipment.dispatched', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=1)),
                             self.milestone('shipment.in_transit', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=2)))
        self.assertEqual([r['status'] for r in results], ['applied'] * 3)
        new = self.picking.message_ids - messages
        self.assertEqual(len(new), 1)
        self.assertIn('label.created', new.body)
        self.assertIn('shipment.dispatched', new.body)
        self.assertNotIn('shipment.in_transit', new.body)
        self.assertEqual(len(new.attachment_ids), 1)
        self.assertEqual(self.picking.bridge_status, 'shipment.in_transit')

    def test_delivery_is_noted_on_the_sale_order_for_the_salesperson(self):
        other = self.out_picking(self.make_order())
        order_messages, picking_messages = self.order.message_ids, self.picking.message_ids
        results = self.apply(self.milestone('shipment.delivered', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=8)),
                             self.milestone('shipment.in_transit', other, self.status_payload(other)))
        self.assertEqual([r['status'] for r in results], ['applied', 'applied'])
        [note] = self.order.message_ids - order_messages
        self.assertIn(self.picking.name, note.body)
        self.assertIn('shipment.delivered', note.body)
        self.assertEqual((note.author_id, note.subtype_id), (self.integration_user.partner_id, self.env.ref('mail.mt_note')))
        [picking_note] = self.picking.message_ids - picking_messages
        self.assertEqual((picking_note.author_id, picking_note.message_type), (self.integration_user.partner_id, 'comment'))
        self.assertIn('Reported by carrier-sim', picking_note.body)

    def test_order_within_a_batch_never_moves_the_status_backwards(self):
        results = self.apply(
            self.milestone('shipment.in_transit', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=2)),
            self.milestone('shipment.delivered', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=5)),
            self.milestone('shipment.out_for_delivery', self.picking, self.status_payload(self.picking), occurred_at=timedelta(hours=3)))
        self.assertEqual([r['status'] for r in results], ['applied', 'applied', 'stale'])
        self.assertIn('shipment.delivered', results[2]['message'])
        self.assertEqual((self.picking.bridge_status, self.picking.bridge_status_at.hour), ('shipment.delivered', 17))
        levels = self.api.apply_inventory_levels([self.level(60), self.level(30), self.level(90)])
        self.assertEqual([r['status'] for r in levels], ['applied', 'stale', 'applied'])

    def test_every_milestone_type_of_the_contract_has_a_handler(self):
        from ..services import contract
        from ..services.milestones import MilestoneApplier
        handled = set(MilestoneApplier(self.env, None)._handlers()) | {'inventory.level'}
        self.assertEqual(handled, set(contract.MILESTONE_TYPES))


@tagged('post_install', '-at_install')
class TestWriteBackConcurrency(LogisticsBridgeCase):
    """Two calls carrying the same milestone at once (two bridge workers): one applies; the other, whose
    snapshot predates the first commit, fails on the picking's lock without an ERROR line, and Odoo's
    replay of it (``retrying``: a fresh transaction) answers duplicate."""

    def test_same_milestone_in_two_concurrent_calls(self):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415
        registry = self.env.registry
        with registry.cursor() as cr:
            picking = api.Environment(cr, SUPERUSER_ID, {})['stock.picking'].search(
                [('picking_type_code', '=', 'outgoing'), ('state', 'not in', ('done', 'cancel'))], limit=1)
            picking_id, name = picking.id, picking.name
        self.assertTrue(picking_id, "demo data has an open delivery")
        item = self.milestone('shipment.in_transit', self.env['stock.picking'].browse(picking_id), {'shipment_ref': name})
        self.addCleanup(self._cleanup, item['id'], picking_id)
        uid = self.integration_user.id
        with registry.cursor() as cr1, registry.cursor() as cr2:
            api2 = api.Environment(cr2, uid, {})['logistics.bridge.api']
            cr2.execute("SELECT 1 FROM logistics_bridge_milestone LIMIT 1")  # cr2's snapshot starts before cr1 commits
            [first] = api.Environment(cr1, uid, {})['logistics.bridge.api'].apply_milestones([item])
            cr1.commit()
            with self.assertLogs('odoo.sql_db', level='DEBUG') as logs, self.assertRaises(psycopg2.errors.SerializationFailure) as caught:
                logging.getLogger('odoo.sql_db').debug('marker')
                api2.apply_milestones([item])
            self.assertFalse([r for r in logs.records if r.levelno >= logging.ERROR], "no 'bad query' ERROR line")
            self.assertEqual(caught.exception.loglevel, logging.WARNING)
            cr2.rollback()
            [second] = api2.apply_milestones([item])
            cr2.rollback()
        self.assertEqual(first['status'], 'applied')
        self.assertEqual(second['status'], 'duplicate')

    def test_same_inventory_level_in_two_concurrent_calls(self):
        """The same for inventory levels: the warehouse is the row both calls lock."""
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415
        registry = self.env.registry
        with registry.cursor() as cr:
            root = api.Environment(cr, SUPERUSER_ID, {})
            warehouse = root['stock.warehouse'].search([], limit=1)
            product = root['product.product'].search([('default_code', '!=', False)], limit=1)
            code, sku = warehouse.code, product.default_code
        self.assertTrue(code and sku, "demo data has a warehouse and a product with a reference")
        item = {'id': str(uuid.uuid4()), 'type': 'inventory.level', 'schema_version': 1, 'occurred_at': '2026-11-26T12:00:00Z',
                'source': {'partner': 'wms-sim'}, 'aggregate': f'inventory:{code}',
                'payload': {'warehouse': code, 'sku': sku, 'on_hand': {'value': 5, 'uom': 'Units'}, 'available': {'value': 5, 'uom': 'Units'}}}
        self.addCleanup(self._cleanup, item['id'], None)
        uid = self.integration_user.id
        with registry.cursor() as cr1, registry.cursor() as cr2:
            api2 = api.Environment(cr2, uid, {})['logistics.bridge.api']
            cr2.execute("SELECT 1 FROM logistics_bridge_milestone LIMIT 1")
            [first] = api.Environment(cr1, uid, {})['logistics.bridge.api'].apply_milestones([item])
            cr1.commit()
            with self.assertLogs('odoo.sql_db', level='DEBUG') as logs, self.assertRaises(psycopg2.errors.SerializationFailure):
                logging.getLogger('odoo.sql_db').debug('marker')
                api2.apply_milestones([item])
            self.assertFalse([r for r in logs.records if r.levelno >= logging.ERROR], "no 'bad query' ERROR line")
            cr2.rollback()
            [second] = api2.apply_milestones([item])
            cr2.rollback()
        self.assertEqual((first['status'], second['status']), ('applied', 'duplicate'), (first, second))

    def _cleanup(self, milestone_id, picking_id):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM logistics_bridge_milestone WHERE uuid = %s", [milestone_id])
            if picking_id:
                cr.execute("UPDATE stock_picking SET bridge_status = NULL, bridge_status_at = NULL WHERE id = %s", [picking_id])
