from odoo import fields, models


class LogisticsBridgeAggregateSequence(models.Model):
    """Last event sequence number per aggregate.

    One row per aggregate, incremented with an upsert by the statement that writes the outbox row
    (logistics_bridge_event.SQL_INSERT_OUTBOX_ROW): under Odoo's REPEATABLE READ isolation two
    transactions emitting for the same aggregate at once conflict on this row, and the later one
    fails with a serialization error that Odoo retries transparently (a MAX()+1 over the outbox
    would instead hand out the same number twice, its snapshot not seeing the other's row).
    """

    _name = 'logistics.bridge.aggregate.sequence'
    _description = 'Logistics Bridge sequence per aggregate'
    _log_access = False
    _rec_name = 'aggregate'

    aggregate = fields.Char(required=True, index=True)
    last_sequence = fields.Integer(required=True)

    _aggregate_uniq = models.Constraint('UNIQUE(aggregate)', 'One counter per aggregate.')
