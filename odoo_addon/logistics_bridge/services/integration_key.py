"""The integration user's API key, issued from the settings page (no five manual steps).

Rules:
- only a settings administrator (``base.group_system``) may issue it; anyone else gets an
  AccessError saying who can;
- issuing again *rotates*: the keys this button issued before are removed first, so a leaked key
  stops working the moment a new one is shown (keys an administrator made by hand are left alone);
- the key is shown once (the caller displays it; Odoo keeps only its hash) and expires after
  ``KEY_DAYS`` days, with scope ``rpc`` (JSON-2 and /jsonrpc);
- the integration user is the module's ``logistics_bridge.user_logistics_bridge``; if it was
  archived or deleted, a UserError says how to get it back.
"""
import datetime


from odoo.exceptions import AccessError, UserError

KEY_NAME = 'logistics bridge (issued from settings)'
KEY_DAYS = 365


def integration_user(env):
    user = env.ref('logistics_bridge.user_logistics_bridge', raise_if_not_found=False)
    if not user or not user.sudo().active:
        raise UserError(env._("The Logistics Bridge Integration user is missing or archived: unarchive it in Settings > Users "
                              "(login logistics_bridge), or upgrade the Logistics Bridge module to create it again."))
    return user.sudo()


def issue_key(env, now=None):
    """Removes the keys issued here before and returns ``(key, expiration, login)`` of a new one."""
    if not env.user.has_group('base.group_system'):
        raise AccessError(env._("Only a settings administrator can issue the Logistics Bridge API key."))
    user = integration_user(env)
    keys = env['res.users.apikeys'].sudo()
    keys.search([('user_id', '=', user.id), ('name', '=', KEY_NAME)])._remove()
    expiration = (now or datetime.datetime.now()) + datetime.timedelta(days=KEY_DAYS)
    # _generate issues the key for env.user: as the integration user, in sudo (an expiry beyond the
    # group's API key duration is allowed only there).
    key = keys.with_user(user).sudo()._generate('rpc', KEY_NAME, expiration)
    return key, expiration, user.login
