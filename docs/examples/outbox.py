"""Domain events are appended in the transaction of the change they describe."""

from cs_core import Store, append_event, read_events

store = Store()
store.upgrade()

with store.transaction() as session:
    # ... change something, then record that it happened, atomically:
    append_event(session, "health.changed", {"from": 74, "to": 58, "tier": "red"}, account_id=1)

cursor = 0
with store.transaction() as session:
    for event in read_events(session, after=cursor):
        print(event.id, event.type, dict(event.payload))
        cursor = event.id  # hand this back to resume exactly after the last event seen
