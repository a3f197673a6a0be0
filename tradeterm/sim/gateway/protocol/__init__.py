"""The TWS API wire protocol as the fake gateway speaks it: framing and handshake, requests
decoded, messages encoded, and the TCP server with one client session per connection."""
