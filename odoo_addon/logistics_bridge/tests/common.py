import uuid
from datetime import datetime, timedelta

from odoo.tests import Form, TransactionCase

from ..services import contract


class LogisticsBridgeCase(TransactionCase):
    """Demo data + a bridge carrier + stock, with every workflow in real time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        icp = cls.env['ir.config_parameter'].sudo()
        for workflow in ('order', 'shipment', 'return'):
            icp.set_param(f'logistics_bridge.workflow_{workflow}', 'realtime')
        icp.set_param('logistics_bridge.invoice_on_pod', 'False')
        icp.set_param('logistics_bridge.apply_inventory', 'False')
        cls.Event = cls.env['logistics.bridge.event']
        cls.warehouse = cls.env['stock.warehouse'].search([('company_id', '=', cls.env.company.id)], limit=1)
        cls.customer = cls.env.ref('base.res_partner_2', raise_if_not_found=False) or cls.env['res.partner'].create({
            'name': 'Deco Addict', 'is_company': True, 'street': '77 Santa Barbara Rd', 'city': 'Pleasant Hill',
            'zip': '94523', 'country_id': cls.env.ref('base.us').id, 'email': 'deco@example.com'})
        products = cls.env['product.product'].search([('is_storable', '=', True), ('default_code', '!=', False)], limit=2)
        if len(products) < 2:
            products = cls.env['product.product'].create([
                {'name': 'Desk Combination', 'default_code': 'FURN_7800', 'is_storable': True, 'list_price': 450},
                {'name': 'Office Chair Black', 'default_code': 'FURN_0269', 'is_storable': True, 'list_price': 120},
            ])
        cls.product_a, cls.product_b = products[0], products[1]
        (cls.product_a | cls.product_b).write({'weight': 2.5})
        for product in (cls.product_a, cls.product_b):
            cls.env['stock.quant']._update_available_quantity(product, cls.warehouse.lot_stock_id, 100)
        cls.carrier = cls.env.ref('logistics_bridge.delivery_carrier_bridge_ground', raise_if_not_found=False)
        if not cls.carrier:
            delivery_product = cls.env['product.product'].create({'name': 'Bridge Ground', 'type': 'service', 'list_price': 12.5})
            cls.carrier = cls.env['delivery.carrier'].create({
                'name': 'Bridge Ground', 'delivery_type': 'bridge', 'bridge_carrier_code': 'bridge_ground',
                'bridge_service_code': 'GROUND', 'product_id': delivery_product.id})
        cls.integration_user = cls.env.ref('logistics_bridge.user_logistics_bridge')

    # -- business helpers -------------------------------------------------------------------------

    def make_order(self, qty_a=3, qty_b=2, carrier=True, confirm=True):
        order = self.env['sale.order'].create({
            'partner_id': self.customer.id,
            'warehouse_id': self.warehouse.id,
            'order_line': [
                (0, 0, {'product_id': self.product_a.id, 'product_uom_qty': qty_a}),
                (0, 0, {'product_id': self.product_b.id, 'product_uom_qty': qty_b}),
            ],
        })
        if carrier:
            order.carrier_id = self.carrier
        if confirm:
            order.action_confirm()
            if carrier:
                order.picking_ids.filtered(lambda p: not p.carrier_id).carrier_id = self.carrier
        return order

    def out_picking(self, order):
        return order.picking_ids.filtered(lambda p: p.picking_type_code == 'outgoing' and p.state not in ('done', 'cancel'))[:1]

    def validate(self, picking, quantities=None, backorder=True):
        """Validate with the given {product: qty} (default: everything) like a user would."""
        for move in picking.move_ids:
            qty = move.product_uom_qty if quantities is None else quantities.get(move.product_id, 0.0)
            move.quantity = qty
            move.picked = True
        result = picking.button_validate()
        if isinstance(result, dict) and result.get('res_model') == 'stock.backorder.confirmation':
            wizard = Form.from_action(self.env, result).save()
            if backorder:
                wizard.process()
            else:
                wizard.process_cancel_backorder()
        return picking

    def create_return(self, picking, quantity=1):
        wizard = Form(self.env['stock.return.picking'].with_context(
            active_ids=picking.ids, active_id=picking.id, active_model='stock.picking')).save()
        for line in wizard.product_return_moves:
            line.quantity = quantity
        action = wizard.action_create_returns()
        return self.env['stock.picking'].browse(action['res_id'])

    def events_of(self, record, event_type=None):
        domain = [('aggregate', '=', f'{record._name}:{record.id}')]
        if event_type:
            domain.append(('event_type', '=', event_type))
        return self.Event.sudo().search(domain, order='sequence')

    def assert_valid_event(self, event):
        envelope = event._to_envelope()
        errors = contract.validation_errors('event', envelope)
        self.assertFalse(errors, f"{event.event_type} does not match event.schema.json: {errors}\n{envelope}")
        return envelope

    # -- milestone helpers ------------------------------------------------------------------------

    def milestone(self, mtype, picking, payload, occurred_at=None, milestone_id=None, **extra):
        occurred_at = occurred_at or datetime(2026, 11, 26, 12, 0, 0)
        if isinstance(occurred_at, timedelta):
            occurred_at = datetime(2026, 11, 26, 12, 0, 0) + occurred_at
        item = {
            'id': milestone_id or str(uuid.uuid4()),
            'type': mtype,
            'schema_version': 1,
            'occurred_at': contract.format_timestamp(occurred_at),
            'source': {'partner': 'carrier-sim', 'partner_ref': 'shp_1'},
            'aggregate': f'stock.picking:{picking.id}' if picking else 'inventory:WH',
            'payload': payload,
        }
        item.update(extra)
        return item

    def status_payload(self, picking, **kw):
        return dict({'shipment_ref': picking.name, 'tracking_number': 'TRK123'}, **kw)


class WriteBackCase(LogisticsBridgeCase):
    """A validated outgoing picking and the write-back API as the integration user, the way the bridge calls it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls.make_order(cls)
        cls.picking = cls.out_picking(cls, cls.order)
        cls.validate(cls, cls.picking)
        cls.api = cls.env['logistics.bridge.api'].with_user(cls.integration_user)

    def apply(self, *milestones):
        return self.api.apply_milestones(list(milestones))
