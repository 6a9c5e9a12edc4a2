import glob
import hashlib
import json
import os
import unittest

from odoo.tests import TransactionCase, tagged

from ..services import contract

MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Reachable when the module sits in the project checkout (odoo_addon/logistics_bridge); not when copied alone.
SHARED_DIR = os.path.normpath(os.path.join(MODULE_DIR, '..', '..', 'shared'))


@tagged('post_install', '-at_install')
class TestContractCopy(TransactionCase):

    def test_copy_matches_its_manifest(self):
        """data/contract/ is exactly what scripts/odoo-sync-contract.sh wrote (nobody edited it by hand)."""
        with open(os.path.join(contract.CONTRACT_DIR, 'MANIFEST.json'), encoding='utf-8') as f:
            manifest = json.load(f)
        copied = sorted(os.path.basename(p) for p in glob.glob(os.path.join(contract.CONTRACT_DIR, '*.schema.json')))
        self.assertEqual(copied, sorted(manifest['files']))
        for name, digest in manifest['files'].items():
            with open(os.path.join(contract.CONTRACT_DIR, name), 'rb') as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest, f"{name} differs from MANIFEST.json")

    def test_copy_is_not_stale(self):
        """Fails when shared/json-schema/ changed and scripts/odoo-sync-contract.sh was not run."""
        source = os.path.join(SHARED_DIR, 'json-schema')
        if not os.path.isdir(source):
            raise unittest.SkipTest(f"shared/json-schema not reachable from {MODULE_DIR} (module copied alone)")
        shared = sorted(os.path.basename(p) for p in glob.glob(os.path.join(source, '*.schema.json')))
        copied = sorted(os.path.basename(p) for p in glob.glob(os.path.join(contract.CONTRACT_DIR, '*.schema.json')))
        self.assertEqual(copied, shared, "run scripts/odoo-sync-contract.sh")
        for name in shared:
            with open(os.path.join(source, name), 'rb') as a, open(os.path.join(contract.CONTRACT_DIR, name), 'rb') as b:
                self.assertEqual(a.read(), b.read(), f"data/contract/{name} is stale: run scripts/odoo-sync-contract.sh")

    def test_types_and_ranks_follow_the_schema(self):
        self.assertEqual(set(contract.EVENT_TYPES), set(contract.WORKFLOW_OF_EVENT))
        self.assertLessEqual(set(contract.SHIPMENT_STATUS_RANK), set(contract.MILESTONE_TYPES))
        self.assertEqual(dict(self.env['logistics.bridge.event']._fields['event_type'].selection).keys(), set(contract.EVENT_TYPES))

    def test_shared_fixtures_validate_as_the_bridge_expects(self):
        """Our validator agrees with the contract's own fixtures: valid ones pass, invalid ones fail."""
        fixtures = os.path.join(SHARED_DIR, 'fixtures')
        if not os.path.isdir(fixtures):
            raise unittest.SkipTest("shared/fixtures not reachable (module copied alone)")
        checked = 0
        for kind in ('event', 'milestone'):
            for verdict in ('valid', 'invalid'):
                for path in sorted(glob.glob(os.path.join(fixtures, kind + 's', verdict, '*.json'))):
                    with open(path, encoding='utf-8') as f:
                        document = json.load(f)
                    errors = contract.validation_errors(kind, document)
                    if verdict == 'valid':
                        self.assertFalse(errors, f"{path}: {errors}")
                    else:
                        self.assertTrue(errors, f"{path} should be invalid")
                    checked += 1
        self.assertGreater(checked, 10)
