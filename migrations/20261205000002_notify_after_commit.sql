-- The log's writer wakes readers after its commits, not inside them (projections/src/
-- log_signal.rs): a NOTIFY in the appending transaction queued every commit of the database
-- on the notification queue's lock, about a quarter of the commits/s the machine does
-- without it. Writers other than the event store (bulk loads, tools) send nothing; readers
-- poll the log as well.
DROP TRIGGER events_appended ON events;
DROP FUNCTION notify_events_appended();
