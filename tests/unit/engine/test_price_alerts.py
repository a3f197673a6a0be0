"""Price alerts: one-shot, fired by a trade at the level or through it from the side the
alert was set on; a level set at the last price (or restored without a side) takes its side
from the next trade; one restored with its side keeps it."""

from __future__ import annotations

from tradeterm.engine.price_alerts import PriceAlert, PriceAlerts


def test_an_alert_above_fires_at_or_through_its_price_once() -> None:
    alerts = PriceAlerts()
    assert alerts.toggle(105, last=100)  # above the market
    assert alerts.on_trade(104) == []
    assert [a.price for a in alerts.on_trade(107)] == [105]  # a gap through it fires it
    assert alerts.prices == () and alerts.on_trade(105) == []  # one-shot


def test_an_alert_below_fires_at_its_price_not_above() -> None:
    alerts = PriceAlerts()
    alerts.toggle(95, last=100)
    assert alerts.on_trade(101) == [] and alerts.on_trade(96) == []
    assert [a.price for a in alerts.on_trade(95)] == [95]


def test_toggle_removes_and_clear_counts() -> None:
    alerts = PriceAlerts()
    assert alerts.toggle(105, last=100) and alerts.toggle(95, last=100)
    assert not alerts.toggle(105, last=100)  # the same price again: removed
    assert alerts.prices == (95,)
    assert alerts.clear() == 1 and alerts.prices == ()


def test_an_alert_at_the_last_price_takes_its_side_from_the_next_trade() -> None:
    alerts = PriceAlerts()
    alerts.toggle(100, last=100)
    alerts.restore([PriceAlert(90, 0)])  # kept by an earlier run before sides were kept
    assert alerts.on_trade(98) == []  # 100 is now above the market; 90 below
    assert alerts.on_trade(99) == [] and alerts.prices == (90, 100)
    assert [a.price for a in alerts.on_trade(101)] == [100]
    assert [a.price for a in alerts.on_trade(89)] == [90]


def test_before_any_trade_the_bid_and_ask_give_the_side() -> None:
    alerts = PriceAlerts()
    alerts.toggle(103, None, bid=100, ask=101)  # above the ask
    alerts.toggle(98, None, bid=100, ask=101)  # below the bid
    assert [a.price for a in alerts.on_trade(104)] == [103]  # a gap through it
    assert [a.price for a in alerts.on_trade(97)] == [98]


def test_a_restored_alert_keeps_its_side_when_the_market_crossed_it_meanwhile() -> None:
    alerts = PriceAlerts()
    alerts.restore([PriceAlert(105, 1), PriceAlert(95, -1)])
    assert alerts.unsided is False
    assert [a.price for a in alerts.on_trade(107)] == [105]  # went through it while down
    assert [a.price for a in alerts.on_trade(94)] == [95]
