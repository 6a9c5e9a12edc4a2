"""Applies canonical milestones (partner -> bridge -> Odoo) to pickings: the write-back API's logic.

Rules:
- idempotent by milestone id: a known id answers "duplicate" and changes nothing;
- out-of-order safe: a status milestone older (occurred_at) than the one that set the picking's
  current status is recorded as "stale" and never moves the status backwards;
- one bad item is "rejected" with its reason; the others of the batch are still applied.
  Database conflicts (serialization) are not caught: the whole call fails and Odoo, else the bridge,
  retries it, every item then answering applied or duplicate. The call locks its pickings first
  (``locks.lock_rows``), so two calls for one picking never both act on what they read.

A batch is applied in bulk (``apply_batch``). First, what needs no write is checked for every item
at once: the schema, duplicates (one query), the target pickings (one read), the warehouses and
products of inventory levels (one search each); an item failing there is answered without touching
the database. Then, in ONE savepoint: the history rows with one ``create(vals_list)``, each item's
effect in list order, one status write per picking and one chatter note per picking for the batch.
Should an item fail there (a label that is not base64, dispatched lines matching no move...), that
savepoint is rolled back and the batch is applied again item by item (``apply_one``, a savepoint
each), so a bad item never fails the others.
"""
import base64
import binascii
import logging
from collections import defaultdict

import psycopg2

from markupsafe import Markup, escape

from odoo import fields
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError

from . import contract, parcel_labels
from .locks import lock_rows
from .payloads import sku as payloads_sku

_logger = logging.getLogger(__name__)

LABEL_MIMETYPES = {'PDF': 'application/pdf', 'PNG': 'image/png', 'ZPL': 'text/plain', 'EPL2': 'text/plain'}
# What a person cares about gets a chatter message; the rest is history only.
CHATTER_TYPES = {'order.accepted', 'order.rejected', 'label.created', 'shipment.dispatched', 'shipment.delivered',
                 'shipment.exception', 'shipment.returned', 'shipment.proof_of_delivery', 'freight.charged'}
# ... and these also on the sale order, which the salesperson follows.
ORDER_NOTE_TYPES = ('shipment.delivered', 'shipment.exception', 'order.rejected')


def responsible_user(picking):
    """The person who acts on a picking's logistics problem: its responsible, the order's salesperson,
    its creator (an active internal user who can read it, not the caller), else the administrator."""
    env = picking.env
    for user in (picking.user_id, picking.sale_id.user_id, picking.create_uid):
        if user and not user.share and user.active and user != env.user \
                and picking.with_user(user).has_access('read'):
            return user
    return env.ref('base.user_admin', raise_if_not_found=False) or env.user


def schedule_activity(picking, activity_type_xmlid, summary, note):
    """An activity for the responsible person, due today, created with the caller's rights; the open
    activity of the same type and summary for that person on that picking when there is one (asking
    twice is a no-op). Creating it subscribes the person, and Odoo subscribes only partners not
    following yet; concurrent calls for one picking are serialized by ``locks.lock_rows``."""
    user = responsible_user(picking)
    activity_type = picking.env.ref(activity_type_xmlid)
    existing = picking.env['mail.activity'].search([
        ('res_model', '=', picking._name), ('res_id', '=', picking.id), ('activity_type_id', '=', activity_type.id),
        ('summary', '=', summary), ('user_id', '=', user.id)], limit=1)
    if existing:
        return existing
    return picking.activity_schedule(
        activity_type_xmlid, fields.Date.context_today(picking), summary=summary, note=escape(note), user_id=user.id)


class Rejected(Exception):
    """The milestone cannot be applied as sent (business problem, answered 'rejected')."""


def result(milestone_id, status, message=''):
    return {'id': milestone_id, 'status': status, 'message': message}


class MilestoneApplier:
    """Applies milestones with the caller's rights (the integration user)."""

    # What one item may raise that makes it "rejected" (AccessError: the integration user may not
    # touch that record, e.g. another company's picking).
    ITEM_ERRORS = (Rejected, UserError, ValidationError, AccessError, MissingError, ValueError)

    def __init__(self, env, settings):
        self.env = env
        self.settings = settings
        self._label_attachment = None

    # -- entry points ---------------------------------------------------------------------------

    def apply_batch(self, items):
        """Apply ``items`` in list order; one result per item (see the module docstring)."""
        results = [None] * len(items)
        prepared = self._prepare(items, results)
        # Before any write: a concurrent call for one of these pickings makes this one replay (locks.py).
        lock_rows(self.env.cr, 'stock_picking', [entry['picking'].id for entry in prepared if 'picking' in entry])
        lock_rows(self.env.cr, 'stock_warehouse', [entry['warehouse'].id for entry in prepared if 'warehouse' in entry])
        if prepared:
            try:
                with self.env.cr.savepoint():
                    self._apply_prepared(prepared, results)
            except psycopg2.errors.UniqueViolation:
                # A concurrent call committed one of these ids first: sorted out item by item.
                self._apply_each(prepared, results)
            except self.ITEM_ERRORS as exc:
                _logger.info("logistics bridge: bulk apply of %s milestone(s) failed (%s); applying them one by one",
                             len(prepared), exc.args[0] if exc.args else type(exc).__name__)
                self._apply_each(prepared, results)
        return results

    def _apply_each(self, prepared, results):
        self.env.invalidate_all()
        for entry in prepared:
            results[entry['index']] = self.apply_one(entry['item'])

    def apply_one(self, item):
        """Apply one milestone in its own savepoint (the fallback of a batch that failed in bulk)."""
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
        except self.ITEM_ERRORS as exc:
            return self._rejected(milestone_id, exc)

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
        milestone = Milestone.create(self._picking_vals(item, occurred_at, picking, stale))
        self._handlers()[mtype](picking, payload, occurred_at, milestone, stale)
        if stale:
            return 'stale', self._stale_message(picking.bridge_status, picking.bridge_status_at)
        if mtype in contract.SHIPMENT_STATUS_RANK:
            picking.write({'bridge_status': mtype, 'bridge_status_at': occurred_at})
        if mtype in CHATTER_TYPES:
            attachments = self._label_attachment
            self._label_attachment = None
            self._post(picking, milestone, attachments)
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

    # -- bulk -----------------------------------------------------------------------------------

    def _prepare(self, items, results):
        """The checks that need no write, for the whole batch at once. Fills ``results`` for the items
        that fail them (rejected) or are known already (duplicate); returns the others in list order
        as ``{index, item, occurred_at, picking}`` or ``{..., warehouse, product}``."""
        candidates = []
        seen = set()
        for index, item in enumerate(items):
            milestone_id = item.get('id') if isinstance(item, dict) and isinstance(item.get('id'), str) else None
            try:
                self._validate(item)
                occurred_at = contract.parse_timestamp(item['occurred_at'])
                picking_id = None if item['type'] == 'inventory.level' else self._picking_id(item)
            except self.ITEM_ERRORS as exc:
                results[index] = self._rejected(milestone_id, exc)
                continue
            if item['id'] in seen:
                results[index] = result(item['id'], 'duplicate', 'already recorded')
                continue
            seen.add(item['id'])
            candidates.append({'index': index, 'item': item, 'occurred_at': occurred_at, 'picking_id': picking_id})
        if not candidates:
            return []
        # Existence of an id, whatever company it was recorded for (record rules would hide it).
        known = set(self.env['logistics.bridge.milestone'].sudo().search_fetch(
            [('uuid', 'in', [c['item']['id'] for c in candidates])], ['uuid']).mapped('uuid'))
        fresh = [c for c in candidates if c['item']['id'] not in known]
        for entry in candidates:
            if entry['item']['id'] in known:
                results[entry['index']] = result(entry['item']['id'], 'duplicate', 'already recorded')
        pickings = self.env['stock.picking'].browse({c['picking_id'] for c in fresh if c['picking_id']}).exists()
        writable = pickings._filtered_access('write')
        writable.fetch(['name', 'company_id', 'bridge_status', 'bridge_status_at', 'carrier_tracking_ref', 'bridge_parcel_labels'])
        levels = [c['item']['payload'] for c in fresh if c['picking_id'] is None]
        warehouses, products = {}, {}
        if levels:
            # First match per code, as a search with limit=1 would give.
            for warehouse in self.env['stock.warehouse'].search([('code', 'in', list({p['warehouse'] for p in levels}))]):
                warehouses.setdefault(warehouse.code, warehouse)
            for product in self.env['product.product'].search([('default_code', 'in', list({p['sku'] for p in levels}))]):
                products.setdefault(product.default_code, product)
        prepared = []
        for entry in fresh:
            item = entry['item']
            try:
                if entry['picking_id'] is None:
                    entry['warehouse'] = warehouses.get(item['payload']['warehouse'])
                    entry['product'] = products.get(item['payload']['sku'])
                    self._check_inventory_targets(item, entry['warehouse'], entry['product'])
                else:
                    picking = pickings.browse(entry['picking_id'])
                    if picking not in pickings:
                        raise Rejected(f"no picking {item['aggregate']}")
                    if picking not in writable:
                        picking.check_access('write')  # raises the AccessError that says why
                    self._check_reference(item, picking)
                    entry['picking'] = picking
            except self.ITEM_ERRORS as exc:
                results[entry['index']] = self._rejected(item['id'], exc)
                continue
            prepared.append(entry)
        return prepared

    def _apply_prepared(self, prepared, results):
        """The writes of a prepared batch, in list order (inside the caller's savepoint)."""
        # Status as this batch moves it, per picking: an older milestone never moves it backwards,
        # also when the newer one came earlier in the same batch.
        status = {e['picking']: (e['picking'].bridge_status, e['picking'].bridge_status_at) for e in prepared if 'picking' in e}
        initial = dict(status)
        latest_level = self._latest_levels([e for e in prepared if 'warehouse' in e])
        vals_list = []
        for entry in prepared:
            item, occurred_at = entry['item'], entry['occurred_at']
            if 'warehouse' in entry:
                key = (entry['warehouse'].id, item['payload']['sku'])
                entry['stale'] = bool(latest_level.get(key) and latest_level[key] > occurred_at)
                latest_level[key] = max(latest_level.get(key) or occurred_at, occurred_at)
                vals_list.append(self._inventory_vals(item, occurred_at, entry['warehouse'], entry['stale']))
                continue
            picking, mtype = entry['picking'], item['type']
            current, current_at = status[picking]
            entry['stale'] = mtype in contract.SHIPMENT_STATUS_RANK and bool(current_at and occurred_at < current_at)
            if entry['stale']:
                entry['message'] = self._stale_message(current, current_at)
            elif mtype in contract.SHIPMENT_STATUS_RANK:
                status[picking] = (mtype, occurred_at)
            vals_list.append(self._picking_vals(item, occurred_at, picking, entry['stale']))
        milestones = self.env['logistics.bridge.milestone'].create(vals_list)
        handlers = self._handlers()
        notes = defaultdict(list)          # picking -> milestones worth a chatter note
        attachments = defaultdict(list)    # picking -> label attachments for that note
        for entry, milestone in zip(prepared, milestones):
            item = entry['item']
            if 'warehouse' in entry:
                state, message = self._inventory_effect(item['payload'], entry['warehouse'], entry['product'], entry['stale'])
                results[entry['index']] = result(item['id'], state, message)
                continue
            picking = entry['picking']
            self._label_attachment = None
            handlers[item['type']](picking, item['payload'], entry['occurred_at'], milestone, entry['stale'])
            if self._label_attachment and not entry['stale']:
                attachments[picking].append(self._label_attachment)
            self._label_attachment = None
            if entry['stale']:
                results[entry['index']] = result(item['id'], 'stale', entry['message'])
                continue
            if item['type'] in CHATTER_TYPES:
                notes[picking].append(milestone)
            results[entry['index']] = result(item['id'], 'applied', '')
        # One status write per picking this batch moved (one write for pickings given the same values).
        moved = defaultdict(list)
        for picking, value in status.items():
            if value != initial[picking]:
                moved[value].append(picking.id)
        for (mtype, at), ids in moved.items():
            self.env['stock.picking'].browse(ids).write({'bridge_status': mtype, 'bridge_status_at': at})
        Milestone, Attachment = self.env['logistics.bridge.milestone'], self.env['ir.attachment']
        self._post_notes({picking: Milestone.union(*ms) for picking, ms in notes.items()},
                         {picking: Attachment.union(*atts) for picking, atts in attachments.items() if picking in notes})

    def _latest_levels(self, entries):
        """{(warehouse id, sku): latest occurred_at recorded} for the inventory levels of a batch (one query)."""
        if not entries:
            return {}
        groups = self.env['logistics.bridge.milestone']._read_group(
            [('milestone_type', '=', 'inventory.level'),
             ('warehouse_id', 'in', list({e['warehouse'].id for e in entries})),
             ('sku', 'in', list({e['item']['payload']['sku'] for e in entries}))],
            ['warehouse_id', 'sku'], ['occurred_at:max'])
        return {(warehouse.id, sku): at for warehouse, sku, at in groups}

    @staticmethod
    def _rejected(milestone_id, exc):
        message = exc.args[0] if exc.args else type(exc).__name__
        _logger.info("logistics bridge milestone %s rejected: %s", milestone_id, message)
        return result(milestone_id, 'rejected', str(message))

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

    @staticmethod
    def _picking_id(item):
        model, _sep, res_id = item['aggregate'].partition(':')
        if model != 'stock.picking' or not res_id.isdigit():
            raise Rejected(f"aggregate {item['aggregate']!r} is not a stock.picking")
        return int(res_id)

    @staticmethod
    def _check_reference(item, picking):
        reference = item['payload'].get('shipment_ref') or item['payload'].get('picking_ref')
        if reference and reference != picking.name:
            raise Rejected(f"{item['aggregate']} is {picking.name}, not {reference}")

    def _resolve_picking(self, item):
        picking = self.env['stock.picking'].browse(self._picking_id(item)).exists()
        if not picking:
            raise Rejected(f"no picking {item['aggregate']}")
        picking.check_access('write')
        self._check_reference(item, picking)
        return picking

    def _is_stale(self, picking, mtype, occurred_at):
        if mtype not in contract.SHIPMENT_STATUS_RANK:
            return False
        return bool(picking.bridge_status_at and occurred_at < picking.bridge_status_at)

    def _picking_vals(self, item, occurred_at, picking, stale):
        mtype = item['type']
        return {
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
            'summary': self._summary(mtype, item['payload']),
            'payload': item['payload'],
        }

    @staticmethod
    def _stale_message(status, status_at):
        return f"older than the current status ({status} at {contract.format_timestamp(status_at)}): recorded, status unchanged"

    # -- per type -------------------------------------------------------------------------------

    def _on_order_accepted(self, picking, payload, occurred_at, milestone, stale):
        return None

    def _on_order_rejected(self, picking, payload, occurred_at, milestone, stale):
        picking.bridge_problem = f"{payload['reason_class']}: {payload['reason']}"
        self._activity(picking, self.env._("Order refused by the warehouse"),
                       self.env._("The warehouse %(warehouse)s refused %(picking)s (%(cls)s): %(reason)s",
                         warehouse=payload['warehouse'], picking=picking.name, cls=payload['reason_class'], reason=payload['reason']))

    def _on_label_created(self, picking, payload, occurred_at, milestone, stale):
        """Parcel n of count: its number joins the picking's (see services/parcel_labels.py), its label
        is attached. The parcel's own label time decides, not the shipment status: a label that comes
        after the dispatch still counts (``stale`` is about the status only)."""
        labels, verdict, replaced = parcel_labels.merge(picking.bridge_parcel_labels, payload, occurred_at)
        if verdict in ('same', 'outdated'):
            return
        attachment = self._attach_label(picking, payload)
        if attachment:
            index, _count = parcel_labels.parcel_of(payload)
            labels[str(index)] = dict(labels[str(index)], attachment_id=attachment.id)
        self._mark_replaced(replaced, payload)
        picking.write({
            'bridge_parcel_labels': labels,
            'carrier_tracking_ref': parcel_labels.tracking_ref(labels),
            'bridge_tracking_url': parcel_labels.tracking_url(labels),
        })
        self._label_attachment = attachment

    def _attach_label(self, picking, payload):
        """The label document as an attachment of the picking; None when the label has no document."""
        label = payload['label']
        fmt = label['format']
        prefix = picking.carrier_id._get_delivery_label_prefix() if picking.carrier_id else 'LabelShipping-bridge'
        attachment_vals = {'name': parcel_labels.attachment_name(prefix, payload), 'res_model': 'stock.picking',
                           'res_id': picking.id, 'description': parcel_labels.attachment_description(payload)}
        if label.get('content_base64'):
            try:
                raw = base64.b64decode(label['content_base64'], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise Rejected(f"/payload/label/content_base64: not base64 ({exc})") from exc
            attachment_vals.update(type='binary', raw=raw, mimetype=LABEL_MIMETYPES.get(fmt, 'application/octet-stream'))
        elif label.get('url'):
            attachment_vals.update(type='url', url=label['url'])
        else:
            return None
        return self.env['ir.attachment'].create(attachment_vals)

    def _mark_replaced(self, entries, payload):
        """The attachments of labels that are no longer current say so (kept: they may need a refund)."""
        attachments = self.env['ir.attachment'].browse([e['attachment_id'] for e in entries if e.get('attachment_id')]).exists()
        for attachment in attachments:
            attachment.write({'name': f"Replaced-{attachment.name}",
                              'description': f"{attachment.description or ''} (replaced by {payload['tracking_number']})".strip()})

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
        self._activity(picking, self.env._("Delivery exception: %s", payload['reason_class']),
                       self.env._("%(picking)s: %(reason)s (tracking %(tracking)s)", picking=picking.name,
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
        product = self.env['product.product'].search([('default_code', '=', payload['sku'])], limit=1)
        self._check_inventory_targets(item, warehouse, product)
        newer = self.env['logistics.bridge.milestone'].search_count([
            ('milestone_type', '=', 'inventory.level'), ('warehouse_id', '=', warehouse.id),
            ('sku', '=', payload['sku']), ('occurred_at', '>', occurred_at)], limit=1)
        self.env['logistics.bridge.milestone'].create(self._inventory_vals(item, occurred_at, warehouse, bool(newer)))
        return self._inventory_effect(payload, warehouse, product, bool(newer))

    @staticmethod
    def _check_inventory_targets(item, warehouse, product):
        payload = item['payload']
        if not warehouse:
            raise Rejected(f"unknown warehouse {payload['warehouse']!r}")
        if item['aggregate'] != f"inventory:{payload['warehouse']}":
            raise Rejected(f"aggregate must be inventory:{payload['warehouse']}")
        if not product:
            raise Rejected(f"unknown SKU {payload['sku']!r}")

    def _inventory_vals(self, item, occurred_at, warehouse, stale):
        payload = item['payload']
        return {
            'uuid': item['id'], 'milestone_type': 'inventory.level', 'schema_version': item.get('schema_version', 1),
            'occurred_at': occurred_at, 'aggregate': item['aggregate'], 'partner': item['source'].get('partner'),
            'partner_ref': item['source'].get('partner_ref'), 'warehouse_id': warehouse.id,
            'company_id': warehouse.company_id.id, 'result': 'stale' if stale else 'applied',
            'sku': payload['sku'], 'summary': self._summary('inventory.level', payload), 'payload': payload,
        }

    def _inventory_effect(self, payload, warehouse, product, stale):
        if stale:
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
        if mtype == 'label.created' and payload.get('parcel', {}).get('count', 1) > 1:
            parts.append("parcel %(index)s of %(count)s" % payload['parcel'])
        return ' - '.join(parts)[:250]

    def _post(self, picking, milestones, attachments=None):
        """The chatter note of one picking (see _post_notes)."""
        self._post_notes({picking: milestones}, {picking: attachments} if attachments else {})

    def _post_notes(self, notes, attachments):
        """One internal note per picking for the milestones of one call, and one per sale order for
        those the salesperson cares about (``ORDER_NOTE_TYPES``). Notes notify nobody, so they are
        logged in one batch (``_message_log_batch``, which creates them as superuser: write access
        to these pickings was checked before); a picking with a label gets its own message, with the
        label attached.

        :param dict notes: picking -> logistics.bridge.milestone records
        :param dict attachments: picking -> ir.attachment records
        """
        logged = {}
        for picking, milestones in notes.items():
            body = self._note_body(milestones, reported_by=True)
            if attachments.get(picking):
                picking.message_post(body=body, message_type='comment', subtype_xmlid='mail.mt_note',
                                     attachment_ids=attachments[picking].ids)
            else:
                logged[picking.id] = body
        if logged:
            self.env['stock.picking'].browse(list(logged))._message_log_batch(logged, message_type='comment')
        # The salesperson follows the order, not the picking. Writing on an order needs rights the
        # integration user must not have: these notes alone are logged as superuser, still signed
        # by the integration user.
        for_orders = defaultdict(lambda: Markup())
        for picking, milestones in notes.items():
            relevant = milestones.filtered(lambda m: m.milestone_type in ORDER_NOTE_TYPES)
            if picking.sale_id and relevant:
                for_orders[picking.sale_id.id] += Markup('<p>%s</p>') % picking.name + self._note_body(relevant)
        if for_orders:
            self.env['sale.order'].sudo().browse(list(for_orders))._message_log_batch(
                dict(for_orders), author_id=self.env.user.partner_id.id, message_type='comment')

    def _note_body(self, milestones, reported_by=False):
        """Translated with the caller's language (``env._``: a static method had no env, and Odoo
        logged "no translation language detected" with a stack for every note)."""
        body = Markup()
        for milestone in milestones:
            body += Markup('<p><b>%s</b></p><p>%s</p>') % (self.env._("Logistics: %s", milestone.milestone_type), milestone.summary)
            if reported_by and milestone.partner:
                body += Markup('<p class="text-muted">%s</p>') % self.env._("Reported by %(partner)s at %(at)s UTC",
                                                                     partner=milestone.partner, at=milestone.occurred_at)
        return body

    def _activity(self, picking, summary, note):
        schedule_activity(picking, 'mail.mail_activity_data_warning', summary, note)

    def _invoice(self, picking):
        order = picking.sale_id
        # Invoicing needs accounting rights the integration user must not have: this one step runs
        # as superuser, for this order only, and only when the setting is on.
        order_sudo = order.sudo()
        if order_sudo.invoice_status != 'to invoice':
            return
        invoices = order_sudo._create_invoices()
        picking.message_post(body=Markup(self.env._("Proof of delivery received: invoice %s created.")) % invoices[:1]._get_html_link())

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
