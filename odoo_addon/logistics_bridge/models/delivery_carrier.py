from odoo import fields, models

from ..services import parcel_labels


class DeliveryCarrier(models.Model):
    """Shipping provider 'bridge': Odoo's standard carrier flow (carrier on the order, tracking link
    on the picking) with the label requested asynchronously through the bridge instead of inside
    picking validation."""

    _inherit = 'delivery.carrier'

    delivery_type = fields.Selection(selection_add=[('bridge', 'Logistics Bridge')], ondelete={'bridge': 'set default'})
    bridge_carrier_code = fields.Char('Bridge Carrier Code', help="Carrier code in canonical events; the bridge routes on it (default: the method's name).")
    bridge_service_code = fields.Char('Bridge Service Code', help="Optional service level in canonical events, e.g. GROUND.")

    def bridge_rate_shipment(self, order):
        # Rating stays local (the method's price): quoting must not wait for a partner.
        return self.fixed_rate_shipment(order)

    def bridge_send_shipping(self, pickings):
        # Nothing is sent from inside picking validation: stock.picking._action_done writes a
        # shipment.requested event and the label.created milestone brings the tracking number.
        return [{'exact_price': picking.carrier_id.fixed_price, 'tracking_number': False} for picking in pickings]

    def bridge_get_tracking_link(self, picking):
        if len(picking.bridge_parcel_labels or {}) > 1:
            # Several parcels: Odoo's JSON list of [number, url] (stock.picking.get_multiple_carrier_tracking).
            return parcel_labels.tracking_link(picking.bridge_parcel_labels, self.tracking_url)
        if picking.bridge_tracking_url:
            return picking.bridge_tracking_url
        if self.tracking_url and picking.carrier_tracking_ref:
            return self.tracking_url.replace('<shipmenttrackingnumber>', picking.carrier_tracking_ref)
        return False

    def bridge_cancel_shipment(self, pickings):
        pickings._logistics_bridge_emit_shipment_cancelled()
