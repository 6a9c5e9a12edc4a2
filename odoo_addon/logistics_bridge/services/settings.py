"""The module's settings, read once from ir.config_parameter into a plain object."""
from dataclasses import dataclass, field

PREFIX = 'logistics_bridge.'
DEFAULT_URL = 'ws://127.0.0.1:8787/v1/odoo'
# How a real-time commit wakes the dispatcher: the listener thread (NOTIFY at commit, services/listener.py)
# or, as before, a cron trigger row plus a cron run (services/wakeup.py; kept to compare and as a fallback).
WAKEUP_MODES = ('listener', 'cron')
WORKFLOW_MODES = [('off', 'Off'), ('realtime', 'Real time'), ('batch', 'Batch (scheduled)')]


@dataclass(frozen=True)
class BridgeSettings:
    url: str = DEFAULT_URL
    token: str = ''
    batch_size: int = 100          # events per events.publish request (the bridge accepts 1..500)
    max_events_per_run: int = 500  # events locked and sent per dispatch transaction
    timeout: float = 10.0          # seconds for connect and for each answer
    backoff_base: int = 30         # seconds before the first retry
    backoff_cap: int = 900         # longest wait between retries
    invoice_on_pod: bool = False   # proof of delivery creates the customer invoice
    apply_inventory: bool = False  # inventory.level milestones adjust stock quants
    validate_on_dispatch: bool = False  # shipment.dispatched from the warehouse validates the picking
    alert_pending_minutes: int = 30  # overview warns when the oldest unsent event is older
    alert_contact_minutes: int = 60  # overview warns when the bridge has not been heard from for longer
    wakeup: str = 'listener'
    workflows: dict = field(default_factory=lambda: {'order': 'realtime', 'shipment': 'realtime', 'return': 'realtime'})

    def workflow_mode(self, workflow):
        return self.workflows.get(workflow, 'realtime')

    @classmethod
    def from_params(cls, get_param):
        """Build from a ``get_param(key, default)`` callable (ir.config_parameter's)."""
        def number(key, default, kind=int):
            try:
                return kind(get_param(PREFIX + key, default))
            except (TypeError, ValueError):
                return default

        def flag(key):
            return (get_param(PREFIX + key, 'False') or 'False').lower() in ('1', 'true', 'yes')

        workflows = {}
        for name in ('order', 'shipment', 'return'):
            mode = get_param(PREFIX + f'workflow_{name}', 'realtime') or 'realtime'
            workflows[name] = mode if mode in dict(WORKFLOW_MODES) else 'realtime'
        wakeup = get_param(PREFIX + 'wakeup', 'listener') or 'listener'
        return cls(
            url=get_param(PREFIX + 'url', DEFAULT_URL) or DEFAULT_URL,
            token=get_param(PREFIX + 'token', '') or '',
            batch_size=min(max(number('batch_size', 100), 1), 500),
            max_events_per_run=max(number('max_events_per_run', 500), 1),
            timeout=max(number('timeout', 10.0, float), 0.1),
            backoff_base=max(number('backoff_base', 30), 1),
            backoff_cap=max(number('backoff_cap', 900), 1),
            invoice_on_pod=flag('invoice_on_pod'),
            apply_inventory=flag('apply_inventory'),
            validate_on_dispatch=flag('validate_on_dispatch'),
            alert_pending_minutes=max(number('alert_pending_minutes', 30), 1),
            alert_contact_minutes=max(number('alert_contact_minutes', 60), 1),
            wakeup=wakeup if wakeup in WAKEUP_MODES else 'listener',
            workflows=workflows,
        )
