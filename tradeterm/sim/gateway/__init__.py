"""sim/gateway."""
