from . import test_contract
from . import test_outbox
from . import test_payloads
from . import test_dispatch
from . import test_writeback
from . import test_security
from . import test_automation
from . import test_http_api
