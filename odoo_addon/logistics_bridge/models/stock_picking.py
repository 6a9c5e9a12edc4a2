from markupsafe import Markup

from odoo import _, api, fields, models

from ..services import contract, payloads

BRIDGE_STATUSES = [(t, t.split('.', 1)[1].replace('_', ' ').title()) for t in contract.SHIPMENT_STATUS_RANK]


class StockPicking(models.Model):
    _inherit = 'stock.picking'

    bridge_event_ids = fields.One2many('logistics.bridge.event', 'picking_id', string='Logistics Events',
                                       groups='logistics_bridge.group_logistics_bridge_manager')
    bridge_milestone_ids = fields.One2many('logistics.bridge.milestone', 'picking_id', string='Logistics Milestones')
    bridge_milestone_count = fields.Integer('Milestones', compute='_compute_bridge_milestone_count')
    bridge_status = fields.Selection(BRIDGE_STATUSES, 'Logistics Status', readonly=True, copy=False, index=True,
                                     help="Latest shipment status reported through the bridge.")
    bridge_status_at = fields.Datetime('Logistics Status Time', readonly=True, copy=False,
                                       help="occurred_at of the milestone that set the status; older milestones never move it back.")
    bridge_tracking_url = fields.Char('Partner Tracking URL', readonly=True, copy=False)
    bridge_parcel_labels = fields.Json('Parcel Labels', readonly=True, copy=False,
                                       help="The current label of each parcel, by parcel number (services/parcel_labels.py); "
                                            "carrier_tracking_ref joins their tracking numbers.")
    bridge_problem = fields.Char('Logistics Problem', readonly=True, copy=False, help="Last rejection or exception reported by a partner.")
    bridge_pod_signer = fields.Char('Signed By', readonly=True, copy=False)
    bridge_pod_signed_at = fields.Datetime('Signed At', readonly=True, copy=False)
    bridge_pod_url = fields.Char('Proof of Delivery', readonly=True, copy=False)

    @api.depends('bridge_milestone_ids')
    def _compute_bridge_milestone_count(self):
        for picking in self:
            picking.bridge_milestone_count = len(picking.bridge_milestone_ids)

    # ------------------------------------------------------------------
    # Hooks on business methods: they only write outbox rows
    # ------------------------------------------------------------------

    def _logistics_bridge_settings(self):
        return self.env['res.config.settings'].sudo()._logistics_bridge_settings()

    def _logistics_bridge_last_types(self):
        """{picking id: type of the latest event of its aggregate}."""
        if not self.ids:
            return {}
        self.env['logistics.bridge.event'].flush_model(['aggregate', 'sequence', 'event_type'])
        self.env.cr.execute("""
            SELECT DISTINCT ON (aggregate) aggregate, event_type FROM logistics_bridge_event
             WHERE aggregate = ANY(%s) AND state != 'cancelled'
             ORDER BY aggregate, sequence DESC
        """, [[f'stock.picking:{pid}' for pid in self.ids]])
        return {int(agg.split(':')[1]): event_type for agg, event_type in self.env.cr.fetchall()}

    def _logistics_bridge_emit(self, event_type, **builder_kwargs):
        Event = self.env['logistics.bridge.event']
        payloads.prefetch(self)
        for picking in self:
            Event.emit(event_type, picking, payload=payloads.build_payload(event_type, picking, **builder_kwargs))

    def _logistics_bridge_release(self):
        """order.released for outgoing pickings not released yet (workflow 'order')."""
        if self._logistics_bridge_settings().workflow_mode('order') == 'off':
            return
        pickings = self.filtered(lambda p: p.picking_type_code == 'outgoing' and p.state not in ('draft', 'done', 'cancel'))
        released = pickings._logistics_bridge_last_types()
        pickings.filtered(lambda p: p.id not in released)._logistics_bridge_emit('order.released')

    def _create_backorder(self, backorder_moves=None):
        backorders = super()._create_backorder(backorder_moves=backorder_moves)
        # A backorder is released on its own, with the quantities still to ship and a link to the
        # picking it completes (fulfilment.backorder_of).
        backorders._logistics_bridge_release()
        return backorders

    def _action_done(self):
        demand = {move.id: move.product_uom_qty for move in self.move_ids}
        result = super()._action_done()
        # A delivery validated because the warehouse partner already shipped it needs no carrier request.
        if self._logistics_bridge_settings().workflow_mode('shipment') != 'off' \
                and not self.env.context.get('logistics_bridge_dispatched_by_partner'):
            to_ship = self.filtered(lambda p: p.state == 'done' and p.picking_type_code == 'outgoing'
                                    and p.carrier_id.delivery_type == 'bridge')
            cancel_backorder = bool(self.env.context.get('cancel_backorder'))
            for picking in to_ship:
                picking._logistics_bridge_emit('shipment.requested', demand=demand, cancel_backorder=cancel_backorder)
        return result

    def action_cancel(self):
        open_pickings = self.filtered(lambda p: p.state not in ('done', 'cancel') and p.picking_type_code == 'outgoing')
        result = super().action_cancel()
        if open_pickings and self._logistics_bridge_settings().workflow_mode('order') != 'off':
            last = open_pickings._logistics_bridge_last_types()
            # Only what the warehouse has heard of needs a cancellation.
            cancelled = open_pickings.filtered(lambda p: p.state == 'cancel' and last.get(p.id) not in (None, 'order.cancelled'))
            cancelled._logistics_bridge_emit('order.cancelled', reason=self.env.context.get('logistics_bridge_reason'),
                                             reason_code=self.env.context.get('logistics_bridge_reason_code'))
        return result

    def _logistics_bridge_emit_shipment_cancelled(self):
        """Called by the bridge carrier's cancel_shipment (the picking's 'Cancel shipment' button)."""
        if self._logistics_bridge_settings().workflow_mode('shipment') == 'off':
            return
        last = self._logistics_bridge_last_types()
        # Odoo calls the carrier once per picking with all pickings: emit once per shipment.
        pickings = self.filtered(lambda p: last.get(p.id) not in (None, 'shipment.cancelled'))
        pickings._logistics_bridge_emit('shipment.cancelled', reason=self.env.context.get('logistics_bridge_reason'))
        # The labels are void: the next label.created starts a new set of parcels.
        self.write({'bridge_tracking_url': False, 'bridge_parcel_labels': False})

    def send_to_shipper(self):
        if self.carrier_id.delivery_type != 'bridge':
            return super().send_to_shipper()
        self.ensure_one()
        if self.env.context.get('logistics_bridge_dispatched_by_partner'):
            return None  # the warehouse partner shipped it: no carrier request from Odoo
        # The bridge answers asynchronously (label.created milestone): record the price, say so.
        self.carrier_price = self.carrier_id._apply_margins(self.carrier_id.fixed_price, self.sale_id)
        self.message_post(body=Markup(_("Shipment requested from %(carrier)s through the Logistics Bridge; "
                                        "the label and tracking number will follow.")) % {'carrier': self.carrier_id.name})
        self._add_delivery_cost_to_so()
        return None

    def action_view_bridge_milestones(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id('logistics_bridge.action_logistics_bridge_milestone')
        action['domain'] = [('picking_id', '=', self.id)]
        action['context'] = {'create': False}
        return action
