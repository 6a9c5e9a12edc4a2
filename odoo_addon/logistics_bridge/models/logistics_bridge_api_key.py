from odoo import fields, models

from ..services.integration_key import KEY_DAYS, issue_key


class LogisticsBridgeApiKey(models.TransientModel):
    """Shows a freshly issued integration API key once (Odoo keeps only its hash)."""
    _name = 'logistics.bridge.api.key'
    _description = 'Logistics Bridge API key (shown once)'

    key = fields.Char(readonly=True)
    login = fields.Char(readonly=True)
    expiration_date = fields.Datetime(readonly=True)
    days = fields.Integer(default=KEY_DAYS, readonly=True)

    def action_issue(self):
        key, expiration, login = issue_key(self.env)
        shown = self.create({'key': key, 'login': login, 'expiration_date': expiration})
        return {
            'type': 'ir.actions.act_window', 'res_model': self._name, 'res_id': shown.id, 'view_mode': 'form', 'target': 'new',
            'name': self.env._('Logistics Bridge API key'),
        }
