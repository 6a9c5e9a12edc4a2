from odoo import models


class StockReturnPicking(models.TransientModel):
    _inherit = 'stock.return.picking'

    def _create_return(self):
        new_picking = super()._create_return()
        origin = new_picking.return_id or self.picking_id
        if origin.picking_type_code == 'outgoing' and \
                new_picking._logistics_bridge_settings().workflow_mode('return') != 'off':
            new_picking._logistics_bridge_emit('return.requested')
        return new_picking
