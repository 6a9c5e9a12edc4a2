"""Applies canonical milestones (partner -> bridge -> Odoo) to pickings: the write-back API's logic.

Rules:
- idempotent by milestone id: a known id answers "duplicate" and changes nothing;
- out-of-order safe: a status milestone older (occurred_at) than the one that set the picking's
  current status is recorded as "stale" and never moves the status backwards;
- one bad item is "rejected" with its reason; the others of the batch are still applied
  (each item runs in its own savepoint). Database conflicts (serialization) are not caught: the
  whole call fails and the bridge retries it, every item then answering applied or duplicate.
"""
import base64
import binascii
import logging

import psycopg2

from markupsafe import Markup, escape

from odoo import _, fields
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError

from . import contract
from .payloads import sku as payloads_sku

_logger = logging.getLogger(__name__)

LABEL_MIMETYPES = {'PDF': 'application/pdf', 'PNG': 'image/png', 'ZPL': 'text/plain', 'EPL2': 'text/plain'}
# What a person cares about gets a chatter message; the rest is history only.
CHATTER_TYPES = {'order.accepted', 'order.rejected', 'label.created', 'shipment.dispatched', 'shipment.delivered',
                 'shipment.exception', 'shipment.returned', 'shipment.proof_of_delivery', 'freight.charged'}


class Rejected(Exception):
    """The milestone cannot be applied as sent (business problem, answered 'rejected')."""


def result(milestone_id, status, message=''):
    return {'id': milestone_id, 'status': status, 'message': message}


class MilestoneApplier:
    """Applies milestones with the caller's rights (the integration user), item by item."""

    def __init__(self, env, settings):
        self.env = env
        self.settings = settings
        self._label_attachment = None

    # -- entry point ----------------------------------------------------------------------------

    def apply_one(self, item):
        milestone_id = item.get('id') if isinstance(item, dict) and isinstance(item.get('id'), str) else None
        self._label_attachment = None
        try:
            with self.env.cr.savepoint():
                status, message = self._apply(item)
            return result(milestone_id, status, message)
        except psycopg2.errors.UniqueViolation:
            # The same milestone id written by a concurrent call that committed first.
            self.env.invalidate_all()
            return result(milestone_id, 'duplicate', 'already recorded (concurrent call)')
        except (Rejected, UserError, ValidationError, AccessError, MissingError, ValueError) as exc:
            # AccessError: the integration user may not touch that record (another company...).
            message = exc.args[0] if exc.args else type(exc).__name__
            _logger.info("logistics bridge milestone %s rejected: %s", milestone_id, message)
            return result(milestone_id, 'rejected', str(message))

    def _apply(self, item):
        self._validate(item)
        Milestone = self.env['logistics.bridge.milestone']
        # Existence of an id, whatever company it was recorded for (record rules would hide it).
        if Milestone.sudo().search_count([('uuid', '=', item['id'])], limit=1):
            return 'duplicate', 'already recorded'
        occurred_at = contract.parse_timestamp(item['occurred_at'])
        mtype = item['type']
        payload = item['payload']
        if mtype == 'inventory.level':
            return self._apply_inventory(item, occurred_at)
        picking = self._resolve_picking(item)
        stale = self._is_stale(picking, mtype, occurred_at)
        summary = self._summary(mtype, payload)
        vals = {
            'uuid': item['id'],
            'milestone_type': mtype,
            'schema_version': item.get('schema_version', 1),
            'occurred_at': occurred_at,
            'aggregate': item['aggregate'],
            'event_uuid': item.get('event_id'),
            'partner': item['source'].get('partner'),
            'partner_ref': item['source'].get('partner_ref'),
            'picking_id': picking.id,
            'company_id': picking.company_id.id,
            'result': 'stale' if stale else 'applied',
            'summary': summary,
            'payload': payload,
        }
        milestone = Milestone.create(vals)
        self._handlers()[mtype](picking, payload, occurred_at, milestone, stale)
        if stale:
            return 'stale', f"older than the current status ({picking.bridge_status} at {contract.format_timestamp(picking.bridge_status_at)}): recorded, status unchanged"
        if mtype in contract.SHIPMENT_STATUS_RANK:
            picking.write({'bridge_status': mtype, 'bridge_status_at': occurred_at})
        if mtype in CHATTER_TYPES:
            self._post(picking, milestone, summary)
        return 'applied', ''

    def _handlers(self):
        """Milestone type -> its effect on the picking (inventory.level has its own path)."""
        return {
            'order.accepted': self._on_order_accepted,
            'order.rejected': self._on_order_rejected,
            'label.created': self._on_label_created,
            'shipment.dispatched': self._on_shipment_dispatched,
            'shipment.in_transit': self._on_shipment_in_transit,
            'shipment.out_for_delivery': self._on_shipment_out_for_delivery,
            'shipment.delivered': self._on_shipment_delivered,
            'shipment.exception': self._on_shipment_exception,
            'shipment.returned': self._on_shipment_returned,
            'shipment.proof_of_delivery': self._on_shipment_proof_of_delivery,
            'freight.charged': self._on_freight_charged,
        }

    # -- checks ---------------------------------------------------------------------------------

    def _validate(self, item):
        if not isinstance(item, dict):
            raise Rejected('a milestone must be a JSON object')
        try:
            errors = contract.validation_errors('milestone', item)
        except ImportError:
            errors = [(f'/{key}', 'is required') for key in ('id', 'type', 'occurred_at', 'source', 'aggregate', 'payload')
                      if key not in item]
            if not errors and item.get('type') not in contract.MILESTONE_TYPES:
                errors = [('/type', f"unknown milestone type {item.get('type')!r}")]
        if errors:
            raise Rejected('; '.join(f"{path}: {message}" for path, message in errors[:5]))

    def _resolve_picking(self, item):
        model, _sep, res_id = item['aggregate'].partition(':')
        if model != 'stock.picking' or not res_id.isdigit():
            raise Rejected(f"aggregate {item['aggregate']!r} is not a stock.picking")
        picking = self.env['stock.picking'].browse(int(res_id)).exists()
        if not picking:
            raise Rejected(f"no picking {item['aggregate']}")
        picking.check_access('write')
        reference = item['payload'].get('shipment_ref') or item['payload'].get('picking_ref')
        if reference and reference != picking.name:
            raise Rejected(f"{item['aggregate']} is {picking.name}, not {reference}")
        return picking

    def _is_stale(self, picking, mtype, occurred_at):
        if mtype not in contract.SHIPMENT_STATUS_RANK:
            return False
        return bool(picking.bridge_status_at and occurred_at < picking.bridge_status_at)

    # -- per type -------------------------------------------------------------------------------

    def _on_order_accepted(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _on_order_rejected(self, picking, payload, occurred_at, milestone, stale):
        picking.bridge_problem = f"{payload['reason_class']}: {payload['reason']}"
        self._activity(picking, _("Order refused by the warehouse"),
                       _("The warehouse %(warehouse)s refused %(picking)s (%(cls)s): %(reason)s",
                         warehouse=payload['warehouse'], picking=picking.name, cls=payload['reason_class'], reason=payload['reason']))

    def _on_label_created(self, picking, payload, occurred_at, milestone, stale):
        vals = {}
        if not stale or not picking.carrier_tracking_ref:
            vals['carrier_tracking_ref'] = payload['tracking_number']
            vals['bridge_tracking_url'] = payload.get('tracking_url') or False
        if vals:
            picking.write(vals)
        label = payload['label']
        fmt = label['format']
        name = f"{picking.carrier_id._get_delivery_label_prefix() if picking.carrier_id else 'LabelShipping-bridge'}-{payload['tracking_number']}.{fmt.lower()}"
        attachment_vals = {'name': name, 'res_model': 'stock.picking', 'res_id': picking.id,
                           'description': f"Label {payload['carrier']} {payload['tracking_number']}"}
        if label.get('content_base64'):
            try:
                raw = base64.b64decode(label['content_base64'], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise Rejected(f"/payload/label/content_base64: not base64 ({exc})") from exc
            attachment_vals.update(type='binary', raw=raw, mimetype=LABEL_MIMETYPES.get(fmt, 'application/octet-stream'))
        elif label.get('url'):
            attachment_vals.update(type='url', url=label['url'])
        else:
            return
        attachment = self.env['ir.attachment'].create(attachment_vals)
        self._label_attachment = attachment

    def _on_shipment_dispatched(self, picking, payload, occurred_at, milestone, stale):
        if payload.get('tracking_number') and not picking.carrier_tracking_ref:
            picking.carrier_tracking_ref = payload['tracking_number']
        if not stale and self.settings.validate_on_dispatch and picking.state not in ('done', 'cancel') \
                and picking.picking_type_code == 'outgoing':
            self._validate_dispatched(picking, payload.get('lines'))

    def _validate_dispatched(self, picking, lines):
        """Validate ``picking`` with the quantities the warehouse shipped; the rest goes to a backorder.

        Lines match moves by ``line_id`` ("stock.move:<id>", as sent in order.released), else by
        SKU; no lines means everything was shipped. Validating moves stock, which needs inventory
        rights the integration user must not have: this step alone runs as superuser, behind the
        "Validate deliveries dispatched by the warehouse" setting.
        """
        picking_sudo = picking.sudo()
        moves = picking_sudo.move_ids.filtered(lambda m: m.state not in ('done', 'cancel'))
        if lines is None:
            shipped = {move: move.product_uom_qty for move in moves}
        else:
            shipped = {move: 0.0 for move in moves}
            for item in lines:
                move = moves.filtered(lambda m: f'stock.move:{m.id}' == item.get('line_id'))[:1] \
                    or moves.filtered(lambda m: payloads_sku(m.product_id) == item.get('sku'))[:1]
                if not move:
                    raise Rejected(f"line {item.get('line_id') or item.get('sku')!r} matches no open move of {picking.name}")
                if item['quantity']['uom'] != move.product_uom.name:
                    raise Rejected(f"line {item.get('line_id')}: unit {item['quantity']['uom']!r}, the move is in {move.product_uom.name!r}")
                shipped[move] += item['quantity']['value']
        if not any(qty > 0 for qty in shipped.values()):
            raise Rejected(f"shipment.dispatched for {picking.name} ships nothing")
        for move, qty in shipped.items():
            move.quantity = qty
            move.picked = qty > 0
        picking_sudo.with_context(logistics_bridge_dispatched_by_partner=True, cancel_backorder=False)._action_done()

    def _on_shipment_in_transit(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _on_shipment_out_for_delivery(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _on_shipment_delivered(self, picking, payload, occurred_at, milestone, stale):
        if not stale:
            picking.bridge_problem = False

    def _on_shipment_exception(self, picking, payload, occurred_at, milestone, stale):
        if stale:
            return
        picking.bridge_problem = f"{payload['reason_class']}: {payload['reason']}"
        self._activity(picking, _("Delivery exception: %s", payload['reason_class']),
                       _("%(picking)s: %(reason)s (tracking %(tracking)s)", picking=picking.name,
                         reason=payload['reason'], tracking=payload.get('tracking_number') or picking.carrier_tracking_ref or '-'))

    def _on_shipment_returned(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _on_shipment_proof_of_delivery(self, picking, payload, occurred_at, milestone, stale):
        picking.write({
            'bridge_pod_signer': payload['signer'],
            'bridge_pod_signed_at': contract.parse_timestamp(payload['signed_at']),
            'bridge_pod_url': payload.get('evidence_url') or False,
        })
        if self.settings.invoice_on_pod and picking.sale_id:
            self._invoice(picking)

    def _on_freight_charged(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _apply_inventory(self, item, occurred_at):
        payload = item['payload']
        warehouse = self.env['stock.warehouse'].search([('code', '=', payload['warehouse'])], limit=1)
        if not warehouse:
            raise Rejected(f"unknown warehouse {payload['warehouse']!r}")
        if item['aggregate'] != f"inventory:{payload['warehouse']}":
            raise Rejected(f"aggregate must be inventory:{payload['warehouse']}")
        product = self.env['product.product'].search([('default_code', '=', payload['sku'])], limit=1)
        if not product:
            raise Rejected(f"unknown SKU {payload['sku']!r}")
        Milestone = self.env['logistics.bridge.milestone']
        newer = Milestone.search_count([
            ('milestone_type', '=', 'inventory.level'), ('warehouse_id', '=', warehouse.id),
            ('sku', '=', payload['sku']), ('occurred_at', '>', occurred_at)], limit=1)
        Milestone.create({
            'uuid': item['id'], 'milestone_type': 'inventory.level', 'occurred_at': occurred_at,
            'aggregate': item['aggregate'], 'partner': item['source'].get('partner'),
            'partner_ref': item['source'].get('partner_ref'), 'warehouse_id': warehouse.id,
            'company_id': warehouse.company_id.id, 'result': 'stale' if newer else 'applied',
            'sku': payload['sku'], 'summary': self._summary('inventory.level', payload), 'payload': payload,
        })
        if newer:
            return 'stale', 'a newer level is already recorded for this SKU and warehouse'
        if self.settings.apply_inventory:
            self._set_on_hand(warehouse, product, payload['on_hand'])
        return 'applied', '' if self.settings.apply_inventory else 'recorded (applying levels is off in the settings)'

    # -- effects ----------------------------------------------------------------------------------

    def _summary(self, mtype, payload):
        parts = [mtype]
        if mtype == 'inventory.level':
            return f"{payload['sku']} @ {payload['warehouse']}: on hand {payload['on_hand']['value']}, available {payload['available']['value']} {payload['available']['uom']}"
        for key in ('tracking_number', 'reason', 'message', 'location', 'signer', 'invoice_ref'):
            if payload.get(key):
                parts.append(str(payload[key]))
        if payload.get('amount'):
            parts.append(f"{payload['amount']['amount']} {payload['amount']['currency']}")
        return ' - '.join(parts)[:250]

    def _post(self, picking, milestone, summary):
        body = Markup('<p><b>%s</b></p><p>%s</p>') % (_("Logistics: %s", milestone.milestone_type), summary)
        if milestone.partner:
            body += Markup('<p class="text-muted">%s</p>') % _("Reported by %(partner)s at %(at)s UTC",
                                                                 partner=milestone.partner, at=milestone.occurred_at)
        attachments = self._label_attachment
        self._label_attachment = None
        picking.message_post(body=body, message_type='comment', subtype_xmlid='mail.mt_note',
                             attachment_ids=attachments.ids if attachments else [])
        if picking.sale_id and milestone.milestone_type in ('shipment.delivered', 'shipment.exception', 'order.rejected'):
            # The salesperson follows the order, not the picking. Posting on an order needs write
            # access the integration user must not have: this note alone is posted as superuser,
            # still signed by the integration user.
            picking.sale_id.sudo().message_post(
                body=Markup('%s: %s') % (escape(picking.name), body), message_type='comment',
                subtype_xmlid='mail.mt_note', author_id=self.env.user.partner_id.id)

    def _responsible(self, picking):
        for user in (picking.user_id, picking.sale_id.user_id, picking.create_uid):
            if user and not user.share and user.active and user != self.env.user \
                    and picking.with_user(user).has_access('read'):
                return user
        return self.env.ref('base.user_admin', raise_if_not_found=False) or self.env.user

    def _activity(self, picking, summary, note):
        picking.activity_schedule(
            'mail.mail_activity_data_warning', fields.Date.context_today(picking),
            summary=summary, note=escape(note), user_id=self._responsible(picking).id)

    def _invoice(self, picking):
        order = picking.sale_id
        # Invoicing needs accounting rights the integration user must not have: this one step runs
        # as superuser, for this order only, and only when the setting is on.
        order_sudo = order.sudo()
        if order_sudo.invoice_status != 'to invoice':
            return
        invoices = order_sudo._create_invoices()
        picking.message_post(body=Markup(_("Proof of delivery received: invoice %s created.")) % invoices[:1]._get_html_link())

    def _set_on_hand(self, warehouse, product, on_hand):
        # Stock adjustments need inventory-manager rights: done as superuser for this product and
        # location only, through Odoo's inventory mode so a stock move records it.
        quant_model = self.env['stock.quant'].sudo().with_context(inventory_mode=True)
        quant = quant_model.search([('product_id', '=', product.id), ('location_id', '=', warehouse.lot_stock_id.id)], limit=1)
        qty = product.uom_id.round(on_hand['value']) if hasattr(product.uom_id, 'round') else on_hand['value']
        if quant:
            quant.inventory_quantity = qty
        else:
            quant = quant_model.create({'product_id': product.id, 'location_id': warehouse.lot_stock_id.id, 'inventory_quantity': qty})
        quant.action_apply_inventory()
