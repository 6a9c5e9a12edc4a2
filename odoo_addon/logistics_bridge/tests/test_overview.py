from datetime import datetime, timedelta

from odoo.tests import new_test_user, tagged

from .common import LogisticsBridgeCase

NOW = datetime(2026, 11, 26, 12, 0, 0)


@tagged('post_install', '-at_install')
class TestOverview(LogisticsBridgeCase):
    """Inventory > Logistics Bridge > Overview: figures computed on seeded outbox rows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, login='lb_overview_manager', groups='logistics_bridge.group_logistics_bridge_manager')
        cls.picking = cls.out_picking(cls, cls.make_order(cls))
        cls.env.cr.execute("DELETE FROM logistics_bridge_event")
        cls.env.cr.execute("DELETE FROM logistics_bridge_contact")
        cls.env.invalidate_all()

    def seed(self, state, age, bridge_state=None):
        event = self.Event.emit('order.released', self.picking, payload={'seeded': True}).sudo()
        event.flush_recordset()
        self.env.cr.execute("UPDATE logistics_bridge_event SET state = %s, create_date = %s, bridge_state = %s, needs_attention = %s WHERE id = %s",
                            [state, NOW - age, bridge_state, state == 'rejected' or bridge_state in ('dead', 'manual', 'blocked'), event.id])
        event.invalidate_recordset()
        return event

    def contact(self, kind, age):
        self.env.cr.execute("INSERT INTO logistics_bridge_contact (kind, at) VALUES (%s, %s)", [kind, NOW - age])

    def overview(self):
        overview = self.env['logistics.bridge.overview'].with_user(self.manager).create({})
        overview._refresh(now=NOW)
        return overview

    def test_counts_by_state_and_age_oldest_waiting_contact_and_warnings(self):
        self.seed('pending', timedelta(minutes=2))
        self.seed('pending', timedelta(minutes=30))
        self.seed('sent', timedelta(hours=3))
        oldest = self.seed('pending', timedelta(days=2))
        self.seed('acknowledged', timedelta(minutes=1), bridge_state='dead')
        self.seed('acknowledged', timedelta(minutes=10), bridge_state='manual')
        self.seed('acknowledged', timedelta(days=2), bridge_state='blocked')
        self.seed('duplicate', timedelta(minutes=5), bridge_state='delivered')   # exactly 5 min: the 5-60 bucket
        self.seed('rejected', timedelta(hours=6))
        self.seed('cancelled', timedelta(hours=30))
        self.contact('dispatch', timedelta(hours=2))
        self.contact('writeback', timedelta(minutes=90))
        self.contact('writeback', timedelta(hours=5))

        overview = self.overview()
        rows = {line.state: (line.count_lt5, line.count_m5_60, line.count_h1_24, line.count_gt24, line.total) for line in overview.line_ids}
        self.assertEqual(rows, {
            'pending': (1, 1, 0, 1, 3),
            'sent': (0, 0, 1, 0, 1),
            'acknowledged': (1, 1, 0, 1, 3),
            'duplicate': (0, 1, 0, 0, 1),
            'rejected': (0, 0, 1, 0, 1),
            'cancelled': (0, 0, 0, 1, 1),
        })
        self.assertEqual((overview.total_count, overview.unsent_count, overview.rejected_count), (10, 4, 1))
        self.assertEqual(overview.oldest_unsent_id, oldest)
        self.assertEqual((overview.oldest_unsent_age, overview.oldest_unsent_minutes), ('2 d 0 h', 2 * 24 * 60))
        self.assertEqual(overview.last_dispatch_at, NOW - timedelta(hours=2))
        self.assertEqual(overview.last_writeback_at, NOW - timedelta(minutes=90))
        self.assertEqual(overview.last_contact_age, '1 h 30 min ago')
        self.assertEqual((overview.bridge_dead_count, overview.bridge_manual_count, overview.bridge_blocked_count), (1, 1, 1))
        warnings = overview.warning.splitlines()
        self.assertEqual(len(warnings), 2, warnings)
        self.assertIn('has waited 2 d 0 h (alert after 30 min)', warnings[0])
        self.assertIn('No contact with the bridge for 1 h 30 min', warnings[1])

    def test_no_warning_while_the_bridge_keeps_up(self):
        self.seed('pending', timedelta(minutes=3))
        self.seed('acknowledged', timedelta(minutes=20))
        self.contact('dispatch', timedelta(minutes=4))
        overview = self.overview()
        self.assertFalse(overview.warning)
        self.assertEqual(overview.oldest_unsent_age, '3 min')
        self.assertEqual(overview.last_contact_age, '4 min ago')

    def test_limits_come_from_the_settings_and_a_silent_bridge_is_reported(self):
        self.seed('pending', timedelta(minutes=12))
        overview = self.overview()
        self.assertEqual(overview.warning, 'No contact with the bridge yet (no acknowledged events, no write-back call; alert after 60 min).')
        self.env['ir.config_parameter'].sudo().set_param('logistics_bridge.alert_pending_minutes', '10')
        overview = self.overview()
        self.assertIn('has waited 12 min (alert after 10 min)', overview.warning)

    def test_an_empty_outbox_has_nothing_to_warn_about(self):
        overview = self.overview()
        self.assertEqual((overview.total_count, overview.warning, overview.last_contact_age), (0, False, 'never'))
        self.assertFalse(overview.oldest_unsent_id)

    def test_buttons_open_the_events_behind_each_figure(self):
        dead = self.seed('acknowledged', timedelta(minutes=1), bridge_state='dead')
        rejected = self.seed('rejected', timedelta(minutes=1))
        overview = self.overview()
        Event = self.env['logistics.bridge.event'].with_user(self.manager)
        action = overview.with_context(bridge_state='dead').action_open_bridge_attention()
        self.assertEqual(Event.search(action['domain']), dead)
        line = overview.line_ids.filtered(lambda l: l.state == 'rejected')
        self.assertEqual(Event.search(line.action_open_events()['domain']), rejected)
        rejected_action = overview.action_open_rejected()
        self.assertEqual(Event.search(rejected_action['domain']), rejected)
        # the list opened is titled after what it shows (the web client shows display_name first)
        self.assertEqual(rejected_action['display_name'], 'Rejected by the Bridge')
        # Refresh recomputes in place: the same record, one line per state
        action = overview.action_refresh()
        self.assertEqual((action['res_id'], len(overview.line_ids)), (overview.id, len(overview.line_ids.mapped('state'))))
        self.assertEqual(len(overview.line_ids), 6)

    def test_menu_opens_the_overview_for_managers_only(self):
        menu = self.env.ref('logistics_bridge.menu_logistics_bridge_overview')
        salesman = new_test_user(self.env, login='lb_overview_salesman', groups='sales_team.group_sale_salesman,stock.group_stock_user')
        self.assertIn(menu.id, self.env['ir.ui.menu'].with_user(self.manager)._visible_menu_ids())
        self.assertNotIn(menu.id, self.env['ir.ui.menu'].with_user(salesman)._visible_menu_ids())
        action = self.env.ref('logistics_bridge.action_logistics_bridge_overview').with_user(self.manager).run()
        self.assertEqual((action['res_model'], action['view_mode']), ('logistics.bridge.overview', 'form'))
        overview = self.env['logistics.bridge.overview'].with_user(self.manager).browse(action['res_id'])
        self.assertTrue(overview.computed_at)
        arch = overview.get_views([(False, 'form')])['views']['form']['arch']
        for name in ('line_ids', 'oldest_unsent_id', 'last_writeback_at', 'bridge_dead_count', 'warning'):
            self.assertIn(name, arch)
