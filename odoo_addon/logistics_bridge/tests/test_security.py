from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestSecurity(LogisticsBridgeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls.make_order(cls)
        cls.picking = cls.out_picking(cls, cls.order)
        cls.event = cls.events_of(cls, cls.picking)
        cls.bridge_env = cls.env(user=cls.integration_user)

    def test_integration_user_has_only_the_rights_it_needs(self):
        env = self.bridge_env
        # what it needs: read and update deliveries, read orders, record milestones
        self.assertEqual(env['stock.picking'].browse(self.picking.id).name, self.picking.name)
        env['stock.picking'].browse(self.picking.id).write({'carrier_tracking_ref': 'TRK-SEC'})
        self.assertEqual(env['sale.order'].browse(self.order.id).name, self.order.name)
        self.assertTrue(env['logistics.bridge.milestone'].check_access('create') is None)
        # what it must not do
        with self.assertRaises(AccessError):
            env['sale.order'].browse(self.order.id).write({'note': 'hacked'})
        with self.assertRaises(AccessError):
            env['sale.order'].create({'partner_id': self.customer.id})
        with self.assertRaises(AccessError):
            env['stock.picking'].create({'picking_type_id': self.picking.picking_type_id.id})
        with self.assertRaises(AccessError):
            env['stock.picking'].browse(self.picking.id).unlink()
        with self.assertRaises(AccessError):
            env['logistics.bridge.event'].browse(self.event.id).write({'state': 'cancelled'})
        with self.assertRaises(AccessError):
            env['logistics.bridge.event'].browse(self.event.id).action_requeue()
        with self.assertRaises(AccessError):
            env['logistics.bridge.milestone'].check_access('write')
        with self.assertRaises(AccessError):
            env['ir.config_parameter'].get_param('logistics_bridge.token')
        with self.assertRaises(AccessError):
            env['ir.config_parameter'].search([('key', '=', 'logistics_bridge.token')]).read(['value'])
        with self.assertRaises(AccessError):
            env['stock.quant'].create({'product_id': self.product_a.id, 'location_id': self.warehouse.lot_stock_id.id, 'inventory_quantity': 5})
        with self.assertRaises(AccessError):
            env['account.move'].search([], limit=1)
        self.assertFalse(self.integration_user.has_group('stock.group_stock_user'))
        self.assertFalse(self.integration_user.has_group('base.group_system'))
        self.assertFalse(self.integration_user.has_group('logistics_bridge.group_logistics_bridge_manager'))

    def test_emit_is_not_reachable_over_rpc(self):
        from odoo.service.model import get_public_method
        with self.assertRaises(AccessError):
            get_public_method(self.env['logistics.bridge.event'], 'emit')
        get_public_method(self.env['logistics.bridge.api'], 'apply_milestones')  # the API is

    def test_token_field_is_for_administrators_only(self):
        field = self.env['res.config.settings']._fields['logistics_bridge_token']
        self.assertEqual(field.groups, 'base.group_system')
        manager = new_test_user(self.env, login='lb_stock_manager', groups='stock.group_stock_manager')
        self.assertTrue(manager.has_group('logistics_bridge.group_logistics_bridge_manager'))
        with self.assertRaises(AccessError):
            self.env['ir.config_parameter'].with_user(manager).get_param('logistics_bridge.token')

    def test_write_back_api_refuses_other_users(self):
        salesman = new_test_user(self.env, login='lb_salesman', groups='sales_team.group_sale_salesman')
        with self.assertRaises(AccessError):
            self.env['logistics.bridge.api'].with_user(salesman).apply_milestones([])
        self.assertEqual(self.env['logistics.bridge.api'].with_user(self.integration_user).apply_milestones([]), [])

    def test_managers_see_and_fix_events_salesmen_do_not(self):
        manager = new_test_user(self.env, login='lb_manager', groups='logistics_bridge.group_logistics_bridge_manager')
        events = self.env['logistics.bridge.event'].with_user(manager).search([('id', '=', self.event.id)])
        self.assertEqual(events, self.event)
        self.event.write({'state': 'rejected'})
        events.action_requeue()
        salesman = new_test_user(self.env, login='lb_salesman2', groups='sales_team.group_sale_salesman')
        with self.assertRaises(AccessError):
            self.env['logistics.bridge.event'].with_user(salesman).search([])
        # ... yet a salesman's confirmation still writes its outbox row
        order = self.env['sale.order'].with_user(salesman).create({
            'partner_id': self.customer.id, 'warehouse_id': self.warehouse.id,
            'order_line': [(0, 0, {'product_id': self.product_a.id, 'product_uom_qty': 1})]})
        order.action_confirm()
        picking = self.out_picking(order.sudo())
        self.assertEqual(self.events_of(picking).mapped('event_type'), ['order.released'])

    def test_multi_company_records_stay_in_their_company(self):
        other = self.env['res.company'].create({'name': 'Other Logistics Co'})
        warehouse = self.env['stock.warehouse'].search([('company_id', '=', other.id)], limit=1)
        picking = self.env['stock.picking'].with_company(other).create({
            'picking_type_id': warehouse.out_type_id.id, 'partner_id': self.customer.id,
            'location_id': warehouse.lot_stock_id.id, 'location_dest_id': self.env.ref('stock.stock_location_customers').id})
        item = self.milestone('shipment.in_transit', picking, self.status_payload(picking))
        [result] = self.env['logistics.bridge.api'].with_user(self.integration_user).apply_milestones([item])
        self.assertEqual(result['status'], 'rejected')
        self.assertFalse(self.env['logistics.bridge.milestone'].search([('uuid', '=', item['id'])]))
        # an event of the other company is invisible to a manager of the main company only
        event = self.env['logistics.bridge.event'].emit('order.released', picking, payload={'x': 1})
        manager = new_test_user(self.env, login='lb_manager_mc', groups='logistics_bridge.group_logistics_bridge_manager')
        self.assertFalse(self.env['logistics.bridge.event'].with_user(manager).search([('id', '=', event.id)]))
