from odoo import _, api, fields, models

from ..services import overview as overview_service
from ..services.event_states import ATTENTION_STATES
from .logistics_bridge_event import EVENT_STATES


class LogisticsBridgeOverview(models.TransientModel):
    """Inventory > Logistics Bridge > Overview: the outbox and the bridge at a glance, for managers.

    A snapshot computed on the server (services/overview.py) when the screen opens or is refreshed.
    """

    _name = 'logistics.bridge.overview'
    _description = 'Logistics Bridge overview'
    _rec_name = 'computed_at'

    computed_at = fields.Datetime('As Of', readonly=True)
    line_ids = fields.One2many('logistics.bridge.overview.line', 'overview_id', 'Events by State and Age', readonly=True)
    total_count = fields.Integer('Events', readonly=True)
    unsent_count = fields.Integer('Waiting to Be Sent', readonly=True)
    rejected_count = fields.Integer('Rejected by the Bridge', readonly=True)
    oldest_unsent_id = fields.Many2one('logistics.bridge.event', 'Oldest Waiting Event', readonly=True)
    oldest_unsent_age = fields.Char('Waiting For', readonly=True)
    oldest_unsent_minutes = fields.Integer('Oldest Waiting (min)', readonly=True)
    last_dispatch_at = fields.Datetime('Last Acknowledgement', readonly=True, help="Last time the bridge acknowledged events Odoo sent.")
    last_writeback_at = fields.Datetime('Last Write-Back Call', readonly=True, help="Last time the bridge called the write-back API.")
    last_contact_age = fields.Char('Last Contact', readonly=True)
    bridge_dead_count = fields.Integer('Dead in the Bridge', readonly=True)
    bridge_manual_count = fields.Integer('Manual Handling', readonly=True)
    bridge_blocked_count = fields.Integer('Blocked', readonly=True)
    warning = fields.Text(readonly=True)

    @api.model
    def action_open(self):
        """Menu entry: a fresh overview."""
        overview = self.create({})
        overview._refresh()
        return overview._action_view()

    def action_refresh(self):
        self.ensure_one()
        self._refresh()
        return self._action_view()

    def _action_view(self):
        return {
            'type': 'ir.actions.act_window',
            'name': _('Logistics Bridge Overview'),
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'views': [(self.env.ref('logistics_bridge.view_logistics_bridge_overview_form').id, 'form')],
            'target': 'current',
        }

    def _refresh(self, now=None):
        """Recompute every figure as of ``now`` (default: now)."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        settings = self.env['res.config.settings'].sudo()._logistics_bridge_settings()
        figures = overview_service.compute(self.env, settings, now)
        labels = dict(EVENT_STATES)
        lines = [fields.Command.clear()]
        for sequence, (state, buckets) in enumerate(figures.by_state.items()):
            lines.append(fields.Command.create({
                'sequence': sequence, 'state': state, 'label': labels.get(state, state),
                **{f'count_{key}': count for key, count in buckets.items()},
                'total': sum(buckets.values()),
            }))
        last_contact = figures.last_contact
        self.write({
            'computed_at': now,
            'line_ids': lines,
            'total_count': figures.total,
            'unsent_count': sum(sum(figures.by_state[s].values()) for s in overview_service.UNSENT_STATES),
            'rejected_count': sum(figures.by_state['rejected'].values()),
            'oldest_unsent_id': figures.oldest_unsent.id,
            'oldest_unsent_age': overview_service.human_age(figures.oldest_unsent_age),
            'oldest_unsent_minutes': int(figures.oldest_unsent_age.total_seconds() // 60) if figures.oldest_unsent_age else 0,
            'last_dispatch_at': figures.last_dispatch,
            'last_writeback_at': figures.last_writeback,
            'last_contact_age': (_('%s ago', overview_service.human_age(now - last_contact)) if last_contact else _('never')),
            'bridge_dead_count': figures.bridge_counts['dead'],
            'bridge_manual_count': figures.bridge_counts['manual'],
            'bridge_blocked_count': figures.bridge_counts['blocked'],
            'warning': '\n'.join(figures.warnings) or False,
        })
        return figures

    # -- buttons: the events behind a figure ------------------------------------------------------

    def _events_action(self, name, domain):
        action = self.env['ir.actions.act_window']._for_xml_id('logistics_bridge.action_logistics_bridge_event')
        # the web client titles the list with display_name before name
        action.update(name=name, display_name=name, domain=domain, context={'create': False})
        return action

    def action_open_unsent(self):
        return self._events_action(_('Waiting to Be Sent'), [('state', 'in', overview_service.UNSENT_STATES)])

    def action_open_rejected(self):
        return self._events_action(_('Rejected by the Bridge'), [('state', '=', 'rejected')])

    def action_open_bridge_attention(self):
        state = self.env.context.get('bridge_state')
        states = [state] if state in ATTENTION_STATES else list(ATTENTION_STATES)
        return self._events_action(_('Needs a Person in the Bridge'), [('bridge_state', 'in', states)])


class LogisticsBridgeOverviewLine(models.TransientModel):
    _name = 'logistics.bridge.overview.line'
    _description = 'Logistics Bridge overview: events of one state by age'
    _order = 'sequence, id'

    overview_id = fields.Many2one('logistics.bridge.overview', required=True, ondelete='cascade')
    sequence = fields.Integer()
    state = fields.Selection(EVENT_STATES, 'State Key', readonly=True)
    label = fields.Char('State', readonly=True)
    count_lt5 = fields.Integer('< 5 min', readonly=True)
    count_m5_60 = fields.Integer('5-60 min', readonly=True)
    count_h1_24 = fields.Integer('1-24 h', readonly=True)
    count_gt24 = fields.Integer('> 24 h', readonly=True)
    total = fields.Integer(readonly=True)

    def action_open_events(self):
        self.ensure_one()
        return self.overview_id._events_action(self.label, [('state', '=', self.state)])
