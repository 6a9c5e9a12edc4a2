"""Shows the bridge's delivery state of each outbox event in Odoo: the logic of
``logistics.bridge.api.apply_event_states`` (bridge -> Odoo).

Rules:
- one result per item, in input order, ``{"id", "status", "message"}`` with status
  ``applied``, ``duplicate`` (this state at this time is already shown), ``stale`` (older than the
  state shown: never moves it backwards), ``unknown`` (no event with that id in this database) or
  ``rejected`` (the item is malformed); one bad item never fails the batch;
- order comes from the bridge's own clock (``at``, microseconds kept), never from arrival order;
- a person is asked to act while an event is ``dead`` or ``manual``: a To-Do activity on its
  picking for the picking's responsible; it is marked done when the event leaves that state (a
  replay after a fix delivered or discarded it). Asking again is a no-op: an event keeps its to-do,
  and a picking's open to-do of the same summary is reused (closed when no event still needs it).
  ``blocked`` events are listed (To Do screen, *Blocked By*) without an activity of their own:
  fixing the event that blocks them releases them;
- concurrent calls for one picking or event are serialized (``locks.lock_rows``).
"""
import logging

from odoo import _
from odoo.exceptions import AccessError

from . import contract
from .locks import lock_rows
from .milestones import schedule_activity

_logger = logging.getLogger(__name__)

# The bridge's EventState (bridge/src/store/types.ts), in its lifecycle order.
BRIDGE_STATES = [
    ('received', 'Received'),
    ('queued', 'Queued'),
    ('delivering', 'Delivering'),
    ('retrying', 'Retrying'),
    ('blocked', 'Blocked'),
    ('manual', 'Manual Handling'),
    ('delivered', 'Delivered'),
    ('dead', 'Dead Letter'),
    ('discarded', 'Discarded'),
]
BRIDGE_STATE_KEYS = {key for key, _label in BRIDGE_STATES}
# A person must act: listed on the To Do screen and counted on the overview.
ATTENTION_STATES = ('dead', 'manual', 'blocked')
# ... and asked by an activity on the picking (a blocked event waits for its blocker to be fixed).
ACTIVITY_STATES = ('dead', 'manual')
ERROR_CLASSES = ('technical', 'business')
MAX_BATCH = 1000
MAX_ERROR_CHARS = 4000


class _Bad(Exception):
    """A malformed item (answered 'rejected')."""


def result(event_id, status, message=''):
    return {'id': event_id, 'status': status, 'message': message}


class EventStateApplier:
    """Applies a batch of event states; ``env`` is the caller's (the integration user)."""

    def __init__(self, env):
        self.env = env

    def apply(self, items):
        parsed = []
        results = []
        for item in items:
            event_id = item.get('id') if isinstance(item, dict) and isinstance(item.get('id'), str) else None
            try:
                parsed.append(self._parse(item))
                results.append(None)
            except _Bad as exc:
                parsed.append(None)
                results.append(result(event_id, 'rejected', str(exc)))
        uuids = {p['id'] for p in parsed if p} | {p['blocked_by'] for p in parsed if p and p['blocked_by']}
        # The outbox is the module's own bookkeeping: the integration user reads it but may not write
        # it (it must not be able to requeue or cancel events over RPC). Only the bridge_* fields below
        # are written, as superuser, for events of any company (the bridge serves the whole database).
        Event = self.env['logistics.bridge.event'].sudo()
        by_uuid = {e.uuid: e for e in Event.search_fetch([('uuid', 'in', list(uuids))], [
            'uuid', 'bridge_state', 'bridge_state_at', 'bridge_attempts', 'bridge_last_error', 'bridge_error_class',
            'bridge_blocked_by', 'bridge_activity_id', 'picking_id', 'event_type'])} if uuids else {}
        # Before any write: a concurrent call for one of these pickings or events makes this one replay
        # with a fresh snapshot (locks.py), so two calls never both add the same to-do or follower.
        targets = [by_uuid[p['id']] for p in parsed if p and p['id'] in by_uuid]
        lock_rows(self.env.cr, 'stock_picking', [event.picking_id.id for event in targets])
        lock_rows(self.env.cr, 'logistics_bridge_event', [event.id for event in targets])
        # Current state per event as this batch moves it (several items may concern one event).
        current = {}
        changed = {}
        for index, state in enumerate(parsed):
            if state is None:
                continue
            event = by_uuid.get(state['id'])
            if event is None:
                results[index] = result(state['id'], 'unknown', 'no outbox event with this id in this database')
                continue
            shown = current.setdefault(event.id, {
                'bridge_state': event.bridge_state, 'bridge_state_at': event.bridge_state_at,
                'bridge_attempts': event.bridge_attempts, 'bridge_last_error': event.bridge_last_error or False,
                'bridge_error_class': event.bridge_error_class or False, 'bridge_blocked_by': event.bridge_blocked_by or False,
            })
            vals = {
                'bridge_state': state['state'], 'bridge_state_at': state['at'], 'bridge_attempts': state['attempts'],
                'bridge_last_error': state['last_error'] or False, 'bridge_error_class': state['error_class'] or False,
                'bridge_blocked_by': state['blocked_by'] or False,
            }
            if shown['bridge_state_at'] and state['at'] < shown['bridge_state_at']:
                results[index] = result(state['id'], 'stale', f"older than the state shown ({shown['bridge_state']} at "
                                                              f"{shown['bridge_state_at'].isoformat()}Z)")
                continue
            if vals == shown:
                results[index] = result(state['id'], 'duplicate', 'already shown')
                continue
            shown.update(vals)
            changed[event.id] = event
            results[index] = result(state['id'], 'applied')
        for event_id, event in changed.items():
            vals = dict(current[event_id])
            blocker = by_uuid.get(vals['bridge_blocked_by']) if vals['bridge_blocked_by'] else None
            vals['bridge_blocked_by_id'] = blocker.id if blocker else False
            before = event.bridge_state
            event.write(vals)
            self._ask_a_person(event, before)
        return results

    def _parse(self, item):
        if not isinstance(item, dict):
            raise _Bad('an event state must be a JSON object')
        if not isinstance(item.get('id'), str) or not item['id']:
            raise _Bad('/id: the event id is required')
        state = item.get('state')
        if state not in BRIDGE_STATE_KEYS:
            raise _Bad(f"/state: unknown bridge state {state!r} (known: {', '.join(sorted(BRIDGE_STATE_KEYS))})")
        try:
            at = contract.parse_timestamp(item.get('at'))
        except ValueError as exc:
            raise _Bad(f'/at: {exc}') from exc
        attempts = item.get('attempts', 0)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
            raise _Bad('/attempts: must be a non-negative integer')
        error_class = item.get('error_class')
        if error_class is not None and error_class not in ERROR_CLASSES:
            raise _Bad(f"/error_class: must be one of {', '.join(ERROR_CLASSES)}")
        last_error = item.get('last_error')
        if last_error is not None and not isinstance(last_error, str):
            raise _Bad('/last_error: must be a string')
        blocked_by = item.get('blocked_by')
        if blocked_by is not None and not isinstance(blocked_by, str):
            raise _Bad('/blocked_by: must be an event id')
        return {'id': item['id'], 'state': state, 'at': at, 'attempts': attempts, 'error_class': error_class,
                'last_error': last_error[:MAX_ERROR_CHARS] if last_error else None, 'blocked_by': blocked_by or None}

    # -- a person acts ---------------------------------------------------------------------------

    def _ask_a_person(self, event, before):
        """Open a To-Do on the picking when the event needs a person, mark it done once it no longer does."""
        state = event.bridge_state
        activity = event.bridge_activity_id
        if state in ACTIVITY_STATES:
            if activity.exists() or not event.picking_id:
                return
            picking = event.picking_id.with_env(self.env)
            # Activities are created with the integration user's rights (it may update pickings); a
            # picking of a company it cannot see keeps only the row on the To Do screen.
            if not picking.has_access('write'):
                _logger.info("logistics bridge event %s is %s; no activity: %s is not accessible", event.uuid, state, picking.display_name)
                return
            if state == 'dead':
                summary = _("Logistics: %(type)s failed for good", type=event.event_type)
                what = _("The bridge gave up on %(type)s for %(picking)s (dead letter, %(cls)s error after %(calls)s partner call(s)).",
                         type=event.event_type, picking=picking.name, cls=event.bridge_error_class or '-', calls=event.bridge_attempts)
            else:
                summary = _("Logistics: %(type)s needs manual handling", type=event.event_type)
                what = _("No partner could take %(type)s for %(picking)s.", type=event.event_type, picking=picking.name)
            note = _("%(what)s Partner's answer: %(error)s. Fix the data, then replay the event from the bridge's dashboard "
                     "(dead letters) or requeue it here; event %(id)s.",
                     what=what, error=event.bridge_last_error or '-', id=event.uuid)
            event.bridge_activity_id = schedule_activity(picking, 'mail.mail_activity_data_todo', summary, note)
        elif activity and before in ACTIVITY_STATES:
            event.bridge_activity_id = False
            # The same to-do may ask about another event of this picking still dead or manual.
            if self.env['logistics.bridge.event'].sudo().search_count([
                    ('bridge_activity_id', '=', activity.id), ('bridge_state', 'in', ACTIVITY_STATES)], limit=1):
                return
            try:
                activity.with_env(self.env).action_feedback(
                    feedback=_("The bridge reports the event %(state)s.", state=dict(BRIDGE_STATES)[state].lower()))
            except AccessError:
                _logger.info("logistics bridge: cannot close activity %s of event %s", activity.id, event.uuid)
