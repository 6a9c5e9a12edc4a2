import json

from odoo import api, fields, models

from ..services import contract


class LogisticsBridgeMilestone(models.Model):
    """History of the milestones the bridge wrote back: one row per milestone id, never updated."""

    _name = 'logistics.bridge.milestone'
    _description = 'Logistics Bridge Milestone'
    _order = 'occurred_at desc, id desc'
    _rec_name = 'milestone_type'

    uuid = fields.Char('Milestone ID', required=True, readonly=True, index=True)
    milestone_type = fields.Selection(contract.MILESTONE_TYPE_SELECTION, 'Type', required=True, readonly=True, index=True)
    schema_version = fields.Integer(readonly=True, default=contract.SCHEMA_VERSION)
    occurred_at = fields.Datetime('Occurred At', required=True, readonly=True)
    aggregate = fields.Char(required=True, readonly=True, index=True)
    event_uuid = fields.Char('Caused By Event', readonly=True, index='btree_not_null')
    partner = fields.Char('Partner', readonly=True, help="The bridge's id of the partner that reported it.")
    partner_ref = fields.Char('Partner Reference', readonly=True)
    picking_id = fields.Many2one('stock.picking', readonly=True, index='btree_not_null', ondelete='cascade')
    sale_id = fields.Many2one('sale.order', related='picking_id.sale_id', store=True, readonly=True, index='btree_not_null')
    sku = fields.Char('SKU', readonly=True, index='btree_not_null')
    warehouse_id = fields.Many2one('stock.warehouse', readonly=True, ondelete='set null')
    company_id = fields.Many2one('res.company', readonly=True, index=True, required=True)
    result = fields.Selection([('applied', 'Applied'), ('stale', 'Stale (older than the current status)')],
                              required=True, readonly=True, default='applied')
    summary = fields.Char(readonly=True)
    payload = fields.Json('Payload (JSON)', readonly=True)
    payload_text = fields.Text('Payload', compute='_compute_payload_text')

    _uuid_uniq = models.Constraint('UNIQUE(uuid)', 'A milestone id is recorded once.')

    @api.depends('payload')
    def _compute_payload_text(self):
        for milestone in self:
            milestone.payload_text = json.dumps(milestone.payload, indent=2, sort_keys=True, ensure_ascii=False) if milestone.payload is not None else ''
