from datetime import datetime

from odoo.tests import tagged

from ..services import contract, payloads
from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestPayloads(LogisticsBridgeCase):
    """Every event type, produced by the standard Odoo flows on demo data, matches event.schema.json."""

    def test_order_released_from_sale_confirmation(self):
        order = self.make_order(qty_a=3, qty_b=2)
        picking = self.out_picking(order)
        envelope = self.assert_valid_event(self.events_of(picking, 'order.released'))
        payload = envelope['payload']
        self.assertEqual(envelope['source'], {'system': 'odoo', 'db': self.env.cr.dbname, 'model': 'stock.picking', 'res_id': picking.id})
        self.assertEqual(payload['order_ref'], order.name)
        self.assertEqual(payload['picking_ref'], picking.name)
        self.assertEqual(payload['warehouse'], self.warehouse.code)
        self.assertEqual(payload['fulfilment'], {'partial': False})
        self.assertEqual(payload['carrier'], {'carrier': 'bridge_ground', 'service': 'GROUND'})
        self.assertEqual(sorted((l['sku'], l['quantity']['value']) for l in payload['lines']),
                         sorted([(self.product_a.default_code, 3.0), (self.product_b.default_code, 2.0)]))

    def test_shipment_requested_and_backorder_with_partial_quantities(self):
        order = self.make_order(qty_a=3, qty_b=2)
        picking = self.out_picking(order)
        self.validate(picking, {self.product_a: 2, self.product_b: 0})
        shipment = self.assert_valid_event(self.events_of(picking, 'shipment.requested'))['payload']
        self.assertEqual(shipment['fulfilment'], {'partial': True})
        lines = {l['sku']: l for l in shipment['lines']}
        self.assertEqual(lines[self.product_a.default_code]['quantity']['value'], 2.0)
        self.assertEqual(lines[self.product_a.default_code]['backorder_quantity']['value'], 1.0)
        self.assertEqual(lines[self.product_b.default_code]['quantity']['value'], 0.0)
        self.assertEqual(lines[self.product_b.default_code]['backorder_quantity']['value'], 2.0)
        self.assertEqual(shipment['parcels'][0]['weight']['value'], 5.0)  # 2 x 2.5 kg shipped
        self.assertEqual(shipment['declared_value']['currency'], order.currency_id.name)
        self.assertEqual(self.events_of(picking).mapped('sequence'), [1, 2])

        backorder = picking.backorder_ids
        self.assertEqual(len(backorder), 1)
        released = self.assert_valid_event(self.events_of(backorder, 'order.released'))['payload']
        self.assertEqual(released['fulfilment'], {'partial': True, 'backorder_of': picking.name})
        self.assertEqual(sorted((l['sku'], l['quantity']['value']) for l in released['lines']),
                         sorted([(self.product_a.default_code, 1.0), (self.product_b.default_code, 2.0)]))

    def test_no_backorder_reports_no_backorder_quantity(self):
        picking = self.out_picking(self.make_order(qty_a=3, qty_b=2))
        self.validate(picking, {self.product_a: 3, self.product_b: 1}, backorder=False)
        shipment = self.assert_valid_event(self.events_of(picking, 'shipment.requested'))['payload']
        self.assertFalse([l for l in shipment['lines'] if 'backorder_quantity' in l])
        self.assertFalse(picking.backorder_ids)

    def test_validation_without_bridge_carrier_requests_no_shipment(self):
        picking = self.out_picking(self.make_order(carrier=False))
        self.validate(picking)
        self.assertFalse(self.events_of(picking, 'shipment.requested'))

    def test_order_cancelled(self):
        order = self.make_order()
        picking = self.out_picking(order)
        order._action_cancel()
        envelope = self.assert_valid_event(self.events_of(picking, 'order.cancelled'))
        self.assertEqual(envelope['payload']['picking_ref'], picking.name)
        self.assertEqual(envelope['schema_version'], 2, 'order.cancelled is written in its current version')

    def test_order_cancelled_reason_is_a_code_with_its_text(self):
        order = self.make_order()
        picking = self.out_picking(order)
        order.with_context(logistics_bridge_reason='customer phoned', logistics_bridge_reason_code='customer_request')._action_cancel()
        payload = self.assert_valid_event(self.events_of(picking, 'order.cancelled'))['payload']
        self.assertEqual(payload['reason'], {'code': 'customer_request', 'text': 'customer phoned'})
        self.assertEqual(payloads.order_cancelled(picking, reason='  no stock ')['reason'], {'code': 'other', 'text': 'no stock'})
        self.assertNotIn('reason', payloads.order_cancelled(picking))

    def test_the_deprecated_version_1_still_validates(self):
        picking = self.out_picking(self.make_order())
        v1 = contract.envelope(event_id='0b7f3c1e-6a5d-4e8b-9f21-000000000001', event_type='order.cancelled', schema_version=1,
                               occurred_at=datetime(2026, 11, 26, 9, 30), db='lab', model='stock.picking', res_id=picking.id,
                               aggregate=f'stock.picking:{picking.id}', sequence=2,
                               payload={'order_ref': 'S1', 'picking_ref': picking.name, 'warehouse': 'WH', 'reason': 'text'})
        self.assertFalse(contract.validation_errors('event', v1))
        v1['schema_version'] = 2
        self.assertTrue(contract.validation_errors('event', v1), 'a text reason is not version 2')

    def test_shipment_cancelled(self):
        picking = self.out_picking(self.make_order())
        self.validate(picking)
        picking.carrier_tracking_ref = 'TRK-1'
        picking.cancel_shipment()
        payload = self.assert_valid_event(self.events_of(picking, 'shipment.cancelled'))['payload']
        self.assertEqual(payload['tracking_number'], 'TRK-1')
        self.assertEqual(self.events_of(picking).mapped('event_type'), ['order.released', 'shipment.requested', 'shipment.cancelled'])

    def test_return_requested(self):
        picking = self.out_picking(self.make_order())
        self.validate(picking)
        returned = self.create_return(picking, quantity=1)
        envelope = self.assert_valid_event(self.events_of(returned, 'return.requested'))
        payload = envelope['payload']
        self.assertEqual(payload['origin_shipment_ref'], picking.name)
        self.assertEqual(payload['return_ref'], returned.name)
        self.assertEqual(envelope['sequence'], 1)

    def test_every_event_type_was_covered(self):
        picking = self.out_picking(self.make_order())
        self.validate(picking, {self.product_a: 1, self.product_b: 1})
        picking.cancel_shipment()
        self.create_return(picking)
        other = self.make_order()
        other._action_cancel()
        types = set(self.Event.sudo().search([]).mapped('event_type'))
        self.assertEqual(types, {'order.released', 'order.cancelled', 'shipment.requested', 'shipment.cancelled', 'return.requested'})
        for event in self.Event.sudo().search([]):
            self.assert_valid_event(event)
