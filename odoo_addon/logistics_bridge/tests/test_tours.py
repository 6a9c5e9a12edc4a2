"""Inventory > Logistics Bridge driven in a real browser (headless Chromium), the way people use it.

The tours live in static/tests/tours/logistics_bridge_tours.js; each test seeds what its tour looks
for, runs it, then checks on the server what the clicks changed. Without a browser (no Chromium,
no websocket-client) Odoo's HttpCase skips each test and logs "skipped ... : <reason>"; this class
also logs a WARNING so a skip cannot pass unnoticed in a test log.
"""
import base64
import logging
import unittest

from odoo.tests import HttpCase, new_test_user, tagged

from .common import LogisticsBridgeCase

_logger = logging.getLogger(__name__)

BRIDGE_URL = 'wss://bridge.tour.example/v1/odoo'

# What the outbox holds when each tour starts (every test starts from it: HttpCase rolls back).
# Different counts per figure, so a screen showing the wrong figure cannot pass by chance.
SEEDED = {'waiting': 2, 'rejected': 3, 'dead': 4, 'manual': 1, 'blocked': 5, 'delivered': 1, 'cancelled': 1}
TOTAL = sum(SEEDED.values())  # 17


@tagged('post_install', '-at_install')
class TestTours(HttpCase, LogisticsBridgeCase):
    """The Logistics Bridge screens in a browser: events, to do, overview, milestones, settings."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # With Contact Creation, which Odoo gives internal users by default: Odoo 19's stock_delivery lets
        # no Inventory user without it (or Sales rights) open a delivery that has a carrier
        # (stock.picking.allowed_carrier_ids reads delivery.zip.prefix).
        cls.manager = new_test_user(cls.env, login='lb_tour_manager', name='Tour Manager',
                                    groups='logistics_bridge.group_logistics_bridge_manager,base.group_partner_manager')
        cls.order = cls.make_order(cls)
        cls.picking = cls.out_picking(cls, cls.order)
        cls.validate(cls, cls.picking)
        cls.milestones = cls._seed_milestones()
        # Only the seeded events below, so the screens' figures are known exactly.
        cls.env.cr.execute("DELETE FROM logistics_bridge_event")
        cls.env.invalidate_all()
        cls.fix_me = cls._seed('rejected', last_error='address_invalid: shipping address has no street',
                               rejection_code='address_invalid', rejection_path='/payload/ship_to/street',
                               payload={'order_ref': cls.order.name, 'ship_to': {'name': 'Deco Addict', 'street': ''}})
        for _i in range(SEEDED['rejected'] - 1):
            cls._seed('rejected', last_error='address_invalid: no zip')
        cls.cancel_me = cls._seed('pending', event_type='shipment.requested', attempts=2,
                                  last_error='connection refused by the bridge (tour)')
        for _i in range(SEEDED['waiting'] - 1):
            cls._seed('sent', attempts=1)
        dead = [cls._seed('acknowledged', bridge_state='dead', bridge_last_error='400 address_invalid (tour)')
                for _i in range(SEEDED['dead'])]
        for _i in range(SEEDED['manual']):
            cls._seed('acknowledged', bridge_state='manual', bridge_last_error='no partner takes this order (tour)')
        for _i in range(SEEDED['blocked']):
            cls._seed('acknowledged', bridge_state='blocked', bridge_blocked_by_id=dead[0].id, bridge_blocked_by=dead[0].uuid)
        for _i in range(SEEDED['delivered']):
            cls._seed('acknowledged', bridge_state='delivered')
        for _i in range(SEEDED['cancelled']):
            cls._seed('cancelled')
        cls.env.flush_all()

    @classmethod
    def _seed(cls, state, event_type='order.released', payload=None, **vals):
        event = cls.Event.emit(event_type, cls.picking, payload=payload or {'seeded': True}).sudo()
        event.write(dict(vals, state=state))
        return event

    @classmethod
    def _seed_milestones(cls):
        label = {'shipment_ref': cls.picking.name, 'carrier': 'bridge_ground', 'service': 'GROUND',
                 'tracking_number': 'TOUR123', 'tracking_url': 'https://track.example.com/TOUR123',
                 'label': {'format': 'PDF', 'content_base64': base64.b64encode(b'%PDF-1.4 tour label').decode()}}
        items = [
            cls.milestone(cls, 'label.created', cls.picking, label),
            cls.milestone(cls, 'shipment.in_transit', cls.picking, cls.status_payload(cls, cls.picking, tracking_number='TOUR123')),
        ]
        results = cls.env['logistics.bridge.api'].with_user(cls.integration_user).apply_milestones(items)
        assert [r['status'] for r in results] == ['applied', 'applied'], results
        return cls.picking.bridge_milestone_ids

    def tour(self, url, name, login):
        """start_tour, with a WARNING naming the tour when the browser cannot run it (HttpCase skips)."""
        try:
            self.start_tour(url, name, login=login, timeout=120)
        except unittest.SkipTest as skip:
            _logger.warning("logistics_bridge tour %s SKIPPED, no browser test ran: %s", name, skip)
            raise

    def test_manager_fixes_and_requeues_a_rejected_event_and_cancels_a_pending_one(self):
        self.tour('/odoo', 'logistics_bridge_events', login=self.manager.login)
        self.env.invalidate_all()
        self.assertEqual(self.fix_me.state, 'pending')
        self.assertEqual(self.fix_me.payload['ship_to']['street'], '1 Tour Street')
        self.assertFalse(self.fix_me.rejection_code)
        self.assertEqual(self.cancel_me.state, 'cancelled')

    def test_picking_shows_its_milestones_and_opens_their_list(self):
        self.assertEqual(len(self.milestones), 2)
        self.tour(f'/odoo/action-stock.action_picking_tree_all/{self.picking.id}', 'logistics_bridge_picking_milestones',
                  login=self.manager.login)

    def test_todo_and_overview_show_the_seeded_figures(self):
        self.tour('/odoo', 'logistics_bridge_todo_overview', login=self.manager.login)

    def test_settings_show_the_bridge_to_an_administrator(self):
        icp = self.env['ir.config_parameter'].sudo()
        icp.set_param('logistics_bridge.url', BRIDGE_URL)
        icp.set_param('logistics_bridge.workflow_order', 'batch')
        icp.set_param('logistics_bridge.workflow_shipment', 'realtime')
        icp.set_param('logistics_bridge.workflow_return', 'off')
        self.tour('/odoo', 'logistics_bridge_settings', login='admin')
        # the tour switches returns from Off to Real time and saves
        self.assertEqual(icp.get_param('logistics_bridge.workflow_return'), 'realtime')
        self.assertEqual(icp.get_param('logistics_bridge.url'), BRIDGE_URL)
