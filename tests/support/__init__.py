"""What tests of every layer share: the test clock, the contracts they trade, the in-memory
broker, and ``until`` (waiting on a condition, never on a duration). One definition each, so a
test that needs one imports it from here instead of declaring its own."""
