from odoo.tests import new_test_user, tagged

from .common import LogisticsBridgeCase


@tagged('post_install', '-at_install')
class TestScreens(LogisticsBridgeCase):
    """Inventory > Logistics Bridge is for managers; the milestone tab and smart buttons render."""

    def test_menus_for_managers_only(self):
        root = self.env.ref('logistics_bridge.menu_logistics_bridge_root')
        settings = self.env.ref('logistics_bridge.menu_logistics_bridge_settings')
        manager = new_test_user(self.env, login='lb_menu_manager', groups='stock.group_stock_manager')
        salesman = new_test_user(self.env, login='lb_menu_salesman', groups='sales_team.group_sale_salesman,stock.group_stock_user')
        visible = self.env['ir.ui.menu'].with_user(manager)._visible_menu_ids()
        self.assertIn(root.id, visible)
        self.assertIn(self.env.ref('logistics_bridge.menu_logistics_bridge_todo').id, visible)
        self.assertIn(self.env.ref('logistics_bridge.menu_logistics_bridge_overview').id, visible)
        self.assertNotIn(settings.id, visible)  # settings: administrators only
        self.assertIn(settings.id, self.env['ir.ui.menu']._visible_menu_ids())
        self.assertNotIn(root.id, self.env['ir.ui.menu'].with_user(salesman)._visible_menu_ids())

    def test_views_render_for_their_users(self):
        manager = new_test_user(self.env, login='lb_view_manager', groups='logistics_bridge.group_logistics_bridge_manager,sales_team.group_sale_salesman')
        for model in ('logistics.bridge.event', 'logistics.bridge.milestone'):
            views = self.env[model].with_user(manager).get_views([(False, 'list'), (False, 'form'), (False, 'search')])
            self.assertEqual(set(views['views']), {'list', 'form', 'search'})
        picking_form = self.env['stock.picking'].with_user(manager).get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('bridge_milestone_ids', picking_form)
        self.assertIn('action_view_bridge_milestones', picking_form)
        order_form = self.env['sale.order'].with_user(manager).get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('action_view_bridge_milestones', order_form)

    def test_smart_button_opens_the_picking_milestones(self):
        picking = self.out_picking(self.make_order())
        action = picking.action_view_bridge_milestones()
        self.assertEqual(action['res_model'], 'logistics.bridge.milestone')
        self.assertEqual(action['domain'], [('picking_id', '=', picking.id)])
