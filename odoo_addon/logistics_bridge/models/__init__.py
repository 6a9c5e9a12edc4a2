from . import logistics_bridge_event
from . import logistics_bridge_milestone
from . import logistics_bridge_api
from . import delivery_carrier
from . import stock_picking
from . import sale_order
from . import res_config_settings
from . import stock_return_picking
