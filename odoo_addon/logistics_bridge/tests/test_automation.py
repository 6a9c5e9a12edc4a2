import unittest

from odoo.tests import tagged

from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestAutomation(LogisticsBridgeCase):
    """emit() is the documented entry point for automated actions' Python code."""

    CODE = "env['logistics.bridge.event'].emit('order.released', record)"

    def test_emit_from_a_server_action(self):
        order = self.make_order(confirm=False)
        order.action_confirm()
        picking = self.out_picking(order)
        self.events_of(picking).unlink()
        action = self.env['ir.actions.server'].create({
            'name': 'Release to the warehouse', 'model_id': self.env['ir.model']._get_id('stock.picking'),
            'state': 'code', 'code': self.CODE})
        action.with_context(active_model='stock.picking', active_id=picking.id, active_ids=picking.ids).run()
        event = self.events_of(picking)
        self.assertEqual(event.event_type, 'order.released')
        self.assert_valid_event(event)

    def test_emit_from_an_automation_rule(self):
        if 'base.automation' not in self.env:
            raise unittest.SkipTest("base_automation is not installed in this database (not a dependency of the module)")
        action = self.env['ir.actions.server'].create({
            'name': 'Release on priority', 'model_id': self.env['ir.model']._get_id('stock.picking'),
            'state': 'code', 'code': self.CODE})
        self.env['base.automation'].create({
            'name': 'Release urgent deliveries', 'model_id': self.env['ir.model']._get_id('stock.picking'),
            'trigger': 'on_create_or_write', 'trigger_field_ids': [(6, 0, [self.env['ir.model.fields']._get('stock.picking', 'priority').id])],
            'action_server_ids': [(6, 0, action.ids)]})
        picking = self.out_picking(self.make_order())
        picking.priority = '1'
        self.assertEqual(self.events_of(picking).mapped('event_type'), ['order.released', 'order.released'])
