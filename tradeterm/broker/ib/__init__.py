"""The Interactive Brokers adapter: the only package that touches ib_async or knows IB's codes.

* :mod:`~tradeterm.broker.ib.adapter`: :class:`IbBroker`, the port's ``Broker`` for IB
  Gateway / TWS (market data, orders, account, requests);
* :mod:`~tradeterm.broker.ib.connection`: its connection state machine;
* :mod:`~tradeterm.broker.ib.contracts`: the contracts it resolved through IB's contract
  details;
* :mod:`~tradeterm.broker.ib.codes`: IB's message codes, and the one place that turns them
  into the port's events;
* :mod:`~tradeterm.broker.ib.convert`: pure conversions of ib_async objects;
* :mod:`~tradeterm.broker.ib.lanes`: the send queue in front of IB's message rate.
"""

from tradeterm.broker.ib.adapter import IbBroker
from tradeterm.broker.ib.connection import IB_GATEWAY_HELP

__all__ = ["IB_GATEWAY_HELP", "IbBroker"]
