from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = 'sale.order'

    bridge_milestone_ids = fields.One2many('logistics.bridge.milestone', 'sale_id', string='Logistics Milestones')
    bridge_milestone_count = fields.Integer('Milestones', compute='_compute_bridge_milestone_count')

    @api.depends('bridge_milestone_ids')
    def _compute_bridge_milestone_count(self):
        for order in self:
            order.bridge_milestone_count = len(order.bridge_milestone_ids)

    def _action_confirm(self):
        """Release the order to the warehouse: one order.released per outgoing picking.

        Decision: the release happens at sale confirmation (not when the picking becomes ready),
        so a 3PL sees the demand as early as Odoo does and can reserve its own stock; a warehouse
        that must wait for availability holds the order on its side. Backorders are released
        again from stock.picking._create_backorder with their remaining quantities.
        """
        result = super()._action_confirm()
        self.picking_ids._logistics_bridge_release()
        return result

    def action_view_bridge_milestones(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id('logistics_bridge.action_logistics_bridge_milestone')
        action['domain'] = [('sale_id', '=', self.id)]
        action['context'] = {'create': False}
        return action
