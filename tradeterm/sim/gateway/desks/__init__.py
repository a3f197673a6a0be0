"""The fake gateway's desks: the handlers that answer market-data, order and account requests,
each given a narrow :class:`~tradeterm.sim.gateway.desks.context.DeskContext`."""
