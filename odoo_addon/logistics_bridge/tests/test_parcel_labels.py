import base64
import json
from datetime import datetime, timedelta

from odoo.tests import BaseCase, tagged

from ..services import parcel_labels
from .common import WriteBackCase


@tagged('post_install', '-at_install')
class TestParcelLabels(WriteBackCase):
    """label.created for parcel n of count, applied by the integration user as the bridge does:
    every parcel's number in carrier_tracking_ref (parcel order), every parcel's label attached."""

    def label(self, number, index=None, count=None, url=True, **kw):
        payload = {'shipment_ref': self.picking.name, 'carrier': 'bridge_ground', 'tracking_number': number,
                   'label': {'format': 'PDF', 'content_base64': base64.b64encode(f'%PDF-1.4 {number}'.encode()).decode()}}
        if url:
            payload['tracking_url'] = f'https://track.example.com/{number}'
        if index:
            payload['parcel'] = {'index': index, 'count': count}
        return self.milestone('label.created', self.picking, payload, **kw)

    def labels(self):
        return self.env['ir.attachment'].search([('res_model', '=', 'stock.picking'), ('res_id', '=', self.picking.id),
                                                 ('name', '=like', 'LabelShipping-bridge-%')], order='id')

    def test_three_parcels_give_three_numbers_and_three_labels(self):
        messages = self.picking.message_ids
        results = self.apply(*(self.label(f'TRK{n}', n, 3) for n in (1, 2, 3)))
        self.assertEqual([r['status'] for r in results], ['applied'] * 3)
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2,TRK3')
        labels = self.labels()
        self.assertEqual(labels.mapped('name'), [f'LabelShipping-bridge-TRK{n} ({n} of 3).pdf' for n in (1, 2, 3)])
        self.assertEqual(labels.mapped('raw'), [f'%PDF-1.4 TRK{n}'.encode() for n in (1, 2, 3)])
        self.assertIn('parcel 2 of 3', labels[1].description)
        # Odoo's multi-package tracking: a JSON list of [number, url] the Tracking button shows
        self.assertEqual(self.picking.get_multiple_carrier_tracking(),
                         [[f'TRK{n}', f'https://track.example.com/TRK{n}'] for n in (1, 2, 3)])
        self.assertEqual(self.picking.bridge_tracking_url, 'https://track.example.com/TRK1')
        [note] = self.picking.message_ids - messages
        self.assertEqual(note.attachment_ids, labels)
        self.assertIn('parcel 3 of 3', note.body)

    def test_out_of_order_and_repeated_labels_keep_parcel_order_and_one_label_each(self):
        third, first, second = self.label('TRK3', 3, 3), self.label('TRK1', 1, 3), self.label('TRK2', 2, 3)
        self.assertEqual(self.apply(third)[0]['status'], 'applied')
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK3')
        self.assertEqual([r['status'] for r in self.apply(first, first)], ['applied', 'duplicate'])
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK3')
        self.assertEqual(self.apply(third)[0]['status'], 'duplicate')
        # the same label again under a new milestone id (a partner re-sending it): no second attachment
        self.assertEqual(self.apply(self.label('TRK3', 3, 3))[0]['status'], 'applied')
        self.assertEqual(self.apply(second)[0]['status'], 'applied')
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2,TRK3')
        self.assertEqual(len(self.labels()), 3)
        self.assertEqual(len(self.picking.get_multiple_carrier_tracking()), 3)

    def test_out_of_order_in_one_batch(self):
        results = self.apply(self.label('TRK2', 2, 3), self.label('TRK3', 3, 3), self.label('TRK1', 1, 3))
        self.assertEqual([r['status'] for r in results], ['applied'] * 3)
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2,TRK3')
        self.assertEqual(len(self.labels()), 3)

    def test_single_parcel_label_is_unchanged(self):
        [result] = self.apply(self.label('TRK123'))
        self.assertEqual(result['status'], 'applied')
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK123')
        self.assertEqual(self.picking.carrier_tracking_url, 'https://track.example.com/TRK123')
        self.assertFalse(self.picking.get_multiple_carrier_tracking())
        self.assertEqual(self.labels().mapped('name'), ['LabelShipping-bridge-TRK123.pdf'])
        self.assertEqual(self.labels().description, 'Label bridge_ground TRK123')
        # a newer label for the one parcel replaces its number; the carrier's template when no URL
        self.carrier.tracking_url = 'https://carrier.example.com/<shipmenttrackingnumber>'
        self.apply(self.label('TRK456', url=False, occurred_at=timedelta(hours=1)))
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK456')
        self.assertEqual(self.picking.carrier_tracking_url, 'https://carrier.example.com/TRK456')

    def test_a_replaced_label_replaces_its_number_an_older_one_changes_nothing(self):
        self.apply(*(self.label(f'TRK{n}', n, 3) for n in (1, 2, 3)))
        [result] = self.apply(self.label('TRK2-NEW', 2, 3, occurred_at=timedelta(hours=1)))
        self.assertEqual(result['status'], 'applied')
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2-NEW,TRK3')
        replaced = self.env['ir.attachment'].search([('res_model', '=', 'stock.picking'), ('res_id', '=', self.picking.id),
                                                     ('name', '=like', 'Replaced-%')])
        self.assertEqual(replaced.name, 'Replaced-LabelShipping-bridge-TRK2 (2 of 3).pdf')
        self.assertIn('replaced by TRK2-NEW', replaced.description)
        self.assertEqual(len(self.labels()), 3)
        # a label older than the parcel's current one (a late copy of a voided label)
        self.apply(self.label('TRK2-OLD', 2, 3, occurred_at=-timedelta(hours=1)))
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2-NEW,TRK3')
        self.assertEqual(len(self.labels()), 3)
        # the shipment bought again as two parcels (e.g. by the fallback carrier): a new set
        self.apply(self.label('FB1', 1, 2, occurred_at=timedelta(hours=2)), self.label('FB2', 2, 2, occurred_at=timedelta(hours=2)))
        self.assertEqual(self.picking.carrier_tracking_ref, 'FB1,FB2')
        self.assertEqual(len(self.labels()), 2)
        self.assertEqual(json.loads(self.picking.carrier_tracking_url),
                         [['FB1', 'https://track.example.com/FB1'], ['FB2', 'https://track.example.com/FB2']])

    def test_a_label_after_the_dispatch_still_joins(self):
        self.apply(self.label('TRK1', 1, 2), self.milestone('shipment.dispatched', self.picking, {'shipment_ref': self.picking.name},
                                                            occurred_at=timedelta(hours=5)))
        [result] = self.apply(self.label('TRK2', 2, 2, occurred_at=timedelta(hours=1)))
        self.assertEqual(result['status'], 'stale')  # for the shipment status only
        self.assertEqual(self.picking.bridge_status, 'shipment.dispatched')
        self.assertEqual(self.picking.carrier_tracking_ref, 'TRK1,TRK2')
        self.assertEqual(len(self.labels()), 2)

    def test_cancelling_the_shipment_voids_the_numbers(self):
        self.apply(*(self.label(f'TRK{n}', n, 3) for n in (1, 2, 3)))
        self.picking.cancel_shipment()
        self.assertFalse(self.picking.carrier_tracking_ref)
        self.assertFalse(self.picking.bridge_parcel_labels)
        payload = self.assert_valid_event(self.events_of(self.picking, 'shipment.cancelled'))['payload']
        self.assertEqual(payload['tracking_number'], 'TRK1', "the shipment's first (master) number")
        # a new request: its first label starts a new set, the voided numbers do not come back
        self.apply(self.label('NEW1', 1, 3, occurred_at=timedelta(hours=3)))
        self.assertEqual(self.picking.carrier_tracking_ref, 'NEW1')


@tagged('post_install', '-at_install')
class TestParcelLabelsMerge(BaseCase):
    """services/parcel_labels.merge, the rule alone (no records)."""

    def test_merge_table(self):
        at = datetime(2026, 11, 26, 12, 0, 0)

        def label(number, index=None, count=None):
            return dict({'tracking_number': number}, **({'parcel': {'index': index, 'count': count}} if index else {}))

        labels = {}
        # (label, hours after `at`, verdict, carrier_tracking_ref after it)
        table = [
            (label('C', 3, 3), 0, 'added', 'C'),
            (label('A', 1, 3), 0, 'added', 'A,C'),
            (label('A', 1, 3), 1, 'same', 'A,C'),
            (label('B', 2, 3), 0, 'added', 'A,B,C'),
            (label('B2', 2, 3), 1, 'replaced', 'A,B2,C'),
            (label('B0', 2, 3), -1, 'outdated', 'A,B2,C'),
            (label('S'), -2, 'outdated', 'A,B2,C'),
            (label('S'), 2, 'replaced', 'S'),
            (label('S'), 3, 'same', 'S'),
        ]
        for payload, hours, verdict, ref in table:
            labels, got, _gone = parcel_labels.merge(labels, payload, at + timedelta(hours=hours))
            self.assertEqual((got, parcel_labels.tracking_ref(labels)), (verdict, ref), payload)
