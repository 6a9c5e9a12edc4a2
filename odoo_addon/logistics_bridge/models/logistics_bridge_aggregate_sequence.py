from odoo import api, fields, models


class LogisticsBridgeAggregateSequence(models.Model):
    """Last event sequence number per aggregate.

    One row per aggregate, incremented with an upsert: under Odoo's REPEATABLE READ isolation two
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

    @api.model
    def _next(self, aggregate):
        """The next sequence number of ``aggregate`` (1 for a new one), reserved in this transaction."""
        self.env['logistics.bridge.event'].flush_model(['aggregate', 'sequence'])
        self.env.cr.execute("""
            INSERT INTO logistics_bridge_aggregate_sequence (aggregate, last_sequence)
            VALUES (%s, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM logistics_bridge_event WHERE aggregate = %s))
            ON CONFLICT (aggregate) DO UPDATE
               SET last_sequence = logistics_bridge_aggregate_sequence.last_sequence + 1
            RETURNING last_sequence
        """, [aggregate, aggregate])
        return self.env.cr.fetchone()[0]
