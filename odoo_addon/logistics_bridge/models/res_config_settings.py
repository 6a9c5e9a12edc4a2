from odoo import api, fields, models
from odoo.tools import ormcache

from ..services.settings import DEFAULT_URL, PREFIX, WORKFLOW_MODES, BridgeSettings


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    logistics_bridge_url = fields.Char('Bridge URL', config_parameter='logistics_bridge.url', default=DEFAULT_URL,
                                       help="Websocket of the bridge's Odoo surface, e.g. ws://127.0.0.1:8787/v1/odoo")
    logistics_bridge_token = fields.Char('Bridge Token', config_parameter='logistics_bridge.token', groups='base.group_system',
                                         help="Sent as 'Authorization: Bearer <token>' when connecting to the bridge.")
    logistics_bridge_workflow_order = fields.Selection(WORKFLOW_MODES, 'Order release', config_parameter='logistics_bridge.workflow_order', default='realtime')
    logistics_bridge_workflow_shipment = fields.Selection(WORKFLOW_MODES, 'Carrier shipments', config_parameter='logistics_bridge.workflow_shipment', default='realtime')
    logistics_bridge_workflow_return = fields.Selection(WORKFLOW_MODES, 'Returns', config_parameter='logistics_bridge.workflow_return', default='realtime')
    logistics_bridge_batch_size = fields.Integer('Events per request', config_parameter='logistics_bridge.batch_size', default=100)
    logistics_bridge_invoice_on_pod = fields.Boolean('Invoice on proof of delivery', config_parameter='logistics_bridge.invoice_on_pod')
    logistics_bridge_apply_inventory = fields.Boolean('Apply partner inventory levels', config_parameter='logistics_bridge.apply_inventory')
    logistics_bridge_validate_on_dispatch = fields.Boolean('Validate deliveries dispatched by the warehouse', config_parameter='logistics_bridge.validate_on_dispatch')

    logistics_bridge_alert_pending_minutes = fields.Integer(
        'Alert when an event waits longer than (min)', config_parameter='logistics_bridge.alert_pending_minutes', default=30,
        help="The overview shows a warning when the oldest event not yet acknowledged by the bridge is older.")
    logistics_bridge_alert_contact_minutes = fields.Integer(
        'Alert when the bridge is silent for (min)', config_parameter='logistics_bridge.alert_contact_minutes', default=60,
        help="The overview shows a warning when neither an acknowledgement nor a write-back call came for longer.")

    @api.model
    @ormcache(cache='stable')
    def _logistics_bridge_settings(self):
        """The module's settings as a plain BridgeSettings object.

        Read in one query and kept in the registry's 'stable' cache, which ir.config_parameter clears
        on every change (as it does for its own get_param cache): the business hooks read the
        settings on every confirmation, so they cost no query there.
        """
        self.env['ir.config_parameter'].flush_model(['key', 'value'])
        self.env.cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE %s",
                            [PREFIX.replace('_', '\\_') + '%'])
        params = dict(self.env.cr.fetchall())
        return BridgeSettings.from_params(lambda key, default=False: params.get(key, default))
