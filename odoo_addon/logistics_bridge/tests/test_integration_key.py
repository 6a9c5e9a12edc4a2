from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..services.integration_key import KEY_NAME, issue_key


@tagged('post_install', '-at_install')
class TestIntegrationKey(TransactionCase):
    """The settings button that issues (and rotates) the integration user's API key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.env.ref('logistics_bridge.user_logistics_bridge')
        cls.keys = cls.env['res.users.apikeys'].sudo()

    def owner_of(self, key):
        return self.keys._check_credentials(scope='rpc', key=key)

    def test_the_key_is_the_integration_users_and_works_for_rpc(self):
        action = self.env['logistics.bridge.api.key'].action_issue()
        shown = self.env['logistics.bridge.api.key'].browse(action['res_id'])
        self.assertEqual(action['target'], 'new')
        self.assertEqual(shown.login, 'logistics_bridge')
        self.assertEqual(self.owner_of(shown.key), self.user.id)
        self.assertTrue(shown.expiration_date, 'the key expires')

    def test_issuing_again_rotates_and_leaves_other_keys_alone(self):
        by_hand = self.keys.with_user(self.user).sudo()._generate('rpc', 'made by hand', None)
        first, _exp, _login = issue_key(self.env)
        second, _exp, _login = issue_key(self.env)
        self.assertFalse(self.owner_of(first), 'the earlier key stops working')
        self.assertEqual(self.owner_of(second), self.user.id)
        self.assertEqual(self.owner_of(by_hand), self.user.id, 'a key made by hand is not touched')
        self.assertEqual(self.keys.search_count([('user_id', '=', self.user.id), ('name', '=', KEY_NAME)]), 1)

    def test_only_a_settings_administrator_may_issue_it(self):
        clerk = new_test_user(self.env, login='lb_clerk', groups='stock.group_stock_manager')
        with self.assertRaises(AccessError):
            issue_key(self.env(user=clerk))

    def test_the_settings_action_is_reserved_to_administrators(self):
        action = self.env.ref('logistics_bridge.action_logistics_bridge_issue_api_key')
        self.assertIn(self.env.ref('base.group_system'), action.group_ids)
