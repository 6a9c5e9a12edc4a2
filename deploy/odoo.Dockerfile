# Odoo 19 (official image) with the two Debian packages the logistics_bridge addon needs
# (python3-websocket for the push, python3-jsonschema for the contract check). The addon itself is
# mounted by compose.yaml, so an addon change needs no image rebuild.
FROM odoo:19
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-websocket python3-jsonschema \
 && rm -rf /var/lib/apt/lists/*
USER odoo
