import logging

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError

from ..services import contract, event_states
from ..services.event_states import EventStateApplier
from ..services.milestones import MilestoneApplier

_logger = logging.getLogger(__name__)

# Public write-back API, called by the bridge as the integration user:
#   JSON-2:  POST /json/2/logistics.bridge.api/apply_milestones  {"milestones": [...]}
#   JSON-RPC: execute_kw(db, uid, key, 'logistics.bridge.api', 'apply_milestones', [[...]])
# One result per item, in input order; one bad item never fails the batch.
MAX_BATCH = 1000


class LogisticsBridgeApi(models.AbstractModel):
    _name = 'logistics.bridge.api'
    _description = 'Logistics Bridge write-back API'

    def _check_caller(self):
        user = self.env.user
        if not (user.has_group('logistics_bridge.group_logistics_bridge_integration')
                or user.has_group('logistics_bridge.group_logistics_bridge_manager')):
            raise AccessError(_("Only the Logistics Bridge integration user may call the write-back API."))

    @api.model
    def apply_milestones(self, milestones):
        """Apply canonical milestones (milestone.schema.json), any types mixed, in list order.

        :param list milestones: milestone envelopes
        :returns: ``[{"id": <milestone id or null>, "status": "applied"|"duplicate"|"stale"|"rejected",
                   "message": str}]``, one per input item, same order
        """
        self._check_caller()
        if not isinstance(milestones, list):
            raise UserError(_("apply_milestones expects a list of milestones"))
        if len(milestones) > MAX_BATCH:
            return [{'id': m.get('id') if isinstance(m, dict) else None, 'status': 'rejected',
                     'message': f'batch too large: at most {MAX_BATCH} milestones per call'} for m in milestones]
        self._record_contact('apply_milestones')
        applier = MilestoneApplier(self.env, self.env['res.config.settings'].sudo()._logistics_bridge_settings())
        return applier.apply_batch(milestones)

    @api.model
    def apply_inventory_levels(self, levels):
        """Same as apply_milestones for ``inventory.level`` milestones only (others are rejected)."""
        self._check_caller()
        results = []
        ok = [m for m in levels if isinstance(m, dict) and m.get('type') == 'inventory.level']
        applied = iter(self.apply_milestones(ok)) if ok else iter(())
        for item in levels:
            if isinstance(item, dict) and item.get('type') == 'inventory.level':
                results.append(next(applied))
            else:
                results.append({'id': item.get('id') if isinstance(item, dict) else None, 'status': 'rejected',
                                'message': 'apply_inventory_levels accepts inventory.level milestones only'})
        return results

    @api.model
    def apply_event_states(self, states):
        """Show the bridge's delivery state of outbox events (dead, manual, blocked... delivered).

        :param list states: ``[{"id": <event id>, "state": <bridge state>, "at": <RFC 3339, the bridge's
            time of the state>, "attempts": int, "last_error"?: str, "error_class"?: "technical"|"business",
            "blocked_by"?: <event id>}]``
        :returns: ``[{"id", "status": "applied"|"duplicate"|"stale"|"unknown"|"rejected", "message"}]``,
            one per input item, same order. Idempotent; an older ``at`` never replaces a newer state.
        """
        self._check_caller()
        if not isinstance(states, list):
            raise UserError(_("apply_event_states expects a list of event states"))
        if len(states) > event_states.MAX_BATCH:
            return [event_states.result(s.get('id') if isinstance(s, dict) else None, 'rejected',
                                        f'batch too large: at most {event_states.MAX_BATCH} states per call') for s in states]
        self._record_contact('apply_event_states')
        return EventStateApplier(self.env).apply(states)

    def _record_contact(self, method):
        # The overview's "last contact with the bridge" (a manager trying the API is not the bridge);
        # module bookkeeping the integration user cannot write itself.
        if self.env.user.has_group('logistics_bridge.group_logistics_bridge_integration'):
            self.env['logistics.bridge.contact'].sudo()._record('writeback', method)

    @api.model
    def get_event_states(self, event_ids):
        """States of outbox events by event id: ``{id: {"state", "attempts", "last_error"}}`` (unknown ids omitted)."""
        self._check_caller()
        self._record_contact('get_event_states')
        events = self.env['logistics.bridge.event'].search([('uuid', 'in', list(event_ids or []))])
        return {e.uuid: {'state': e.state, 'attempts': e.attempts, 'last_error': e.last_error or None} for e in events}

    @api.model
    def contract_info(self):
        """What this Odoo understands: module version, schema version, event and milestone types."""
        self._check_caller()
        module = self.env['ir.module.module'].sudo().search([('name', '=', 'logistics_bridge')], limit=1)
        return {
            'module_version': module.latest_version or module.installed_version,
            'schema_version': contract.SCHEMA_VERSION,
            'event_types': contract.EVENT_TYPES,
            'milestone_types': contract.MILESTONE_TYPES,
        }
