import json
import uuid

from odoo.tests import HttpCase, tagged

from ..services import contract


@tagged('post_install', '-at_install')
class TestHttpApi(HttpCase):
    """The write-back API over Odoo 19's JSON-2 and the legacy /jsonrpc execute_kw, as the bridge calls it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.env.ref('logistics_bridge.user_logistics_bridge')
        cls.key = cls.env['res.users.apikeys'].with_user(cls.user).sudo()._generate(None, 'bridge test', None)
        picking_type = cls.env['stock.warehouse'].search([('company_id', '=', cls.env.company.id)], limit=1).out_type_id
        cls.picking = cls.env['stock.picking'].create({
            'picking_type_id': picking_type.id, 'partner_id': cls.env.ref('base.res_partner_2').id,
            'location_id': picking_type.default_location_src_id.id,
            'location_dest_id': cls.env.ref('stock.stock_location_customers').id})

    def milestone(self, mtype='shipment.in_transit'):
        return {'id': str(uuid.uuid4()), 'type': mtype, 'schema_version': 1, 'occurred_at': '2026-11-26T12:00:00Z',
                'source': {'partner': 'carrier-sim'}, 'aggregate': f'stock.picking:{self.picking.id}',
                'payload': {'shipment_ref': self.picking.name, 'tracking_number': 'TRK9'}}

    def json2(self, method, body, key=None):
        return self.url_open(f'/json/2/logistics.bridge.api/{method}', data=json.dumps(body),
                             headers={'Authorization': f'bearer {key or self.key}', 'Content-Type': 'application/json'})

    def test_json2_apply_milestones(self):
        item = self.milestone()
        response = self.json2('apply_milestones', {'milestones': [item, item]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual([r['status'] for r in response.json()], ['applied', 'duplicate'])
        self.picking.invalidate_recordset()
        self.assertEqual(self.picking.bridge_status, 'shipment.in_transit')

    def test_json2_bad_key_is_401(self):
        response = self.json2('apply_milestones', {'milestones': []}, key='not-a-key')
        self.assertEqual(response.status_code, 401)

    def test_json2_contract_info(self):
        response = self.json2('contract_info', {})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()['milestone_types'], contract.MILESTONE_TYPES)

    def test_jsonrpc_execute_kw(self):
        item = self.milestone('shipment.dispatched')
        body = {'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': {
            'service': 'object', 'method': 'execute_kw',
            'args': [self.env.cr.dbname, self.user.id, self.key, 'logistics.bridge.api', 'apply_milestones', [[item]]]}}
        response = self.url_open('/jsonrpc', data=json.dumps(body), headers={'Content-Type': 'application/json'})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()['result'], [{'id': item['id'], 'status': 'applied', 'message': ''}])

    def test_event_states_over_json2_and_jsonrpc(self):
        event = self.env['logistics.bridge.event'].emit('order.released', self.picking, payload={'recorded': False})
        dead = {'id': event.uuid, 'state': 'dead', 'attempts': 3, 'at': '2026-11-26T12:00:00.500Z',
                'last_error': '422 address_invalid', 'error_class': 'business'}
        unknown = dict(dead, id=str(uuid.uuid4()))
        response = self.json2('apply_event_states', {'states': [dead, unknown, dead]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual([r['status'] for r in response.json()], ['applied', 'unknown', 'duplicate'])
        event.invalidate_recordset()
        self.assertEqual((event.bridge_state, event.bridge_error_class), ('dead', 'business'))
        delivered = {'id': event.uuid, 'state': 'delivered', 'attempts': 4, 'at': '2026-11-26T12:30:00Z'}
        body = {'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': {
            'service': 'object', 'method': 'execute_kw',
            'args': [self.env.cr.dbname, self.user.id, self.key, 'logistics.bridge.api', 'apply_event_states', [[delivered]]]}}
        response = self.url_open('/jsonrpc', data=json.dumps(body), headers={'Content-Type': 'application/json'})
        self.assertEqual(response.json()['result'], [{'id': event.uuid, 'status': 'applied', 'message': ''}])
        event.invalidate_recordset()
        self.assertEqual(event.bridge_state, 'delivered')

    def test_json2_unknown_method_is_404(self):
        # what the bridge reads as "this Odoo has no such method" (an older module): the state push turns off
        response = self.json2('apply_event_statez', {'states': []})
        self.assertEqual(response.status_code, 404)
