"""Statistics: the event log into SQL, reports and their small-cell protection."""
