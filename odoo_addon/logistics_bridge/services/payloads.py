"""Canonical event payloads (event.schema.json, each type in its current schema_version: contract.event_version) built from Odoo records.

Plain functions of records: no writes, no network. Missing mandatory business data (a customer
without a street, a product without weight) is not invented here: the payload carries what Odoo
has, the bridge rejects it with the failing path, and a person fixes the record and requeues.
"""
from odoo.tools import html2plaintext
from odoo.tools.float_utils import float_compare, float_round

WEIGHT_UNITS = {'kg': 'kg', 'g': 'g', 'lb': 'lb', 'lbs': 'lb', 'oz': 'oz'}
DIMENSION_UNITS = {'cm': 'cm', 'mm': 'mm', 'm': 'm', 'in': 'in'}


def _text(value, limit=None):
    value = (value or '').strip() if isinstance(value, str) else ''
    return value[:limit] if limit else value


def _put(target, key, value):
    """Set an optional key only when it has a value (the schemas reject nulls)."""
    if value not in (None, '', False):
        target[key] = value
    return target


def ref(record):
    """'<model>:<id>' reference of a record, e.g. 'res.partner:9'."""
    return f"{record._name}:{record.id}"


def address(partner):
    """Address (values.ts Address) of a res.partner."""
    result = {
        'street1': _text(partner.street),
        'city': _text(partner.city),
        'postal_code': _text(partner.zip),
        'country': _text(partner.country_id.code).upper(),
    }
    if partner.is_company or not partner.parent_id:
        if partner.is_company:
            _put(result, 'company', _text(partner.name))
        else:
            _put(result, 'name', _text(partner.name))
    else:
        _put(result, 'name', _text(partner.name))
        _put(result, 'company', _text(partner.parent_id.name))
    _put(result, 'street2', _text(partner.street2))
    _put(result, 'state', _text(partner.state_id.code))
    return dict(sorted(result.items()))


def contact(partner):
    result = {'name': _text(partner.name) or _text(partner.commercial_partner_id.name)}
    _put(result, 'email', _text(partner.email))
    _put(result, 'phone', _text(partner.phone))
    return result


def customer(partner):
    commercial = partner.commercial_partner_id
    return _put({'account': ref(commercial)}, 'name', _text(commercial.name))


def warehouse_code(picking):
    warehouse = picking.picking_type_id.warehouse_id
    return _text(warehouse.code) or 'WH'


def warehouse_partner(picking):
    return picking.picking_type_id.warehouse_id.partner_id or picking.company_id.partner_id


def carrier_service(carrier):
    """CarrierService of a delivery.carrier: the bridge routes on these codes."""
    code = _text(carrier.bridge_carrier_code) or carrier.name
    return _put({'carrier': _text(code, 128)}, 'service', _text(carrier.bridge_service_code, 128))


def sku(product):
    """The product's internal reference; barcode, then 'product.product:<id>' when it has none."""
    return _text(product.default_code, 64) or _text(product.barcode, 64) or ref(product)


def quantity(value, uom):
    return {'value': float_round(max(value, 0.0), precision_rounding=uom.rounding or 0.001), 'uom': uom.name}


def line(move, qty, backorder_qty=0.0):
    result = {
        'line_id': ref(move),
        'sku': sku(move.product_id),
        'description': _text(move.product_id.name) or _text(move.description_picking),
        'quantity': quantity(qty, move.product_uom),
    }
    if float_compare(backorder_qty, 0.0, precision_rounding=move.product_uom.rounding or 0.001) > 0:
        result['backorder_quantity'] = quantity(backorder_qty, move.product_uom)
    return result


def _live_moves(picking):
    return picking.move_ids.filtered(lambda m: m.state != 'cancel')


def order_ref(picking):
    return _text(picking.sale_id.name) or _text(picking.origin, 128) or picking.name


def fulfilment(picking, partial=None):
    if partial is None:
        partial = bool(picking.backorder_id)
    result = {'partial': bool(partial)}
    return _put(result, 'backorder_of', _text(picking.backorder_id.name))


def order_released(picking):
    """order.released: an outgoing picking handed to the warehouse, with its demanded quantities."""
    payload = {
        'order_ref': order_ref(picking),
        'picking_ref': picking.name,
        'warehouse': warehouse_code(picking),
        'customer': customer(picking.sale_id.partner_id or picking.partner_id),
        'ship_to': address(picking.partner_id),
        'contact': contact(picking.partner_id),
        'lines': [line(m, m.product_uom_qty) for m in _live_moves(picking)],
        'fulfilment': fulfilment(picking),
    }
    if picking.carrier_id:
        payload['carrier'] = carrier_service(picking.carrier_id)
    date = picking.sale_id.commitment_date or picking.scheduled_date
    if date:
        payload['requested_date'] = date.date().isoformat()
    _put(payload, 'notes', _text(html2plaintext(picking.note)) if picking.note else '')
    return payload


CANCEL_REASON_CODES = ('customer_request', 'out_of_stock', 'address_problem', 'payment_problem', 'duplicate_order', 'other')


def order_cancelled(picking, reason=None, reason_code=None):
    """order.cancelled version 2: the reason as {code, text} (code from the context, 'other' by default)."""
    payload = {'order_ref': order_ref(picking), 'picking_ref': picking.name, 'warehouse': warehouse_code(picking)}
    text = _text(reason, 500)
    code = reason_code if reason_code in CANCEL_REASON_CODES else ('other' if text or reason_code else None)
    if code:
        payload['reason'] = _put({'code': code}, 'text', text)
    return payload


def parcels(picking):
    """Parcels: one per destination package, else one for the whole picking."""
    unit_name = picking.env['product.template']._get_weight_uom_name_from_ir_config_parameter()
    unit = WEIGHT_UNITS.get((unit_name or 'kg').lower(), 'kg')
    packages = picking.move_line_ids.result_package_id
    result = []
    for package in packages:
        weight = package.shipping_weight or package.weight
        parcel = {'weight': {'value': round(weight, 3), 'unit': unit}, 'reference': package.name}
        result.append(parcel)
    if not result:
        weight = picking.shipping_weight or picking.weight
        result.append({'weight': {'value': round(weight, 3), 'unit': unit}})
    return result


def declared_value(picking, quantities):
    """Value of the shipped goods at the order's prices, in the order's currency."""
    sale = picking.sale_id
    if not sale:
        return None
    currency = sale.currency_id
    total = 0.0
    for move in _live_moves(picking):
        sale_line = move.sale_line_id
        if not sale_line or not sale_line.product_uom_qty:
            continue
        unit_price = sale_line.price_subtotal / sale_line.product_uom_qty
        total += unit_price * move.product_uom._compute_quantity(quantities.get(move.id, 0.0), sale_line.product_uom_id)
    return {'amount': currency.round(total), 'currency': currency.name}


def shipment_requested(picking, demand=None, cancel_backorder=False):
    """shipment.requested: a validated picking to ship with a bridge carrier.

    :param demand: {move_id: quantity demanded before validation}; what was not shipped is
        reported as ``backorder_quantity`` (moves that went whole to the backorder appear with
        quantity 0) and marks the shipment as partial.
    :param cancel_backorder: the user chose "no backorder": the rest is cancelled, not owed.
    """
    demand = demand or {}
    moves = _live_moves(picking)
    done = {m.id: m.quantity for m in moves}
    lines = []
    partial = bool(picking.backorder_id)
    for move in moves:
        left = 0.0 if cancel_backorder else max(demand.get(move.id, move.product_uom_qty) - done[move.id], 0.0)
        if float_compare(left, 0.0, precision_rounding=move.product_uom.rounding or 0.001) > 0:
            partial = True
        lines.append(line(move, done[move.id], left))
    if not cancel_backorder:
        moved_out = picking.env['stock.move'].browse([mid for mid in demand if mid not in done]).exists()
        for move in moved_out.filtered(lambda m: m.state != 'cancel' and m.picking_id.backorder_id == picking):
            lines.append(line(move, 0.0, demand[move.id]))
            partial = True
    partner = picking.partner_id
    payload = {
        'shipment_ref': picking.name,
        'order_ref': order_ref(picking),
        'warehouse': warehouse_code(picking),
        'customer': customer(picking.sale_id.partner_id or partner),
        'ship_from': address(warehouse_partner(picking)),
        'ship_to': address(partner),
        'contact': contact(partner),
        'carrier': carrier_service(picking.carrier_id),
        'parcels': parcels(picking),
        'lines': lines,
        'fulfilment': fulfilment(picking, partial),
    }
    value = declared_value(picking, done)
    if value:
        payload['declared_value'] = value
    return payload


def shipment_cancelled(picking, reason=None):
    payload = {'shipment_ref': picking.name, 'carrier': carrier_service(picking.carrier_id)}
    # Several parcels' numbers are comma-joined: the first is the shipment's (the master of a multi-piece one).
    _put(payload, 'tracking_number', _text((picking.carrier_tracking_ref or '').split(',')[0], 128))
    return _put(payload, 'reason', _text(reason))


def return_requested(picking, reason=None):
    """return.requested: a return picking (its ``return_id`` is the shipment it returns)."""
    origin = picking.return_id
    partner = picking.partner_id or origin.partner_id
    payload = {
        'return_ref': picking.name,
        'order_ref': order_ref(picking) if picking.sale_id or picking.origin else order_ref(origin),
        'warehouse': warehouse_code(picking),
        'customer': customer(picking.sale_id.partner_id or partner),
        'return_from': address(partner),
        'return_to': address(warehouse_partner(picking)),
        'contact': contact(partner),
        'lines': [line(m, m.product_uom_qty) for m in _live_moves(picking)],
    }
    _put(payload, 'origin_shipment_ref', _text(origin.name))
    carrier = picking.carrier_id or origin.carrier_id
    if carrier:
        payload['carrier'] = carrier_service(carrier)
    return _put(payload, 'reason', _text(reason))


def prefetch(pickings):
    """Load, in one narrow query per model, the master data the builders read beyond the pickings.

    The builders run inside the user's business action; left to itself the ORM would load every
    column of each warehouse, country and state on first access. Asking for the few columns needed,
    for all the pickings at once, keeps the cost flat in the number of pickings and small per picking.
    Records already in the cache are not read again.
    """
    pickings.picking_type_id.warehouse_id.fetch(['code'])
    partners = pickings.partner_id
    partners.country_id.fetch(['code'])
    partners.state_id.fetch(['code'])


BUILDERS = {
    'order.released': order_released,
    'order.cancelled': order_cancelled,
    'shipment.requested': shipment_requested,
    'shipment.cancelled': shipment_cancelled,
    'return.requested': return_requested,
}


def build_payload(event_type, record, **kwargs):
    """Payload of ``event_type`` for ``record`` (a stock.picking for every v1 event type)."""
    if record._name != 'stock.picking':
        raise ValueError(f"{event_type} payloads are built from a stock.picking, not {record._name}")
    return BUILDERS[event_type](record, **kwargs)
