import json
import logging
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import contract, listener, payloads, wakeup
from ..services.dispatcher import Dispatcher
from ..services.event_states import ATTENTION_STATES, BRIDGE_STATES

_logger = logging.getLogger(__name__)

EVENT_STATES = [
    ('pending', 'Pending'),          # waiting to be sent (possibly after a backoff delay)
    ('sent', 'Sent, unanswered'),    # sent but the bridge's answer never came; sent again
    ('acknowledged', 'Acknowledged'),
    ('duplicate', 'Duplicate'),      # the bridge already had it: done as well
    ('rejected', 'Rejected'),        # the bridge refused it: a person fixes and requeues
    ('cancelled', 'Cancelled'),
]
DONE_STATES = ('acknowledged', 'duplicate', 'cancelled')
SENDABLE_STATES = ('pending', 'sent')


# The next sequence number of the aggregate (upsert on logistics_bridge_aggregate_sequence, whose
# MAX() fallback covers events written before that table existed) and the outbox row, in one statement.
SQL_INSERT_OUTBOX_ROW = """
    WITH next_sequence AS (
        INSERT INTO logistics_bridge_aggregate_sequence (aggregate, last_sequence)
        VALUES (%(aggregate)s, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM logistics_bridge_event WHERE aggregate = %(aggregate)s))
        ON CONFLICT (aggregate) DO UPDATE SET last_sequence = logistics_bridge_aggregate_sequence.last_sequence + 1
        RETURNING last_sequence
    )
    INSERT INTO logistics_bridge_event
        (uuid, event_type, schema_version, aggregate, sequence, occurred_at, payload, res_model, res_id,
         picking_id, sale_id, company_id, state, attempts, needs_attention,
         create_uid, create_date, write_uid, write_date)
    SELECT %(uuid)s, %(event_type)s, %(schema_version)s, %(aggregate)s, last_sequence, %(occurred_at)s, %(payload)s::jsonb,
           %(res_model)s, %(res_id)s, %(picking_id)s, %(sale_id)s, %(company_id)s, 'pending', 0, FALSE,
           %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
      FROM next_sequence
    RETURNING id
"""


class LogisticsBridgeEvent(models.Model):
    """Transactional outbox: one row per canonical event, written in the business transaction."""

    _name = 'logistics.bridge.event'
    _description = 'Logistics Bridge Event (outbox)'
    _order = 'id desc'
    _rec_name = 'display_label'

    uuid = fields.Char('Event ID', required=True, readonly=True, copy=False, index=True,
                       default=lambda self: str(uuid.uuid4()))
    event_type = fields.Selection(contract.EVENT_TYPE_SELECTION, 'Type', required=True, readonly=True, index=True)
    schema_version = fields.Integer('Schema Version', required=True, readonly=True, default=contract.SCHEMA_VERSION)
    aggregate = fields.Char(required=True, readonly=True, index=True,
                            help="The business object the event is about, e.g. stock.picking:17; events of one aggregate are sent in sequence order.")
    sequence = fields.Integer(required=True, readonly=True, help="Position of the event within its aggregate, from 1.")
    occurred_at = fields.Datetime('Occurred At', required=True, readonly=True, default=fields.Datetime.now)
    payload = fields.Json('Payload (JSON)', readonly=True)
    payload_text = fields.Text('Payload', compute='_compute_payload_text', inverse='_inverse_payload_text',
                               help="Editable while the event is rejected, so a person can fix it before requeueing.")
    res_model = fields.Char('Source Model', readonly=True)
    res_id = fields.Many2oneReference('Source Record', model_field='res_model', readonly=True)
    picking_id = fields.Many2one('stock.picking', readonly=True, index='btree_not_null', ondelete='set null')
    sale_id = fields.Many2one('sale.order', readonly=True, index='btree_not_null', ondelete='set null')
    company_id = fields.Many2one('res.company', readonly=True, index=True, default=lambda self: self.env.company)
    state = fields.Selection(EVENT_STATES, required=True, default='pending', readonly=True, index=True)
    attempts = fields.Integer(readonly=True, help="Sends tried so far.")
    last_error = fields.Text('Last Error', readonly=True, help="The bridge's message (rejected) or the transport error (pending).")
    rejection_code = fields.Char(readonly=True)
    rejection_path = fields.Char(readonly=True)
    next_attempt_at = fields.Datetime('Next Attempt', readonly=True, index=True,
                                      help="Not sent before this time (backoff after a failed send).")
    sent_at = fields.Datetime('Last Sent', readonly=True)
    done_at = fields.Datetime('Answered At', readonly=True)
    display_label = fields.Char(compute='_compute_display_label')

    # Where the event stands in the bridge, pushed back by the bridge (logistics.bridge.api.apply_event_states).
    bridge_state = fields.Selection(BRIDGE_STATES, 'Bridge State', readonly=True, index='btree_not_null', copy=False,
                                    help="Delivery state in the bridge: dead (dead-letter queue), manual (no partner could "
                                         "take it), blocked (an earlier event of the same order/shipment is dead) need a person.")
    bridge_state_at = fields.Datetime('Bridge State Time', readonly=True, copy=False,
                                      help="When the bridge recorded this state (its clock, microseconds kept); an older state never replaces a newer one.")
    bridge_attempts = fields.Integer('Partner Calls', readonly=True, copy=False, help="Partner calls the bridge made for this event.")
    bridge_last_error = fields.Text('Last Partner Error', readonly=True, copy=False)
    bridge_error_class = fields.Selection([('technical', 'Technical'), ('business', 'Business')], 'Error Class',
                                          readonly=True, copy=False,
                                          help="Business: a person must fix the data; technical: the partner or the network failed.")
    bridge_blocked_by = fields.Char('Blocked By (event id)', readonly=True, copy=False)
    bridge_blocked_by_id = fields.Many2one('logistics.bridge.event', 'Blocked By', readonly=True, copy=False, ondelete='set null',
                                           help="The earlier event of the same order/shipment that holds this one back in the bridge.")
    bridge_activity_id = fields.Many2one('mail.activity', 'To-Do', readonly=True, copy=False, ondelete='set null',
                                         help="The activity asking a person to act while the event is dead or in manual handling.")
    needs_attention = fields.Boolean('Needs a Person', compute='_compute_needs_attention', store=True, index=True,
                                     help="Rejected by the bridge, or dead / manual / blocked in the bridge.")

    _uuid_uniq = models.Constraint('UNIQUE(uuid)', 'An event id must be unique.')
    _aggregate_sequence_uniq = models.Constraint('UNIQUE(aggregate, sequence)', 'Sequence numbers are unique per aggregate.')
    _sendable_index = models.Index("(id) WHERE state IN ('pending', 'sent')")

    @api.depends('event_type', 'aggregate', 'sequence')
    def _compute_display_label(self):
        for event in self:
            event.display_label = f"{event.event_type} {event.aggregate} #{event.sequence}"

    @api.depends('state', 'bridge_state')
    def _compute_needs_attention(self):
        for event in self:
            event.needs_attention = event.state == 'rejected' or event.bridge_state in ATTENTION_STATES

    @api.depends('payload')
    def _compute_payload_text(self):
        for event in self:
            event.payload_text = json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False) if event.payload is not None else ''

    def _inverse_payload_text(self):
        for event in self:
            if event.state != 'rejected':
                raise UserError(_("Only a rejected event's payload can be edited (event %s).", event.uuid))
            try:
                event.payload = json.loads(event.payload_text or 'null')
            except ValueError as exc:
                raise ValidationError(_("The payload is not valid JSON: %s", exc)) from exc

    # ------------------------------------------------------------------
    # Emitting
    # ------------------------------------------------------------------

    @api.model
    @api.private
    def emit(self, event_type, record=None, payload=None, aggregate=None, occurred_at=None, company=None):
        """Write one canonical event to the outbox, in the caller's transaction.

        Usable from an automated action's Python code, e.g.::

            env['logistics.bridge.event'].emit('order.released', record)

        :param event_type: one of the contract's event types (``order.released`` ...)
        :param record: the business record the event is about (a ``stock.picking`` for all v1 types);
            it gives the default aggregate, company and, when ``payload`` is not given, the payload
        :param payload: the event's payload (dict); built from ``record`` when omitted
        :param aggregate: overrides ``"<model>:<id>"`` of ``record``
        :param occurred_at: datetime of the business change (default: now)
        :param company: res.company (default: the record's, else the current company)
        :returns: the new ``logistics.bridge.event`` (readable by the caller only if it has access)

        Nothing is sent here: the dispatcher cron is woken and sends after commit, so a rolled-back
        transaction leaves no event and no network call happens inside the business transaction.

        Not callable over RPC (``api.private``): it writes the outbox as superuser, so only server
        code (business hooks, automated actions written by administrators) may use it.
        """
        if event_type not in contract.EVENT_TYPES:
            raise ValidationError(_("Unknown logistics event type %(type)s (known: %(known)s)",
                                    type=event_type, known=', '.join(contract.EVENT_TYPES)))
        if record is not None:
            record.ensure_one()
        if aggregate is None:
            if record is None:
                raise ValidationError(_("emit() needs a record or an aggregate"))
            aggregate = f"{record._name}:{record.id}"
        if payload is None:
            if record is None:
                raise ValidationError(_("emit() needs a record or a payload"))
            payload = payloads.build_payload(event_type, record)
        if company is None:
            company = record.company_id if record is not None and 'company_id' in record and record.company_id else self.env.company
        vals = {
            'event_type': event_type,
            'aggregate': aggregate,
            'payload': payload,
            'occurred_at': occurred_at or fields.Datetime.now(),
            'company_id': company.id,
        }
        if record is not None:
            vals.update(res_model=record._name, res_id=record.id)
            if record._name == 'stock.picking':
                vals.update(picking_id=record.id, sale_id=record.sale_id.id)
            elif record._name == 'sale.order':
                vals['sale_id'] = record.id
        # The outbox row is the module's own bookkeeping, written for whichever user triggered the
        # business change (a salesman confirming an order has no access to the outbox screens).
        event = self.sudo()._insert_outbox_row(vals)
        self._wake_dispatcher_for([event_type])
        return event.sudo(False)

    def _insert_outbox_row(self, vals):
        """Insert the row with the next sequence number of its aggregate, in one SQL statement.

        This runs inside the user's business action (a sale confirmation), so it skips the ORM's
        create: one round trip that reserves the sequence number (see logistics.bridge.aggregate.sequence)
        and inserts the row, instead of the ORM's defaults lookup, field conversion and two statements.
        Consequence: automated actions "on creation" of a bridge event do not fire; attach them to the
        business record, or to the event's later state changes (written through the ORM).
        """
        self.env['logistics.bridge.event'].flush_model(['aggregate', 'sequence'])
        self.env.cr.execute(SQL_INSERT_OUTBOX_ROW, {
            'uuid': str(uuid.uuid4()),
            'event_type': vals['event_type'],
            'schema_version': contract.event_version(vals['event_type']),
            'aggregate': vals['aggregate'],
            'occurred_at': vals['occurred_at'],
            'payload': json.dumps(vals['payload'], ensure_ascii=False),
            'res_model': vals.get('res_model'),
            'res_id': vals.get('res_id'),
            'picking_id': vals.get('picking_id') or None,
            'sale_id': vals.get('sale_id') or None,
            'company_id': vals['company_id'],
            'uid': self.env.uid,
        })
        event = self.browse(self.env.cr.fetchone()[0])
        if vals.get('picking_id'):
            # A picking's event list read earlier in this transaction must show the new row.
            self.env['stock.picking'].browse(vals['picking_id']).invalidate_recordset(['bridge_event_ids'])
        return event

    def _wake_dispatcher(self):
        """Ask for a dispatch run right after commit, once per transaction, for real-time workflows."""
        self._wake_dispatcher_for(self.mapped('event_type'))

    @api.model
    def _wake_dispatcher_for(self, event_types):
        """Wake the dispatcher after commit when one of ``event_types`` belongs to a real-time workflow.

        A trigger row written at commit time (pre-commit hook) and a wake-up of the cron workers sent
        after commit by a background thread, so the user's commit does not wait for it
        (services/wakeup.py explains why, from ir.cron's source); a rollback leaves neither.
        """
        settings = self.env['res.config.settings'].sudo()._logistics_bridge_settings()
        if not any(settings.workflow_mode(contract.WORKFLOW_OF_EVENT[t]) == 'realtime' for t in event_types):
            return
        if settings.wakeup == 'listener':
            listener.notify_on_commit(self.env.cr)
            return
        cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events', raise_if_not_found=False)
        if cron:
            wakeup.wake_after_commit(self.env.cr, cron.id)

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_requeue(self):
        """Send again: rejected (after a fix), unanswered or cancelled events go back to pending."""
        bad = self.filtered(lambda e: e.state not in ('rejected', 'cancelled', 'sent', 'pending'))
        if bad:
            raise UserError(_("Only rejected, cancelled, unanswered or pending events can be requeued: %s",
                              ', '.join(bad.mapped('uuid'))))
        self.write({'state': 'pending', 'next_attempt_at': False, 'rejection_code': False, 'rejection_path': False})
        self._wake_dispatcher()
        return True

    def action_cancel(self):
        """Never send these events (e.g. a rejected event that is no longer relevant)."""
        bad = self.filtered(lambda e: e.state not in ('pending', 'sent', 'rejected'))
        if bad:
            raise UserError(_("Only pending, unanswered or rejected events can be cancelled: %s",
                              ', '.join(bad.mapped('uuid'))))
        self.write({'state': 'cancelled', 'next_attempt_at': False})
        return True

    def action_dispatch_now(self):
        """Manager button: wake the dispatcher now, whatever the workflow's mode."""
        self.check_access('write')
        self.env.ref('logistics_bridge.ir_cron_dispatch_events').sudo()._trigger()
        return True

    # ------------------------------------------------------------------
    # Envelope and dispatch
    # ------------------------------------------------------------------

    def _to_envelope(self):
        """The canonical event envelope sent to the bridge (event.schema.json)."""
        self.ensure_one()
        model, _sep, res_id = (self.aggregate or '').partition(':')
        return contract.envelope(
            event_id=self.uuid,
            event_type=self.event_type,
            schema_version=self.schema_version,
            occurred_at=self.occurred_at,
            db=self.env.cr.dbname,
            model=self.res_model or model,
            res_id=self.res_id or (int(res_id) if res_id.isdigit() else 0),
            aggregate=self.aggregate,
            sequence=self.sequence,
            payload=self.payload,
        )

    @api.model
    def _dispatcher(self, connect=None, ws=None):
        settings = self.env['res.config.settings'].sudo()._logistics_bridge_settings()
        kwargs = {'connect': connect} if connect else {}
        return Dispatcher(self.env, settings, ws=ws, **kwargs)

    def _register_hook(self):
        # The dispatcher thread of this database (services/listener.py), in server processes only.
        super()._register_hook()
        listener.ensure_listener(self.env.cr.dbname)

    @api.model
    def _listener_dispatch(self, sockets, commit=None):
        """The listener thread's pass: send what is due, committing after each batch, on this cursor.

        Returns the seconds until the earliest backoff expires (None when nothing waits), so the thread
        wakes then instead of arming a cron trigger. The bridge's websocket is taken from and handed
        back to ``sockets`` (kept open between wake-ups). Rows are marked, and their locks released,
        by ``commit`` only after the bridge answered: a crash before it rolls back to pending."""
        cr = self.env.cr
        commit = commit or cr.commit
        dbname = cr.dbname
        settings = self.env['res.config.settings'].sudo()._logistics_bridge_settings()
        dispatcher = Dispatcher(self.env, settings, ws=sockets.take(dbname, settings.url))
        try:
            while True:
                report = dispatcher.dispatch_once()
                commit()
                if not report.picked or report.transport_failed:
                    break
        except Exception:
            dispatcher.close()
            raise
        sockets.keep(dbname, settings.url, dispatcher.detach())
        cr.execute("""
            SELECT EXTRACT(EPOCH FROM MIN(next_attempt_at) - (now() AT TIME ZONE 'UTC')) FROM logistics_bridge_event
             WHERE state IN ('pending', 'sent') AND next_attempt_at IS NOT NULL
        """)
        due = cr.fetchone()[0]
        return None if due is None else max(0.0, float(due))

    @api.model
    def _cron_dispatch(self):
        """Cron entry: send pending events batch by batch, committing after each batch."""
        listener.ensure_listener(self.env.cr.dbname)
        if listener.runs_here():
            # In a server: the listener's pass, on its own read-committed cursor (listener.dispatch_pass).
            listener.dispatch_pass(self.env.cr.dbname)
            self._schedule_next_retry()
            self.env['logistics.bridge.contact'].sudo()._prune()
            return
        dispatcher = self._dispatcher()
        while True:
            report = dispatcher.dispatch_once()
            if not report.picked:
                break
            remaining_time = self.env['ir.cron']._commit_progress(report.picked)
            if report.transport_failed or remaining_time <= 0:
                break
        dispatcher.close()
        self._schedule_next_retry()
        self.env['logistics.bridge.contact'].sudo()._prune()

    def _notify_rejected(self):
        """Tell the people following the picking that the bridge refused its event."""
        for event in self.filtered('picking_id'):
            event.picking_id.sudo().message_post(
                body=_("Logistics Bridge rejected event %(type)s (%(id)s): %(message)s",
                       type=event.event_type, id=event.uuid, message=event.last_error),
                message_type='comment', subtype_xmlid='mail.mt_note',
            )

    @api.model
    def _schedule_next_retry(self):
        """After a failed send, make sure the cron runs again when the earliest backoff expires."""
        self.env.cr.execute("""
            SELECT MIN(next_attempt_at) FROM logistics_bridge_event
             WHERE state IN ('pending', 'sent') AND next_attempt_at > (now() AT TIME ZONE 'UTC')
        """)
        at = self.env.cr.fetchone()[0]
        if at:
            cron = self.env.ref('logistics_bridge.ir_cron_dispatch_events', raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger(at)
